"""Logins on the real hub: password and client certificate; serialized authenticated calls."""

import pytest
import pytest_twisted
from twisted.internet import defer

import txkoji


@pytest_twisted.ensureDeferred
async def test_password_login_and_50_concurrent_authenticated_calls(kojihub):
    koji = txkoji.Connection(server=kojihub.url, authtype="password", user="kojiadmin",
                             password=kojihub.users["kojiadmin"])
    anonymous = txkoji.Connection(server=kojihub.url)
    session = await koji.login()
    assert session.callnum == 0
    me = await koji.getLoggedInUser()
    assert me.name == "kojiadmin"

    # Writes make the 1.30 hub record each callnum, so any reordering would fail them.
    authenticated = [koji.createTag(f"concurrency-{n}") for n in range(50)]
    reads = [anonymous.getBuild(kojihub.facts["builds"]["complete"]["id"]) for _ in range(20)]
    tag_ids = await defer.gatherResults(authenticated, consumeErrors=True)
    builds = await defer.gatherResults(reads, consumeErrors=True)
    assert len(set(tag_ids)) == 50
    assert {build.state_name for build in builds} == {"COMPLETE"}
    assert koji.session.callnum == 51
    rows = kojihub.sql(f"SELECT callnum FROM sessions WHERE id = {session.id}")
    assert int(rows[0][0]) == 50  # the hub saw 1..50 in order

    await koji.logout()
    assert not koji.logged_in
    assert await koji.getLoggedInUser() is None
    await koji.close()
    await anonymous.close()


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_auth_error(kojihub):
    koji = txkoji.Connection(server=kojihub.url, authtype="password", user="alice",
                             password="wrong")
    with pytest.raises(txkoji.AuthError):
        await koji.login()
    assert not koji.logged_in
    await koji.close()


@pytest_twisted.ensureDeferred
async def test_ssl_login_with_client_certificate(kojihub):
    koji = txkoji.Connection(server=kojihub.ssl_url, authtype="ssl",
                             cert=str(kojihub.client_pem("alice")),
                             serverca=str(kojihub.ca_cert))
    await koji.login()
    me = await koji.getLoggedInUser()
    assert me.name == "alice"
    await koji.logout()
    await koji.close()


@pytest_twisted.ensureDeferred
async def test_untrusted_hub_certificate_is_refused(kojihub):
    koji = txkoji.Connection(server=kojihub.ssl_url, retries=0)  # system roots only
    with pytest.raises(txkoji.KojiTransportError) as info:
        await koji.getAPIVersion()
    assert kojihub.ssl_url.split("?")[0] in str(info.value)
    await koji.close()


def test_kerberos_without_gssapi_says_which_extra(kojihub):
    """gssapi is the optional "kerberos" extra; without a KDC here, its absence is what we show."""
    koji = txkoji.Connection(server=kojihub.url, authtype="kerberos")
    failures = []
    koji.login().addErrback(failures.append)
    try:
        import gssapi  # noqa: F401
    except ImportError:
        assert "pip install kojibot[kerberos]" in str(failures[0].value)
    else:
        assert isinstance(failures[0].value, txkoji.KojiException)


