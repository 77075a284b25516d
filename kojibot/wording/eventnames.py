"""The words people choose bus events by (complete, failed, tagged...), from Koji's states.

Builds and tasks share one table: their state names only overlap where they mean the same
(FAILED, CANCELED), and a task that CLOSED is complete.
"""

from __future__ import annotations

from txkoji.events import BuildStateChange, Event, TagChange

EVENT_OF_STATE = {"BUILDING": "started", "COMPLETE": "complete", "CLOSED": "complete",
                  "FAILED": "failed", "CANCELED": "canceled", "DELETED": "deleted"}
EVENT_OF_TAG_ACTION = {"tag": "tagged", "untag": "untagged"}

BUILD_EVENTS = ("started", "complete", "failed", "canceled", "deleted")  # DM alerts
EVENTS = (*BUILD_EVENTS, "tagged", "untagged")  # channel subscriptions
DEFAULT_EVENTS = frozenset({"complete", "failed"})
WHY = "why"  # a subscription option: failure lines say why, read from the logs
OPTIONS = (WHY,)


def past_tense(event: str) -> str:
    """``builds completed``, ``builds failed``: the verb of a digest line."""
    return "completed" if event == "complete" else event


def event_word(event: Event) -> str | None:
    """The event word (``complete``, ``tagged``...) a channel subscribes to, if any."""
    if isinstance(event, BuildStateChange):
        return EVENT_OF_STATE.get(event.new)
    if isinstance(event, TagChange):
        return EVENT_OF_TAG_ACTION.get(event.action)
    return None
