"""The one module that talks HTTP: connection reuse, TLS trust, timeouts and retries.

Connections are reused only while the hub keeps them: a hub that answers HTTP/1.0
(Python's wsgiref, some proxies) closes each connection after its answer, so after such
an answer requests go on fresh connections; an idle connection is kept `idle_timeout`
seconds at most, so a firewall that silently forgets idle connections never sees one
reused. A request the hub never answered (refused, or the connection closed before any
byte of an answer) is sent again, a bounded number of times, with the same URL and
headers: for an authenticated call that is the same callnum, so a hub that did act on
the first attempt answers RetryError instead of acting twice, exactly as koji's own
ClientSession relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import treq
from treq.client import HTTPClient
from twisted.internet import defer, error, ssl, task
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.logger import Logger
from twisted.web.client import (
    Agent,
    HTTPConnectionPool,
    RequestTransmissionFailed,
    ResponseFailed,
    ResponseNeverReceived,
)
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory, IPolicyForHTTPS
from zope.interface import implementer

from txkoji import tls
from txkoji.exceptions import KojiException, KojiTimeout, KojiTransportError, ServerOffline

log = Logger()

IDLE_TIMEOUT = 15.0
# How long a hub that answered HTTP/1.0 gets fresh connections before one request
# checks again whether it now keeps them (a proxy's error page may be HTTP/1.0).
RELEARN_AFTER = 600.0


@implementer(IPolicyForHTTPS)
class TLSPolicy:
    """Verify the hub against ``serverca`` (or the system's roots); offer ``cert`` if set.

    ``cert`` is koji's client certificate file: certificate and private key in one PEM.
    """

    def __init__(self, serverca: str | None = None, cert: str | None = None):
        try:
            self.trust = tls.trust_root(serverca, "serverca") if serverca else ssl.platformTrust()
            self.client_cert = tls.client_certificate(cert) if cert else None
        except tls.PEMError as exc:
            raise KojiException(str(exc)) from None

    def creatorForNetloc(self, hostname: bytes, port: int):
        return ssl.optionsForClientTLS(hostname.decode("ascii"), trustRoot=self.trust,
                                       clientCertificate=self.client_cert)


@implementer(IStreamClientEndpoint)
class _QuietEndpoint:
    """Connects like the wrapped endpoint, with the HTTP client factory's "Starting
    factory" / "Stopping factory" log lines turned off (one pair per connection)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def connect(self, factory):
        factory.noisy = False
        return self.endpoint.connect(factory)


@implementer(IAgentEndpointFactory)
class _Endpoints:
    """TCP for http, TLS under ``tls`` for https, as Agent's default does, but quiet."""

    def __init__(self, reactor, tls: IPolicyForHTTPS, connect_timeout: float):
        self.reactor = reactor
        self.tls = tls
        self.connect_timeout = connect_timeout

    def endpointForURI(self, uri):
        host = uri.host.decode("ascii")
        endpoint = HostnameEndpoint(self.reactor, host, uri.port, timeout=self.connect_timeout)
        if uri.scheme == b"https":
            endpoint = wrapClientTLS(self.tls.creatorForNetloc(uri.host, uri.port), endpoint)
        return _QuietEndpoint(endpoint)


def _reasons(exc: Exception) -> list[Exception]:
    """The underlying errors of Twisted's HTTP client failures (or the error itself)."""
    reasons = getattr(exc, "reasons", None)
    if isinstance(exc, (ResponseFailed, RequestTransmissionFailed)) and reasons:
        return [reason.value for reason in reasons]
    return [exc]


def _closed_unanswered(exc: Exception) -> bool:
    """The connection closed before any byte of an answer (a kept connection the server
    had just closed, most often): nothing the hub did can have been lost in an answer."""
    if not isinstance(exc, (ResponseNeverReceived, RequestTransmissionFailed)):
        return False
    return all(isinstance(reason, (error.ConnectionDone, error.ConnectionLost))
               for reason in _reasons(exc))


def retry_delay(exc: Exception, attempt: int, interval: float) -> float | None:
    """Seconds to wait before sending again after ``exc`` on try number ``attempt``
    (0 for the first), or None when sending again is not safe or not useful."""
    if _closed_unanswered(exc):
        return 0.0 if attempt == 0 else interval * 2 ** (attempt - 1)
    if isinstance(exc, (ServerOffline, error.ConnectionRefusedError)):
        return interval * 2 ** attempt
    return None


def _tls_problem(reason: Exception, host: str) -> str | None:
    """A person's words for a TLS failure, or None if ``reason`` is not one."""
    if type(reason).__name__ == "VerificationError":  # service_identity: wrong host name
        return f"TLS: the hub's certificate is not valid for {host}"
    from OpenSSL import SSL

    if not isinstance(reason, SSL.Error):
        return None
    details = [item for item in (reason.args[0] if reason.args else [])
               if isinstance(item, tuple) and item]
    why = str(details[-1][-1]) if details else "handshake failed"
    if "certificate verify failed" in why:
        return f"TLS: the hub's certificate is not trusted ({why}; check serverca)"
    if any(text in why for text in ("wrong version number", "packet length too long",
                                    "record layer failure", "unknown protocol")):
        return f"TLS: the server does not speak TLS ({why})"
    if ("alert" in why and "certificate" in why) or "unknown ca" in why:
        return f"TLS: the hub refused our client certificate ({why})"
    return f"TLS: {why}"


def describe(exc: Exception, url: str, timeout: float) -> str:
    """What went wrong with a request to ``url``, in a person's words, on one line."""
    host = urlsplit(url).hostname or url
    if isinstance(exc, (defer.TimeoutError, error.TimeoutError)):
        return f"no answer in {timeout:g} s"
    reasons = _reasons(exc)
    for reason in reasons:
        tls = _tls_problem(reason, host)
        if tls:
            return tls
    if isinstance(exc, error.ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, error.DNSLookupError):
        return f"DNS: no address for {host}"
    if isinstance(exc, error.NoRouteError):
        return f"no network route to {host}"
    if _closed_unanswered(exc):
        return "connection closed before any answer"
    if isinstance(exc, ResponseFailed):
        return "connection lost in the middle of the answer"
    if isinstance(exc, error.ConnectError):
        why = exc.osError if isinstance(getattr(exc, "osError", None), str) else None
        return f"cannot connect ({why or type(exc).__name__})"
    first = reasons[0]
    text = str(first).strip().splitlines()[0] if str(first).strip() else ""
    return f"cannot reach the hub ({type(first).__name__}{': ' + text[:200] if text else ''})"


class Transport:
    """Posts XML-RPC bodies to one hub, reusing connections only while that is safe.

    ``idle_timeout`` bounds how long an idle connection is kept for reuse; ``retries``
    bounds how often a request the hub did not answer is sent again (ServerOffline and
    refused connections back off from ``retry_interval``).
    """

    def __init__(self, reactor, *, timeout: float = 60.0, retries: int = 3,
                 retry_interval: float = 0.5, tls: IPolicyForHTTPS | None = None,
                 max_connections: int = 16, idle_timeout: float = IDLE_TIMEOUT):
        self.reactor = reactor
        self.timeout = timeout
        self.retries = retries
        self.retry_interval = retry_interval
        endpoints = _Endpoints(reactor, tls or TLSPolicy(), timeout)
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = max_connections
        self.pool.cachedConnectionTimeout = idle_timeout
        self.http = HTTPClient(Agent.usingEndpointFactory(reactor, endpoints, pool=self.pool))
        # One connection per request (sent with Connection: close) for hubs that close.
        self.http_once = HTTPClient(Agent.usingEndpointFactory(
            reactor, endpoints, pool=HTTPConnectionPool(reactor, persistent=False)))
        self.closes_since: float | None = None

    @property
    def server_closes(self) -> bool:
        """True while the hub is known to close each connection after one answer."""
        return (self.closes_since is not None
                and self.reactor.seconds() - self.closes_since < RELEARN_AFTER)

    async def post(self, url: str, body: bytes, headers: dict[str, str],
                   decode: Callable[[bytes], object], method: str = "call") -> object:
        """POST ``body`` and decode the answer; send again what is safe to send again.

        A failure that ends the call is logged once, at warn, naming ``method``.
        """
        for attempt in range(self.retries + 1):
            try:
                return decode(await self._post_once(url, body, headers))
            except Exception as exc:  # noqa: BLE001 - classified below
                delay = retry_delay(exc, attempt, self.retry_interval)
                if attempt == self.retries or delay is None:
                    failure = self._as_koji_error(exc, url)
                    if isinstance(failure, (KojiTransportError, ServerOffline)):
                        log.warn("hub call {method} failed: {why}", method=method,
                                 why=failure)
                    raise failure from None
                log.debug("hub call {method}: {why}; sending it again in {delay:g} s",
                          method=method, why=self._as_koji_error(exc, url), delay=delay)
            if delay:
                await task.deferLater(self.reactor, delay, lambda: None)
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
        http = self.http_once if self.server_closes else self.http
        response = await http.post(url, data=body, headers=headers)
        closes = http is self.http and tuple(response.version[1:]) < (1, 1)
        if closes:
            # HTTP/1.0: the hub closes after this answer (Twisted cannot see whether it
            # said keep-alive), so later requests must not pick this connection up.
            if self.closes_since is None:
                log.info("{url} answers HTTP/1.0: one connection per request from now on",
                         url=_public(url))
            self.closes_since = self.reactor.seconds()
        data = await treq.content(response)
        if closes:
            # The answered connection is back in the pool now; nothing there is safe.
            self.pool.closeCachedConnections()
        if response.code != 200:
            phrase = response.phrase.decode("latin-1", "replace").strip()
            raise KojiTransportError(f"HTTP {response.code} {phrase}".strip(), _public(url))
        return data

    def _as_koji_error(self, exc: Exception, url: str) -> KojiException:
        if isinstance(exc, KojiException):
            return exc
        what = describe(exc, url, self.timeout)
        if isinstance(exc, (defer.TimeoutError, error.TimeoutError)):
            return KojiTimeout(what, _public(url))
        return KojiTransportError(what, _public(url))

    async def close(self) -> None:
        """Close the idle kept connections."""
        await self.pool.closeCachedConnections()


def _public(url: str) -> str:
    """The URL without session secrets, for error messages and logs."""
    return url.split("?", 1)[0]
