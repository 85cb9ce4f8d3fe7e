"""`esctl init --protect | --unprotect`: turn the protection of `events` on or off, audited in
the same transaction; `doctor` reports it (`is_protected`)."""

from __future__ import annotations

from esctl.errors import UsageError
from esctl.lifecycle.audit import Actor, record
from esctl.store.base import Store
from esctl.store.lifecycle import protection, protection_sql


def is_protected(store: Store) -> bool | None:
    """Whether protection is on; None when the layout has none."""
    with store.reading() as tx:
        guard = protection(tx)
        return None if guard is None else guard.is_on()


def set_protection(store: Store, on: bool, *, actor: Actor | None = None) -> bool:
    """Turn protection on or off; whether anything changed (an audit row is written then)."""
    with store.writing() as tx:
        guard = protection(tx)
        if guard is None:
            raise UsageError(
                f"init --{'protect' if on else 'unprotect'} refused: only esctl's own layout "
                "has the protection triggers"
            )
        if guard.is_on() == on:
            return False
        operation = "init --protect" if on else "init --unprotect"
        record(tx, actor, operation, "events", {"protected": on})
        guard.set(on)
        return True


def protection_plan(store: Store, on: bool) -> list[str]:
    """The SQL `init --protect` (`on`) or `--unprotect` would run, changing nothing: [] when
    protection is already so; exit 2 for a layout without protection."""
    current = is_protected(store) if store.admin.schema_version() else False
    sql = protection_sql(store, on)
    if sql is None:
        raise UsageError(
            f"init --{'protect' if on else 'unprotect'} refused: only esctl's own layout "
            "has the protection triggers"
        )
    return [] if current == on else sql
