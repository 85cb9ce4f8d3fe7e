"""Schema set-up and health: what `esctl init` and `esctl doctor` do."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from esctl.errors import ConfigError, EsctlError, StoreUnavailable
from esctl.store.base import SCHEMA_VERSION, Migration, Store


@dataclass
class InitResult:
    """What `init` did (or, with --dry-run, would do)."""

    store: str
    version_before: int | None
    version_after: int | None
    applied: list[Migration]
    statements: list[str] = field(default_factory=list)
    dry_run: bool = False
    repaired: list[str] = field(default_factory=list)


def init_store(store: Store, *, dry_run: bool = False) -> InitResult:
    """Create or upgrade the schema to the current version; a no-op when it is current."""
    before = store.schema_version()
    pending = store.pending_migrations()
    statements = [sql for m in pending for sql in store.render_migration(m)]
    if not pending and before is not None:
        statements = store.repairs()
    if dry_run:
        return InitResult(store.display_url, before, before, pending, statements, dry_run=True)
    if statements:  # name a missing privilege before changing anything
        store.check_init_privileges(alters=True)
    repaired = store.apply_migrations(pending)
    after = store.schema_version()
    return InitResult(store.display_url, before, after, pending, statements, repaired=repaired)


@dataclass
class DoctorReport:
    """The health of a store, for `doctor` (as a table or JSON)."""

    store: str
    backend: str
    connected: bool = False
    error: str | None = None
    server_version: str | None = None
    schema_version: int | None = None
    expected_schema_version: int = SCHEMA_VERSION
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read_only_profile: bool = False
    nodes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def schema_ok(self) -> bool:
        return self.schema_version == self.expected_schema_version and not self.missing

    @property
    def ok(self) -> bool:
        return self.connected and self.schema_ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "backend": self.backend,
            "connected": self.connected,
            "error": self.error,
            "server_version": self.server_version,
            "schema_version": self.schema_version,
            "expected_schema_version": self.expected_schema_version,
            "missing": self.missing,
            "extra": self.extra,
            "read_only_profile": self.read_only_profile,
            "notes": self.notes,
            "nodes": self.nodes,
            "ok": self.ok,
        }


def describe_nodes(store: Store, read_store: Store | None) -> list[dict[str, Any]]:
    """Each configured node's role, version and (for the read store) replication lag."""
    primary = store.node_status()
    nodes = [{"name": "store", **asdict(primary)}]
    if read_store is not None:
        replica = read_store.node_status(primary_lsn=primary.wal_lsn)
        nodes.append({"name": "read_store", **asdict(replica)})
    return nodes


def diagnose(store: Store, read_store: Store | None = None) -> DoctorReport:
    """Connect, and compare the store's schema with what esctl expects. Never raises for a
    store problem: the report says what is wrong. With a `read_store`, also report each node's
    role and the replica's lag."""
    report = DoctorReport(
        store=store.display_url,
        backend=store.backend,
        read_only_profile=store.settings.read_only,
    )
    try:
        report.server_version = store.server_version()
        report.connected = True
        found = store.inspect_schema()
    except ConfigError:
        raise  # a bad URL is a usage error (exit 2), not a finding about the store
    except StoreUnavailable as error:
        report.error = error.message
        return report
    except EsctlError as error:
        report.connected = report.server_version is not None
        report.error = error.message
        return report
    try:
        report.nodes = describe_nodes(store, read_store)
    except EsctlError as error:
        report.notes.append(f"read_store: {error.message}")
        report.error = error.message
        report.connected = read_store is None
    report.schema_version = found.schema_version
    report.missing = found.missing
    report.extra = found.extra
    report.notes = [*found.notes, *report.notes]
    return report
