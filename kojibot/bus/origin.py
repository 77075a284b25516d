"""Which bus events come from our hub, when several hubs publish on one broker and topic.

Fedora's messages name the hub's ``instance`` and carry its web address; koji's protonmsg
messages say nothing of their hub but their routing key's prefix. ``[amqp] topic_prefix``
keeps only routing keys under one prefix; ``[amqp] instance`` keeps only one instance.
Without ``instance`` the bot learns ours from the bus: the instance of a message whose web
address has our hub's host. Until then a message from another host is not ours, and the
log says once per instance how to take it if it is (a hub behind a proxy may publish a
name the bot does not use).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twisted.logger import Logger

from txkoji.events import Event

log = Logger()


class HubOrigin:
    def __init__(self, hub_url: str | None, instance: str | None = None,
                 topic_prefix: str | None = None):
        self.hub_host = urlsplit(hub_url).hostname if hub_url else None
        self.instance = instance or None
        self.learned: str | None = None
        self.prefix = f"{topic_prefix.rstrip('.')}." if topic_prefix else None
        self._told: set[str | None] = set()

    def ours(self, event: Event) -> bool:
        if self.prefix is not None and not event.routing_key.startswith(self.prefix):
            return False
        if event.instance is None:
            return True
        if self.instance is not None:
            return event.instance == self.instance
        if event.hub_host is not None and event.hub_host == self.hub_host:
            if self.learned != event.instance:
                log.info("bus: our hub ({host}) publishes as instance {instance!r}",
                         host=self.hub_host, instance=event.instance)
                self.learned = event.instance
            return True
        if self.learned is not None:
            return event.instance == self.learned
        if event.hub_host is None:
            return True
        if event.instance not in self._told and len(self._told) < 100:
            self._told.add(event.instance)
            log.warn("bus: events of hub instance {instance!r} at {host} are not relayed "
                     "(our hub is {ours}); set [amqp] instance = {instance} if they are ours",
                     instance=event.instance, host=event.hub_host, ours=self.hub_host)
        return False
