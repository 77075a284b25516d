"""Koji login sessions: what an authenticated call carries, and how each authtype logs in."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from txkoji.exceptions import KojiException, LoginNotSupported

AUTHTYPES = ("password", "ssl", "kerberos")


@dataclass
class Session:
    """A hub session. ``callnum`` rises by one per authenticated call, starting at 0."""

    id: int
    key: str
    callnum: int = 0

    @classmethod
    def from_login(cls, info: dict) -> Session:
        try:
            return cls(int(info["session-id"]), str(info["session-key"]))
        except (KeyError, TypeError, ValueError):
            raise KojiException(f"the hub's login answer has no session: {info!r:.200}") from None

    def url(self, server: str) -> str:
        """Hubs up to 1.30 read the session from the URL query."""
        query = urlencode({"session-id": self.id, "session-key": self.key,
                           "callnum": self.callnum})
        return f"{server}?{query}"

    def headers(self) -> dict[str, str]:
        """Hubs from 1.31 on read it from these headers (and keep it out of access logs)."""
        return {"Koji-Session-Id": str(self.id), "Koji-Session-Key": self.key,
                "Koji-Session-Callnum": str(self.callnum)}


def choose_authtype(settings: dict) -> str:
    """The profile's authtype, or the one its keys imply (as the koji CLI guesses)."""
    authtype = settings.get("authtype")
    if not authtype:
        if settings.get("cert"):
            authtype = "ssl"
        elif settings.get("user") and settings.get("password"):
            authtype = "password"
        else:
            authtype = "kerberos"
    if authtype not in AUTHTYPES:
        choices = ", ".join(AUTHTYPES)
        raise LoginNotSupported(f"unknown authtype {authtype!r} (use one of {choices})")
    if authtype == "password" and not (settings.get("user") and settings.get("password")):
        raise LoginNotSupported("authtype password needs both user and password")
    if authtype == "ssl" and not settings.get("cert"):
        raise LoginNotSupported("authtype ssl needs cert (a PEM with certificate and key)")
    return authtype


def ssllogin_url(server: str) -> str:
    """Where hubs take certificate and GSSAPI logins (koji's ``/ssllogin`` location)."""
    return server.rstrip("/") + "/ssllogin"


def negotiate_header(server: str, principal: str | None = None) -> dict[str, str]:
    """An ``Authorization: Negotiate`` header for the hub's host from the Kerberos cache."""
    try:
        import gssapi  # optional extra "kerberos"
    except ImportError:
        raise LoginNotSupported(
            "authtype kerberos needs the 'kerberos' extra: pip install kojibot[kerberos]"
        ) from None
    host = urlsplit(server).hostname
    try:
        creds = None
        if principal:
            name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
            creds = gssapi.Credentials(name=name, usage="initiate")
        target = gssapi.Name(f"HTTP@{host}", gssapi.NameType.hostbased_service)
        context = gssapi.SecurityContext(name=target, creds=creds, usage="initiate")
        token = context.step()
    except gssapi.exceptions.GSSError as exc:
        message = str(exc).splitlines()[0]
        raise KojiException(f"Kerberos login to {host} failed: {message}") from None
    return {"Authorization": "Negotiate " + base64.b64encode(token).decode("ascii")}
