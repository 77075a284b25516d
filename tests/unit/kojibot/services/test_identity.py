"""Identity: links are written then remembered; reading who asks never writes."""

from __future__ import annotations

import pytest_twisted

from kojibot.services.identity import Identity
from tests.statedb import settled
from tests.unit.kojibot.services.conftest import heard


@pytest_twisted.ensureDeferred
async def test_reading_never_writes(store, route):
    identity = Identity(store, route, heard(sender="Alice_", account="Alice"))
    assert identity.who == "alice" and identity.contact == "Alice_"
    assert identity.koji_user() is None and identity.koji_user("bob") is None
    identity.heard()  # a stranger: nothing to remember
    await settled(store)
    assert await store.people() == [] and route.person("irc", "alice") is None


@pytest_twisted.ensureDeferred
async def test_link_writes_then_remembers(store, route):
    identity = Identity(store, route, heard(sender="alice_"))
    assert await identity.link("alice") == "alice_"
    assert await identity.link("bob", "Bobby") == "bobby"
    assert identity.koji_user() == "alice" and identity.koji_user("bobby") == "bob"
    written = {p.identity: (p.contact, p.koji_user, p.linked_by) for p in await store.people()}
    assert written == {"alice_": ("alice_", "alice", "alice_"),
                       "bobby": ("Bobby", "bob", "alice_")}
    assert route.person("irc", "bobby").contact == "Bobby"


@pytest_twisted.ensureDeferred
async def test_a_known_person_heard_under_a_new_nick_is_reached_there(store, route):
    await Identity(store, route, heard(sender="al", account="alice")).link("alice")
    Identity(store, route, heard(sender="al_away", account="alice")).heard()
    await settled(store)
    (person,) = await store.people()
    assert (person.contact, person.koji_user) == ("al_away", "alice")
    assert route.person("irc", "alice").contact == "al_away"
