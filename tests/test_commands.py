"""Command declaration, parsing and addressing: pure, no reactor."""

import re
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kojibot.commands import Registry, UsageError, command
from kojibot.dispatcher import addressed


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
