"""txkoji.Connection: every attribute is a hub call returning a Deferred."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from txkoji import methods, profiles, rpc, web
from txkoji.auth import Session, choose_authtype, negotiate_header, ssllogin_url
from txkoji.exceptions import KojiException
from txkoji.multicall import MultiCall
from txkoji.reactors import default_reactor
from txkoji.rpc import MethodProxy
from txkoji.transport import IDLE_TIMEOUT, TLSPolicy, Transport

DEFAULT_TIMEOUT = 60.0

# Told of every hub call once it ends: the method as logs name it (a MultiCall by the methods
# it carries), seconds taken, and the error or None.
CallObserver = Callable[[str, float, BaseException | None], object]


class Connection:
    """A connection to one Koji hub, from a koji profile and/or keyword settings.

    ``Connection('fedora')`` reads the profile the way the koji CLI does;
    ``Connection(server=..., weburl=...)`` needs no file; keywords override the profile.
    Settings: server, weburl, topurl, authtype, cert, serverca, timeout, user, password,
    principal, and for the transport:

    - ``timeout``: seconds a call may take, answer included (default 60);
    - ``retries``, ``retry_interval``: how often a request the hub did not answer
      (ServerOffline, connection refused, connection closed before any answer) is sent
      again (default 3), and the first pause between tries (0.5 s, doubling); a closed
      connection is retried at once. Retries carry the same callnum, so a hub that did
      act on a logged-in call answers RetryError rather than acting twice;
    - ``idle_timeout``: seconds an idle connection is kept for the next call (default 15).
      Kept short so that firewalls and NAT boxes, which may silently forget a connection
      idle for a minute or more, never get one reused (that would cost a whole
      ``timeout``); a later call simply opens a new connection.

    ``transport`` replaces the HTTP transport with anything offering its ``post`` and
    ``close`` (txkoji.testing.HubDouble answers calls in memory that way).

    ``observers`` are called after every hub call (see CallObserver): the seam for
    latency and error metrics, so that txkoji needs no metrics library.
    """

    def __init__(self, profile: str | None = None, *, reactor=None, transport=None,
                 **settings: Any):
        merged = profiles.read_profile(profile) if profile else {}
        merged.update({key: value for key, value in settings.items() if value is not None})
        if not merged.get("server"):
            where = f"profile {profile!r}" if profile else "the settings"
            raise KojiException(f"no hub server URL in {where}")
        reactor = default_reactor(reactor)
        self.profile = profile
        self.settings = merged
        self.server: str = merged["server"].rstrip("/")
        self.weburl: str | None = merged.get("weburl")
        self.topurl: str | None = merged.get("topurl")
        self.transport = transport or Transport(
            reactor,
            timeout=float(merged.get("timeout") or DEFAULT_TIMEOUT),
            retries=int(merged.get("retries", 3)),
            retry_interval=float(merged.get("retry_interval", 0.5)),
            tls=TLSPolicy(merged.get("serverca"), merged.get("cert")),
            idle_timeout=float(merged.get("idle_timeout", IDLE_TIMEOUT)),
        )
        self.session: Session | None = None
        self._auth_lock = defer.DeferredLock()
        self._cache = None
        self.observers: list[CallObserver] = []

    def __repr__(self) -> str:
        return f"<txkoji.Connection {self.profile or self.server}>"

    def __getattr__(self, name: str) -> MethodProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        return MethodProxy(self, name)

    # Calls

    def call(self, method: str, *args, **kwargs) -> defer.Deferred:
        """Call ``method`` on the hub; the Deferred fires with its (rich) result."""
        return defer.Deferred.fromCoroutine(self._call(method, args, kwargs))

    async def _call(self, method: str, args: tuple, kwargs: dict) -> Any:
        args, kwargs = methods.prepare(method, args, kwargs)
        result = await self.raw_call(method, args, kwargs)
        return methods.enrich(method, result, self)

    async def raw_call(self, method: str, args: tuple = (), kwargs: dict | None = None,
                       url: str | None = None, headers: dict | None = None) -> Any:
        """One XML-RPC call as the hub answers it; authenticated (and serialized) when logged in."""
        started, error = time.monotonic(), None
        try:
            return await self._post(method, args, kwargs, url, headers)
        except BaseException as exc:
            error = exc
            raise
        finally:
            for observer in self.observers:
                observer(_logged_name(method, args), time.monotonic() - started, error)

    async def _post(self, method: str, args: tuple, kwargs: dict | None, url: str | None,
                    headers: dict | None) -> Any:
        body = rpc.encode_call(method, args, kwargs)
        what = _logged_name(method, args)
        if self.session is None or url is not None:
            return await self.transport.post(url or self.server, body, headers or {},
                                             rpc.decode_response, what)
        async with self._auth_lock:
            session = self.session
            if session is None:  # logged out while this call waited
                return await self.transport.post(self.server, body, {}, rpc.decode_response,
                                                 what)
            try:
                # Every try of this call carries this callnum (the hub's retry guard).
                return await self.transport.post(session.url(self.server), body,
                                                 session.headers(), rpc.decode_response,
                                                 what)
            finally:
                session.callnum += 1

    def MultiCall(self) -> MultiCall:
        """Queue calls, then ``results = yield multicall()`` sends them as one request."""
        return MultiCall(self)

    # Authentication

    @property
    def logged_in(self) -> bool:
        return self.session is not None

    def login(self) -> defer.Deferred:
        """Log in with the profile's authtype (password, ssl or kerberos)."""
        return defer.Deferred.fromCoroutine(self._login())

    async def _login(self) -> Session:
        authtype = choose_authtype(self.settings)
        if authtype == "password":
            info = await self.raw_call("login", (self.settings["user"], self.settings["password"]),
                                       url=self.server)
        elif authtype == "ssl":
            info = await self.raw_call("sslLogin", url=ssllogin_url(self.server))
        else:
            header = negotiate_header(self.server, self.settings.get("principal"))
            info = await self.raw_call("sslLogin", url=ssllogin_url(self.server), headers=header)
        self.session = Session.from_login(info)
        return self.session

    def logout(self) -> defer.Deferred:
        """End the hub session (a no-op when not logged in)."""
        return defer.Deferred.fromCoroutine(self._logout())

    async def _logout(self) -> None:
        if self.session is None:
            return
        try:
            await self.raw_call("logout")
        finally:
            self.session = None

    # Conveniences

    @property
    def cache(self):
        """The id → name cache for users and tags of this hub."""
        if self._cache is None:
            from txkoji.cache import Cache

            self._cache = Cache(self)
        return self._cache

    def from_web(self, url: str) -> defer.Deferred:
        """The hub record behind a kojiweb URL, or None for a URL txkoji cannot read."""
        target = web.parse_url(url)
        if target is None:
            return defer.succeed(None)
        return self.call(target.method, target.id)

    @classmethod
    def connect_from_web(cls, url: str, **settings: Any) -> Connection | None:
        """A Connection for the profile whose weburl this kojiweb URL starts with."""
        for weburl, profile in profiles.profiles_by_weburl().items():
            if url.startswith(weburl + "/"):
                return cls(profile, **settings)
        return None

    def close(self) -> defer.Deferred:
        """Close the idle keep-alive connections (call before the reactor stops)."""
        return defer.Deferred.fromCoroutine(self.transport.close())


def _logged_name(method: str, args: tuple) -> str:
    """How the log names a call: a MultiCall by the methods it carries."""
    if method != "system.multicall" or not args or not isinstance(args[0], list):
        return method
    names = list(dict.fromkeys(call.get("methodName", "?") for call in args[0]))
    more = f" +{len(names) - 3} more" if len(names) > 3 else ""
    return f"multicall of {', '.join(names[:3])}{more}"
