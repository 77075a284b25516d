"""The bot: config, hub connection, commands and chat adapters wired together."""

from __future__ import annotations

from collections.abc import Callable

from twisted.application.service import MultiService
from twisted.internet import defer, task
from twisted.logger import Logger

import txkoji
from kojibot.bus.origin import HubOrigin
from kojibot.chat.dispatcher import Dispatcher
from kojibot.chat.model import Adapter, Incoming, Reply
from kojibot.chat.ratelimit import RateLimit
from kojibot.config import Config
from kojibot.personal.dmalerts import Alerts
from kojibot.personal.watcher import Watcher
from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.outbox import OutboxPump
from kojibot.relay.router import Relay
from kojibot.settings import Settings, build
from kojibot.state.lease import Lease
from kojibot.state.store import Store

log = Logger()

# Dedupe keys of relayed events are kept this long: enough to absorb redeliveries, short
# enough that a build re-tagged later is relayed again (protonmsg tag events carry no id).
RELAYED_KEY_AGE = 3600.0


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
        self.subscriptions = SubscriptionIndex(self.store.subscriptions())
        self.registry = settings.registry
        self.dispatcher = Dispatcher(
            self.registry, self, prefix=config.bot.prefix, admins=config.bot.admins,
            ignore=config.bot.ignore, rate=RateLimit(config.bot.rate))
        self.adapters: dict[str, Adapter] = {}
        self.outbox = OutboxPump(self.store, self.adapters, coalesce=config.bot.digest_after,
                                 window=config.bot.digest_window)
        amqp = settings.amqp
        self.relay = Relay(self.store, self.subscriptions, self.koji,
                           on_queued=self.outbox.kick,
                           origin=HubOrigin(getattr(self.koji, "server", None), amqp.instance,
                                            amqp.topic_prefix)
                           if amqp is not None else None)
        self.alerts = Alerts(self.store, self.koji, self.relay.owners, self.relay.reactor)
        self.watcher = Watcher(self.store, self.koji, on_queued=self.outbox.kick,
                               interval=config.bot.watch_poll_interval,
                               batch=config.bot.watch_poll_batch,
                               max_age=config.bot.watch_max_days * 86400)
        self.relay.routes += [self.alerts.entries, self.watcher.on_event]
        self.consumer = None
        if amqp is not None:
            from kojibot.bus.consumer import AMQPConsumer

            self.consumer = AMQPConsumer(amqp, self.relay.handle)
            self.consumer.setServiceParent(self)

    def add_adapter(self, adapter: Adapter) -> None:
        self.adapters[adapter.network] = adapter
        if hasattr(adapter, "setServiceParent"):
            adapter.setServiceParent(self)

    def receive(self, incoming: Incoming) -> defer.Deferred:
        """Handle one heard line; replies go to the adapter of its network."""
        return defer.Deferred.fromCoroutine(self._receive(incoming))

    async def _receive(self, incoming: Incoming) -> None:
        try:
            replies = await self.dispatcher.handle(incoming)
        except Exception:  # noqa: BLE001 - keep the bot alive whatever a line does
            log.failure("handling {line!r} failed", line=incoming.text)
            return
        for reply in replies:
            self.deliver(reply)

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
        self._pruning = task.LoopingCall(
            lambda: self.store.forget_events_before(self.store.clock() - RELAYED_KEY_AGE))
        self._pruning.start(RELAYED_KEY_AGE / 6)

    def stopService(self):
        self.outbox.stop()
        self.watcher.stop()
        if self._pruning.running:
            self._pruning.stop()
        stopped = defer.DeferredList([defer.maybeDeferred(super().stopService),
                                      self.koji.close()])
        if self.lease is not None:
            stopped.addBoth(lambda result: self.lease.release() or result)
        return stopped
