"""Fixtures of the real peers. The Koji hub is one per test session (start + seed take seconds)."""

import pytest

from tests.kojihub import HubUnavailable, KojiHub


@pytest.fixture(scope="session")
def kojihub():
    """A started, seeded koji 1.30 hub (see tests/kojihub/hub.py for what it offers).

    A missing prerequisite fails the tests instead of skipping them: the integration
    tests are the point, and the message says what to install.
    """
    hub = KojiHub()
    try:
        hub.start()
    except HubUnavailable as exc:
        pytest.fail(f"real Koji hub unavailable: {exc}", pytrace=False)
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def koji(kojihub):
    """A txkoji Connection to the fixture hub (anonymous)."""
    import txkoji

    return txkoji.Connection(server=kojihub.url, weburl=kojihub.weburl)


@pytest.fixture(scope="session")
def hub_proxy(kojihub):
    """Plain xmlrpc.client access to the hub, to read expected values independently."""
    import xmlrpc.client

    return xmlrpc.client.ServerProxy(kojihub.url, allow_none=True, use_builtin_types=True)


def _ircd(kind):
    from tests import ircd

    try:
        server = ircd.start(kind)
    except ircd.IRCdUnavailable as exc:
        pytest.fail(f"{kind.name} unavailable: {exc}", pytrace=False)
    yield server
    ircd.cleanup(server)


@pytest.fixture(scope="session")
def ngircd():
    """A real ngircd on loopback: plain ``port``, TLS ``tls_port`` signed by ``ca_file``."""
    from tests.ircd import NgIRCd

    yield from _ircd(NgIRCd)


@pytest.fixture(scope="session")
def inspircd():
    """A real inspircd with fakelag, +c and atheme services (NickServ, SASL) on loopback."""
    from tests.ircd import InspIRCd

    yield from _ircd(InspIRCd)


@pytest.fixture
def own_ngircd():
    """An ngircd of one test alone: stopping it disturbs no other test."""
    from tests.ircd import NgIRCd

    yield from _ircd(NgIRCd)


def _rabbitmq():
    from tests import rabbitmq as node

    try:
        broker = node.start()
    except node.RabbitMQUnavailable as exc:
        pytest.fail(f"RabbitMQ unavailable: {exc}", pytrace=False)
    yield broker
    broker.cleanup()


@pytest.fixture(scope="session")
def rabbitmq():
    """A private RabbitMQ node (tests/rabbitmq.py): AMQP 0-9-1 and 1.0, TLS, restartable."""
    yield from _rabbitmq()


@pytest.fixture
def own_rabbitmq():
    """A RabbitMQ node of one test alone, to stop and start again."""
    yield from _rabbitmq()


@pytest.fixture(scope="session")
def proton_kojihub(rabbitmq):
    """A seeded hub whose koji protonmsg plugin publishes to ``rabbitmq`` (amq.topic koji.#)."""
    from tests import protonhub

    try:
        hub = protonhub.start(rabbitmq.port)
    except (protonhub.ProtonUnavailable, HubUnavailable) as exc:
        pytest.fail(f"koji hub with protonmsg unavailable: {exc}", pytrace=False)
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def synapse():
    """A real Synapse homeserver on loopback (tests/synapse.py): ``register()``, ``user()``."""
    from tests import synapse as homeserver

    try:
        server = homeserver.start()
    except homeserver.SynapseUnavailable as exc:
        pytest.fail(f"Synapse unavailable: {exc}", pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def postgresql():
    """A fresh database on the machine's PostgreSQL for this session (tests/pgdb.py)."""
    from tests.pgdb import PostgreSQLUnavailable, SessionDatabase

    try:
        database = SessionDatabase().create()
    except PostgreSQLUnavailable as exc:
        pytest.fail(f"PostgreSQL unavailable: {exc}", pytrace=False)
    yield database
    database.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request, tmp_path):
    """Where a test's store lives, once per backend: an SQLite file in tmp_path, or the
    session's PostgreSQL database, emptied for this test."""
    if request.param == "sqlite":
        return str(tmp_path / "state.sqlite3")
    database = request.getfixturevalue("postgresql")
    database.empty()
    return database.url


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """The wheel built from this tree, installed non-editable with its extras in a fresh
    venv (tests/installed.py); end-to-end tests start that venv's ``kojibot``."""
    from tests.installed import Installation, InstallFailed

    try:
        return Installation.build(tmp_path_factory.mktemp("installed"))
    except InstallFailed as exc:
        pytest.fail(f"kojibot could not be built and installed: {exc}", pytrace=False)


# The hub served the ways production serves it (wsgiref, apache2 + mod_wsgi, nginx):
# hub_shapes, wsgiref_hub, apache_hub, nginx_hub.
from tests.hubservers import apache_hub, hub_shapes, nginx_hub, wsgiref_hub  # noqa: E402,F401
