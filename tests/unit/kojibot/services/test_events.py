"""Event words: one reading for subscriptions and alerts, with the line an unknown word gets."""

from __future__ import annotations

import pytest

from kojibot.services.alerts import Alerts
from kojibot.services.subscriptions import Subscriptions


def test_subscription_words():
    assert Subscriptions.events("package", ()) == {"complete", "failed"}
    assert Subscriptions.events("tag", ("Broken", "why")) == {"broken", "why"}
    assert Subscriptions.events("tag", ("why",)) == {"complete", "failed", "why"}
    assert Subscriptions.events("owner", ("all",)) == {
        "started", "complete", "failed", "canceled", "deleted", "tagged", "untagged"}
    assert Subscriptions.events("packages", ()) == {"added", "updated", "blocked",
                                                    "unblocked", "removed"}
    with pytest.raises(ValueError, match=r"^Unknown event 'why': use added, updated, "
                                         r"blocked, unblocked, removed or all\.$"):
        Subscriptions.events("packages", ("why",))
    with pytest.raises(ValueError, match=r"or all \(and why, edit, lines\)\.$"):
        Subscriptions.events("package", ("x" * 50,))


def test_edit_is_the_default_and_lines_is_kept():
    assert Subscriptions.events("package", ("started", "edit")) == {"started"}
    assert Subscriptions.events("package", ("lines",)) == {"complete", "failed", "lines"}
    with pytest.raises(ValueError, match=r"^Choose edit or lines, not both\.$"):
        Subscriptions.events("package", ("edit", "lines"))


def test_alert_words():
    assert Alerts.events("owner", ("failed",)) == {"failed"}
    assert Alerts.events("package", ("not-mine",)) == {"complete", "failed", "not-mine"}
    with pytest.raises(ValueError, match=r"^Unknown event 'not-mine': use started, complete, "
                                         r"failed, canceled, deleted or all\.$"):
        Alerts.events("owner", ("not-mine",))
