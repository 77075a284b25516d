"""A database of its own on the machine's PostgreSQL (127.0.0.1:5432, trust auth, user
postgres) for one test session: created at start, dropped at the end. ``empty()`` gives a
test a schema with no tables, so each store starts from the first migration."""

from __future__ import annotations

import os
import secrets

SERVER = "postgresql://postgres@127.0.0.1:5432"


class PostgreSQLUnavailable(Exception):
    """The machine's PostgreSQL does not answer; the message says what was tried."""


class SessionDatabase:
    def __init__(self) -> None:
        self.name = f"kojibot_test_{os.getpid()}_{secrets.token_hex(3)}"
        self.url = f"{SERVER}/{self.name}"

    def _admin(self, database: str = "postgres"):
        import psycopg

        try:
            return psycopg.connect(f"{SERVER}/{database}", autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0]
            raise PostgreSQLUnavailable(f"{SERVER}/{database}: {first}") from None

    def create(self) -> SessionDatabase:
        with self._admin() as db:
            db.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def empty(self) -> None:
        """Drop every table (a fresh schema); kojibots still connected are ended first."""
        with self._admin(self.name) as db:
            db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._admin(self.name) as db:
            return db.execute(sql, args).fetchall()

    def drop(self) -> None:
        with self._admin() as db:
            db.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
