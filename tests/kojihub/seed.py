"""Seed a fresh hub through its API as the admin, the users and the builder host.

SQL is used only where no API exists: the admin account that bootstraps everything,
passwords (1.30 has no call that sets one), the state change that would need real RPMs,
and exact times (see timeline.py). Everything created is recorded in `facts`.
"""

from __future__ import annotations

from .builder import Builder
from .seed_builds import CG_NAME, CONTAINER, BuildSeeder
from .timeline import EPOCH, Timeline

ADMIN = "kojiadmin"
USERS = {ADMIN: "kojiadmin-pw", "alice": "alice-pw", "bob": "bob-pw"}
KRB_PRINCIPALS = {"alice": "alice@EXAMPLE.TEST"}
HOST = "builder1.example.test"
HOST_PASSWORD = "builder1-pw"
ARCHES = ["x86_64", "aarch64"]
TAGS = {  # name: (parent, arches)
    "f41-updates": (None, None),
    "f41-candidate": (None, None),
    "f41-build": ("f41-updates", " ".join(ARCHES)),
}
PACKAGES = {"bash": "alice", "python-requests": "alice", "gcc": "bob", "glibc": "bob",
            "systemd": "bob", CONTAINER: "alice"}
CHANNELS = ("default", "image", "createrepo", "container")


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def bootstrap_sql() -> str:
    """The admin account, with the admin permission, before the hub ever runs."""
    return (f"INSERT INTO users (name, password, status, usertype) "
            f"VALUES ({quote(ADMIN)}, {quote(USERS[ADMIN])}, 0, 0);\n"
            "INSERT INTO user_perms (user_id, perm_id, creator_id) "
            "SELECT u.id, p.id, u.id FROM users u, permissions p "
            f"WHERE u.name = {quote(ADMIN)} AND p.name = 'admin';\n")


def passwords_sql(passwords: dict[str, str]) -> str:
    return "".join(f"UPDATE users SET password = {quote(pw)} WHERE name = {quote(name)};\n"
                   for name, pw in passwords.items())


def accounts(admin, facts: dict) -> None:
    facts["users"][ADMIN] = admin.getLoggedInUser()["id"]
    for name in USERS:
        if name != ADMIN:
            facts["users"][name] = admin.createUser(name, krb_principal=KRB_PRINCIPALS.get(name))
    admin.grantCGAccess(ADMIN, CG_NAME, create=True)


def tags(admin, facts: dict) -> None:
    for name, (parent, arches) in TAGS.items():
        facts["tags"][name] = admin.createTag(name, parent=parent, arches=arches)
    admin.createBuildTarget("f41", "f41-build", "f41-candidate")
    facts["targets"]["f41"] = admin.getBuildTarget("f41")["id"]
    for tag in ("f41-updates", "f41-candidate"):
        for package, owner in PACKAGES.items():
            admin.packageListAdd(tag, package, owner=owner)
    for package in PACKAGES:
        facts["packages"][package] = admin.getPackageID(package)


def host(admin, facts: dict) -> None:
    admin.addChannel("container", description="OSBS container builds")
    facts["hosts"][HOST] = admin.addHost(HOST, ARCHES)
    for channel in CHANNELS:
        if channel != "default":  # addHost already put it there
            admin.addHostToChannel(HOST, channel)
        facts["channels"][channel] = admin.getChannel(channel)["id"]
    facts["users"][HOST] = admin.getUser(HOST)["id"]


def seed(hub) -> dict:
    """Seed *hub* (a started KojiHub with only the bootstrap admin) and return the facts."""
    facts: dict = {"epoch": EPOCH.isoformat(), "epoch_ts": EPOCH.timestamp()}
    for section in ("users", "tags", "targets", "packages", "channels", "hosts", "repos",
                    "builds", "tasks"):
        facts[section] = {}
    admin = hub.session(ADMIN)
    accounts(admin, facts)
    tags(admin, facts)
    host(admin, facts)
    hub.cluster.psql(passwords_sql({**USERS, HOST: HOST_PASSWORD}))

    sessions = {ADMIN: admin, **{name: hub.session(name) for name in USERS if name != ADMIN}}
    timeline = Timeline()
    builder = Builder(hub.host_session(), hub.cluster.psql, facts["tags"]["f41-build"],
                      facts["tags"]["f41-candidate"], ARCHES, timeline)
    repo_task = admin.newRepo("f41-build")
    children = builder.new_repo(repo_task, "f41-build", done=("x86_64",))
    facts["repos"]["f41-build"] = builder.repo_id
    facts["tasks"]["new_repo"] = repo_task
    facts["tasks"].update({f"new_repo.{arch}": tid for arch, tid in children.items()})

    BuildSeeder(sessions, builder, timeline, facts, hub.workdir).seed()
    builder.host.updateHost(4.0, True)  # as kojid reports in: ready, with its load
    hub.cluster.psql(timeline.sql())
    for session in (*sessions.values(), builder.session):
        session.logout()
    return facts
