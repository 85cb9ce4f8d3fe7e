"""SQLite connections, transactions and sessions: WAL mode, `BEGIN IMMEDIATE` for writes,
read-only connections opened with `mode=ro` (or `immutable=1` on read-only media), and sqlite3's
errors as esctl errors."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esctl.conditions import time_key
from esctl.config import Settings
from esctl.errors import Conflict, ReadOnlyRefused, SchemaMissing, StoreUnavailable
from esctl.store.base import Row, Store, TransactionPorts
from esctl.store.sqlite_schema import TABLES
from esctl.urls import StoreLocation


def format_time(value: datetime) -> str:
    """The one text form of a timestamp in SQLite stores: UTC, milliseconds, `Z` (sorts as text)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    # Not strftime's %Y: it writes year 1 as `1`, a text no ISO 8601 reader takes (and that
    # sorts after every other year).
    return (
        f"{value.year:04d}"
        + value.strftime("-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}Z"
    )


def _text_of(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


@contextmanager
def translate_errors(store: SQLiteConnections) -> Iterator[None]:
    """Turn sqlite3 errors into esctl errors, once, here."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise Conflict(str(exc)) from exc
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "no such table" in text or "no such column" in text:
            raise SchemaMissing(
                f"store {store.display_url} is missing part of the esctl schema ({text})",
                hint="run `esctl init`",
            ) from exc
        if "locked" in text or "busy" in text:
            raise StoreUnavailable(
                f"store {store.display_url} stayed locked by another writer for "
                f"{store.settings.connect_timeout}s",
                hint="retry when the other writer has finished",
            ) from exc
        if "readonly" in text:
            raise ReadOnlyRefused(f"store {store.display_url} is read-only ({text})") from exc
        raise StoreUnavailable(f"store {store.display_url}: {text}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreUnavailable(f"store {store.display_url}: {exc}") from exc


class SQLiteSession(TransactionPorts):
    """A transaction on a SQLite connection."""

    backend = "sqlite"

    def __init__(self, store: SQLiteConnections, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn

    @staticmethod
    def sql(query: str) -> str:
        return query.replace("%s", "?").format(**TABLES)

    def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        with translate_errors(self._store):
            return self._conn.execute(self.sql(query), params).rowcount

    def executemany(self, query: str, params: Sequence[Sequence[Any]]) -> None:
        with translate_errors(self._store):
            self._conn.executemany(self.sql(query), params)

    def fetchall(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        with translate_errors(self._store):
            cursor = self._conn.execute(self.sql(query), params)
            return [_dict_row(cursor, row) for row in cursor.fetchall()]

    def fetchone(self, query: str, params: Sequence[Any] = ()) -> Row | None:
        with translate_errors(self._store):
            cursor = self._conn.execute(self.sql(query), params)
            row = cursor.fetchone()
            return _dict_row(cursor, row) if row is not None else None

    def fetchval(self, query: str, params: Sequence[Any] = ()) -> Any:
        with translate_errors(self._store):
            row = self._conn.execute(self.sql(query), params).fetchone()
            return row[0] if row is not None else None

    def stream(
        self, query: str, params: Sequence[Any] = (), batch_size: int = 2000
    ) -> Iterator[Row]:
        with translate_errors(self._store):
            cursor = self._conn.execute(self.sql(query), params)
            while batch := cursor.fetchmany(batch_size):
                for row in batch:
                    yield _dict_row(cursor, row)

    def json_param(self, value: Any) -> Any:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def time_param(self, value: datetime) -> Any:
        return format_time(value)


class SQLiteConnections(Store):
    """An event store in one SQLite file: its connection and transactions. The engine's
    primitives (schema admin, live reading, …) build on this class."""

    backend = "sqlite"

    def __init__(
        self, location: StoreLocation, settings: Settings, *, write: bool, create: bool = False
    ) -> None:
        super().__init__(location, settings, write=write)
        self.path = Path(location.target)
        self.create = create
        self._conn: sqlite3.Connection | None = None
        self.lifecycle_audit_id: int | None = None  # see esctl_layout/audit.py

    # --- connections and transactions -------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if not self.path.exists() and not self.create:
            raise SchemaMissing(
                f"no store at {self.path.resolve()}", hint="run `esctl init` to create it here"
            )
        with translate_errors(self):
            if self.write and not self.settings.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path,
                    isolation_level=None,
                    timeout=self.settings.connect_timeout,
                    check_same_thread=False,
                )
                self._enable_wal(conn)
                conn.execute("PRAGMA synchronous=FULL")
            else:
                conn = self._read_only_connection()
            conn.execute(f"PRAGMA busy_timeout={int(self.settings.connect_timeout * 1000)}")
        # Text another program stored as bytes that are not UTF-8 reads with U+FFFD for them,
        # instead of failing every read of the row.
        conn.text_factory = _text_of
        # `--where data.at>2024-05-01`: times compare exactly as esctl.conditions compares them.
        conn.create_function("esctl_time_key", 1, time_key, deterministic=True)
        # `init --protect`'s triggers let a change to events through only while this returns
        # an audit id: only esctl's connections have the function (a plain sqlite3 client's
        # UPDATE or DELETE fails on it), and only an audited lifecycle transaction sets it.
        conn.create_function("esctl_lifecycle", 0, lambda: self.lifecycle_audit_id)
        self._conn = conn
        return conn

    def _read_only_connection(self) -> sqlite3.Connection:
        """`mode=ro`; when that cannot read (a WAL store on read-only media or in a directory we
        cannot write: SQLite must create the -shm file to read a WAL file), `immutable=1`, which
        reads the file without locks. No writer can exist where nobody can write the directory,
        so that is safe there; a store whose -wal holds uncheckpointed commits is refused."""
        base = self.path.resolve().as_uri()
        conn = self._connect_uri(f"{base}?mode=ro")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            if os.access(self.path.parent, os.W_OK):  # not read-only media: a real failure
                raise exc from None
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ReadOnlyRefused(
                f"store {self.display_url} cannot be read here: it is in WAL mode, its directory "
                "is not writable, and its -wal file holds commits not yet in the database file",
                hint="open it once where it is writable (any esctl read checkpoints it), or copy "
                "the .db, -wal and -shm files to a writable directory",
            )
        return self._connect_uri(f"{base}?mode=ro&immutable=1")

    def _connect_uri(self, uri: str) -> sqlite3.Connection:
        return sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            timeout=self.settings.connect_timeout,
            check_same_thread=False,
        )

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch a new store to WAL (persistent). The switch needs an exclusive lock and SQLite
        does not wait for it, so it is retried until connect_timeout."""
        deadline = time.monotonic() + self.settings.connect_timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[SQLiteSession]:
        conn = self._connection()
        with translate_errors(self):
            conn.execute(begin)
        try:
            try:
                yield SQLiteSession(self, conn)
            except BaseException:
                # A reader abandoned mid-listing (a closed pipe) may be closed after the store:
                # closing the connection has rolled the transaction back already.
                if self._conn is conn and conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            with translate_errors(self):
                conn.execute("COMMIT")
        finally:
            self.lifecycle_audit_id = None  # transaction-local, like PostgreSQL's set_config

    def reading(self) -> Any:
        return self._transaction("BEGIN")

    def writing(self) -> Any:
        self.check_writable()
        return self._transaction("BEGIN IMMEDIATE")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
