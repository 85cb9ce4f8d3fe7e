"""The PostgreSQL backend (13+), through psycopg 3 and libpq: URLs and conninfo strings, PG* variables,
`.pgpass`, service files, `sslmode` and multi-host URLs all work as libpq defines them.

psycopg is imported here only, so commands on a SQLite store never pay for it."""

from __future__ import annotations

import itertools
import json
import json.encoder
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.json import Jsonb

from esctl import __version__
from esctl.config import Settings, check_identifier
from esctl.errors import (
    ConfigError,
    Conflict,
    EsctlError,
    InvalidInput,
    PermissionDenied,
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
from esctl.store.esctl_layout.tables import placeholders
from esctl.store.postgres_schema import (
    CONCURRENT_INDEXES,
    EXPECTED_COLUMNS,
    EXPECTED_INDEXES,
    MIGRATIONS,
)
from esctl.store.url import StoreLocation, scrub
from esctl.types import Cursor, LiveBatch

if TYPE_CHECKING:
    from psycopg import Connection


NOTIFY_CHANNEL = "esctl_events"
LOCK_TIMEOUT = "10s"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _secrets(store: PostgresStore) -> tuple[str, ...]:
    """Passwords that may reach libpq by other ways than the URL (password_env, PGPASSWORD)."""
    names = [store.settings.password_env, "PGPASSWORD"]
    return tuple(v for n in names if n and len(v := os.environ.get(n) or "") >= 3)


def _scrubbed(store: PostgresStore, error: EsctlError) -> EsctlError:
    """The error with any password libpq echoed (it quotes URIs and conninfo) replaced by ***."""
    secrets = _secrets(store)
    error.message = scrub(error.message, store.location.target, extra=secrets)
    if error.hint:
        error.hint = scrub(error.hint, store.location.target, extra=secrets)
    error.args = (error.message,)
    return error


@contextmanager
def translate_errors(store: PostgresStore) -> Iterator[None]:
    """Turn psycopg errors into esctl errors, once, here; no password survives in the text."""
    try:
        with _translate(store):
            yield
    except EsctlError as error:
        _scrubbed(store, error)
        raise


@contextmanager
def _translate(store: PostgresStore) -> Iterator[None]:
    try:
        yield
    except pgerrors.UniqueViolation as exc:
        raise Conflict(_first_line(exc)) from exc
    except (pgerrors.UndefinedTable, pgerrors.InvalidSchemaName, pgerrors.UndefinedColumn) as exc:
        raise SchemaMissing(
            f"store {store.display_url} is missing part of the esctl schema ({_first_line(exc)})",
            hint="run `esctl init` (schema: " + store.settings.schema + ")",
        ) from exc
    except pgerrors.QueryCanceled as exc:
        timeout = store.settings.statement_timeout_ms
        limit = f" (statement_timeout {timeout} ms)" if timeout else ""
        raise StoreUnavailable(
            f"the statement was cancelled{limit}: {_first_line(exc)}",
            hint="narrow the query (--limit, filters) or raise statement_timeout in the profile",
        ) from exc
    except pgerrors.LockNotAvailable as exc:
        raise StoreUnavailable(
            f"could not take a lock within {LOCK_TIMEOUT}: {_first_line(exc)}",
            hint="a long transaction holds the table; retry when it has finished",
        ) from exc
    except pgerrors.ReadOnlySqlTransaction as exc:
        if store.in_read_only_transaction():
            raise ReadOnlyRefused(
                f"a read-only transaction cannot write: {_first_line(exc)}"
            ) from exc
        raise StoreUnavailable(
            f"node {store.node_name()} accepts no writes (a standby?): {_first_line(exc)}",
            hint="point `store:` at the primary, or add target_session_attrs=read-write",
        ) from exc
    except pgerrors.FeatureNotSupported as exc:
        if "during recovery" not in str(exc):
            raise EsctlError(f"PostgreSQL error: {_first_line(exc)}") from exc
        raise StoreUnavailable(
            f"node {store.node_name()} accepts no writes (a standby?): {_first_line(exc)}",
            hint="point `store:` at the primary, or add target_session_attrs=read-write",
        ) from exc
    except pgerrors.InsufficientPrivilege as exc:
        # Not a read-only profile (exit 8): the role lacks a privilege, exit 1, naming the role.
        role = store.role_name()
        raise PermissionDenied(
            f"{_first_line(exc)} (role {role})",  # "permission denied for table events"
            hint=f"role {role} lacks a privilege on the store's schema or tables: GRANT it, "
            "or use a profile whose role has it",
        ) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise StoreUnavailable(
            f"store {store.display_url} unavailable: {_first_line(exc)}"
        ) from exc
    except psycopg.DataError as exc:
        # A value the column cannot hold (too long, a NUL byte, out of range): bad input, exit 6.
        raise InvalidInput(f"the store refused a value: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise EsctlError(f"PostgreSQL error: {_first_line(exc)}") from exc


class PostgresSession(TransactionPorts):
    """A transaction on a PostgreSQL connection."""

    backend = "postgresql"
    _cursor_ids = itertools.count(1)

    def __init__(self, store: PostgresStore, conn: Connection[Row]) -> None:
        self._store = store
        self._conn = conn

    def sql(self, query: str) -> sql.Composed:
        return self._store.compose(query)

    def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        with translate_errors(self._store):
            return self._conn.execute(self.sql(query), params or None).rowcount

    def executemany(self, query: str, params: Sequence[Sequence[Any]]) -> None:
        with translate_errors(self._store), self._conn.cursor() as cursor:
            cursor.executemany(self.sql(query), params)

    def fetchall(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        with translate_errors(self._store):
            return self._conn.execute(self.sql(query), params or None).fetchall()

    def fetchone(self, query: str, params: Sequence[Any] = ()) -> Row | None:
        with translate_errors(self._store):
            return self._conn.execute(self.sql(query), params or None).fetchone()

    def fetchval(self, query: str, params: Sequence[Any] = ()) -> Any:
        row = self.fetchone(query, params)
        return next(iter(row.values())) if row else None

    def stream(
        self, query: str, params: Sequence[Any] = (), batch_size: int = 2000
    ) -> Iterator[Row]:
        name = f"esctl_cursor_{next(self._cursor_ids)}"
        with translate_errors(self._store), self._conn.cursor(name=name) as cursor:
            cursor.itersize = batch_size
            cursor.execute(self.sql(query), params or None)
            yield from cursor

    def json_param(self, value: Any) -> Any:
        return Jsonb(value)

    def time_param(self, value: datetime) -> Any:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @property
    def connection(self) -> Connection[Row]:
        """The psycopg connection, for backend-specific primitives (COPY, LISTEN)."""
        return self._conn


class PostgresStore(Store):
    """An event store in one schema of a PostgreSQL database."""

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
        }
        self._composed: dict[str, sql.Composed] = {}

    def compose(self, query: str) -> sql.Composed:
        """The SQL template with its `{table}` names filled in as quoted identifiers."""
        composed = self._composed.get(query)
        if composed is None:
            composed = sql.SQL(query).format(**self.identifiers)  # type: ignore[arg-type]
            self._composed[query] = composed
        return composed

    # --- connections and transactions -------------------------------------------------------

    def connect(self, *, autocommit: bool = True) -> Connection[Row]:
        """A new connection with esctl's settings (timeouts, password_env, application name)."""
        kwargs: dict[str, Any] = {
            "autocommit": autocommit,
            "row_factory": dict_row,
            "connect_timeout": self.settings.connect_timeout,
        }
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
        with translate_errors(self):
            try:
                conn: Connection[Row] = psycopg.connect(self.location.target, **kwargs)
            except psycopg.ProgrammingError as exc:  # e.g. an unknown connection option
                error = ConfigError(f"bad store URL {self.display_url}: {_first_line(exc)}")
                raise _scrubbed(self, error) from None
            # Times no datetime holds (infinite, BC, after 9999) are read as esctl.values.OddTime.
            conn.adapters.register_loader("timestamptz", _TimestamptzLoader)
            if self.settings.statement_timeout_ms is not None:
                conn.execute(
                    "SELECT set_config('statement_timeout', %s, false)",
                    [f"{self.settings.statement_timeout_ms}ms"],
                )
        return conn

    def _connection(self) -> Connection[Row]:
        if self._conn is None or self._conn.closed:
            self._conn = self.connect()
        return self._conn

    @contextmanager
    def _transaction(self, read_only: bool) -> Iterator[PostgresSession]:
        conn = self._connection()
        conn.read_only = read_only
        with translate_errors(self), conn.transaction():
            yield PostgresSession(self, conn)

    def reading(self) -> Any:
        return self._transaction(read_only=True)

    def writing(self) -> Any:
        self.check_writable()
        return self._transaction(read_only=False)

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

    def check_init_privileges(self, *, alters: bool) -> None:
        from esctl.store.postgres_privileges import check_init_privileges

        with self.reading() as session:
            check_init_privileges(session, self.settings.schema, alters=alters)

    def node_name(self) -> str:
        """host:port of the server this store is connected to (for messages)."""
        if self._conn is None or self._conn.closed:
            return self.display_url
        info = self._conn.info
        return f"{info.host}:{info.port}"

    # --- schema ------------------------------------------------------------------------------

    def server_version(self) -> str:
        with self.reading() as session:
            return str(session.fetchval("SELECT current_setting('server_version')"))

    def migrations(self) -> list[Migration]:
        return MIGRATIONS

    def render_migration(self, migration: Migration) -> list[str]:
        conn = self._connection()
        rendered = [self.compose(s).as_string(conn) for s in migration.statements]
        rendered.append(
            self.compose(  # noqa: S608 - shown by --dry-run; it runs with bound parameters
                "INSERT INTO {esctl_schema} (version, description, esctl_version) VALUES "
            ).as_string(conn)
            + f"({migration.version}, {sql.quote(migration.description)}, "
            + f"{sql.quote(__version__)})"
        )
        if migration.version == MIGRATIONS[-1].version:
            rendered += [
                "-- outside a transaction:\n" + self._index_sql(n).as_string(conn)
                for n in CONCURRENT_INDEXES
            ]
        return rendered

    def _index_sql(self, name: str) -> sql.Composed:
        return sql.SQL(CONCURRENT_INDEXES[name]).format(
            index=sql.Identifier(name), **self.identifiers
        )

    def schema_version(self) -> int | None:
        with self.reading() as session:
            if self._has_version_table(session):
                version = session.fetchval("SELECT max(version) FROM {esctl_schema}")
                return int(version) if version is not None else None
        return None

    def _has_version_table(self, session: PostgresSession) -> bool:
        # A catalog query, not to_regclass(): after waiting for another `init`, a cached
        # "no such table" must not hide the table it has just created.
        return bool(
            session.fetchval(
                "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'esctl_schema'",
                [self.settings.schema],
            )
        )

    def apply_migrations(self, pending: list[Migration]) -> list[str]:
        for migration in pending:
            with self.writing() as session:
                session.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                # Two `esctl init` at once: the second waits here, then skips what is done.
                session.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))",
                    [f"esctl init {self.settings.schema}"],
                )
                if self._has_version_table(session) and session.fetchval(
                    "SELECT 1 FROM {esctl_schema} WHERE version = %s", [migration.version]
                ):
                    continue
                for statement in migration.statements:
                    session.execute(statement)
                session.execute(
                    "INSERT INTO {esctl_schema} (version, description, esctl_version) "
                    "VALUES (%s, %s, %s)",
                    [migration.version, migration.description, __version__],
                )
        return [f"built index {name}" for name in self.ensure_concurrent_indexes()]

    def repairs(self) -> list[str]:
        conn = self._connection()
        statements = []
        for name in CONCURRENT_INDEXES:
            state = self._index_state(name)
            if state:
                continue
            if state is False:
                drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                    sql.Identifier(self.settings.schema, name)
                )
                statements.append(
                    "-- an interrupted build left it invalid:\n" + drop.as_string(conn)
                )
            statements.append("-- outside a transaction:\n" + self._index_sql(name).as_string(conn))
        return statements

    def _index_state(self, name: str) -> bool | None:
        """True if the index is valid, False if an interrupted build left it invalid, None if absent."""
        with self.reading() as session:
            valid = session.fetchone(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s",
                [self.settings.schema, name],
            )
        return None if valid is None else bool(valid["indisvalid"])

    def ensure_concurrent_indexes(self) -> list[str]:
        """Build (or rebuild, if invalid) the indexes that must not block writers."""
        self.check_writable()
        built = []
        conn = self._connection()
        lock_key = [f"esctl index {self.settings.schema}"]
        # A second `init` must not mistake the first one's index (valid only once built) for a
        # broken one, so index builds take a session-level lock. It is polled, not waited for:
        # CREATE INDEX CONCURRENTLY waits for every open transaction, a blocked lock call included.
        with translate_errors(self):
            while not self._try_lock(conn, lock_key[0]):
                time.sleep(0.2)
        try:
            for name in CONCURRENT_INDEXES:
                state = self._index_state(name)
                if state:
                    continue
                with translate_errors(self):
                    if state is False:
                        conn.execute(
                            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                                sql.Identifier(self.settings.schema, name)
                            )
                        )
                    conn.execute(self._index_sql(name))
                built.append(name)
        finally:
            with translate_errors(self):
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", lock_key)
        return built

    @staticmethod
    def _try_lock(conn: Connection[Row], key: str) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS locked", [key]).fetchone()
        return bool(row and row["locked"])

    def inspect_schema(self) -> SchemaReport:
        report = SchemaReport(schema_version=self.schema_version())
        schema = self.settings.schema
        with self.reading() as session:
            columns: dict[str, list[str]] = {}
            for row in session.fetchall(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = %s ORDER BY ordinal_position",
                [schema],
            ):
                columns.setdefault(row["table_name"], []).append(row["column_name"])
            for table, expected in EXPECTED_COLUMNS.items():
                if table not in columns:
                    report.missing.append(f"table {schema}.{table}")
                    continue
                report.missing += [
                    f"column {table}.{c}" for c in expected if c not in columns[table]
                ]
                report.extra += [f"column {table}.{c}" for c in columns[table] if c not in expected]
            indexes = {
                row["relname"]: row["indisvalid"]
                for row in session.fetchall(
                    "SELECT c.relname, i.indisvalid FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
                    [schema],
                )
            }
            if "unique_stream_version" not in indexes and "events" in columns:
                from esctl.store.postgres_facts import unique_stream_version_index

                equivalent = unique_stream_version_index(session, schema)
                if equivalent:  # the seed's inline UNIQUE (stream_id, version): same guarantee
                    indexes["unique_stream_version"] = True
                    report.notes.append(
                        f"events is unique on (stream_id, version) by {equivalent} "
                        "(instead of unique_stream_version): accepted"
                    )
            for name in EXPECTED_INDEXES:
                if name not in indexes and "table events" not in " ".join(report.missing):
                    report.missing.append(f"index {name}")
                elif name in indexes and not indexes[name]:
                    report.missing.append(f"index {name} (invalid: run `esctl init` to rebuild)")
            if "events" in columns:
                default = session.fetchval(
                    "SELECT column_default FROM information_schema.columns WHERE table_schema = %s "
                    "AND table_name = 'events' AND column_name = 'transaction_id'",
                    [schema],
                )
                if "transaction_id" in columns["events"] and not default:
                    report.missing.append("default of events.transaction_id")
                trigger = session.fetchval(
                    "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relname = 'events' "
                    "AND t.tgname = 'esctl_notify_events'",
                    [schema],
                )
                if not trigger:
                    report.missing.append("trigger esctl_notify_events")
            if session.fetchval("SELECT pg_is_in_recovery()"):
                report.notes.append("the server is a standby (in recovery): read-only")
        return report

    def doctor_facts(self) -> dict[str, Any]:
        from esctl.store.postgres_facts import doctor_facts

        with self.reading() as session:
            return doctor_facts(session, self.settings.schema)

    # --- replication (issue 10) --------------------------------------------------------------

    def node_status(self, primary_lsn: str | None = None) -> NodeStatus:
        with self.reading() as session:
            row = session.fetchone(
                "SELECT pg_is_in_recovery() AS standby, current_setting('server_version') AS "
                "version, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                "ELSE pg_current_wal_lsn() END::text AS lsn, "
                "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS behind"
            )
            assert row is not None
            status = NodeStatus(
                self.node_name(),
                "standby" if row["standby"] else "primary",
                str(row["version"]),
                wal_lsn=row["lsn"],
            )
            if row["standby"] and primary_lsn and row["lsn"]:
                lag = session.fetchval(
                    "SELECT greatest(pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn), 0)::bigint",
                    [primary_lsn, row["lsn"]],
                )
                status.lag_bytes = int(lag)
                # Replay timestamps grow while the primary is idle: caught up means no lag.
                status.lag_seconds = 0.0 if lag == 0 else row["behind"]
        return status

    # --- append primitives (issue 3) ---------------------------------------------------------

    _COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

    @classmethod
    def _copy_text(cls, value: str) -> str:
        """A name in COPY's text format."""
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(cls._COPY_ESCAPES)
        return value

    @staticmethod
    def _copy_time(value: datetime) -> str:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()

    def insert_events(self, session: Session, rows: Iterable[EventRow]) -> None:
        # Text COPY, formatted here: JSON text never holds raw tabs or newlines, so only
        # backslashes need doubling; names get the full COPY escaping. Rows are sent in blocks
        # while they are produced, so the server works while Python parses the next ones.
        conn = cast(PostgresSession, session).connection
        now = self._copy_time(session.fetchval("SELECT now()"))
        text, bs, bs2 = self._copy_text, "\\", "\\\\"
        # One C encoder for all rows: JSONEncoder.encode would build a new one per call.
        encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
            None, None, json.encoder.encode_basestring, None, ":", ",", False, False, True
        )

        def dumps(value: dict[str, Any]) -> str:
            return "".join(encode(value, 0)) if value else "{}"

        query = self.compose(
            "COPY {events} (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) FROM STDIN"
        )
        with translate_errors(self), conn.cursor() as cursor, cursor.copy(query) as copy:
            block: list[str] = []
            for event_id, stream_id, stream_type, event_type, data, meta, version, at in rows:
                names = f"{stream_id}\t{stream_type}\t{event_type}"
                if "\\" in names or "\n" in names or "\r" in names or names.count("\t") != 2:
                    names = f"{text(stream_id)}\t{text(stream_type)}\t{text(event_type)}"
                data = data if isinstance(data, str) else dumps(data)
                meta = meta if isinstance(meta, str) else dumps(meta)
                block.append(
                    f"{event_id}\t{names}\t{data.replace(bs, bs2)}\t{meta.replace(bs, bs2)}\t"
                    f"{version}\t{self._copy_time(at) if at else now}\n"
                )
                if len(block) >= 500:
                    copy.write("".join(block))
                    block.clear()
            if block:
                copy.write("".join(block))

    def appended_positions(self, session: Session, since: int) -> dict[str, tuple[int, int]]:
        # Rows this transaction wrote carry its id in transaction_id (the column's default).
        rows = session.fetchall(
            "SELECT stream_id, min(global_position) AS first, max(global_position) AS last "
            "FROM {events} WHERE transaction_id = pg_current_xact_id() AND global_position > %s "
            "GROUP BY stream_id",
            [since],
        )
        return {r["stream_id"]: (int(r["first"]), int(r["last"])) for r in rows}

    # --- live reading primitives (issue 4) ---------------------------------------------------
    # A live read takes the horizon once, then reads only rows of transactions below it: every
    # transaction below xmin has ended, so no row can still appear behind the cursor. Rows from
    # before `esctl init` (transaction_id NULL) come first, by position, so the live query keeps
    # using the (transaction_id, global_position) index for the rest.

    _listen_conn: Connection[Row] | None = None
    _on_standby: bool | None = None

    def live_head(self) -> Cursor:

        with self.reading() as session:
            row = session.fetchone(
                "SELECT transaction_id, global_position FROM {events} "
                "WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) "
                "ORDER BY transaction_id DESC, global_position DESC LIMIT 1"
            )
            if row is not None:
                return Cursor(int(row["transaction_id"]), int(row["global_position"]))
            position = session.fetchval(
                "SELECT global_position FROM {events} WHERE transaction_id IS NULL "
                "ORDER BY global_position DESC LIMIT 1"
            )
            return Cursor(0, int(position or 0))

    def live_batch(self, after: Cursor, where: str, params: Sequence[Any], limit: int) -> LiveBatch:

        columns = EVENT_COLUMNS + ", transaction_id"
        filtered = where.strip() != "1 = 1"
        with self.reading() as session:
            horizon = session.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())")
            rows: list[Row] = []
            scanned = after
            if after.transaction_id == 0:
                rows = session.fetchall(
                    "SELECT " + columns + " FROM {events} WHERE transaction_id IS NULL "  # noqa: S608
                    "AND global_position > %s AND (" + where + ") "
                    "ORDER BY global_position LIMIT %s",
                    [after.global_position, *params, limit],
                )
                if len(rows) >= limit:
                    return LiveBatch(rows, scanned, False)
            rows += session.fetchall(
                "SELECT " + columns + " FROM {events} WHERE transaction_id < %s "  # noqa: S608
                "AND (transaction_id, global_position) > (%s, %s) AND (" + where + ") "
                "ORDER BY transaction_id, global_position LIMIT %s",
                [
                    horizon,
                    str(after.transaction_id),
                    after.global_position,
                    *params,
                    limit - len(rows),
                ],
            )
            if len(rows) < limit and filtered:
                # Everything below the horizon has been looked at: move past what did not match.
                head = session.fetchone(
                    "SELECT transaction_id, global_position FROM {events} "
                    "WHERE transaction_id < %s "
                    "ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
                    [horizon],
                )
                if head is not None:
                    scanned = max(
                        after, Cursor(int(head["transaction_id"]), int(head["global_position"]))
                    )
            pending = False
            if len(rows) < limit:
                pending = bool(
                    session.fetchval(
                        "SELECT 1 FROM {events} WHERE transaction_id >= %s LIMIT 1", [horizon]
                    )
                )
        return LiveBatch(rows, scanned, pending)

    def wait_for_events(self, timeout: float) -> None:
        if self._on_standby is None:
            with self.reading() as session:
                self._on_standby = bool(session.fetchval("SELECT pg_is_in_recovery()"))
        if self._on_standby:  # NOTIFY does not reach a standby: poll
            time.sleep(timeout)
            return
        with translate_errors(self):
            if self._listen_conn is None or self._listen_conn.closed:
                self._listen_conn = self.connect(autocommit=True)
                self._listen_conn.execute(
                    sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL))
                )
            notified = False
            for _ in self._listen_conn.notifies(timeout=timeout, stop_after=1):
                notified = True
            if notified:  # several commits, one wake-up: drain what is already queued
                for _ in self._listen_conn.notifies(timeout=0):
                    pass

    def stop_listening(self) -> None:
        self._on_standby = None  # after a failover the node may have changed role
        if self._listen_conn is not None:
            self._listen_conn.close()
            self._listen_conn = None

    def category_sql(self) -> str:
        # esctl.values.category_of: up to the first `-` that does not start the id.
        return (
            "CASE WHEN strpos(substr(stream_id, 2), '-') > 0 "
            "THEN substr(stream_id, 1, strpos(substr(stream_id, 2), '-')) ELSE stream_id END"
        )

    def estimated_counts(self) -> dict[str, int | None] | None:
        with self.reading() as session:
            return self.estimate_counts(session)

    def estimate_counts(self, session: Session) -> dict[str, int | None] | None:
        row = session.fetchone(
            "SELECT c.reltuples::bigint AS events, s.n_distinct AS n_distinct "
            "FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = n.nspname "
            "AND s.tablename = c.relname AND s.attname = 'stream_id' "
            "WHERE n.nspname = %s AND c.relname = 'events'",
            [self.settings.schema],
        )
        if row is None or row["events"] is None or int(row["events"]) < 0:
            return None  # never analysed
        events = int(row["events"])
        distinct = row["n_distinct"]
        streams: int | None = None
        if distinct is not None:
            # Negative n_distinct is a fraction of the rows (-1: every row distinct).
            streams = int(-distinct * events) if distinct < 0 else int(distinct)
        return {"events": events, "streams": streams}

    def sample_clause(self, percent: float) -> str:
        return f" TABLESAMPLE SYSTEM ({float(percent)!r})"

    # `read --all -o jsonl` on PostgreSQL: the server renders each event's JSON line, byte for
    # byte as `esctl.reading.event_json_line` (the one encoder: `", "`/`": "` separators, jsonb's
    # own text for data and metadata, times as `esctl.values.time_json`), and COPY streams it, so
    # esctl only copies bytes through. A row that cannot go back through `esctl append` unchanged
    # is prefixed `!POSITION|` for a warning. Braces come from chr(): SQL text here holds no `{`.
    _UTC = "(created_at AT TIME ZONE 'UTC')"
    _IN_RANGE = (
        "created_at >= TIMESTAMPTZ '0001-01-01 00:00:00+00' "
        "AND created_at < TIMESTAMPTZ '10000-01-01 00:00:00+00'"
    )
    _YEAR = f"(extract(year FROM {_UTC})::int + CASE WHEN extract(year FROM {_UTC}) < 0 THEN 1 ELSE 0 END)"
    _CLOCK = "'-MM-DD\"T\"HH24:MI:SS.US'"
    TIME_JSON_SQL = (
        f"CASE WHEN {_IN_RANGE} THEN '\"' || replace(to_char({_UTC}, 'YYYY' || {_CLOCK}), "
        "'.000000', '') || 'Z\"' "
        "WHEN created_at IS NULL THEN 'null' "
        "WHEN NOT isfinite(created_at) THEN '\"' || created_at::text || '\"' "
        f"ELSE '\"' || CASE WHEN {_YEAR} < 0 THEN '-' || lpad((-{_YEAR})::text, 4, '0') "
        f"WHEN {_YEAR} > 9999 THEN '+' || {_YEAR}::text ELSE lpad({_YEAR}::text, 4, '0') END "
        f"|| replace(to_char({_UTC}, {_CLOCK}), '.000000', '') || 'Z\"' END"
    )
    EVENT_JSON_SQL = (
        "CASE WHEN jsonb_typeof(event_data) = 'object' AND (metadata IS NULL OR "
        f"jsonb_typeof(metadata) = 'object') AND {_IN_RANGE} THEN '' "
        "ELSE '!' || global_position || '|' END"
        " || chr(123) || '\"global_position\": ' || global_position"
        " || ', \"stream_id\": ' || to_json(stream_id)::text"
        " || ', \"stream_type\": ' || to_json(stream_type)::text"
        " || ', \"version\": ' || version"
        " || ', \"event_type\": ' || to_json(event_type)::text"
        ' || \', "event_id": "\' || id::text'
        ' || \'", "data": \' || event_data::text'
        " || ', \"metadata\": ' || coalesce(metadata::text, chr(123) || chr(125))"
        f" || ', \"created_at\": ' || {TIME_JSON_SQL} || chr(125)"
    )

    def event_json_lines(
        self,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        """Chunks of whole lines (about 64 KiB each), in a read-only transaction of their own."""

        def lines() -> Iterator[bytes]:
            with self.reading() as session:
                yield from self._copy_lines(session, where, params, limit, warn)

        return lines()

    def session_json_lines(
        self,
        session: Session,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        return self._copy_lines(session, where, params, limit, warn)

    def _copy_lines(
        self,
        session: Session,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        warn: Callable[[str], None] | None,
    ) -> Iterator[bytes]:
        query = "SELECT " + self.EVENT_JSON_SQL + " FROM {events} WHERE " + where  # noqa: S608
        query += " ORDER BY global_position" + (" LIMIT %s" if limit is not None else "")
        bound = [*params, limit] if limit is not None else list(params)
        with translate_errors(self):
            statement = sql.SQL("COPY ({}) TO STDOUT").format(self.compose(query))
            connection = cast(PostgresSession, session).connection
            with connection.cursor().copy(statement, bound) as copy:
                rows: list[Any] = []
                size = 0
                for row in copy:  # one row (line) per item
                    if row[0] in _MARKS:
                        row = _odd_line(bytes(row), warn)
                    rows.append(row)
                    size += len(row)
                    if size >= JSON_CHUNK_BYTES:
                        yield _unescape_copy(b"".join(rows))
                        rows.clear()
                        size = 0
                if rows:
                    yield _unescape_copy(b"".join(rows))

    # --- checkpoint primitives (checkpoints issue) --------------------------------------------

    def commit_order_slices(
        self,
        after: tuple[int, int] | None,
        upto: tuple[int, int] | None,
        *,
        descending: bool = False,
    ) -> list[tuple[str, list[Any], str]]:
        # Commit order is (coalesce(transaction_id, 0), global_position). coalesce() would hide
        # the (transaction_id, global_position) index, so rows written before `esctl init` (NULL,
        # i.e. transaction 0, first in commit order) and later rows are queried as two slices.
        desc = " DESC" if descending else ""
        slices: list[tuple[str, list[Any], str]] = []
        if after is None or after[0] == 0:
            where = ["transaction_id IS NULL"]
            params: list[Any] = []
            if after is not None:
                where.append("global_position > %s")
                params.append(after[1])
            if upto is not None and upto[0] == 0:
                where.append("global_position <= %s")
                params.append(upto[1])
            slices.append((" AND ".join(where), params, f"global_position{desc}"))
        if upto is None or upto[0] > 0:
            where = ["transaction_id IS NOT NULL"]
            params = []
            if after is not None and after[0] > 0:
                where.append("(transaction_id, global_position) > (CAST(%s AS xid8), %s)")
                params += [str(after[0]), after[1]]
            if upto is not None and upto[0] > 0:
                where.append("(transaction_id, global_position) <= (CAST(%s AS xid8), %s)")
                params += [str(upto[0]), upto[1]]
            slices.append(
                (" AND ".join(where), params, f"transaction_id{desc}, global_position{desc}")
            )
        return slices[::-1] if descending else slices

    def transaction_id_sql(self, value: int | None) -> tuple[str, Any]:
        return "CAST(%s AS xid8)", str(value) if value else None

    # --- bench primitives (issue 7) -------------------------------------------------------------

    CEILING_TABLE = "events_raw_copy"

    def _ceiling_sql(self, query: str) -> sql.Composed:
        return sql.SQL(query).format(
            ceiling=sql.Identifier(self.settings.schema, self.CEILING_TABLE),
            **self.identifiers,  # type: ignore[arg-type]
        )

    def create_ceiling_table(self) -> bool:
        # LIKE … INCLUDING ALL copies columns, defaults (the same position sequence, the
        # transaction id), constraints and indexes; the statement-level NOTIFY trigger is added
        # so the ceiling pays for what `events` pays for.
        with self.writing() as session, translate_errors(self):
            conn = session.connection
            conn.execute(self._ceiling_sql("CREATE TABLE {ceiling} (LIKE {events} INCLUDING ALL)"))
            conn.execute(
                self._ceiling_sql(
                    "CREATE TRIGGER esctl_notify_events AFTER INSERT ON {ceiling} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {notify_function}()"
                )
            )
        return True

    def copy_into_ceiling(self, copy_text: str) -> int:
        query = self._ceiling_sql(
            "COPY {ceiling} (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version) FROM STDIN"
        )
        with (
            self.writing() as session,
            translate_errors(self),
            session.connection.cursor() as cursor,
        ):
            with cursor.copy(query) as copy:
                copy.write(copy_text)
            return int(cursor.rowcount)


JSON_CHUNK_BYTES = 1 << 16


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


_MARKS = frozenset(b"!\\")  # a row's first byte: `!` an odd row, `\\` a NULL (`\\N`)


def _odd_line(row: bytes, warn: Callable[[str], None] | None) -> bytes:
    """An odd row of the COPY fast path: warn (as `RecordedEvent.from_row` would), strip the mark."""
    from esctl.values import created_at_problem, odd_row_warning, stored_time, value_problems

    if row.startswith(b"\\N"):  # a NULL the SQL did not foresee: never a `\\N` line in an export
        raise EsctlError("the store returned an event esctl cannot render (a NULL column)")
    mark, _, line = row.partition(b"|")
    if warn is not None:
        event = json.loads(_unescape_copy(line))
        problems = value_problems(event["data"], event["metadata"])
        time_problem = created_at_problem(stored_time(event["created_at"]))
        if time_problem:
            problems.append(time_problem)
        message = odd_row_warning(int(mark[1:]), problems)
        if message:
            warn(message)
    return line


def _unescape_copy(data: bytes) -> bytes:
    """COPY's text format doubles backslashes; JSON text holds no raw control characters, so
    that is the only escape to undo."""
    return data.replace(b"\\\\", b"\\")
