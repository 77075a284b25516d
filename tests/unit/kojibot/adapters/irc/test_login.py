"""CAP and SASL without a server: which mechanism, what is sent, why a login failed."""

from __future__ import annotations

import pytest

from kojibot import config, settings
from kojibot.adapters.irc.lines import parse, sasl_mechanism
from kojibot.adapters.irc.login import Login
from kojibot.adapters.irc.options import IRCSettings
from tests.unit.pem import certificate

LS = ":irc.test CAP * LS :sasl={} message-tags server-time echo-message"


def test_external_with_a_certificate_plain_with_a_password():
    offered = {"sasl": "PLAIN,EXTERNAL"}
    assert sasl_mechanism(offered, certificate=True, password=True) == "EXTERNAL"
    assert sasl_mechanism(offered, certificate=False, password=True) == "PLAIN"
    assert sasl_mechanism({"sasl": "PLAIN"}, certificate=True, password=False) is None
    assert sasl_mechanism({"sasl": ""}, certificate=True, password=False) == "EXTERNAL"
    assert sasl_mechanism({}, certificate=True, password=True) is None


def test_external_login_sends_an_empty_authentication():
    login = Login(IRCSettings(host="irc.test", tls_cert="/bot.crt"))
    assert login.cap(parse(LS.format("PLAIN,EXTERNAL"))) == [
        "CAP REQ :echo-message message-tags server-time sasl"]
    assert login.cap(parse(":irc.test CAP * ACK :echo-message message-tags server-time sasl")
                     ) == ["AUTHENTICATE EXTERNAL"]
    assert login.authenticate(parse("AUTHENTICATE +")) == ["AUTHENTICATE +"]
    assert login.missing() == "irc.test offers no SASL EXTERNAL login for tls_cert"
    login.account = "kojibot"
    assert login.missing() is None
    assert login.failed(parse(":irc.test 904 * :SASL authentication failed")) == (
        "SASL EXTERNAL login with tls_cert /bot.crt refused (904 SASL authentication failed)")


def test_a_certificate_the_server_cannot_use_is_missing_at_sign_on():
    login = Login(IRCSettings(host="irc.test", tls_cert="/bot.crt"))
    assert login.cap(parse(LS.format("PLAIN"))) == [
        "CAP REQ :echo-message message-tags server-time"]
    assert login.missing() == "irc.test offers no SASL EXTERNAL login for tls_cert"


def test_plain_without_sasl_identifies_to_nickserv():
    login = Login(IRCSettings(host="irc.test", sasl_username="kb", sasl_password="pw"))
    assert login.cap(parse(":irc.test CAP * LS :echo-message")) == ["CAP REQ :echo-message"]
    assert login.missing() is None
    assert login.identify() == "PRIVMSG NickServ :IDENTIFY kb pw"


def test_server_time_and_the_bot_tag():
    line = parse("@time=2026-03-14T10:02:03.500Z;bot :b!u@h PRIVMSG #koji :hi")
    assert line.time == 1773482523.5 and line.from_bot
    assert parse(":a!u@h PRIVMSG #koji :hi").time is None
    assert not parse("@time=garbage :a!u@h PRIVMSG #koji :hi").from_bot


def test_realname_says_it_is_a_bot_and_who_runs_it():
    assert IRCSettings(host="h").realname == "kojibot, a Koji build system bot"
    assert IRCSettings(host="h", owner="alice, ops@example.org").realname == (
        "kojibot, a Koji bot run by alice, ops@example.org")
    assert IRCSettings(host="h", owner="x", realname="mine").realname == "mine"
    with pytest.raises(ValueError, match=r"^irc\.tls_key: tls_key needs tls_cert$"):
        IRCSettings(host="h", tls_key="/k")
    with pytest.raises(ValueError, match=r"^irc\.tls_cert: tls_cert needs tls = true$"):
        IRCSettings(host="h", tls=False, tls_cert="/c")


def test_check_config_refuses_a_key_that_is_not_the_certificates(tmp_path):
    cert, key = certificate(tmp_path, "one")
    _, other = certificate(tmp_path, "two")
    text = f"[irc]\nhost = irc.example.test\ntls_cert = {cert}\ntls_key = {{}}\n"
    with pytest.raises(config.ConfigError) as info:
        settings.build(config.parse(text.format(other)), koji=object())
    assert info.value.problems == [
        f"irc.tls_key: tls_key {other}: not the private key of tls_cert {cert}"]
    assert settings.build(config.parse(text.format(key)), koji=object()).irc.tls_cert == str(cert)
