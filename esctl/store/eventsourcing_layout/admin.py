"""The schema admin port (esctl.ports.SchemaAdmin) for the `eventsourcing` layout: what `doctor`
asks. esctl never creates or alters the library's tables: `init` is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esctl.errors import UsageError
from esctl.types import Migration, NodeStatus, SchemaReport

if TYPE_CHECKING:
    from esctl.store.base import Store
    from esctl.store.eventsourcing_layout import EventsourcingLayout


def _refused() -> UsageError:
    return UsageError(
        "init refused: esctl never creates or alters the eventsourcing library's tables",
        hint="the application's recorder creates them (CREATE_TABLE)",
    )


class EventsourcingAdmin:
    def __init__(self, store: Store, layout: EventsourcingLayout) -> None:
        self.store = store
        self.layout = layout

    def server_version(self) -> str:
        return self.store.server_version()

    def schema_version(self) -> int | None:
        return None

    def migrations(self) -> list[Migration]:
        return []

    def pending_migrations(self) -> list[Migration]:
        raise _refused()

    def render_migration(self, migration: Migration) -> list[str]:
        raise _refused()

    def repairs(self) -> list[str]:
        return []

    def check_init_privileges(self, *, alters: bool) -> None:
        raise _refused()

    def apply_migrations(self, pending: list[Migration]) -> list[str]:
        raise _refused()

    def inspect(self) -> SchemaReport:
        tables = self.layout.tables
        notes = [
            f"eventsourcing events table: {tables.events} ({tables.reason})",
            "stored-events tables in the schema: " + ", ".join(tables.all_events),
            "tracking tables: " + (", ".join(tables.tracking) or "none"),
            "notification order is commit order: the library's recorder inserts under "
            "LOCK TABLE … IN EXCLUSIVE MODE, held to commit",
            "read-only for esctl: append, snapshots rebuild and checkpoint moves are refused",
        ]
        with self.store.reading() as session:
            locks = session.fetchval(
                "SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON "
                "n.oid = p.pronamespace WHERE n.nspname = %s AND left(p.proname, 16) = 'es_insert_events'",
                [tables.schema],
            )
        if locks:
            notes.append(
                "the library's insert function (es_insert_events_*) is in the schema: writers "
                "with POSTGRES_ENABLE_DB_FUNCTIONS insert through it without the table lock, and "
                "notification order may then differ from commit order"
            )
        return SchemaReport(schema_version=0, expected_version=0, notes=notes)

    def doctor_facts(self) -> dict[str, Any]:
        facts = dict(self.store.doctor_facts())
        facts["sizes"] = []
        facts["json_indexes"] = []
        return facts

    def node_status(self, primary_lsn: str | None = None) -> NodeStatus:
        return self.store.node_status(primary_lsn)

    def drop_schema(self) -> None:
        raise UsageError("esctl never drops the eventsourcing library's schema")
