"""The one module that talks HTTP: a keep-alive treq pool, TLS trust, timeouts, retries."""

from __future__ import annotations

import re
from collections.abc import Callable

import treq
from treq.client import HTTPClient
from twisted.internet import defer, error, ssl, task
from twisted.web.client import Agent, HTTPConnectionPool, ResponseNeverReceived
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from txkoji.exceptions import KojiException, KojiTimeout, KojiTransportError, ServerOffline

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise KojiException(f"cannot read {what} {path}: {exc.strerror}") from None


@implementer(IPolicyForHTTPS)
class TLSPolicy:
    """Verify the hub against ``serverca`` (or the system's roots); offer ``cert`` if set.

    ``cert`` is koji's client certificate file: certificate and private key in one PEM.
    """

    def __init__(self, serverca: str | None = None, cert: str | None = None):
        if serverca:
            blocks = _PEM_CERT.findall(_read(serverca, "serverca"))
            if not blocks:
                raise KojiException(f"no certificate in serverca {serverca}")
            self.trust = ssl.trustRootFromCertificates(
                [ssl.Certificate.loadPEM(block) for block in blocks])
        else:
            self.trust = ssl.platformTrust()
        self.client_cert = ssl.PrivateCertificate.loadPEM(_read(cert, "cert")) if cert else None

    def creatorForNetloc(self, hostname: bytes, port: int):
        return ssl.optionsForClientTLS(hostname.decode("ascii"), trustRoot=self.trust,
                                       clientCertificate=self.client_cert)


def _is_retryable(failure: Exception) -> bool:
    """Failures where the hub did not act on the request, so sending again is safe."""
    if isinstance(failure, ServerOffline):
        return True
    if isinstance(failure, (error.ConnectionRefusedError, error.ConnectingCancelledError)):
        return True
    # A keep-alive connection the server had just closed.
    return isinstance(failure, ResponseNeverReceived) and all(
        f.check(error.ConnectionDone, error.ConnectionLost) for f in failure.reasons)


class Transport:
    """Posts XML-RPC bodies to one hub over a persistent connection pool."""

    def __init__(self, reactor, *, timeout: float = 60.0, retries: int = 3,
                 retry_interval: float = 0.5, tls: TLSPolicy | None = None,
                 max_connections: int = 16):
        self.reactor = reactor
        self.timeout = timeout
        self.retries = retries
        self.retry_interval = retry_interval
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = max_connections
        agent = Agent(reactor, contextFactory=tls or TLSPolicy(), pool=self.pool)
        self.http = HTTPClient(agent)

    async def post(self, url: str, body: bytes, headers: dict[str, str],
                   decode: Callable[[bytes], object]) -> object:
        """POST ``body`` and decode the answer, retrying what is safe to retry, with backoff."""
        delay = self.retry_interval
        for attempt in range(self.retries + 1):
            try:
                return decode(await self._post_once(url, body, headers))
            except Exception as exc:  # noqa: BLE001 - classified below
                if attempt == self.retries or not _is_retryable(exc):
                    raise self._as_koji_error(exc, url) from None
            await task.deferLater(self.reactor, delay, lambda: None)
            delay *= 2
        raise AssertionError("unreachable")

    async def _post_once(self, url: str, body: bytes, headers: dict[str, str]) -> bytes:
        """One request and its whole answer, within ``timeout`` seconds."""
        all_headers = Headers({"Content-Type": ["text/xml"], "User-Agent": ["txkoji"]})
        for name, value in headers.items():
            all_headers.setRawHeaders(name, [value])
        exchange = defer.Deferred.fromCoroutine(self._exchange(url, body, all_headers))
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            exchange.cancel()

        timer = self.reactor.callLater(self.timeout, expire)
        try:
            return await exchange
        except Exception:
            if expired:
                raise defer.TimeoutError(self.timeout) from None
            raise
        finally:
            if timer.active():
                timer.cancel()

    async def _exchange(self, url: str, body: bytes, headers: Headers) -> bytes:
        response = await self.http.post(url, data=body, headers=headers)
        data = await treq.content(response)
        if response.code != 200:
            reason = data[:200].decode("utf-8", "replace").strip() or response.phrase.decode()
            raise KojiTransportError(f"HTTP {response.code}: {reason}", _public(url))
        return data

    @staticmethod
    def _as_koji_error(exc: Exception, url: str) -> KojiException:
        if isinstance(exc, KojiException):
            return exc
        if isinstance(exc, defer.TimeoutError):
            return KojiTimeout("no answer from the hub in time", _public(url))
        if isinstance(exc, error.ConnectionRefusedError):
            return KojiTransportError("connection refused", _public(url))
        if isinstance(exc, ResponseNeverReceived):
            return KojiTransportError("connection closed before an answer", _public(url))
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return KojiTransportError(f"cannot reach the hub: {reason}", _public(url))

    async def close(self) -> None:
        await self.pool.closeCachedConnections()


def _public(url: str) -> str:
    """The URL without session secrets, for error messages and logs."""
    return url.split("?", 1)[0]
