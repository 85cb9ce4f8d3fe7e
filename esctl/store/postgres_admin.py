"""PostgreSQL schema admin for esctl's layout: applying migrations under an advisory lock, the
indexes built CONCURRENTLY outside transactions (and rebuilt when an interrupted build left them
invalid), inspecting the catalog against the layout's declaration, and the node's status."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from psycopg import sql

from esctl import __version__
from esctl.store.base import Migration, NodeStatus, Row, SchemaReport
from esctl.store.esctl_layout.tables import redundancy_notes, repair_statements
from esctl.store.postgres_connection import PostgresConnections, PostgresSession
from esctl.store.postgres_errors import LOCK_TIMEOUT, translate_errors
from esctl.store.postgres_schema import (
    CONCURRENT_INDEXES,
    EXPECTED_COLUMNS,
    EXPECTED_INDEXES,
    MIGRATIONS,
)
from esctl.types import SCHEMA_VERSION

if TYPE_CHECKING:
    from psycopg import Connection


class PostgresAdmin(PostgresConnections):
    def check_init_privileges(self, *, alters: bool) -> None:
        from esctl.store.postgres_privileges import check_init_privileges

        with self.reading() as session:
            check_init_privileges(session, self.settings.schema, alters=alters)

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
                self._init_lock(session)  # a second `esctl init` waits, then skips what is done
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
        repaired = [] if pending else self._repair_tables()
        return repaired + [f"built index {name}" for name in self.ensure_concurrent_indexes()]

    def _init_lock(self, session: PostgresSession) -> None:
        """`init`'s lock on this schema, to the end of the transaction: two `esctl init` at once
        take turns (each waits at most LOCK_TIMEOUT for the tables it alters)."""
        session.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        session.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"esctl init {self.settings.schema}"]
        )

    def _repair_tables(self) -> list[str]:
        """Make again the tables and plain indexes a current schema misses (dropped by hand)."""
        if self.schema_version() != SCHEMA_VERSION:
            return []
        with self.writing() as session:
            self._init_lock(session)
            repairs = self._repairs(session)
            for _, statement in repairs:
                session.execute(statement)
        return [what for what, _ in repairs]

    def _repairs(self, session: PostgresSession) -> list[tuple[str, str]]:
        rows = session.fetchall(
            "SELECT c.relname, c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'i')",
            [self.settings.schema],
        )
        tables = {r["relname"] for r in rows if r["relkind"] != "i"}
        return repair_statements(
            "postgresql", tables, {r["relname"] for r in rows if r["relkind"] == "i"}
        )

    def repairs(self) -> list[str]:
        conn = self._connection()
        with self.reading() as session:
            statements = [self.compose(s).as_string(conn) for _, s in self._repairs(session)]
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
        # Through a transaction pooler a session lock would stay behind on a pooled server
        # session: there, wait until no other index build on `events` is in progress instead.
        pooled = self.pooler is not None
        with translate_errors(self):
            while not (self._no_other_build(conn) if pooled else self._try_lock(conn, lock_key[0])):
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
            if not pooled:
                with translate_errors(self):
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", lock_key)
        return built

    def _no_other_build(self, conn: Connection[Row]) -> bool:
        row = conn.execute(
            "SELECT count(*) AS n FROM pg_catalog.pg_stat_progress_create_index p "
            "JOIN pg_catalog.pg_class c ON c.oid = p.relid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = 'events' AND p.pid <> pg_backend_pid()",
            [self.settings.schema],
        ).fetchone()
        return not (row and row["n"])

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
            qualified = '"' + schema.replace('"', '""') + '".'
            report.notes += redundancy_notes(
                indexes, lambda name: f"DROP INDEX CONCURRENTLY {qualified}{name}"
            )
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
