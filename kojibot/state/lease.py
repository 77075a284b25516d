"""Which of several kojibots sharing one PostgreSQL database leads: only the lead connects
to chat, consumes the bus, drains the outbox and polls watches; the others wait as standbys.

The lead holds a session-level advisory lock on a connection of its own, used on a thread of
its own (a lane, kojibot.state.lanes), so no other query, however slow, delays it; and the
term it wrote into the ``lease`` row when it took the lock. A kojibot killed outright loses
the lock with its connection at once. A hung one (stopped, a frozen machine) loses it when
PostgreSQL ends its session after ``seconds`` without a query (``idle_session_timeout``; TCP
keepalives cover a machine that vanished). A standby asks for the lock every second.

Fencing: every ``seconds / 4`` the lead asks PostgreSQL whether its session still holds the
lock (``pg_locks``: no table is read, so a table lock cannot hold the answer up); it may send
to chat only until ``seconds - MARGIN`` after the start of its last good answer (by its own
clock), which is before PostgreSQL can end its session; and each store transaction checks the
term (kojibot.state.tables). A lead that finds it lost the lock, or that had no answer for
``seconds`` (the database is down or unreachable), steps down: ``on_lost`` (default: exit
with status 3, for its supervisor to start it again as a standby).
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
from kojibot.state.lanes import Lane
from kojibot.state.migrations import migrate
from txkoji.reactors import default_reactor

log = Logger(namespace="kojibot.lease")

LOCK = 0x6B6F6A69_626F74  # "koji" "bot"
POLL = 1.0  # seconds between a standby's asks
MARGIN = 1.0  # seconds the lead stops sending before PostgreSQL may end its session
EXIT_LOST = 3
# Whether this session holds LOCK: pg_locks shows a bigint key as two 32-bit halves
HELD = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        f" AND pid = pg_backend_pid() AND classid = {LOCK >> 32}"
        f" AND objid = {LOCK & 0xFFFFFFFF} AND objsubid = 1")


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
        reactor = default_reactor(reactor)
        self.url, self.seconds, self.reactor, self.clock = url, seconds, reactor, clock
        self.on_lost = on_lost
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.term: int | None = None
        self.valid_until = 0.0
        self._answered = 0.0  # when the last good renewal started
        self._asking = False
        self._db: PostgreSQL | None = None
        self._lane = Lane("lease", lambda: self, lambda _: self._close(), reactor)
        self._renewing: task.LoopingCall | None = None
        self._last_error: str | None = None

    def holds(self) -> bool:
        """Whether this process may send now."""
        return self.term is not None and self.clock() < self.valid_until

    async def acquire(self) -> int:
        """Wait until this process leads; its term."""
        log.info("waiting for the lead on the state database (standby)")
        while True:
            started = self.clock()
            term, why = await self._lane.run(Lease._try)
            if term is not None:
                break
            if why is not None:
                self._report(why)
            await task.deferLater(self.reactor, POLL, lambda: None)
        self.term, self._answered = term, started
        self.valid_until = started + self.seconds - MARGIN
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

    def _try(self) -> tuple[int | None, str | None]:
        """On the lease's thread: (the new term, None) if this process leads now, else
        (None, why not if the database could not be asked)."""
        try:
            db = self._connection()
            if not db.execute("SELECT pg_try_advisory_lock(?)", (LOCK,)).fetchone()[0]:
                return None, None
            with db.transaction():
                return db.execute(
                    "INSERT INTO lease (name, term, holder, since) VALUES ('active', 1, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET term = lease.term + 1,"
                    " holder = excluded.holder, since = excluded.since RETURNING term",
                    (self.holder, time.time())).fetchone()[0], None
        except errors() as exc:
            self._close()
            return None, f"cannot reach the state database: {error_line(exc)}"

    def _held(self) -> str | None:
        """On the lease's thread: why the lock is not ours any more (None: it is)."""
        db = self._db
        if db is None:
            return "the lease connection is closed"
        try:
            if not db.execute(HELD).fetchone()[0]:
                return "the lease's lock is not held by this session any more"
        except errors() as exc:
            return f"the lease connection failed: {error_line(exc)}"
        return None

    def _renew(self) -> None:
        """On the reactor: ask again unless the last ask is still out; step down once
        no answer came for ``seconds``."""
        started = self.clock()
        if started - self._answered >= self.seconds:
            self.lost(f"the state database did not answer the lease's query for "
                      f"{started - self._answered:.1f} s")
            return
        if self._asking:
            return
        self._asking = True

        def answered(why: str | None) -> None:
            self._asking = False
            if self.term is None:
                return
            if why is not None:
                self.lost(why)
                return
            self._answered = max(self._answered, started)
            self.valid_until = self._answered + self.seconds - MARGIN

        self._lane.run(Lease._held).addCallback(answered)

    def lost(self, why: str) -> None:
        """Stop sending at once and step down."""
        if self.term is None:
            return
        log.critical("lost the lead (term {term}): {why}; exiting to wait as a standby",
                     term=self.term, why=why)
        self.term = None
        self._stop_renewing()
        self._lane.run(Lease._close)  # after any query still waiting there
        self.on_lost()

    def release(self) -> None:
        """Give the lead up (a clean stop): a standby takes over at once."""
        self._stop_renewing()
        self.term = None
        self._lane.run(Lease._close)

    def _stop_renewing(self) -> None:
        if self._renewing is not None and self._renewing.running:
            self._renewing.stop()

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _report(self, why: str) -> None:
        if why != self._last_error:
            log.error("{why}; retrying", why=why)
            self._last_error = why
