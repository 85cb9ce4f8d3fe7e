"""The SQLite backend: the embedded default. WAL mode, `BEGIN IMMEDIATE` for writes, and read-only
connections opened with `mode=ro`. SQLite serialises writers, so position order is commit order."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from esctl import __version__
from esctl.config import Settings
from esctl.errors import (
    Conflict,
    EsctlError,
    ReadOnlyRefused,
    SchemaMissing,
    StoreUnavailable,
)
from esctl.store.base import (
    EVENT_COLUMNS,
    EventRow,
    Migration,
    NodeStatus,
    Row,
    SchemaReport,
    Session,
    Store,
    TransactionPorts,
)
from esctl.store.sqlite_schema import EXPECTED_COLUMNS, EXPECTED_INDEXES, MIGRATIONS, TABLES
from esctl.store.url import StoreLocation
from esctl.types import Cursor, LiveBatch

INTEGRITY_CHECK_BYTES = 256 * 1024 * 1024  # doctor's quick_check reads every page up to this
LIVE_POLL_INTERVAL = 0.05  # tail polls this often (SQLite has no NOTIFY)


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
def translate_errors(store: SQLiteStore) -> Iterator[None]:
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

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection) -> None:
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


class SQLiteStore(Store):
    """An event store in one SQLite file."""

    backend = "sqlite"

    def __init__(
        self, location: StoreLocation, settings: Settings, *, write: bool, create: bool = False
    ) -> None:
        super().__init__(location, settings, write=write)
        self.path = Path(location.target)
        self.create = create
        self._conn: sqlite3.Connection | None = None

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
            yield SQLiteSession(self, conn)
        except BaseException:
            # A reader abandoned mid-listing (a closed pipe) may be closed after the store: closing
            # the connection has rolled the transaction back already.
            if self._conn is conn and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        with translate_errors(self):
            conn.execute("COMMIT")

    def reading(self) -> Any:
        return self._transaction("BEGIN")

    def writing(self) -> Any:
        self.check_writable()
        return self._transaction("BEGIN IMMEDIATE")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- schema ------------------------------------------------------------------------------

    def server_version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def migrations(self) -> list[Migration]:
        return MIGRATIONS

    def render_migration(self, migration: Migration) -> list[str]:
        statements = [SQLiteSession.sql(s) for s in migration.statements]
        return [*statements, _record_version_sql(migration)]

    def _table_names(self, session: SQLiteSession) -> set[str]:
        rows = session.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row["name"] for row in rows}

    def schema_version(self) -> int | None:
        if not self.path.exists():
            return None
        with self.reading() as session:
            if "esctl_schema" not in self._table_names(session):
                return None
            version = session.fetchval("SELECT max(version) FROM {esctl_schema}")
            return int(version) if version is not None else None

    def apply_migrations(self, pending: list[Migration]) -> list[str]:
        for migration in pending:
            with self.writing() as session:
                tables = self._table_names(session)
                done = "esctl_schema" in tables and session.fetchval(
                    "SELECT 1 FROM {esctl_schema} WHERE version = %s", [migration.version]
                )
                if done:  # another `esctl init` got here first
                    continue
                for statement in migration.statements:
                    session.execute(statement)
                session.execute(
                    "INSERT INTO {esctl_schema} (version, description, esctl_version) "
                    "VALUES (%s, %s, %s)",
                    [migration.version, migration.description, __version__],
                )
        return []

    def inspect_schema(self) -> SchemaReport:
        report = SchemaReport(schema_version=self.schema_version())
        if not self.path.exists():
            report.missing.append(f"store file {self.path.resolve()}")
            return report
        with self.reading() as session:
            tables = self._table_names(session)
            for table, columns in EXPECTED_COLUMNS.items():
                if table not in tables:
                    report.missing.append(f"table {table}")
                    continue
                present = [r["name"] for r in session.fetchall(f"PRAGMA table_info({table})")]
                report.missing += [f"column {table}.{c}" for c in columns if c not in present]
                report.extra += [f"column {table}.{c}" for c in present if c not in columns]
            indexes = {
                r["name"]
                for r in session.fetchall("SELECT name FROM sqlite_master WHERE type = 'index'")
            }
            report.missing += [f"index {i}" for i in EXPECTED_INDEXES if i not in indexes]
            self._check_integrity(session)
            journal = session.fetchval("PRAGMA journal_mode")
            if journal != "wal":
                report.notes.append(f"journal_mode is {journal}, not wal")
        return report

    def _check_integrity(self, session: SQLiteSession) -> None:
        """`PRAGMA quick_check` (every page read once) on files up to INTEGRITY_CHECK_BYTES:
        a corrupt or truncated file is a store that cannot be used (exit 5), not "objects ok"."""
        if self.path.stat().st_size > INTEGRITY_CHECK_BYTES:
            return
        rows = session.fetchall("PRAGMA quick_check(5)")
        problems = [" ".join(str(r["quick_check"]).split()) for r in rows]
        if problems != ["ok"]:
            raise StoreUnavailable(
                f"store {self.display_url} is corrupt: {'; '.join(problems)}",
                hint="restore it from a backup (or try `sqlite3 FILE .recover`)",
            )

    def doctor_facts(self) -> dict[str, Any]:
        files = [self.path, self.path.with_name(self.path.name + "-wal")]
        sizes = [{"file": str(f.resolve()), "bytes": f.stat().st_size} for f in files if f.exists()]
        return {"path": str(self.path.resolve()), "sizes": sizes}

    # --- replication (issue 10) --------------------------------------------------------------

    def node_status(self, primary_lsn: str | None = None) -> NodeStatus:
        return NodeStatus(str(self.path), "embedded", self.server_version())

    # --- append primitives (issue 3) ---------------------------------------------------------

    def insert_events(self, session: Session, rows: Iterable[EventRow]) -> None:
        # One statement over a generator: sqlite3 steps it row by row, in the caller's
        # BEGIN IMMEDIATE transaction, so memory stays flat and nothing is visible before COMMIT.
        now = format_time(datetime.now(UTC))

        def dumps(value: str | dict[str, Any]) -> str:
            if type(value) is str:
                return value
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

        params = (
            (
                r[0],
                r[1],
                r[2],
                r[3],
                dumps(r[4]),
                dumps(r[5]),
                r[6],
                format_time(r[7]) if r[7] else now,
            )
            for r in rows
        )
        session.executemany(
            "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            cast(Any, params),
        )

    def appended_positions(self, session: Session, since: int) -> dict[str, tuple[int, int]]:
        # Writers are serialised: every row past `since` in this transaction is ours.
        rows = session.fetchall(
            "SELECT stream_id, min(global_position) AS first, max(global_position) AS last "
            "FROM {events} WHERE global_position > %s GROUP BY stream_id",
            [since],
        )
        return {r["stream_id"]: (int(r["first"]), int(r["last"])) for r in rows}

    # --- live reading primitives (issue 4) ---------------------------------------------------
    # SQLite serialises writers, so position order is commit order: the live cursor is the
    # position alone (transaction_id is always NULL, read as 0) and a short poll replaces NOTIFY.

    def live_head(self) -> Cursor:

        with self.reading() as session:
            return Cursor(
                0, int(session.fetchval("SELECT max(global_position) FROM {events}") or 0)
            )

    def live_batch(self, after: Cursor, where: str, params: Sequence[Any], limit: int) -> LiveBatch:

        with self.reading() as session:  # one snapshot for both statements (WAL)
            rows = session.fetchall(
                "SELECT " + EVENT_COLUMNS + ", transaction_id FROM {events} "  # noqa: S608
                "WHERE global_position > %s AND (" + where + ") "
                "ORDER BY global_position LIMIT %s",
                [after.global_position, *params, limit],
            )
            scanned = after
            if len(rows) < limit and where.strip() != "1 = 1":
                head = session.fetchval("SELECT max(global_position) FROM {events}")
                scanned = max(after, Cursor(0, int(head or 0)))
        for row in rows:
            row["transaction_id"] = None
        return LiveBatch(rows, scanned, False)

    def wait_for_events(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, LIVE_POLL_INTERVAL)))

    def stop_listening(self) -> None:
        pass

    def category_sql(self) -> str:
        # esctl.values.category_of: up to the first `-` that does not start the id.
        return (
            "CASE WHEN instr(substr(stream_id, 2), '-') > 0 "
            "THEN substr(stream_id, 1, instr(substr(stream_id, 2), '-')) ELSE stream_id END"
        )

    def estimated_counts(self) -> dict[str, int | None] | None:
        return None

    def estimate_counts(self, session: Session) -> dict[str, int | None] | None:
        return None  # no catalog estimates: stats counts

    def sample_clause(self, percent: float) -> str:
        return ""

    def event_json_lines(
        self,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        return None  # esctl.reading renders the lines

    def session_json_lines(
        self,
        session: Session,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        return None

    # --- checkpoint primitives (checkpoints issue) --------------------------------------------

    def commit_order_slices(
        self,
        after: tuple[int, int] | None,
        upto: tuple[int, int] | None,
        *,
        descending: bool = False,
    ) -> list[tuple[str, list[Any], str]]:
        # SQLite serialises writers: position order is commit order, and the rowid serves it.
        where = ["1 = 1"]
        params: list[Any] = []
        if after is not None:
            where.append("global_position > %s")
            params.append(after[1])
        if upto is not None:
            where.append("global_position <= %s")
            params.append(upto[1])
        order = "global_position DESC" if descending else "global_position"
        return [(" AND ".join(where), params, order)]

    def transaction_id_sql(self, value: int | None) -> tuple[str, Any]:
        return "%s", value or None

    # --- bench primitives (issue 7) -------------------------------------------------------------

    def create_ceiling_table(self) -> bool:
        return False  # no COPY: SQLite's ceiling is its own executemany, which append uses

    def copy_into_ceiling(self, copy_text: str) -> int:
        raise EsctlError("SQLite has no COPY: the raw-COPY ceiling is PostgreSQL only")


def _record_version_sql(migration: Migration) -> str:
    """The version record as `init --dry-run` prints it (it runs with bound parameters)."""
    values = ", ".join([str(migration.version), _quote(migration.description), _quote(__version__)])
    return f"INSERT INTO esctl_schema (version, description, esctl_version) VALUES ({values})"  # noqa: S608 - display only


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
