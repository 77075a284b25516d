"""The words people choose bus events by (complete, failed, tagged...), from Koji's states.

Builds and tasks share one table: their state names only overlap where they mean the same
(FAILED, CANCELED), and a task that CLOSED is complete.
"""

from __future__ import annotations

from txkoji.events import BuildStateChange, Event, PackageListChange, TagChange

EVENT_OF_STATE = {"BUILDING": "started", "COMPLETE": "complete", "CLOSED": "complete",
                  "FAILED": "failed", "CANCELED": "canceled", "DELETED": "deleted"}
EVENT_OF_TAG_ACTION = {"tag": "tagged", "untag": "untagged"}
EVENT_OF_PACKAGE_ACTION = {"add": "added", "update": "updated", "block": "blocked",
                           "unblock": "unblocked", "remove": "removed"}

BUILD_EVENTS = ("started", "complete", "failed", "canceled", "deleted")  # DM alerts
EVENTS = (*BUILD_EVENTS, "tagged", "untagged")  # channel subscriptions ("all")
# Narrower than complete/failed: a package's first failure after a success in one target,
# and its first success after a failure.
TRANSITIONS = ("broken", "fixed")
PACKAGE_EVENTS = tuple(EVENT_OF_PACKAGE_ACTION.values())  # package-list subscriptions
DEFAULT_EVENTS = frozenset({"complete", "failed"})
WHY = "why"  # a subscription option: failure lines say why, read from the logs
# Subscription options: a build's later events edit its first line where the network can
# (edit, the default: stored as the absence of lines), or each is a line of its own (lines).
EDIT, LINES = "edit", "lines"
OPTIONS = (WHY, EDIT, LINES)
EDITS_LINE = frozenset({"BUILDING", "COMPLETE", "FAILED", "CANCELED"})  # a build's run
NOT_MINE = "not-mine"  # a DM alert option: leave out the person's own builds


def transition(previous: str | None, new: str) -> str | None:
    """``broken`` or ``fixed`` when a build's outcome differs from the one before it."""
    if previous == "COMPLETE" and new == "FAILED":
        return "broken"
    if previous == "FAILED" and new == "COMPLETE":
        return "fixed"
    return None


def past_tense(event: str) -> str:
    """``builds completed``, ``builds failed``: the verb of a digest line."""
    return "completed" if event == "complete" else event


def line_of(event: Event) -> str | None:
    """The chat line a build's start and end share (a deletion, news of an old build, and
    tag changes get lines of their own)."""
    if isinstance(event, BuildStateChange) and event.new in EDITS_LINE:
        build = event.build
        return f"build {build.record_id if build.record_id is not None else build.nvr}"
    return None


def event_word(event: Event) -> str | None:
    """The event word (``complete``, ``tagged``...) a channel subscribes to, if any."""
    if isinstance(event, BuildStateChange):
        return EVENT_OF_STATE.get(event.new)
    if isinstance(event, TagChange):
        return EVENT_OF_TAG_ACTION.get(event.action)
    if isinstance(event, PackageListChange):
        return EVENT_OF_PACKAGE_ACTION.get(event.action)
    return None
