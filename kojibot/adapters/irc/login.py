"""CAP negotiation and the SASL login without I/O: what to answer each CAP and AUTHENTICATE,
which mechanism (EXTERNAL with a client certificate, else PLAIN), and why a login failed.
The connection (irc.protocol) sends the lines and acts on a refusal."""

from __future__ import annotations

from kojibot.adapters.irc import lines as irclines
from kojibot.adapters.irc.lines import Line
from kojibot.adapters.irc.options import IRCSettings


class Login:
    """One connection's caps and services login."""

    def __init__(self, settings: IRCSettings):
        self.settings = settings
        self.offered: dict[str, str] = {}
        self.caps: set[str] = set()
        self.mechanism: str | None = None
        self.account: str | None = None  # the services account we are logged in to

    def cap(self, line: Line) -> list[str]:
        """The answer to a CAP line: REQ once LS is complete, AUTHENTICATE or END on ACK."""
        sub = line.params[1].upper() if len(line.params) > 1 else ""
        if sub == "LS":
            self.offered.update(irclines.cap_list(line.params[-1]))
            if len(line.params) > 3 and line.params[2] == "*":  # more to come
                return []
            self.mechanism = irclines.sasl_mechanism(
                self.offered, bool(self.settings.tls_cert), bool(self.settings.sasl_password))
            return [irclines.cap_request(self.offered, self.mechanism is not None)]
        if sub == "ACK":
            self.caps.update(irclines.cap_list(line.params[-1]))
            login = "sasl" in self.caps and self.mechanism
            return [f"AUTHENTICATE {self.mechanism}" if login else "CAP END"]
        return ["CAP END"] if sub == "NAK" else []

    def authenticate(self, line: Line) -> list[str]:
        """Our credentials, once the server asks for them (``AUTHENTICATE +``)."""
        if line.params[:1] != ("+",):
            return []
        chunks = (irclines.sasl_external() if self.mechanism == "EXTERNAL" else
                  irclines.sasl_plain(self.user, self.settings.sasl_password or ""))
        return [f"AUTHENTICATE {chunk}" for chunk in chunks]

    @property
    def user(self) -> str:
        return self.settings.sasl_username or self.settings.nick

    def failed(self, line: Line) -> str:
        """Why the server refused our login (a SASL error numeric), in one line."""
        who = (f"with tls_cert {self.settings.tls_cert}" if self.mechanism == "EXTERNAL"
               else f"as {self.user}")
        return f"SASL {self.mechanism} login {who} refused ({line.command} {line.params[-1]})"

    def missing(self) -> str | None:
        """At sign-on: why we may not go on, if a client certificate was to log us in and
        did not (the server offered no SASL EXTERNAL)."""
        if self.settings.tls_cert and self.account is None:
            return f"{self.settings.host} offers no SASL EXTERNAL login for tls_cert"
        return None

    def identify(self) -> str | None:
        """Without SASL on offer, a password still logs in: NickServ IDENTIFY after sign-on."""
        if self.settings.sasl_password and "sasl" not in self.caps:
            words = [self.settings.sasl_username, self.settings.sasl_password]
            return "PRIVMSG NickServ :IDENTIFY " + " ".join(filter(None, words))
        return None
