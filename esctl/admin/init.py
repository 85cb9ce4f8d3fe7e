"""`esctl init`: create or upgrade esctl's schema, or (--dry-run) show the SQL it would run."""

from __future__ import annotations

from dataclasses import dataclass, field

from esctl.store.base import Store
from esctl.types import Migration


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
    before = store.admin.schema_version()
    pending = store.admin.pending_migrations()
    statements = [sql for m in pending for sql in store.admin.render_migration(m)]
    if not pending and before is not None:
        statements = store.admin.repairs()
    if dry_run:
        return InitResult(store.display_url, before, before, pending, statements, dry_run=True)
    if statements:  # name a missing privilege before changing anything
        store.admin.check_init_privileges(alters=True)
    repaired = store.admin.apply_migrations(pending)
    after = store.admin.schema_version()
    return InitResult(store.display_url, before, after, pending, statements, repaired=repaired)
