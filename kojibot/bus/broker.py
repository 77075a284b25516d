"""TLS to the bus's broker, from the ``[amqp]`` settings (kojibot.config.amqp)."""

from __future__ import annotations

from cryptography import x509
from OpenSSL import crypto
from twisted.internet import ssl

from kojibot.config import ConfigError
from kojibot.config.amqp import AMQPSettings, Broker, parse_url

__all__ = ["AMQPSettings", "Broker", "parse_url", "tls_options"]


def tls_options(settings: AMQPSettings, broker: Broker):
    """Verify the broker (system CAs or ``ca``); present ``cert``/``key`` if given."""
    client = trust = None
    try:
        if settings.cert:
            with open(settings.cert) as cert, open(settings.key) as key:
                client = ssl.PrivateCertificate.loadPEM(cert.read() + key.read())
        if settings.ca:
            with open(settings.ca, "rb") as pem:
                trust = ssl.trustRootFromCertificates(
                    [ssl.Certificate(crypto.X509.from_cryptography(certificate))
                     for certificate in x509.load_pem_x509_certificates(pem.read())])
    except (OSError, ValueError, crypto.Error) as exc:
        raise ConfigError([f"amqp: cannot load the TLS files: {exc or type(exc).__name__}"]) \
            from None
    return ssl.optionsForClientTLS(broker.host, trustRoot=trust, clientCertificate=client)
