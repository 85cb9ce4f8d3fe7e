"""The schema admin port (esctl.ports.SchemaAdmin) for esctl's layout: what `init` and `doctor`
ask of a store. The DDL is derived from the layout's declaration (`tables.py`); applying it,
inspecting a live schema and the server's facts are the engine's (catalogs differ)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esctl.errors import EsctlError
from esctl.types import Migration, NodeStatus, SchemaReport

if TYPE_CHECKING:
    from esctl.store.base import Store


class EsctlSchemaAdmin:
    def __init__(self, store: Store) -> None:
        self.store = store

    def server_version(self) -> str:
        return self.store.server_version()

    def schema_version(self) -> int | None:
        return self.store.schema_version()

    def migrations(self) -> list[Migration]:
        return self.store.migrations()

    def pending_migrations(self) -> list[Migration]:
        return self.store.pending_migrations()

    def render_migration(self, migration: Migration) -> list[str]:
        return self.store.render_migration(migration)

    def repairs(self) -> list[str]:
        return self.store.repairs()

    def check_init_privileges(self, *, alters: bool) -> None:
        self.store.check_init_privileges(alters=alters)

    def apply_migrations(self, pending: list[Migration]) -> list[str]:
        return self.store.apply_migrations(pending)

    def inspect(self) -> SchemaReport:
        return self.store.inspect_schema()

    def doctor_facts(self) -> dict[str, Any]:
        return self.store.doctor_facts()

    def node_status(self, primary_lsn: str | None = None) -> NodeStatus:
        return self.store.node_status(primary_lsn)

    def drop_schema(self) -> None:
        """Drop the store's PostgreSQL schema with everything in it (bench's throwaway schemas)."""
        if self.store.backend != "postgresql":
            raise EsctlError("only a PostgreSQL store has a schema to drop")
        with self.store.writing() as session:
            session.execute("DROP SCHEMA IF EXISTS {schema} CASCADE")
