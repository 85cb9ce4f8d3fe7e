"""`init --protect` on esctl's tables: triggers that refuse UPDATE and DELETE on `events` (and
TRUNCATE on PostgreSQL) except inside an audited lifecycle transaction (esctl_layout/audit.py
says how such a transaction is recognised on each engine). Plain INSERTs are never affected:
the seed's applications keep appending as before.

A plain client can still drop the triggers (`init --unprotect` does, audited): protection guards
against accidents and scripts gone wrong, not against the store's owner."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from esctl.store.base import Session

TRIGGER = "esctl_protect_events"
REFUSAL = (
    "esctl: events are protected (esctl init --protect): UPDATE, DELETE and TRUNCATE are "
    "refused outside an audited esctl lifecycle command (esctl streams delete; "
    "esctl init --unprotect removes the protection)"
)

POSTGRES_INSTALL = [
    # The body names no identifier (a schema named `x$$y` must not end the dollar quote): the
    # audit table is found beside the events table (TG_TABLE_SCHEMA), quoted by quote_ident.
    """CREATE OR REPLACE FUNCTION {protect_function}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    audit_id text := current_setting('esctl.lifecycle', true);
    found boolean := false;
BEGIN
    -- Only a transaction that wrote (or updated) its own audit row first may change events.
    IF audit_id ~ '^[0-9]+$' AND length(audit_id) <= 18 THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM ' || quote_ident(TG_TABLE_SCHEMA)
            || '.esctl_audit WHERE id = $1 AND xmin = pg_current_xact_id()::xid)'
            INTO found USING audit_id::bigint;
    END IF;
    IF NOT found THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = '@REFUSAL@';
    END IF;
    RETURN NULL;
END
$$""".replace("@REFUSAL@", REFUSAL),
    f"DROP TRIGGER IF EXISTS {TRIGGER} ON {{events}}",
    f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE OR TRUNCATE ON {{events}} "
    "FOR EACH STATEMENT EXECUTE FUNCTION {protect_function}()",
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS {TRIGGER} ON {{events}}",
    "DROP FUNCTION IF EXISTS {protect_function}()",
]


_SQLITE_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS @NAME@ BEFORE @OPERATION@ ON events "
    "WHEN esctl_lifecycle() IS NULL OR NOT EXISTS "
    "(SELECT 1 FROM esctl_audit WHERE id = esctl_lifecycle()) "
    "BEGIN SELECT RAISE(ABORT, '@REFUSAL@'); END"
)


def _sqlite_trigger(operation: str) -> str:
    # esctl_lifecycle() exists on esctl's connections only: elsewhere the trigger fails on it,
    # which refuses the change as well.
    return (
        _SQLITE_TRIGGER.replace("@NAME@", f"{TRIGGER}_{operation.lower()}")
        .replace("@OPERATION@", operation)
        .replace("@REFUSAL@", REFUSAL)
    )


SQLITE_INSTALL = [_sqlite_trigger("DELETE"), _sqlite_trigger("UPDATE")]
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {TRIGGER}_{op}" for op in ("delete", "update")]


def statements(backend: str, on: bool) -> list[str]:
    """The statements (templates) that install (`on`) or remove the protection on `backend`."""
    if backend == "postgresql":
        return POSTGRES_INSTALL if on else POSTGRES_REMOVE
    return SQLITE_INSTALL if on else SQLITE_REMOVE


class EsctlProtection:
    def __init__(self, session: Session, schema: str) -> None:
        self.session = session
        self.schema = schema

    def is_on(self) -> bool:
        if self.session.backend == "postgresql":
            found = self.session.fetchval(
                "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = 'events' AND t.tgname = %s",
                [self.schema, TRIGGER],
            )
        else:
            found = self.session.fetchval(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = %s",
                [f"{TRIGGER}_delete"],
            )
        return bool(found)

    def set(self, on: bool) -> None:
        for statement in statements(self.session.backend, on):
            self.session.execute(statement)
