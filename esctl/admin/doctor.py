"""`esctl doctor`: the health of a store, its schema compared with what esctl expects, and each
configured node's role and lag."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from esctl.errors import ConfigError, EsctlError, StoreUnavailable
from esctl.store.base import Store
from esctl.types import SCHEMA_VERSION


@dataclass
class DoctorReport:
    """The health of a store, for `doctor` (as a table or JSON)."""

    store: str
    backend: str
    layout: str = "esctl"  # the layout the store holds (`layout:` or detected)
    layout_reason: str = ""  # why that layout (configured, or what detection found)
    connected: bool = False
    error: str | None = None
    error_exit: int | None = None  # the exit code of the error that stopped the checks
    checked: bool = False  # the schema was inspected to the end
    server_version: str | None = None
    schema_version: int | None = None
    expected_schema_version: int = SCHEMA_VERSION
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read_only_profile: bool = False
    nodes: list[dict[str, Any]] = field(default_factory=list)
    schema: str | None = None  # PostgreSQL: the schema checked
    role: str | None = None  # PostgreSQL: the role connected as
    database: str | None = None
    path: str | None = None  # SQLite: the file's absolute path
    sizes: list[dict[str, Any]] = field(default_factory=list)
    # PostgreSQL: the GIN indexes on event_data/metadata that serve `--where` equality.
    json_indexes: list[dict[str, Any]] = field(default_factory=list)
    protected: bool | None = None  # `init --protect`'s triggers on events (None: not esctl's)
    pooler: str | None = None  # a transaction pooler in front: "pgbouncer" (configured), "detected"

    @property
    def schema_ok(self) -> bool:
        return (
            self.checked
            and self.schema_version == self.expected_schema_version
            and not self.missing
        )

    @property
    def ok(self) -> bool:
        return self.connected and self.schema_ok and self.error is None

    @property
    def exit_code(self) -> int:
        """0 when healthy; 5 when the store cannot be reached or read (a corrupt file, a
        timeout); the error's own code for another failure; 7 for a schema problem."""
        if self.ok:
            return 0
        if not self.connected:
            return 5
        if self.error_exit is not None:
            return self.error_exit
        return 7

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "backend": self.backend,
            "layout": self.layout,
            "layout_reason": self.layout_reason,
            "connected": self.connected,
            "error": self.error,
            "server_version": self.server_version,
            "schema": self.schema,
            "role": self.role,
            "database": self.database,
            "path": self.path,
            "schema_checked": self.checked,
            "protected": self.protected,
            "pooler": self.pooler,
            "schema_version": self.schema_version,
            "expected_schema_version": self.expected_schema_version,
            "missing": self.missing,
            "extra": self.extra,
            "sizes": self.sizes,
            "json_indexes": self.json_indexes,
            "read_only_profile": self.read_only_profile,
            "notes": self.notes,
            "nodes": self.nodes,
            "ok": self.ok,
        }


def describe_nodes(store: Store, read_store: Store | None) -> list[dict[str, Any]]:
    """Each configured node's role, version and (for the read store) replication lag."""
    primary = store.admin.node_status()
    nodes = [{"name": "store", **asdict(primary)}]
    if read_store is not None:
        replica = read_store.admin.node_status(primary_lsn=primary.wal_lsn)
        nodes.append({"name": "read_store", **asdict(replica)})
    return nodes


def diagnose(store: Store, read_store: Store | None = None) -> DoctorReport:
    """Connect, and compare the store's schema with what esctl expects. Never raises for a
    store problem: the report says what is wrong, and a check that could not run (a corrupt
    SQLite file, a timeout, a missing privilege) is a failure, never "ok". With a
    `read_store`, also report each node's role and the replica's lag."""
    report = DoctorReport(
        store=store.display_url,
        backend=store.backend,
        read_only_profile=store.settings.read_only,
        schema=getattr(store.layout, "schema", store.settings.schema)
        if store.backend == "postgresql"
        else None,
        layout=store.layout.name,
        layout_reason=store.layout_reason,
    )
    try:
        report.server_version = store.admin.server_version()
        report.connected = True
        found = store.admin.inspect()
    except ConfigError:
        raise  # a bad URL is a usage error (exit 2), not a finding about the store
    except StoreUnavailable as error:
        # Unreachable, timed out, or (SQLite) not a database / corrupt: the store cannot be used.
        report.connected = False
        report.error = error.message
        return report
    except EsctlError as error:
        report.connected = report.server_version is not None
        report.error = error.message
        report.error_exit = error.exit_code
        return report
    report.checked = True
    report.schema_version = found.schema_version
    report.expected_schema_version = found.expected_version
    report.missing = found.missing
    report.extra = found.extra
    try:
        facts = store.admin.doctor_facts()
    except EsctlError as error:
        found.notes.append(f"sizes: {error.message}")
    else:
        report.role = facts.get("role")
        report.database = facts.get("database")
        report.path = facts.get("path")
        report.sizes = list(facts.get("sizes", []))
        report.json_indexes = list(facts.get("json_indexes", []))
    try:
        report.nodes = describe_nodes(store, read_store)
    except EsctlError as error:
        report.notes.append(f"read_store: {error.message}")
        report.error = error.message
        report.error_exit = error.exit_code
        report.connected = read_store is None
    if store.layout.name == "esctl" and found.schema_version is not None:
        from esctl.lifecycle.protection import is_protected

        try:
            report.protected = is_protected(store)
        except EsctlError as error:
            found.notes.append(f"protection: {error.message}")
    report.pooler = store.pooler
    if store.pooler:
        report.notes.append(
            f"a transaction pooler is in front of the store ({store.pooler}): esctl uses no "
            "prepared statements, session settings or session locks; tail polls instead of LISTEN"
        )
    report.notes = [*found.notes, *report.notes]
    return report
