"""Who is asking: their identity, the Koji user they linked, and where a DM reaches them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.logger import Logger

from kojibot.chat.model import Incoming
from kojibot.state.records import Person

if TYPE_CHECKING:
    from kojibot.personal.dmalerts import Alerts
    from kojibot.personal.owned import OwnedPackages
    from kojibot.state.store import Store

log = Logger()


class Identity:
    """The asker as the bot knows them: ``who`` (services account, else nick, on Matrix the
    user id; lower-case) and their link to a Koji user."""

    def __init__(self, store: Store, people: Alerts, incoming: Incoming,
                 owned: OwnedPackages | None = None):
        self._store = store
        self._people = people
        self._owned = owned  # a new link re-reads the hub for "mine" and "koji" alerts
        self._incoming = incoming
        self.network = incoming.network
        self.who = incoming.identity.lower()
        self.contact = incoming.sender  # where a DM reaches them now

    def koji_user(self, identity: str | None = None) -> str | None:
        """The Koji user linked to the asker (or to *identity*), if any."""
        person = self._people.person(self.network, identity or self.who)
        return person.koji_user if person else None

    async def link(self, koji_user: str, identity: str | None = None) -> str:
        """Link the asker (or, for an admin's command, someone else by nick) to
        *koji_user*; the identity linked."""
        who, contact = (identity.lower(), identity) if identity else (self.who, self.contact)
        await self._store.link(self.network, who, contact, koji_user, self._incoming.identity)
        self._people.remember(Person(self.network, who, contact, koji_user,
                                     self._incoming.identity))
        if self._owned is not None:
            self._owned.soon(self.network, who)
        return who

    def _moved(self) -> Person | None:
        """The asker's record as it should now read, if that differs from memory's."""
        known = self._people.person(self.network, self.who)
        if known is not None and known.contact == self.contact:
            return None
        return Person(self.network, self.who, self.contact,
                      known.koji_user if known else None, known.linked_by if known else None)

    async def reachable(self) -> None:
        """Write where a DM reaches the asker now (alerts need a contact to go to)."""
        if self._moved() is None:
            return
        await self._store.set_contact(self.network, self.who, self.contact)
        person = self._moved()  # memory as it is now: a link may have come meanwhile
        if person is not None:
            self._people.remember(person)

    def heard(self) -> None:
        """A line from the asker was heard: if they are known and now reachable elsewhere
        (an IRC nick changed), remember that, so their alerts follow them. Nobody waits."""
        if self._people.person(self.network, self.who) is None or self._moved() is None:
            return
        defer.Deferred.fromCoroutine(self.reachable()).addErrback(
            lambda failure: log.failure("remembering where {who} is failed", failure,
                                        who=self.who))
