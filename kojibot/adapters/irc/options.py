"""The TLS options ``[irc]`` (kojibot.config.IRCSettings) asks for."""

from __future__ import annotations

import re

from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator

from kojibot.config import ConfigError, IRCSettings

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def tls_options(settings: IRCSettings) -> IOpenSSLClientConnectionCreator:
    """TLS client options: the system's CAs, or those in ``tls_ca``; no checks if told so."""
    if not settings.tls_verify:
        return ssl.CertificateOptions()
    trust = None
    if settings.tls_ca:
        with open(settings.tls_ca) as pem:
            blocks = _PEM.findall(pem.read())
        if not blocks:
            raise ConfigError([f"irc.tls_ca: tls_ca {settings.tls_ca}: no PEM certificate in it"])
        trust = ssl.trustRootFromCertificates(
            [ssl.Certificate.loadPEM(block.encode()) for block in blocks])
    return ssl.optionsForClientTLS(settings.host, trustRoot=trust)
