"""The IRC connection fed server lines by hand (a StringTransport, a memory reactor): what a
real server cannot be made to send on cue — a replayed line with an old server-time."""

from __future__ import annotations

import time

from twisted.internet.testing import MemoryReactorClock, StringTransport

from kojibot.adapters.irc.network import IRCAdapter, IRCSettings
from kojibot.adapters.irc.protocol import STALE, IRCConnection


def connect(**options):
    clock = MemoryReactorClock()
    clock.advance(time.time())
    heard = []
    adapter = IRCAdapter(IRCSettings(host="irc.test", tls=False, nick="kb", **options),
                         heard.append, reactor=clock)
    conn = IRCConnection(adapter)
    transport = StringTransport()
    conn.makeConnection(transport)
    return conn, transport, heard, clock


def feed(conn: IRCConnection, *lines: str) -> None:
    for line in lines:
        conn.lineReceived(line.encode())


def stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


def test_sets_the_bot_mode_the_server_advertises():
    conn, transport, _, _ = connect()
    feed(conn, ":irc.test 001 kb :Welcome", ":irc.test 005 kb BOT=B WHOX :are supported")
    assert b"MODE kb +B\r\n" in transport.value()


def test_replayed_and_bot_lines_are_not_answered():
    conn, _, heard, clock = connect()
    feed(conn, ":irc.test 001 kb :Welcome",
         f"@time={stamp(clock.seconds() - STALE - 60)} :al!u@h PRIVMSG kb :!task 1",
         "@bot :other!u@h PRIVMSG kb :!task 2",
         f"@time={stamp(clock.seconds() - 5)} :al!u@h PRIVMSG kb :!task 3")
    assert [incoming.text for incoming in heard] == ["!task 3"]


def test_a_refused_login_leaves_before_joining():
    conn, transport, _, _ = connect(channels=("#koji",), sasl_username="kb",
                                    sasl_password="pw")
    feed(conn, ":irc.test CAP * LS :sasl=PLAIN", ":irc.test CAP kb ACK :sasl",
         "AUTHENTICATE +", ":irc.test 904 kb :SASL authentication failed")
    assert conn.refused == "SASL PLAIN login as kb refused (904 SASL authentication failed)"
    assert transport.disconnecting and b"JOIN" not in transport.value()
