"""The TLS options ``[irc]`` (kojibot.config.IRCSettings) asks for."""

from __future__ import annotations

from twisted.internet.interfaces import IOpenSSLClientConnectionCreator

from kojibot.config import ConfigError, IRCSettings
from txkoji import tls


def tls_options(settings: IRCSettings) -> IOpenSSLClientConnectionCreator:
    """TLS client options: the system's CAs, or those in ``tls_ca`` (no checks if told so),
    and the client certificate if one is set. ConfigError names the key of a bad file."""
    try:
        return tls.client_options(settings.host, ca=settings.tls_ca, cert=settings.tls_cert,
                                  key=settings.tls_key, verify=settings.tls_verify,
                                  names=("tls_ca", "tls_cert", "tls_key"))
    except tls.PEMError as exc:
        raise ConfigError([f"irc.{exc.what}: {exc.what} {exc.path}: {exc.problem}"]) from None
