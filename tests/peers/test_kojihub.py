"""The real-hub fixture holds what the other integration tests rely on."""

import statistics
import xmlrpc.client

import koji
import pytest


@pytest.fixture(scope="module")
def anon(kojihub):
    return koji.ClientSession(kojihub.url)


@pytest.mark.parametrize("key, state", [
    ("complete", "COMPLETE"), ("building", "BUILDING"), ("failed", "FAILED"),
    ("canceled", "CANCELED")])
def test_one_build_in_each_state(kojihub, anon, key, state):
    seeded = kojihub.facts["builds"][key]
    build = anon.getBuild(seeded["id"])
    assert (build["nvr"], build["state"]) == (seeded["nvr"], koji.BUILD_STATES[state])
    assert build["task_id"] == seeded["task_id"]


def test_complete_build_has_a_real_task_tree(kojihub, anon):
    tasks = kojihub.facts["tasks"]
    parent = anon.getTaskInfo(tasks["complete"], request=True)
    assert parent["method"] == "build"
    assert parent["owner"] == kojihub.facts["users"]["alice"]
    assert parent["request"][1] == "f41"
    children = {c["id"]: c for c in anon.getTaskChildren(tasks["complete"])}
    assert sorted(c["method"] for c in children.values()) == [
        "buildArch", "buildArch", "buildSRPMFromSCM", "tagBuild"]
    assert {children[tasks[f"complete.{arch}"]]["arch"] for arch in ("x86_64", "aarch64")} == {
        "x86_64", "aarch64"}
    assert {c["state"] for c in children.values()} == {koji.TASK_STATES["CLOSED"]}
    build = anon.getBuild(kojihub.facts["builds"]["complete"]["id"])
    assert build["completion_ts"] - build["creation_ts"] == pytest.approx(
        kojihub.facts["builds"]["complete"]["duration"])


def test_failed_build_has_a_failed_arch_task(kojihub, anon):
    task_id = kojihub.facts["tasks"]["failed.aarch64"]
    assert anon.getTaskInfo(task_id)["state"] == koji.TASK_STATES["FAILED"]
    with pytest.raises(koji.BuildError, match="mock exited with status 1"):
        anon.getTaskResult(task_id)


@pytest.mark.parametrize("package", ["bash", "fedora-toolbox-container"])
def test_average_build_duration_is_known(kojihub, anon, package):
    builds = anon.listBuilds(packageID=kojihub.facts["packages"][package],
                             state=koji.BUILD_STATES["COMPLETE"])
    durations = [b["completion_ts"] - b["creation_ts"] for b in builds]
    assert len(durations) >= 5
    average = anon.getAverageBuildDuration(package)
    assert average == pytest.approx(statistics.mean(durations))
    assert average == pytest.approx(statistics.mean(kojihub.facts["durations"][package]))


def test_container_builds_keep_their_task_in_extra(kojihub, anon):
    seeded = kojihub.facts["builds"]["container-1"]
    build = anon.getBuild(seeded["id"])
    assert build["task_id"] is None
    assert build["extra"]["container_koji_task_id"] == seeded["container_task_id"]
    task = anon.getTaskInfo(seeded["container_task_id"])
    assert (task["method"], task["owner"]) == ("buildContainer", kojihub.facts["users"]["alice"])


@pytest.mark.parametrize("key, method, state", [
    ("free", "build", "FREE"), ("scratch", "build", "CLOSED"), ("image", "image", "OPEN"),
    ("new_repo", "newRepo", "OPEN"), ("new_repo.x86_64", "createrepo", "CLOSED"),
    ("tag_build", "tagBuild", "CLOSED"), ("building.aarch64", "buildArch", "OPEN"),
    ("canceled", "build", "CANCELED")])
def test_task_kinds(kojihub, anon, key, method, state):
    task = anon.getTaskInfo(kojihub.facts["tasks"][key], request=True)
    assert (task["method"], task["state"]) == (method, koji.TASK_STATES[state])
    assert isinstance(task["request"], list)


def test_latest_builds_in_updates(kojihub, anon):
    latest = anon.getLatestBuilds("f41-updates", package="bash")
    assert [b["nvr"] for b in latest] == [kojihub.facts["builds"]["bash-5"]["nvr"]]
    latest = anon.getLatestBuilds("f41-updates", package="python-requests")
    assert [b["nvr"] for b in latest] == [kojihub.facts["builds"]["complete"]["nvr"]]


def test_offline_mode_answers_1014_and_recovers(kojihub):
    proxy = xmlrpc.client.ServerProxy(kojihub.url)
    kojihub.set_offline(True)
    try:
        with pytest.raises(xmlrpc.client.Fault) as info:
            proxy.getAPIVersion()
        assert info.value.faultCode == koji.ServerOffline.faultCode == 1014
    finally:
        kojihub.set_offline(False)
    assert proxy.getAPIVersion() == koji.API_VERSION


def test_password_and_certificate_logins(kojihub):
    session = kojihub.session("bob")
    assert session.getLoggedInUser()["name"] == "bob"
    session = kojihub.ssl_session("alice")
    user = session.getLoggedInUser()
    assert (user["name"], user["krb_principals"]) == ("alice", ["alice@EXAMPLE.TEST"])
    assert session.getPerms() == []


def test_ssl_login_without_a_certificate_is_refused(kojihub):
    session = koji.ClientSession(kojihub.ssl_url, opts={"serverca": kojihub.ca_cert})
    with pytest.raises(koji.AuthError, match="could not verify client"):
        session.callMethod("sslLogin")


def test_host_session_plays_the_builder(kojihub):
    host = kojihub.host_session()
    assert host.host.getID() == kojihub.facts["hosts"]["builder1.example.test"]


def test_sql_and_reset(kojihub):
    assert kojihub.sql("SELECT name, password FROM users WHERE name = 'alice'") == [
        ("alice", kojihub.users["alice"])]
    admin = kojihub.session()
    admin.createTag("scratch-tag")
    admin.logout()
    kojihub.reset()
    assert kojihub.sql("SELECT id FROM tag WHERE name = 'scratch-tag'") == []
    assert kojihub.session("alice").getTag("f41-build")["arches"] == "x86_64 aarch64"
