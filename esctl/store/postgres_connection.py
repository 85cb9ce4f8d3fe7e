"""PostgreSQL connections, transactions and sessions: psycopg 3 and libpq, so URLs and conninfo
strings, PG* variables, `.pgpass`, service files, `sslmode` and multi-host URLs all work as libpq
defines them. psycopg is imported by the PostgreSQL engine only, so commands on a SQLite store
never pay for it."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.json import Jsonb

from esctl.config import Settings, check_identifier
from esctl.errors import ConfigError, EsctlError
from esctl.store.base import Row, Store, TransactionPorts
from esctl.store.esctl_layout.tables import placeholders
from esctl.store.postgres_errors import _first_line, _scrubbed, translate_errors
from esctl.urls import StoreLocation

if TYPE_CHECKING:
    from psycopg import Connection, Cursor


# psycopg logs a lost connection while leaving a pipeline ("error ignored terminating
# <psycopg.Pipeline [BAD]>") through Python's last-resort handler, onto esctl's stderr ahead of
# esctl's own one-line error; the error itself reaches esctl as an exception and is reported.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


class PostgresSession(TransactionPorts):
    """A transaction on a PostgreSQL connection."""

    backend = "postgresql"
    _cursor_ids = itertools.count(1)

    def __init__(
        self, store: PostgresConnections, conn: Connection[Row], begin: bytes | None = None
    ) -> None:
        self._store = store
        self._conn = conn
        # A write transaction's BEGIN is not sent on its own: it goes with the first statement,
        # in one pipeline (one round trip instead of two).
        self._begin = begin
        # First and last position per stream of this transaction's appends, when every append
        # chose its positions itself (small units: no lookup after the COPY); else None.
        self.appended: dict[str, tuple[int, int]] | None = {}

    def _run(self, query: str, params: Sequence[Any]) -> Cursor[Row]:
        conn = self._conn
        if self._begin is None:
            return conn.execute(self._store.query_bytes(query, conn), params or None)
        begin, self._begin = self._begin, None
        try:
            with conn.pipeline():
                conn.execute(begin)
                cursor = conn.execute(self._store.query_bytes(query, conn), params or None)
        except psycopg.Error as error:
            # A signal (Ctrl-C, SIGTERM: KeyboardInterrupt) inside the pipeline makes leaving it
            # fail ("cannot exit pipeline mode while busy"): the signal is what happened, and it
            # must keep its exit code (130/143), not become "store unavailable" (exit 5).
            interrupted = error.__context__
            if isinstance(interrupted, BaseException) and not isinstance(interrupted, Exception):
                raise interrupted from None
            raise
        return cursor

    def _send_begin(self) -> None:
        """The pending BEGIN, alone (before COPY, a server-side cursor or the raw connection)."""
        if self._begin is not None:
            begin, self._begin = self._begin, None
            with translate_errors(self._store):
                self._conn.execute(begin)

    def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        with translate_errors(self._store):
            return self._run(query, params).rowcount

    def executemany(self, query: str, params: Sequence[Sequence[Any]]) -> None:
        self._send_begin()
        with translate_errors(self._store), self._conn.cursor() as cursor:
            cursor.executemany(self._store.query_bytes(query, self._conn), params)

    def fetchall(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        with translate_errors(self._store):
            return self._run(query, params).fetchall()

    def fetchone(self, query: str, params: Sequence[Any] = ()) -> Row | None:
        with translate_errors(self._store):
            return self._run(query, params).fetchone()

    def fetchval(self, query: str, params: Sequence[Any] = ()) -> Any:
        row = self.fetchone(query, params)
        return next(iter(row.values())) if row else None

    def stream(
        self, query: str, params: Sequence[Any] = (), batch_size: int = 2000
    ) -> Iterator[Row]:
        self._send_begin()
        name = f"esctl_cursor_{next(self._cursor_ids)}"
        with translate_errors(self._store), self._conn.cursor(name=name) as cursor:
            cursor.itersize = batch_size
            cursor.execute(self._store.query_bytes(query, self._conn), params or None)
            yield from cursor

    def json_param(self, value: Any) -> Any:
        return Jsonb(value)

    def time_param(self, value: datetime) -> Any:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @property
    def connection(self) -> Connection[Row]:
        """The psycopg connection, for backend-specific primitives (COPY, LISTEN), inside the
        session's transaction."""
        self._send_begin()
        return self._conn


