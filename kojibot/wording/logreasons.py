"""Why a build task failed, read from the tail of its logs: one decisive line, no I/O.

Kojid leaves build.log (rpmbuild's output), root.log (mock installing the buildroot),
mock_output.log (mock itself) and, for the SRPM stage, checkout.log (the SCM command).
Each shape below is one that rpmbuild, dnf/mock or git writes; a log matching none gives
no reason at all, so the caller shows the task's fault string instead of a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

LONGEST = 200  # characters of one quoted log line

_MOCK_PREFIX = re.compile(r"^(?:DEBUG|INFO|WARNING|ERROR) \S+\.py:\d+:\s+")
_BAD_EXIT = re.compile(r"^error: Bad exit status from \S+ \((%\w+)\)")
_RPM_ERROR = re.compile(r"^error: (?!Bad exit status)")
_KILLED = re.compile(r"\bKilled\b|\bOut of memory\b|\boom-kill|\bCannot allocate memory\b")
_NO_PACKAGE = re.compile(r"^(?:No matching package to install|No match for argument):?"
                         r"\s*'?([^']+?)'?\s*$")
_NOTHING_PROVIDES = re.compile(r"nothing provides (?:requested )?(.+?)(?: needed by .*)?$")
_SCM_FATAL = re.compile(r"^(?:fatal|error|ERROR): ")
_MOCK_ERROR = re.compile(r"^ERROR: ")


def clean(line: str) -> str:
    """A log line fit to quote: mock's logger prefix and control characters gone, short."""
    line = _MOCK_PREFIX.sub("", line.strip())
    line = "".join(ch for ch in line if ch.isprintable()).strip()
    return line if len(line) <= LONGEST else line[:LONGEST - 1] + "…"


def _lines(text: str | None) -> list[str]:
    return [clean(line) for line in (text or "").splitlines() if line.strip()]


def from_build_log(text: str | None) -> str | None:
    """rpmbuild's verdict: the failing section, or its own ``error:`` line."""
    lines = _lines(text)
    for index, line in enumerate(lines):
        bad = _BAD_EXIT.match(line)
        if bad:
            section = bad.group(1)
            killed = [earlier for earlier in lines[max(0, index - 30):index]
                      if _KILLED.search(earlier)]
            if killed:
                return f"{section} failed: a process was killed (out of memory?): {killed[-1]}"
            return f"{section} failed: {line}"
    errors = [line for line in lines if _RPM_ERROR.match(line)]
    return errors[0] if errors else None


def from_root_log(text: str | None) -> str | None:
    """BuildRequires that dnf could not resolve while mock filled the buildroot."""
    missing: list[str] = []
    for line in _lines(text):
        found = _NO_PACKAGE.match(line) or _NOTHING_PROVIDES.search(line)
        if found and found.group(1) not in missing:
            missing.append(found.group(1))
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (f" +{len(missing) - 5} more" if len(missing) > 5 else "")
    return f"missing BuildRequires: {shown}"


def from_checkout_log(text: str | None) -> str | None:
    errors = [line for line in _lines(text) if _SCM_FATAL.match(line)]
    return f"SCM checkout failed: {errors[0]}" if errors else None


def from_mock_log(text: str | None) -> str | None:
    errors = [line for line in _lines(text) if _MOCK_ERROR.match(line)]
    return f"mock: {errors[0]}" if errors else None


READERS = (("checkout.log", from_checkout_log), ("root.log", from_root_log),
           ("build.log", from_build_log), ("mock_output.log", from_mock_log))
LOG_NAMES = tuple(name for name, _reader in READERS)


def reason(logs: Mapping[str, str]) -> tuple[str, str] | None:
    """``(reason, log name)`` from the logs' tails, or None for a shape not known here.

    The SCM checkout and the buildroot come before rpmbuild runs, so their errors are
    decisive when present; mock's own ERROR lines only when nothing more precise is."""
    for name, reader in READERS:
        found = reader(logs.get(name))
        if found:
            return found, name
    return None
