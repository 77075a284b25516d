"""The one stand-in for a chat adapter: it records what the bot hands it to say."""

from kojibot.upkeep import Upkeep


class RecordingAdapter:
    """An IRC or Matrix adapter that only records replies. Each is "written" at once
    (``auto``) or when the test calls its ``sent()``; ``ready`` can go down and back up."""

    def __init__(self, network: str = "irc", ready: bool = True, auto: bool = True) -> None:
        self.network = network
        self.upkeep = Upkeep()
        self._ready = ready
        self.auto = auto
        self.replies = []

    @property
    def ready(self) -> bool:
        return self._ready

    @ready.setter
    def ready(self, now: bool) -> None:
        self._ready = now
        if now:
            self.upkeep.fire()

    def when_ready(self):
        return self.upkeep.wait(self._ready)

    def deliver(self, reply) -> None:
        self.replies.append(reply)
        if self.auto:
            reply.sent()

    def lines(self) -> list[tuple[str, str]]:
        """(target, plain text) of each reply, in the order handed over."""
        return [(r.target.name, r.message.plain()) for r in self.replies]

    @property
    def said(self) -> list[str]:
        """The plain text of each reply."""
        return [r.message.plain() for r in self.replies]