class PostgresConnections(Store):
    """An event store in one schema of a PostgreSQL database: its connections and transactions.
    The engine's primitives (schema admin, COPY, live reading, export) build on this class."""

    backend = "postgresql"

    def __init__(
        self, location: StoreLocation, settings: Settings, *, write: bool, create: bool = False
    ) -> None:
        super().__init__(location, settings, write=write)
        self._conn: Connection[Row] | None = None
        schema = settings.schema
        check_identifier(schema, "schema")
        self.identifiers: dict[str, sql.Composable] = {
            "schema": sql.Identifier(schema),
            **{key: sql.Identifier(schema, name) for key, name in placeholders().items()},
            "notify_function": sql.Identifier(schema, "esctl_notify_events"),
            "protect_function": sql.Identifier(schema, "esctl_protect_events"),
        }
        self._composed: dict[str, sql.Composed] = {}
        self._query_bytes: dict[str, bytes] = {}
        # A transaction pooler (PgBouncer in transaction mode) between esctl and the server: each
        # transaction may run on another server session, so esctl keeps no state in a session.
        self.pooler: str | None = "pgbouncer" if settings.pooler == "pgbouncer" else None

    def compose(self, query: str) -> sql.Composed:
        """The SQL template with its `{table}` names filled in as quoted identifiers."""
        composed = self._composed.get(query)
        if composed is None:
            composed = sql.SQL(query).format(**self.identifiers)  # type: ignore[arg-type]
            self._composed[query] = composed
        return composed

    def query_bytes(self, query: str, conn: Connection[Row]) -> bytes:
        """The composed template as the bytes sent, made once: psycopg turns a Composed into
        bytes at every execution (quoting each identifier again through libpq), a tenth of a
        small append's client time. The store's connections share one client encoding."""
        cached = self._query_bytes.get(query)
        if cached is None:
            cached = self._query_bytes[query] = self.compose(query).as_bytes(conn)
        return cached

    # --- connections and transactions -------------------------------------------------------

    def connect(self, *, autocommit: bool = True, dbname: str | None = None) -> Connection[Row]:
        """A new connection with esctl's settings (timeouts, password_env, application name);
        `dbname`: to another database of the same server (bench's throwaway Message DB)."""
        kwargs: dict[str, Any] = {
            "autocommit": autocommit,
            "row_factory": dict_row,
            "connect_timeout": self.settings.connect_timeout,
        }
        if self.pooler:  # a prepared statement lives in one server session
            kwargs["prepare_threshold"] = None
        try:
            given = conninfo_to_dict(self.location.target)
        except psycopg.ProgrammingError as exc:  # libpq could not parse the URL or conninfo
            error = ConfigError(
                f"bad store URL {self.display_url}: {_first_line(exc)}",
                hint="postgresql://user@host:5432/db?sslmode=require, or host=… dbname=…",
            )
            raise _scrubbed(self, error) from None
        if "application_name" not in given:
            kwargs["application_name"] = "esctl"  # a user-given application_name wins
        password = self.settings.password
        if password is not None:
            kwargs["password"] = password
        if dbname is not None:
            kwargs["dbname"] = dbname
        with translate_errors(self):
            try:
                conn: Connection[Row] = psycopg.connect(self.location.target, **kwargs)
            except psycopg.ProgrammingError as exc:  # e.g. an unknown connection option
                error = ConfigError(f"bad store URL {self.display_url}: {_first_line(exc)}")
                raise _scrubbed(self, error) from None
            except psycopg.OperationalError as exc:
                # libpq checks option values (sslmode, port, target_session_attrs, …) only when
                # it connects: a bad value is the user's URL (exit 2), not an unreachable store.
                reason = _first_line(exc).removeprefix("connection is bad: ")
                if not reason.startswith("invalid "):
                    raise
                error = ConfigError(f"bad store URL {self.display_url}: {reason}")
                raise _scrubbed(self, error) from None
            # Times no datetime holds (infinite, BC, after 9999) are read as esctl.values.OddTime.
            conn.adapters.register_loader("timestamptz", _TimestamptzLoader)
            if self.settings.pooler is None and self.pooler is None:
                self._detect_pooler(conn)
            if self.settings.statement_timeout_ms is not None and not self.pooler:
                conn.execute(
                    "SELECT set_config('statement_timeout', %s, false)",
                    [f"{self.settings.statement_timeout_ms}ms"],
                )
        return conn

    def _detect_pooler(self, conn: Connection[Row]) -> None:
        """A pooler answers the startup with its own process id, not the server's."""
        row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
        if row is not None and int(row["pid"]) != conn.info.backend_pid:
            self.pooler = "detected"
            conn.prepare_threshold = None

    def _connection(self) -> Connection[Row]:
        if self._conn is None or self._conn.closed:
            self._conn = self.connect()
        return self._conn

    @contextmanager
    def _transaction(self, read_only: bool) -> Iterator[PostgresSession]:
        conn = self._connection()
        conn.read_only = read_only
        with translate_errors(self), conn.transaction():
            if self.pooler and self.settings.statement_timeout_ms is not None:
                conn.execute(  # per transaction: a session setting would stay on the server
                    "SELECT set_config('statement_timeout', %s, true)",
                    [f"{self.settings.statement_timeout_ms}ms"],
                )
            yield PostgresSession(self, conn)

    def reading(self) -> Any:
        return self._transaction(read_only=True)

    def writing(self) -> Any:
        self.check_writable()
        return self._write_transaction()

    @contextmanager
    def _write_transaction(self) -> Iterator[PostgresSession]:
        """A read-write transaction whose BEGIN travels with its first statement; COMMIT at the
        end, ROLLBACK on any exception (a Ctrl-C included), nothing at all if nothing was sent."""
        conn = self._connection()
        conn.read_only = False
        session = PostgresSession(self, conn, begin=b"BEGIN READ WRITE")
        with translate_errors(self):
            try:
                yield session
            except BaseException:
                _roll_back(conn)
                raise
            status = conn.info.transaction_status
            if status == TransactionStatus.INERROR:  # a statement failed and was swallowed
                _roll_back(conn)
                raise EsctlError("the transaction failed and was rolled back; nothing was written")
            if status != TransactionStatus.IDLE:
                conn.execute(b"COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def in_read_only_transaction(self) -> bool:
        return self._conn is not None and bool(self._conn.read_only)

    def role_name(self) -> str:
        """The role this store is connected as (for messages), without a query: the
        transaction may have failed."""
        if self._conn is None or self._conn.closed:
            return "?"
        return str(self._conn.info.user)

    def node_name(self) -> str:
        """host:port of the server this store is connected to (for messages)."""
        if self._conn is None or self._conn.closed:
            return self.display_url
        info = self._conn.info
        return f"{info.host}:{info.port}"


def _roll_back(conn: Connection[Row]) -> None:
    """ROLLBACK after a failure; a connection that broke meanwhile is closed instead (the
    server rolls back a transaction whose connection went away)."""
    if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
        return
    try:
        conn.execute(b"ROLLBACK")
    except Exception:  # the original failure is the one to report
        conn.close()


class _TimestamptzLoader(TimestamptzLoader):
    """psycopg's timestamptz loader (its C one where installed) that reads a time no datetime
    holds as an OddTime instead of failing (`timestamp too large`) on every read of the row."""

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        fast = psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT) or TimestamptzLoader
        self._load = fast(oid, context).load

    def load(self, data: Any) -> Any:
        try:
            return self._load(data)
        except (psycopg.DataError, OverflowError, ValueError):
            from esctl.values import stored_time

            return stored_time(bytes(data).decode("utf-8", "replace"))
