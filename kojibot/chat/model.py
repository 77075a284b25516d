"""What moves between the chat adapters and the bot core, independent of any network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from kojibot.chat.message import Message

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred


@dataclass(frozen=True)
class Incoming:
    """One line someone said where the bot can hear it.

    ``room`` is the channel or room (None for a direct message); ``sender`` the nick or
    user id; ``account`` the services account or verified id when the network gives one;
    ``operator`` whether the sender may change this room's settings (IRC +o, Matrix PL≥50);
    ``bot_name`` the name the bot answers to there (``kojibot: task 1``); ``reply_to`` the
    network's id of this message, where replies can point at it (a Matrix event id).
    """

    network: str
    sender: str
    text: str
    room: str | None = None
    account: str | None = None
    operator: bool = False
    bot_name: str = ""
    reply_to: str | None = None

    @property
    def direct(self) -> bool:
        return self.room is None

    @property
    def identity(self) -> str:
        """Who this is across nick changes: the account when known, else the nick."""
        return self.account or self.sender


@dataclass(frozen=True)
class Target:
    """Where a message goes: a room, or a person's DM."""

    network: str
    name: str
    direct: bool = False


@dataclass(frozen=True)
class Line:
    """One thing told over time in one place (a build, from its start to its end): the
    first message is posted, later ones replace it on networks that can edit (Matrix) and
    are posted as new lines elsewhere. ``posted_as()`` gives the network's name for the
    posted first message (None while unknown: then this message is posted and
    ``posted(name)`` records it)."""

    key: str
    posted_as: Callable[[], Deferred[str | None]] = field(compare=False)
    posted: Callable[[str], object] = field(compare=False)


@dataclass(frozen=True)
class Reply:
    """A message for a target; ``mention`` prefixes it with the asker's name in a room.

    ``on_sent`` is called once the chat server has the whole message (an IRC server has
    handled its lines, a homeserver has given its event id); the persisted outbox deletes
    its rows then. ``reply_to`` is the id of the message this answers, on networks that can
    show that (Matrix). ``txn_id`` names the message the same way on every try, across
    restarts too, so a server that dedupes (Matrix's transaction id) never shows it twice.
    ``line``: the chat line this message updates, if any.
    """

    target: Target
    message: Message
    mention: str | None = None
    on_sent: Callable[[], object] | None = field(default=None, compare=False)
    reply_to: str | None = None
    txn_id: str | None = None
    line: Line | None = None

    @property
    def relayed(self) -> bool:
        """From the persisted outbox: answers to commands go out before such lines."""
        return self.on_sent is not None

    def sent(self) -> None:
        if self.on_sent is not None:
            self.on_sent()

    @classmethod
    def to(cls, incoming: Incoming, message: Message) -> Reply:
        """Answer where the command was said: in the room to its asker, or in the DM."""
        if incoming.direct:
            return cls(Target(incoming.network, incoming.sender, direct=True), message,
                       reply_to=incoming.reply_to)
        return cls(Target(incoming.network, incoming.room), message, mention=incoming.sender,
                   reply_to=incoming.reply_to)


class Adapter(Protocol):
    """A chat network as the core sees it: it only delivers rendered replies."""

    network: str

    @property
    def ready(self) -> bool:
        """Connected and able to send now."""

    def when_ready(self) -> Deferred[None]:
        """Fires once ``ready`` (at once if it is now)."""

    def deliver(self, reply: Reply) -> None:
        """Render ``reply`` for this network and queue it for sending (paced, in order,
        answers before relayed lines); call ``reply.sent()`` once the server has it."""
