"""The state's schema as numbered forward steps, the same for SQLite and PostgreSQL; the
database keeps the number of the last one applied (SQLite's ``user_version``, PostgreSQL's
``schema_version`` table), so an upgraded bot brings older state forward at start and keeps
its rows. Steps are written in SQLite's types; kojibot.state.backends translates them.

Append a step for every change; never edit one that has shipped. Files written by kojibot
0.1.0 have that release's tables and version 0: step 1 creates exactly those tables where they
are missing, so it is a no-op for them and the schema of a new file.
"""

from __future__ import annotations

from kojibot.state.backends import Database

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
    # 2: who leads when several kojibots share a PostgreSQL database (kojibot.state.lease)
    """CREATE TABLE IF NOT EXISTS lease (
    name TEXT PRIMARY KEY,
    term INTEGER NOT NULL,
    holder TEXT NOT NULL,
    since REAL NOT NULL
);
""",
    # 3: each package's last build outcome per target, for broken/fixed subscriptions
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
    # 4: the outbox kept in room order (an SQLite table clustered on its key), so a digest
    # that sends a room's thousand rows deletes a few dozen pages, not a thousand; row ids
    # come from a counter, as a clustered table assigns none
    """CREATE TABLE outbox_by_room (
    network TEXT NOT NULL,
    target TEXT NOT NULL,
    id INTEGER NOT NULL,
    direct INTEGER NOT NULL,
    summary TEXT NOT NULL,
    message TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (network, target, id)
) WITHOUT ROWID;
INSERT INTO outbox_by_room (network, target, id, direct, summary, message, created)
    SELECT network, target, id, direct, summary, message, created FROM outbox;
CREATE TABLE id_counter (
    name TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
INSERT INTO id_counter (name, last) SELECT 'outbox', coalesce(max(id), 0) FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_by_room RENAME TO outbox;
""",
    # 5: one chat line per build that later messages edit (Matrix m.replace): the outbox row
    # names its line, and the line's first message, once posted, is remembered per target
    """ALTER TABLE outbox ADD COLUMN line TEXT;
CREATE TABLE chat_line (
    network TEXT NOT NULL,
    target TEXT NOT NULL,
    line TEXT NOT NULL,
    posted_as TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (network, target, line)
);
CREATE INDEX chat_line_at ON chat_line (at);
""",
    # 6: buildroot watches (kind "repo") name the tag whose repo they wait for
    """ALTER TABLE watch ADD COLUMN tag TEXT;
""",
)


class StateTooNew(Exception):
    """The file was written by a newer kojibot, whose schema this one does not know."""


def migrate(db: Database) -> int:
    """Apply the steps *db* lacks, each in its own transaction; the resulting version."""
    version = db.schema_version()
    if version > len(MIGRATIONS):
        raise StateTooNew(f"the state file has schema version {version}, newer than this "
                          f"kojibot knows ({len(MIGRATIONS)}): run the release that wrote it")
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.transaction():
            db.apply_step(number, step)
    return len(MIGRATIONS)
