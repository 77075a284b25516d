"""The bot: config, hub connection, commands and chat adapters wired together."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import replace

from twisted.application.service import MultiService
from twisted.internet import defer, task
from twisted.logger import Logger

import txkoji
from kojibot.api import Context
from kojibot.bus.origin import HubOrigin
from kojibot.chat.dispatcher import Dispatcher
from kojibot.chat.model import Adapter, Incoming, Reply
from kojibot.chat.ratelimit import RateLimit
from kojibot.config import Config
from kojibot.lookups import Lookups
from kojibot.personal.buildrootalerts import BuildrootAlerts
from kojibot.personal.dmalerts import Alerts
from kojibot.personal.owned import OwnedPackages
from kojibot.personal.watcher import Watcher
from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.outbox import OutboxPump
from kojibot.relay.router import Relay
from kojibot.services.alerts import Alerts as AlertSettings
from kojibot.services.hub import Hub
from kojibot.services.identity import Identity
from kojibot.services.subscriptions import Subscriptions
from kojibot.services.watches import Watches
from kojibot.settings import Settings, build
from kojibot.state.lease import Lease
from kojibot.state.store import Store

log = Logger()

# Dedupe keys of relayed events are kept this long: enough to absorb redeliveries, short
# enough that a build re-tagged later is relayed again (protonmsg tag events carry no id).
RELAYED_KEY_AGE = 3600.0
# A build's line is edited when the build ends; one started longer ago than this gets a new
# line (the old one has scrolled far out of sight).
LINE_AGE = 7 * 86400.0
RESTARTING = "kojibot is restarting and did not answer that; please ask again in a minute."
LAST_WORDS = 2.0  # seconds a process stepping down gives its last lines to go out


class Bot(MultiService):
    """Holds the adapters (child services); routes what they hear through the dispatcher.

    Built from checked ``Settings`` (kojibot.settings), or from ``config.parse``'s result,
    which is checked here the same way; ``koji`` then stands in for the hub connection.
    With PostgreSQL state, build it once ``lease`` leads (kojibot.state.lease): its store
    writes and the adapters' sends (``may_send``) are fenced by the lease.
    """

    def __init__(self, settings: Settings | Config,
                 koji: txkoji.Connection | None = None, *, lease: Lease | None = None):
        super().__init__()
        if not isinstance(settings, Settings):
            settings = build(settings, koji=koji)
        self.settings = settings
        self.config = config = settings.config
        self.koji = settings.koji
        self.store = Store(settings.state)
        self.lease = lease
        self.store.fence = lease
        self.may_send: Callable[[], bool] = lease.holds if lease else lambda: True
        self.unanswered: dict[int, Incoming] = {}  # heard, and not every reply written yet
        self._heard = itertools.count()
        self.stepping_down = False
        if lease is not None:
            then = lease.on_lost
            lease.on_lost = lambda: self.step_down(then)
        self.subscriptions = SubscriptionIndex(self.store.at_open.subscriptions)
        self.registry = settings.registry
        self.dispatcher = Dispatcher(
            self.registry, self.context, hub_name=getattr(self.koji, "server", ""),
            prefix=config.bot.prefix, admins=config.bot.admins, ignore=config.bot.ignore,
            rate=RateLimit(config.bot.rate))
        self.adapters: dict[str, Adapter] = {}
        self.outbox = OutboxPump(self.store, self.adapters, coalesce=config.bot.digest_after,
                                 window=config.bot.digest_window)
        amqp = settings.amqp
        self.lookups = Lookups(self.koji)
        self.alerts = Alerts(self.store.at_open.people, self.store.at_open.alerts)
        self.relay = Relay(self.store, self.subscriptions, self.koji, alerts=self.alerts,
                           lookups=self.lookups, on_queued=self.outbox.kick,
                           origin=HubOrigin(getattr(self.koji, "server", None), amqp.instance,
                                            amqp.topic_prefix)
                           if amqp is not None else None)
        self.watcher = Watcher(self.store, self.koji, on_queued=self.outbox.kick,
                               interval=config.bot.watch_poll_interval,
                               batch=config.bot.watch_poll_batch,
                               max_age=config.bot.watch_max_days * 86400,
                               lookups=self.lookups)
        self.owned = OwnedPackages(self.koji, self.alerts, tags=config.bot.owner_tags,
                                   interval=config.bot.owner_refresh)
        self.relay.listeners += [self.watcher.on_event,
                                 BuildrootAlerts(self.store, self.alerts, self.watcher).on_event,
                                 self.owned.on_event]
        self.consumer = None
        if amqp is not None:
            from kojibot.bus.consumer import AMQPConsumer

            self.consumer = AMQPConsumer(amqp, self.relay.handle)
            self.consumer.setServiceParent(self)

    def context(self, incoming: Incoming) -> Context:
        """What a plugin's handler gets for *incoming*: the services, speaking for its
        asker."""
        identity = Identity(self.store, self.alerts, incoming, self.owned)
        return Context(
            incoming=incoming, prefix=self.dispatcher.prefix, commands=self.registry,
            is_admin=self.dispatcher.is_admin(incoming), hub=Hub(self.koji, self.lookups),
            identity=identity,
            subscriptions=Subscriptions(self.store, self.subscriptions, incoming),
            alerts=AlertSettings(self.store, self.alerts, identity, self.owned),
            watches=Watches(self.store, self.watcher, self.koji, identity, incoming.room))

    def add_adapter(self, adapter: Adapter) -> None:
        self.adapters[adapter.network] = adapter
        if hasattr(adapter, "setServiceParent"):
            adapter.setServiceParent(self)

    def receive(self, incoming: Incoming) -> defer.Deferred:
        """Handle one heard line; replies go to the adapter of its network."""
        return defer.Deferred.fromCoroutine(self._receive(incoming))

    async def _receive(self, incoming: Incoming) -> None:
        if self.stepping_down:
            self._last_words([incoming])
            return
        Identity(self.store, self.alerts, incoming).heard()
        key = next(self._heard)
        self.unanswered[key] = incoming
        try:
            replies = await self.dispatcher.handle(incoming)
        except Exception:  # noqa: BLE001 - keep the bot alive whatever a line does
            log.failure("handling {line!r} failed", line=incoming.text)
            replies = []
        left = [len(replies)]

        def written(reply: Reply) -> None:
            reply.sent()
            left[0] -= 1
            if not left[0]:
                self.unanswered.pop(key, None)

        if not replies:
            self.unanswered.pop(key, None)
        for reply in replies:
            self.deliver(replace(reply, on_sent=lambda reply=reply: written(reply)))

    def step_down(self, then: Callable[[], object]) -> None:
        """The lead is lost: say to each asker not yet answered, once, that the bot is
        restarting (its replies are no longer this process's to send), then ``then()``."""
        if self.stepping_down:
            return
        self.stepping_down = True
        self.outbox.stop()
        self.watcher.stop()
        self.owned.stop()
        waiting, self.unanswered = list(self.unanswered.values()), {}
        self._last_words(waiting)
        from twisted.internet import reactor

        reactor.callLater(LAST_WORDS if waiting else 0, then)

    def _last_words(self, heard: Iterable[Incoming]) -> None:
        for incoming in heard:
            say = getattr(self.adapters.get(incoming.network), "say_now", None)
            if say is None:
                log.warn("stepping down: could not tell {who} on {network} that {line!r} "
                         "was not answered", who=incoming.sender, network=incoming.network,
                         line=incoming.text[:100])
                continue
            say(incoming.room or incoming.sender,
                f"{incoming.sender}: {RESTARTING}" if incoming.room else RESTARTING)

    def deliver(self, reply: Reply) -> None:
        adapter = self.adapters.get(reply.target.network)
        if adapter is None:
            log.warn("no adapter for {network}; dropped a reply", network=reply.target.network)
            return
        adapter.deliver(reply)

    def startService(self) -> None:
        super().startService()
        self.outbox.kick()  # lines queued before a stop or crash
        self.watcher.start()
        self.owned.start()
        self._pruning = task.LoopingCall(self._prune)
        self._pruning.start(RELAYED_KEY_AGE / 6)

    def _prune(self) -> None:
        now = self.store.clock()
        for forget, age, what in ((self.store.forget_events_before, RELAYED_KEY_AGE,
                                   "old event keys"),
                                  (self.store.forget_lines_before, LINE_AGE, "old chat lines")):
            forget(now - age).addErrback(lambda failure, what=what: log.failure(
                "forgetting {what} failed", failure, what=what))

    def stopService(self):
        self.outbox.stop()
        self.watcher.stop()
        self.owned.stop()
        if self._pruning.running:
            self._pruning.stop()
        stopped = defer.DeferredList([defer.maybeDeferred(super().stopService),
                                      self.koji.close()])
        if self.lease is not None:
            stopped.addBoth(lambda result: self.lease.release() or result)
        return stopped
