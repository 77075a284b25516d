"""PEM files to TLS client options: the one loader for txkoji's hub connection and for the
programs built on txkoji (kojibot's IRC and AMQP connections).

Every problem with a file is a ``PEMError``: one line that names what the file is for and
its path, never a traceback from OpenSSL.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator

__all__ = ["PEMError", "client_certificate", "client_options", "read_pem", "trust_root"]

_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_KEY = re.compile(rb"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----.+?"
                  rb"-----END (?:[A-Z]+ )?PRIVATE KEY-----", re.S)


class PEMError(ValueError):
    """A PEM file that cannot serve: unreadable, empty, or a key that is not the cert's.
    ``what`` is the file's name in its caller's settings (``serverca``, ``tls_cert``...),
    ``problem`` what is wrong with the file at ``path``."""

    def __init__(self, what: str, path: str, problem: str, sentence: str | None = None):
        super().__init__(sentence or f"{what} {path}: {problem}")
        self.what, self.path, self.problem = what, path, problem


def read_pem(path: str, what: str) -> bytes:
    """The bytes of *path*; PEMError names *what* it is for if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise PEMError(what, path, exc.strerror,
                       f"cannot read {what} {path}: {exc.strerror}") from None


def trust_root(path: str, what: str = "ca"):
    """The certificates in *path* as the roots to verify a server against."""
    blocks = _CERT.findall(read_pem(path, what))
    if not blocks:
        raise PEMError(what, path, "no PEM certificate in it")
    try:
        return ssl.trustRootFromCertificates([ssl.Certificate.loadPEM(block) for block in blocks])
    except crypto.Error as exc:
        raise PEMError(what, path, f"not a valid certificate ({_why(exc)})") from None


def client_certificate(cert: str, key: str | None = None, *,
                       names: tuple[str, str] = ("cert", "key")) -> ssl.PrivateCertificate:
    """The certificate in *cert* with its private key (in *key*, or in *cert* itself, as
    koji's one-file ``cert`` has it); refused if the key does not belong to the cert.
    *names* are the two files' names in the caller's settings, for the errors."""
    cert_what, key_what = names
    cert_pem = read_pem(cert, cert_what)
    key_pem = read_pem(key, key_what) if key else cert_pem
    key_path, key_what = (key, key_what) if key else (cert, cert_what)
    certs, keys = _CERT.findall(cert_pem), _KEY.findall(key_pem)
    if not certs:
        raise PEMError(cert_what, cert, "no PEM certificate in it")
    if not keys:
        raise PEMError(key_what, key_path, "no PEM private key in it")
    try:
        public = x509.load_pem_x509_certificate(certs[0]).public_key()
        private = serialization.load_pem_private_key(keys[0], password=None)
    except (ValueError, TypeError) as exc:
        raise PEMError(key_what, key_path, f"cannot load the key ({exc})") from None
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if public.public_bytes(der, spki) != private.public_key().public_bytes(der, spki):
        raise PEMError(key_what, key_path, f"not the private key of {cert_what} {cert}")
    return ssl.PrivateCertificate.loadPEM(certs[0] + b"\n" + keys[0])


def client_options(host: str, *, ca: str | None = None, cert: str | None = None,
                   key: str | None = None, verify: bool = True,
                   names: tuple[str, str, str] = ("ca", "cert", "key"),
                   ) -> IOpenSSLClientConnectionCreator:
    """Verify *host* against *ca* (or the system's roots), unless *verify* is off; present
    *cert* (with *key*) if given. *names*: the three files' names in the caller's settings."""
    client = client_certificate(cert, key, names=names[1:]) if cert else None
    if not verify:
        extra = {"privateKey": client.privateKey.original,
                 "certificate": client.original} if client else {}
        return ssl.CertificateOptions(**extra)
    trust = trust_root(ca, names[0]) if ca else None
    return ssl.optionsForClientTLS(host, trustRoot=trust, clientCertificate=client)


def _why(exc: crypto.Error) -> str:
    errors = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    return "; ".join(str(err[-1]) for err in errors if isinstance(err, tuple)) or str(exc)
