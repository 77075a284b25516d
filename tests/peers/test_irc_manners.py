"""Good manners on a real inspircd with atheme: bot mode (+B, the ``bot`` message tag), a
realname that names the bot's owner, SASL EXTERNAL with a client certificate registered in
atheme (CertFP), and a refused login that never joins a channel unauthenticated."""

from __future__ import annotations

import hashlib
import ssl

import pytest_twisted
from twisted.internet import reactor, task

from tests.peers import test_irc_adapter
from tests.peers.test_irc_adapter import eventually, from_bot, reply, start_bot, unique, user

cleanup, log_lines = test_irc_adapter.cleanup, test_irc_adapter.log_lines  # the fixtures

OWNER = "alice on KojibotTest, ops@example.test"


def fingerprint(cert) -> str:
    """What inspircd (``hash="sha256"``) tells atheme: SHA-256 of the certificate's DER."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return hashlib.sha256(der).hexdigest()


async def whois(asker, nick: str) -> dict[str, tuple[str, ...]]:
    asker.send(f"WHOIS {nick}")
    answers = {}
    while "318" not in answers:
        heard = await asker.wait_line(lambda h: h.command in ("311", "335", "318", "401"))
        answers[heard.command] = heard.line.params
    return answers


@pytest_twisted.ensureDeferred
async def test_bot_mode_tag_and_realname_with_the_owner(inspircd, cleanup, log_lines):
    channel = unique("#manners")
    alice = await user(cleanup, inspircd.port, caps=("message-tags",))
    await alice.join(channel)
    bot, inbox = await start_bot(cleanup, inspircd.port, channels=(channel,), owner=OWNER)
    await eventually(lambda: any("labels us a bot (user mode +B)" in line
                                 for line in log_lines), 10, "the +B confirmation")

    answers = await whois(alice, bot.nick)
    assert answers["311"][-1] == f"kojibot, a Koji bot run by {OWNER}"
    assert answers["335"][1] == bot.nick  # RPL_WHOISBOT

    bot.deliver(reply(bot, channel, "hello"))
    said = await alice.wait_for(from_bot(bot))
    assert "bot" in said.line.tags

    other = await user(cleanup, inspircd.port)
    other.send(f"MODE {other.nick} +B")
    await other.wait_line(lambda h: h.command == "MODE")
    await other.join(channel)
    other.say(channel, f"{bot.nick}: task 1")  # a bot's line: not for us to answer
    alice.say(channel, f"{bot.nick}: task 2")
    await inbox.wait_for(lambda i: i.sender == alice.nick)
    assert [i.text for i in inbox.heard] == [f"{bot.nick}: task 2"]


@pytest_twisted.ensureDeferred
async def test_default_realname_says_it_is_a_bot(inspircd, cleanup):
    alice = await user(cleanup, inspircd.port)
    bot, _ = await start_bot(cleanup, inspircd.port)
    assert (await whois(alice, bot.nick))["311"][-1] == "kojibot, a Koji build system bot"


@pytest_twisted.ensureDeferred
async def test_sasl_external_with_a_registered_certificate(inspircd, cleanup, log_lines):
    account, channel = unique("kbcert"), unique("#certfp")
    cert, key = inspircd.ca.client(account)
    owner = await user(cleanup, inspircd.port, nick=account)
    owner.say("NickServ", "REGISTER certpw12 cert@example.test")
    await owner.wait_for("registered")
    owner.say("NickServ", f"CERT ADD {fingerprint(cert)}")
    await owner.wait_for("Added fingerprint")
    await owner.quit()
    alice = await user(cleanup, inspircd.port)
    await alice.join(channel)

    bot, _ = await start_bot(cleanup, inspircd.tls_port, channels=(channel,), tls=True,
                             tls_ca=str(inspircd.ca_file), tls_cert=str(cert),
                             tls_key=str(key))
    assert any(f"logged in to services as {account}" in line for line in log_lines)
    bot.deliver(reply(bot, channel, "signed in"))
    await alice.wait_for(from_bot(bot))


@pytest_twisted.ensureDeferred
async def test_unregistered_certificate_is_one_line_and_no_join(inspircd, cleanup, log_lines):
    channel = unique("#nocert")
    cert, key = inspircd.ca.client(unique("stranger"))
    alice = await user(cleanup, inspircd.port)
    await alice.join(channel)
    bot, _ = await start_bot(cleanup, inspircd.tls_port, wait=False, channels=(channel,),
                                 tls=True, tls_ca=str(inspircd.ca_file), tls_cert=str(cert),
                                 tls_key=str(key))
    bot.retry_policy = lambda attempt: 0.3  # retry quickly: still only one line
    await eventually(lambda: bot.upkeep.lost_early >= 3, 20, "three refused logins")
    errors = [line for line in log_lines if line.startswith(("error", "warn"))]
    assert errors == [f"error: not joining on 127.0.0.1: SASL EXTERNAL login with tls_cert "
                      f"{cert} refused (904 SASL authentication failed); trying again later"]
    assert not bot.ready
    alice.send(f"NAMES {channel}")
    names = await alice.wait_line(lambda h: h.command == "353")
    assert names.text.split() == [f"@{alice.nick}"]


@pytest_twisted.ensureDeferred
async def test_refused_sasl_plain_does_not_join_either(inspircd, cleanup, log_lines):
    channel = unique("#noplain")
    alice = await user(cleanup, inspircd.port)
    await alice.join(channel)
    account = unique("kbplain")
    bot, _ = await start_bot(cleanup, inspircd.port, wait=False, channels=(channel,),
                             sasl_username=account, sasl_password="wrong-pw")
    bot.retry_policy = lambda attempt: 0.3
    await eventually(lambda: bot.upkeep.lost_early >= 2, 20, "two refused logins")
    assert [line for line in log_lines if line.startswith(("error", "warn"))] == [
        f"error: not joining on 127.0.0.1: SASL PLAIN login as {account} refused "
        "(904 SASL authentication failed); trying again later"]
    assert not any("wrong-pw" in line for line in log_lines)
    await task.deferLater(reactor, 0.5, lambda: None)
    alice.send(f"NAMES {channel}")
    assert (await alice.wait_line(lambda h: h.command == "353")).text.split() == [
        f"@{alice.nick}"]
