"""TLS to the bus's broker, from the ``[amqp]`` settings (kojibot.config.amqp)."""

from __future__ import annotations

from kojibot.config import ConfigError
from kojibot.config.amqp import AMQPSettings, Broker, parse_url
from txkoji import tls

__all__ = ["AMQPSettings", "Broker", "parse_url", "tls_options"]


def tls_options(settings: AMQPSettings, broker: Broker):
    """Verify the broker (system CAs or ``ca``); present ``cert``/``key`` if given."""
    try:
        return tls.client_options(broker.host, ca=settings.ca, cert=settings.cert,
                                  key=settings.key)
    except tls.PEMError as exc:
        raise ConfigError([f"amqp: cannot load the TLS files: {exc}"]) from None
