"""Exact, known times for seeded tasks and builds, written in one SQL batch.

The hub stamps everything with NOW(); tests of durations and estimates need times they can
compute, so finished objects are moved onto a fixed calendar after the API created them.
This is the one thing the API cannot do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """EPOCH plus *seconds*."""
    return EPOCH + timedelta(seconds=seconds)


def _lit(when: datetime | None) -> str:
    return "NULL" if when is None else f"'{when.isoformat()}'::timestamptz"


class Timeline:
    """Collects UPDATE statements; `sql()` returns them as one script."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def task(self, task_id: int, created: datetime, started: datetime | None,
             finished: datetime | None) -> None:
        self.statements.append(
            f"UPDATE task SET create_time = {_lit(created)}, start_time = {_lit(started)}, "
            f"completion_time = {_lit(finished)} WHERE id = {int(task_id)};")

    def build(self, build_id: int, created: datetime, finished: datetime | None,
              started: datetime | None = None) -> None:
        """Creation event time (what getAverageBuildDuration measures from) and columns."""
        build_id = int(build_id)
        self.statements.append(
            f"UPDATE events SET time = {_lit(created)} "
            f"WHERE id = (SELECT create_event FROM build WHERE id = {build_id});")
        self.statements.append(
            f"UPDATE build SET start_time = {_lit(started or created)}, "
            f"completion_time = {_lit(finished)} WHERE id = {build_id};")

    def build_event(self, build_id: int, created: datetime) -> None:
        """Only the creation event (content generator imports set the columns themselves)."""
        self.statements.append(
            f"UPDATE events SET time = {_lit(created)} "
            f"WHERE id = (SELECT create_event FROM build WHERE id = {int(build_id)});")

    def tagged(self, build_id: int, tag_id: int, when: datetime) -> None:
        """When the build entered the tag (the tag_listing row's creation event)."""
        self.statements.append(
            f"UPDATE events SET time = {_lit(when)} WHERE id = (SELECT create_event "
            f"FROM tag_listing WHERE build_id = {int(build_id)} AND tag_id = {int(tag_id)} "
            "AND active);")

    def owner(self, task_id: int, user_id: int) -> None:
        """makeTask always makes the admin caller the owner; OSBS tasks belong to the
        user who asked for the container build."""
        self.statements.append(
            f"UPDATE task SET owner = {int(user_id)} WHERE id = {int(task_id)};")

    def sql(self) -> str:
        return "\n".join(["BEGIN;", *self.statements, "COMMIT;", ""])
