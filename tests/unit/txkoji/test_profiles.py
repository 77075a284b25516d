"""Koji profiles, read from files like the koji CLI reads them."""

import pytest

import txkoji
from txkoji import profiles


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".koji" / "config.d").mkdir(parents=True)
    return tmp_path


def test_profile_from_user_config_d(home):
    (home / ".koji/config.d/stg.conf").write_text(
        "[stg]\nserver = https://hub.example.test/kojihub\nweburl = https://hub.example.test/koji\n"
        "serverca = ~/ca.pem\ntimeout = 30\nauthtype = ssl\ncert = ~/me.pem\n")
    settings = profiles.read_profile("stg")
    assert settings["server"] == "https://hub.example.test/kojihub"
    assert settings["timeout"] == 30.0
    assert settings["serverca"] == str(home / "ca.pem")


def test_later_user_file_wins(home):
    (home / ".koji/config.d/a.conf").write_text("[x]\nserver = http://one/kojihub\n")
    (home / ".koji/config").write_text("[x]\nserver = http://two/kojihub\nuser = alice\n")
    settings = profiles.read_profile("x")
    assert settings == {"server": "http://two/kojihub", "user": "alice"}


def test_unknown_profile_names_profile_and_files(home):
    with pytest.raises(txkoji.exceptions.ProfileNotFound) as info:
        txkoji.Connection("nosuchprofile")
    message = str(info.value)
    assert "'nosuchprofile'" in message and "~/.koji/config.d/*.conf" in message
    assert "/etc/koji.conf" in message


def test_bad_value_is_one_clear_line(home):
    (home / ".koji/config").write_text("[x]\nserver = http://h/kojihub\ntimeout = soon\n")
    with pytest.raises(txkoji.exceptions.ProfileError, match="bad timeout 'soon'"):
        profiles.read_profile("x")


def test_unreadable_file_is_one_clear_line(home):
    (home / ".koji/config").write_text("server = no section header\n")
    with pytest.raises(txkoji.exceptions.ProfileError) as info:
        profiles.read_profile("x")
    assert str(home / ".koji/config") in str(info.value) and "\n" not in str(info.value)


def test_keyword_settings_need_no_file(home):
    koji = txkoji.Connection(server="http://127.0.0.1:9/kojihub", weburl="http://w/koji")
    assert koji.server == "http://127.0.0.1:9/kojihub" and koji.weburl == "http://w/koji"


def test_no_server_is_a_clear_error(home):
    (home / ".koji/config").write_text("[empty]\nweburl = http://w/koji\n")
    with pytest.raises(txkoji.KojiException, match="no hub server URL in profile 'empty'"):
        txkoji.Connection("empty")


def test_connect_from_web_finds_profile(home):
    (home / ".koji/config").write_text(
        "[a]\nserver = http://a/kojihub\nweburl = http://a.test/koji\n"
        "[b]\nserver = http://b/kojihub\nweburl = http://b.test/koji/\n")
    koji = txkoji.Connection.connect_from_web("http://b.test/koji/taskinfo?taskID=5")
    assert koji.profile == "b"
    assert txkoji.Connection.connect_from_web("http://c.test/koji/taskinfo?taskID=5") is None


def _failure_of(deferred):
    failures = []
    deferred.addErrback(failures.append)
    assert failures, "expected the Deferred to have failed already"
    return failures[0].value


def test_login_settings_are_checked(home):
    koji = txkoji.Connection(server="http://127.0.0.1:9/kojihub", authtype="password", user="a")
    error = _failure_of(koji.login())
    assert isinstance(error, txkoji.exceptions.LoginNotSupported)
    assert str(error) == "authtype password needs both user and password"
    koji = txkoji.Connection(server="http://127.0.0.1:9/kojihub", authtype="magic")
    assert "unknown authtype 'magic'" in str(_failure_of(koji.login()))
