"""The schema admin port for Emmett (`@event-driven-io/emmett-postgresql` 0.42): what `doctor`
checks — the tables, columns, partitions and functions Emmett's schema migration creates
(`schema/tables.ts`, `appendToStream.ts`, `storeProcessorCheckpoint.ts`), and the migrations its
migration runner (dumbo) recorded in `dmb_migrations`. esctl never creates or alters Emmett's
schema: `init` is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esctl.errors import SchemaMissing, UsageError
from esctl.store.emmett.catalog import PARTITIONS_SQL, TABLES, relation_sizes
from esctl.types import Migration, NodeStatus, SchemaReport

if TYPE_CHECKING:
    from esctl.store.base import Session, Store

# Read by esctl: the messages and the processors' checkpoints.
REQUIRED = ("emt_messages", "emt_processors")
FUNCTIONS = (
    "emt_sanitize_name",
    "emt_add_table_partition",
    "emt_add_partition",
    "emt_append_to_stream",
    "store_processor_checkpoint",
)
INIT_REFUSED = "init refused: esctl never creates or alters an Emmett schema (emmett layout)"

COLUMNS_SQL = (
    "SELECT table_name, column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = %s AND table_name = ANY(%s)"
)
FUNCTIONS_SQL = (
    "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc p "
    "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s "
    "AND p.proname = ANY(%s)"
)


def catalog(session: Session, schema: str) -> dict[str, Any]:
    columns: dict[str, dict[str, str]] = {}
    for row in session.fetchall(COLUMNS_SQL, [schema, list(TABLES)]):
        columns.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    functions = {r["proname"] for r in session.fetchall(FUNCTIONS_SQL, [schema, list(FUNCTIONS)])}
    return {"columns": columns, "functions": functions}


def require_emmett(store: Store) -> None:
    """Exit 7 (one line) unless the schema holds Emmett's messages and processors tables."""
    schema = store.settings.schema
    with store.reading() as session:
        found = catalog(session, schema)["columns"]
    lacking = [f"table {schema}.{t}" for t in REQUIRED if t not in found]
    if lacking:
        raise SchemaMissing(
            f"store {store.display_url} is not an Emmett store: missing {', '.join(lacking)}",
            hint="Emmett's event store creates its schema on first use (schema.autoMigration); "
            "`esctl doctor` lists what is missing",
        )


class EmmettAdmin:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.schema = store.settings.schema

    def server_version(self) -> str:
        return self.store.server_version()

    def schema_version(self) -> int | None:
        return None

    def migrations(self) -> list[Migration]:
        return []

    def pending_migrations(self) -> list[Migration]:
        raise UsageError(INIT_REFUSED)

    def render_migration(self, migration: Migration) -> list[str]:
        raise UsageError(INIT_REFUSED)

    def repairs(self) -> list[str]:
        return []

    def check_init_privileges(self, *, alters: bool) -> None:
        raise UsageError(INIT_REFUSED)

    def apply_migrations(self, pending: list[Migration]) -> list[str]:
        raise UsageError(INIT_REFUSED)

    def _emmett_migrations(self, session: Session) -> list[str]:
        present = session.fetchval(
            "SELECT to_regclass(CAST(%s AS text)) IS NOT NULL", [f'"{self.schema}".dmb_migrations']
        )
        if not present:
            return []
        rows = session.fetchall(
            "SELECT name FROM {schema}.dmb_migrations WHERE name LIKE 'emt:%%' ORDER BY id"
        )
        return [str(r["name"]) for r in rows]

    def _processors(self, session: Session, found: dict[str, Any]) -> list[str]:
        """Each processor row by its checkpoint name, with Emmett's own status of it."""
        from esctl.store.emmett.processors import PROCESSORS, checkpoint_name

        if set(TABLES["emt_processors"]) - set(found["columns"].get("emt_processors", {})):
            return []
        return [f"{checkpoint_name(r)} ({r['status']})" for r in session.fetchall(PROCESSORS)]

    def inspect(self) -> SchemaReport:
        with self.store.reading() as session:
            found = catalog(session, self.schema)
            partitions = session.fetchall(PARTITIONS_SQL, [self.schema, list(TABLES)])
            applied = self._emmett_migrations(session)
            processors = self._processors(session, found)
        report = SchemaReport(schema_version=0, expected_version=0)
        for table, columns in TABLES.items():
            have = found["columns"].get(table)
            if have is None:
                report.missing.append(f"table {self.schema}.{table}")
                continue
            report.missing += [f"column {table}.{c}" for c in columns if c not in have]
            report.extra += [f"column {table}.{c}" for c in have if c not in columns]
        if found["columns"].get("emt_messages", {}).get("transaction_id") not in (None, "xid8"):
            report.missing.append("column emt_messages.transaction_id as xid8")
        report.missing += [
            f"function {self.schema}.{f}" for f in FUNCTIONS if f not in found["functions"]
        ]
        for row in partitions:
            kind = "list-partitioned" if row["partitioned"] else "not partitioned"
            leaves = [leaf for leaf in row["leaves"] or [] if leaf != row["table"]]
            report.notes.append(
                f"{row['table']}: {kind}" + (f" ({', '.join(leaves)})" if leaves else "")
            )
        report.notes.append(
            "Emmett migrations applied (dmb_migrations): " + (", ".join(applied) or "none found")
        )
        if processors:
            report.notes.append("Emmett processors (status): " + ", ".join(processors))
        report.notes += [
            "versions are Emmett stream positions (a stream's first message is 1); archived "
            "messages are hidden unless --include-archived",
            "tail reads Emmett's order: (transaction_id, global_position) below "
            "pg_snapshot_xmin(pg_current_snapshot())",
            "append goes through Emmett's emt_append_to_stream (partition emt:default); "
            "checkpoint moves and snapshots are refused",
        ]
        return report

    def doctor_facts(self) -> dict[str, Any]:
        from esctl.store.postgres_facts import doctor_facts

        with self.store.reading() as session:
            facts = doctor_facts(session, self.schema)
            sizes = [
                {
                    "table": r["table"],
                    "rows_estimate": r["rows_estimate"],
                    "bytes": r["total_bytes"],
                }
                for r in relation_sizes(session, self.schema)
            ]
        return {**facts, "sizes": sizes, "json_indexes": []}

    def node_status(self, primary_lsn: str | None = None) -> NodeStatus:
        return self.store.node_status(primary_lsn)

    def drop_schema(self) -> None:
        raise UsageError("esctl never drops an Emmett schema")
