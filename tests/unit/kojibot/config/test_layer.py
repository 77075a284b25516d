"""The config layer without any server: every key declared once with ``setting``,
bot.example.ini key by key against the declarations, problems named by key."""

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kojibot import config
from kojibot.config import SECTIONS, ConfigError, IRCSettings

EXAMPLE = Path(__file__).parents[4] / "bot.example.ini"
# "key = value" or "# key = value" (a commented-out key shows its default).
KEY_LINE = re.compile(r"(?P<commented># )?(?P<key>[a-z_]+) =(?: (?P<value>.*))?")


def example_keys():
    """{section: {key: (commented, value)}} as bot.example.ini shows them."""
    found, section = {}, None
    for line in EXAMPLE.read_text().splitlines():
        header = re.fullmatch(r"(?:# )?\[(\w+)\]", line)
        if header:
            section = found.setdefault(header[1], {})
            continue
        match = KEY_LINE.fullmatch(line)
        if match and section is not None:
            assert match["key"] not in section, f"{match['key']} shown twice"
            section[match["key"]] = (bool(match["commented"]), (match["value"] or "").strip())
    return found


def test_every_key_is_declared_with_a_converter_and_a_doc():
    for name, cls in SECTIONS.items():
        assert cls.NAME == name
        for field in dataclasses.fields(cls):
            assert callable(field.metadata.get("convert")), f"{name}.{field.name}"
            doc = field.metadata.get("doc", "")
            assert doc and "\n" not in doc, f"{name}.{field.name} has no one-line doc"


def test_the_example_shows_every_declared_key_and_no_other():
    shown = example_keys()
    assert list(shown) == list(SECTIONS)
    for name, cls in SECTIONS.items():
        assert set(shown[name]) == {field.name for field in dataclasses.fields(cls)}, name


def test_a_commented_out_key_in_the_example_shows_its_default():
    shown = example_keys()
    for name, cls in SECTIONS.items():
        for field in dataclasses.fields(cls):
            commented, value = shown[name][field.name]
            if not commented or field.default is dataclasses.MISSING:
                continue  # a value the example sets, or a required key's example
            where = f"{name}.{field.name}"
            if value:
                assert field.metadata["convert"](value) == field.default, where
            else:
                assert field.default in (None, ()), f"{where}: the example hides its default"


def test_the_example_is_a_valid_config():
    parsed = config.load(str(EXAMPLE))
    assert parsed.irc.host == "irc.libera.chat" and parsed.matrix is None


def test_problems_name_the_key_whatever_checks_it():
    with pytest.raises(ConfigError) as info:
        config.parse("[irc]\nhost = irc.example.test\nnick = 9lives\nsasl_username = kb\n"
                     "[matrix]\nhomeserver = https://m.example.org\nuser_id = @kb:m.example.org\n"
                     "rooms = koji\n[amqp]\nurl = amqp://host/\nprefetch = 70000\n")
    assert info.value.problems == [
        "irc.nick: nick '9lives' is not a valid IRC nick",
        "irc.sasl_password: sasl_username and sasl_password go together",
        "matrix.password: give matrix.password or matrix.access_token (one of them)",
        "matrix.rooms: 'koji' is not a room id (!id:server) or alias (#name:server)",
        "amqp.prefetch: prefetch 70000 is not in 1-65535",
    ]


def test_an_inherited_value_is_blamed_on_the_key_it_came_from():
    with pytest.raises(ConfigError) as info:
        config.parse("[bot]\nnick = 9kb\n[irc]\nhost = irc.example.test\n")
    assert info.value.problems == ["bot.nick: nick '9kb' is not a valid IRC nick"]
    assert config.parse("[bot]\nnick = kb\n[irc]\nhost = h\nnick = other\n").irc.nick == "other"


def test_read_gives_the_good_sections_and_the_problems_of_the_others():
    parsed, problems = config.read("[bot]\nrate = 3\n[irc]\nhost = h\nport = 0\n")
    assert parsed.bot.rate == 3 and parsed.irc is None
    assert problems == ["irc.port: bad value '0': must be a port number (1-65535)"]


@pytest.mark.parametrize("key", ["authtype", "cert", "user", "password", "principal"])
def test_the_koji_login_keys_are_refused_with_a_hint(key):
    with pytest.raises(ConfigError) as info:
        config.parse(f"[koji]\n{key} = x\n")
    (line,) = info.value.problems
    assert line.startswith(f"koji.{key}: kojibot only reads from the hub and never logs in")


def test_defaults_that_depend_on_other_keys():
    assert IRCSettings(host="h", tls=False).port == 6667
    assert IRCSettings(host="h").port == 6697
    parsed = config.parse("[koji]\nprofile = mine\n")
    assert (parsed.koji.server, parsed.koji.weburl) == (None, None)  # the profile says
    assert config.defaults().koji.server == "https://koji.fedoraproject.org/kojihub"


def test_secrets_stay_out_of_repr():
    parsed = config.parse("[irc]\nhost = h\nsasl_username = kb\nsasl_password = s3cret\n"
                          "[amqp]\nurl = amqp://u:s3cret@host/\n")
    assert "s3cret" not in repr(parsed)


def test_the_config_layer_and_the_adapters_do_not_import_start_up():
    """kojibot.config is read by the adapters; it imports no adapter, bus or settings, and
    the IRC adapter does not import kojibot.settings (no cycle)."""
    code = ("import sys, kojibot.config; loaded = set(sys.modules); "
            "import kojibot.adapters.irc.network; "
            "print(sorted(m for m in loaded if m.startswith(('kojibot.settings', "
            "'kojibot.bus', 'kojibot.adapters.irc', 'twisted')))); "
            "print('kojibot.settings' in sys.modules)")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split("\n")
    assert out[:2] == ["[]", "False"]
