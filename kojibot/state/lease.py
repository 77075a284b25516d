"""Which of several kojibots sharing one PostgreSQL database leads: only the lead connects
to chat, consumes the bus, drains the outbox and polls watches; the others wait as standbys.

The lead holds a session-level advisory lock on a connection of its own, and the term it
wrote into the ``lease`` row when it took the lock. A kojibot killed outright loses the lock
with its connection at once. A hung one (stopped, a frozen machine) loses it when PostgreSQL
ends its session after ``seconds`` without a query (``idle_session_timeout``; TCP keepalives
cover a machine that vanished). A standby asks for the lock every second.

Fencing: the lead queries its connection every ``seconds / 4``; it may send to chat only
until ``seconds - MARGIN`` after the start of its last good query (by its own clock),
which is before PostgreSQL can end its session; and each store transaction checks the term
(kojibot.state.store). A lead that finds it lost the lock exits with status 3, for its
supervisor to start it again as a standby.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable

from twisted.internet import task
from twisted.logger import Logger

from kojibot.state.backends import PostgreSQL, error_line, errors
from kojibot.state.migrations import migrate

log = Logger(namespace="kojibot.lease")

LOCK = 0x6B6F6A69_626F74  # "koji" "bot"
POLL = 1.0  # seconds between a standby's asks
MARGIN = 1.0  # seconds the lead stops sending before PostgreSQL may end its session
EXIT_LOST = 3


def _since_boot() -> float:
    """A clock that also runs while the machine sleeps (monotonic does not, on Linux)."""
    return time.clock_gettime(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))


def _exit_lost() -> None:
    sys.stderr.flush()
    os._exit(EXIT_LOST)


class Lease:
    """The lead on the database at *url*: ``await acquire()``, then ``holds()`` before
    every send. ``on_lost`` runs once the lead is gone (default: exit with status 3)."""

    def __init__(self, url: str, *, seconds: float = 6.0, reactor=None,
                 clock: Callable[[], float] = _since_boot,
                 on_lost: Callable[[], object] = _exit_lost):
        if reactor is None:
            from twisted.internet import reactor
        self.url, self.seconds, self.reactor, self.clock = url, seconds, reactor, clock
        self.on_lost = on_lost
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.term: int | None = None
        self.valid_until = 0.0
        self._db: PostgreSQL | None = None
        self._renewing: task.LoopingCall | None = None
        self._last_error: str | None = None

    def holds(self) -> bool:
        """Whether this process may send now."""
        return self.term is not None and self.clock() < self.valid_until

    async def acquire(self) -> int:
        """Wait until this process leads; its term."""
        log.info("waiting for the lead on the state database (standby)")
        while not self._try():
            await task.deferLater(self.reactor, POLL, lambda: None)
        log.info("leading as term {term} ({holder})", term=self.term, holder=self.holder)
        self._renewing = task.LoopingCall(self._renew)
        self._renewing.clock = self.reactor
        self._renewing.start(self.seconds / 4, now=False)
        return self.term

    def _connection(self) -> PostgreSQL:
        if self._db is None or self._db.db.closed:
            ms = int(self.seconds * 1000)
            keepalive = max(1, int(self.seconds / 3))
            self._db = PostgreSQL(
                self.url, keepalives=1, keepalives_idle=keepalive, keepalives_interval=1,
                keepalives_count=2, tcp_user_timeout=ms, application_name="kojibot lease",
                options=f"-c idle_session_timeout={ms} -c tcp_keepalives_idle={keepalive}"
                        " -c tcp_keepalives_interval=1 -c tcp_keepalives_count=2")
            migrate(self._db)  # the lease table is part of the schema
        return self._db

    def _try(self) -> bool:
        started = self.clock()
        try:
            db = self._connection()
            if not db.execute("SELECT pg_try_advisory_lock(?)", (LOCK,)).fetchone()[0]:
                return False
            with db.transaction():
                self.term = db.execute(
                    "INSERT INTO lease (name, term, holder, since) VALUES ('active', 1, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET term = lease.term + 1,"
                    " holder = excluded.holder, since = excluded.since RETURNING term",
                    (self.holder, time.time())).fetchone()[0]
        except errors() as exc:
            self._report(f"cannot reach the state database: {error_line(exc)}")
            self._close()
            return False
        self.valid_until = started + self.seconds - MARGIN
        return True

    def _renew(self) -> None:
        started = self.clock()
        try:
            row = self._connection().execute(
                "SELECT term FROM lease WHERE name = 'active'").fetchone()
        except errors() as exc:
            self.lost(f"the lease connection failed: {error_line(exc)}")
            return
        if row is None or row[0] != self.term:
            self.lost(f"term {row[0] if row else None} leads now")
            return
        self.valid_until = started + self.seconds - MARGIN

    def lost(self, why: str) -> None:
        """Stop sending at once and step down."""
        if self.term is None:
            return
        log.critical("lost the lead (term {term}): {why}; exiting to wait as a standby",
                     term=self.term, why=why)
        self.term = None
        if self._renewing is not None and self._renewing.running:
            self._renewing.stop()
        self._close()
        self.on_lost()

    def release(self) -> None:
        """Give the lead up (a clean stop): a standby takes over at once."""
        if self._renewing is not None and self._renewing.running:
            self._renewing.stop()
        self.term = None
        self._close()

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _report(self, why: str) -> None:
        if why != self._last_error:
            log.error("{why}; retrying", why=why)
            self._last_error = why
