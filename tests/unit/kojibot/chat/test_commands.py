"""Command declaration, parsing and addressing: pure, no reactor."""

import re
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kojibot.chat.commands import MAX_WORD, Registry, UsageError, check_word, command
from kojibot.chat.dispatcher import addressed
from txkoji.rpc import I8_MAX as MAX_ID


@command("task")
async def task(ctx, task_id: Annotated[int, "ID"]):
    """Show a task."""


@command("latest")
async def latest(ctx, tag: str, package: str):
    """Latest build."""


@command("help")
async def help_(ctx, name: Annotated[str, "COMMAND"] = ""):
    """Help."""


@command("watch")
async def watch(ctx, ref: Annotated[str, "ID|NVR"], *more: Annotated[str, "ID|NVR"]):
    """Watch."""


def test_usage_comes_from_the_signature():
    assert task.usage("!") == "!task ID"
    assert latest.usage("!") == "!latest TAG PACKAGE"
    assert help_.usage("%") == "%help [COMMAND]"
    assert watch.usage("!") == "!watch ID|NVR [ID|NVR...]"
    assert task.help == "Show a task."


def test_parse_converts_and_checks():
    assert task.parse(["42"]) == [42]
    assert help_.parse([]) == []
    assert watch.parse(["1", "bash-1-1"]) == ["1", "bash-1-1"]
    for words, message in ((["x"], "ID must be a number, not 'x'"), ([], "missing ID"),
                           (["1", "2"], "too many arguments"), (["-5"], "ID must be a number")):
        with pytest.raises(UsageError, match=message):
            task.parse(words)
    with pytest.raises(UsageError, match=re.escape("missing ID|NVR")):
        watch.parse([])
    assert watch.parse(["1"]) == ["1"]


@given(st.lists(st.text(max_size=30), max_size=6))
def test_parser_never_raises_anything_but_usage_error(words):
    for declared in (task, latest, help_, watch):
        try:
            declared.parse(words)
        except UsageError:
            pass


@given(st.text(max_size=200), st.text(max_size=3), st.text(max_size=20), st.booleans())
def test_addressing_never_raises(line, prefix, name, direct):
    result = addressed(line, prefix or "!", name, direct)
    assert result is None or isinstance(result, str)


@pytest.mark.parametrize("line,direct,expect", [
    ("!task 1", False, "task 1"),
    ("kojibot: task 1", False, "task 1"),
    ("KojiBot, task 1", False, "task 1"),
    ("task 1", True, "task 1"),
    ("task 1", False, None),
    ("!!!", False, None),
    ("! task", False, None),
    ("kojibotx: task", False, None),
])
def test_addressing(line, direct, expect):
    assert addressed(line, "!", "kojibot", direct) == expect


def test_registry_refuses_twins():
    import types

    registry = Registry()
    registry.add_module(types.SimpleNamespace(a=task, __name__="m"))
    with pytest.raises(ValueError, match="declared twice"):
        registry.add_module(types.SimpleNamespace(b=task))


BIG = "99999999999999999999999"


@pytest.mark.parametrize("word,message", [
    (BIG, f"ID {BIG} is not a Koji id (1 to 9223372036854775807)"),
    ("9223372036854775808", "ID 9223372036854775808 is not a Koji id"),
    ("0", "ID 0 is not a Koji id"),
    ("²", "ID ² is not a Koji id"),  # a digit to str.isdigit, not to int()
    ("1\x00", "ID must not contain control characters (found U+0000)"),
    ("\x1b[31m1", "ID must not contain control characters (found U+001B)"),
    ("1\x7f", "ID must not contain control characters (found U+007F)"),
    ("1\x9b", "ID must not contain control characters (found U+009B)"),
    ("1\ud800", "ID must not contain control characters (found U+D800)"),
    ("1\ufffe", "ID must not contain control characters (found U+FFFE)"),
    ("1" * 5000, "ID is too long (5000 characters, at most 255)"),
])
def test_int_arguments_are_koji_ids_and_words_are_fit_for_the_hub(word, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        task.parse([word])


def test_the_largest_koji_id_passes():
    assert task.parse([str(MAX_ID)]) == [MAX_ID]
    assert task.parse(["007"]) == [7]


@pytest.mark.parametrize("words,message", [
    (["f41", "bash\x00"], "PACKAGE must not contain control characters (found U+0000)"),
    (["f41\x07", "bash"], "TAG must not contain control characters (found U+0007)"),
    (["f41", "b" * (MAX_WORD + 1)], f"PACKAGE is too long ({MAX_WORD + 1} characters"),
    (["f41", BIG], f"PACKAGE {BIG} is not a Koji id"),  # plugins read digits as ids
])
def test_str_arguments_are_checked_too(words, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        latest.parse(words)
    assert latest.parse(["f41", "b" * MAX_WORD]) == ["f41", "b" * MAX_WORD]


def test_every_word_of_a_rest_argument_is_checked():
    assert watch.parse(["1", "bash-1-1", str(MAX_ID)]) == ["1", "bash-1-1", str(MAX_ID)]
    with pytest.raises(UsageError, match=re.escape(f"ID|NVR {BIG} is not a Koji id")):
        watch.parse(["1", "bash-1-1", BIG])
    with pytest.raises(UsageError, match="control characters"):
        watch.parse(["1", "bash\x01"])


def test_check_word_is_what_parse_uses():
    check_word("X", "bash-5.2-1.fc41")
    with pytest.raises(UsageError, match=re.escape("X must not contain control characters")):
        check_word("X", "a\tb")
