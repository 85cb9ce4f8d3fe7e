"""What `esctl init` needs the connecting PostgreSQL role to hold, checked before it changes
anything, so a missing privilege is named ("role app lacks CREATE on schema public") instead of
surfacing as a bare "permission denied" halfway through a migration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from esctl.errors import PermissionDenied

STORE_TABLES = ("events", "snapshots", "subscription_checkpoints", "esctl_schema")

_SCHEMA_QUERY = (
    "SELECT current_user AS role, current_database() AS db, n.oid IS NOT NULL AS schema_exists, "
    "has_database_privilege(current_database(), 'CREATE') AS db_create, "
    "n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'CREATE') AS schema_create, "
    "n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'USAGE') AS schema_usage "
    "FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = %s"
)
_TABLES_QUERY = (
    "SELECT c.relname, pg_catalog.pg_get_userbyid(c.relowner) AS owner, "
    "pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owns "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)"
)


def check_init_privileges(session: Any, schema: str, *, alters: bool) -> None:
    """Raise PermissionDenied (exit 1) naming the role and the privilege `init` lacks.

    `alters`: whether init will change existing tables (ALTER TABLE, CREATE INDEX/TRIGGER), which
    PostgreSQL allows only to the owner."""
    facts = session.fetchone(_SCHEMA_QUERY, [schema])
    role, db = facts["role"], facts["db"]
    hint = "grant it, or run `esctl init` as the role that owns the store (e.g. its admin role)"
    if not facts["schema_exists"]:
        if not facts["db_create"]:
            raise PermissionDenied(
                f"role {role} lacks CREATE on database {db} (needed to create schema {schema})",
                hint=f"GRANT CREATE ON DATABASE {_q(db)} TO {_q(role)}, or create the schema "
                "first and grant CREATE on it; " + hint,
            )
        return
    if not facts["schema_usage"]:
        raise PermissionDenied(
            f"role {role} lacks USAGE on schema {schema}",
            hint=f"GRANT USAGE ON SCHEMA {_q(schema)} TO {_q(role)}; " + hint,
        )
    tables: Sequence[dict[str, Any]] = session.fetchall(_TABLES_QUERY, [schema, list(STORE_TABLES)])
    present = {t["relname"] for t in tables}
    if set(STORE_TABLES) - present and not facts["schema_create"]:
        raise PermissionDenied(
            f"role {role} lacks CREATE on schema {schema} (needed to create its tables)",
            hint=f"GRANT CREATE ON SCHEMA {_q(schema)} TO {_q(role)}; " + hint,
        )
    if alters:
        for table in tables:
            if not table["owns"]:
                raise PermissionDenied(
                    f"role {role} does not own table {schema}.{table['relname']} (owner: "
                    f"{table['owner']}); upgrading it needs the owner",
                    hint=f"run `esctl init` as {table['owner']}, or GRANT {_q(table['owner'])} "
                    f"TO {_q(role)}",
                )


def _q(name: str) -> str:
    """An identifier quoted for a hint the user may paste into psql."""
    return '"' + name.replace('"', '""') + '"'
