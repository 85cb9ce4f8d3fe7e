"""SQLite schema admin for esctl's layout: migrations (derived from the layout's declaration),
inspection against it, the integrity check that tells a corrupt file from an incomplete schema,
and the file's facts for `doctor`."""

from __future__ import annotations

import sqlite3
from typing import Any

from esctl import __version__
from esctl.errors import StoreUnavailable
from esctl.store.base import Migration, NodeStatus, SchemaReport
from esctl.store.esctl_layout.tables import redundancy_notes, repair_statements
from esctl.store.sqlite_connection import SQLiteConnections, SQLiteSession
from esctl.store.sqlite_schema import EXPECTED_COLUMNS, EXPECTED_INDEXES, MIGRATIONS
from esctl.types import SCHEMA_VERSION

INTEGRITY_CHECK_BYTES = 256 * 1024 * 1024  # doctor's quick_check reads every page up to this


class SQLiteAdmin(SQLiteConnections):
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
        if pending or self.schema_version() != SCHEMA_VERSION:
            return []
        with self.writing() as session:  # SQLite's write lock: a second init waits, then finds all
            repairs = self._repairs(session)
            for _, statement in repairs:
                session.execute(statement)
        return [what for what, _ in repairs]

    def repairs(self) -> list[str]:
        with self.reading() as session:
            return [SQLiteSession.sql(statement) for _, statement in self._repairs(session)]

    def _repairs(self, session: SQLiteSession) -> list[tuple[str, str]]:
        """Tables and indexes a current schema misses (dropped by hand), to make again."""
        rows = session.fetchall("SELECT name FROM sqlite_master WHERE type = 'index'")
        return repair_statements("sqlite", self._table_names(session), {r["name"] for r in rows})

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
            report.notes += redundancy_notes(indexes, lambda name: f"DROP INDEX {name}")
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


def _record_version_sql(migration: Migration) -> str:
    """The version record as `init --dry-run` prints it (it runs with bound parameters)."""
    values = ", ".join([str(migration.version), _quote(migration.description), _quote(__version__)])
    return f"INSERT INTO esctl_schema (version, description, esctl_version) VALUES ({values})"  # noqa: S608 - display only


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
