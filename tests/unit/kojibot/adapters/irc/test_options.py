"""IRC settings: each bad value refused with its reason, made from [irc], passwords never shown."""

from __future__ import annotations

import pytest

from kojibot.adapters.irc.network import IRCSettings, adapter_from_config


def test_bad_settings_are_refused_with_every_reason():
    with pytest.raises(ValueError) as error:
        IRCSettings(host="", port=70000, nick="9lives", channels=("koji", "#ok"), burst=0)
    assert str(error.value) == (
        "irc.host: host is empty; irc.port: port 70000 is not a TCP port; irc.nick: nick "
        "'9lives' is not a valid IRC nick; irc.line_rate: line_rate must be positive and burst "
        "at least 1; irc.channels: channel 'koji' is not a channel name")


def test_the_config_irc_section_makes_an_adapter():
    from kojibot import config

    section = config.parse("[irc]\nhost = irc.example.org\nchannels = #koji, #fedora-releng\n"
                           "sasl_username = kb\nsasl_password = pw\nline_rate = 0.5\n").irc
    adapter = adapter_from_config(section, print)  # not started: no connection
    assert adapter.network == "irc" and not adapter.running
    assert adapter.settings == IRCSettings(
        host="irc.example.org", port=6697, nick=section.nick,
        channels=("#koji", "#fedora-releng"), sasl_username="kb", sasl_password="pw", line_rate=0.5)


def test_settings_never_show_passwords():
    settings = IRCSettings(host="irc.example.org", password="s3rver", sasl_username="kb",
                           sasl_password="s4sl")
    assert "s3rver" not in repr(settings) and "s4sl" not in repr(settings)
