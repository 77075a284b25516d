"""The state file's schema as numbered forward steps; SQLite's ``user_version`` holds the last
one applied, so an upgraded bot brings an older file forward at start and keeps its rows.

Append a step for every change; never edit one that has shipped. Files written by kojibot
0.1.0 have that release's tables and version 0: step 1 creates exactly those tables where they
are missing, so it is a no-op for them and the schema of a new file.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: the tables of kojibot 0.1.0
    """CREATE TABLE IF NOT EXISTS subscription (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    room TEXT NOT NULL,
    kind TEXT NOT NULL,
    pattern TEXT NOT NULL,
    events TEXT NOT NULL,
    created_by TEXT,
    created REAL NOT NULL,
    UNIQUE (network, room, kind, pattern)
);
CREATE TABLE IF NOT EXISTS relayed_event (
    key TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    target TEXT NOT NULL,
    direct INTEGER NOT NULL,
    summary TEXT NOT NULL,
    message TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_target ON outbox (network, target, id);
CREATE TABLE IF NOT EXISTS person (
    network TEXT NOT NULL,
    identity TEXT NOT NULL,
    contact TEXT NOT NULL,
    koji_user TEXT,
    linked_by TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (network, identity)
);
CREATE TABLE IF NOT EXISTS alert (
    network TEXT NOT NULL,
    identity TEXT NOT NULL,
    kind TEXT NOT NULL,
    pattern TEXT NOT NULL,
    events TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (network, identity, kind, pattern)
);
CREATE TABLE IF NOT EXISTS watch (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    identity TEXT NOT NULL,
    asker TEXT NOT NULL,
    room TEXT,
    kind TEXT NOT NULL,
    ref INTEGER NOT NULL,
    label TEXT NOT NULL,
    states TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (network, identity, kind, ref)
);
""",
    # 2: each package's last build outcome per target, for broken/fixed subscriptions
    """CREATE TABLE build_outcome (
    package TEXT NOT NULL,
    target TEXT NOT NULL,
    build INTEGER NOT NULL,
    state TEXT NOT NULL,
    previous TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (package, target)
);
""",
)


class StateTooNew(Exception):
    """The file was written by a newer kojibot, whose schema this one does not know."""


def migrate(db: sqlite3.Connection) -> int:
    """Apply the steps *db* lacks, each in its own transaction; the resulting version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StateTooNew(f"the state file has schema version {version}, newer than this "
                          f"kojibot knows ({len(MIGRATIONS)}): run the release that wrote it")
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        db.executescript(f"BEGIN IMMEDIATE;\n{step}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)
