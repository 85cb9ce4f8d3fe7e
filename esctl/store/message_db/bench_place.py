"""A throwaway Message DB for `esctl bench` on a message-db store, and Message DB's own write path
as the baseline esctl append is compared with.

Message DB lives in the fixed schema `message_store` (its functions name it), so a second one
cannot sit beside the store's in the same database: the bench creates a new database on the same
server (`CREATE DATABASE esctl_bench_…`: the role needs CREATEDB) and copies into it the store's
own `message_store` objects, read from the catalog as the server prints them (`pg_get_functiondef`,
`pg_get_indexdef`, `pg_get_viewdef`, column types and defaults): the same version of
write_message, the same indexes, as the store runs. No message is copied, and nothing in the
store is changed. The database is dropped afterwards (`DROP DATABASE … WITH (FORCE)`).

`write_messages_raw` is what a plain client does (`SELECT message_store.write_message(…)` per
message, each a round trip as psql runs a script of them, no expected version, one transaction per
batch): the baseline esctl append is measured against."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from psycopg import sql

from esctl.errors import UsageError

if TYPE_CHECKING:
    from esctl.store.base import Store

SCHEMA = "message_store"
BENCH_DATABASE = re.compile(r"^esctl_bench_[0-9a-f]{12}$")

# Each query reads one kind of the schema's objects, with every name the server prints
# qualified (the session's search_path is pg_catalog only).
EXTENSIONS = "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname"
COMPOSITE_TYPES = (
    "SELECT t.typname AS name, string_agg(quote_ident(a.attname) || ' ' || "
    "format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS columns "
    "FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "WHERE t.typnamespace = CAST(%s AS regnamespace) AND c.relkind = 'c' "
    "GROUP BY t.typname ORDER BY t.typname"
)
SEQUENCES = (
    "SELECT c.relname AS name FROM pg_class c "
    "WHERE c.relnamespace = CAST(%s AS regnamespace) AND c.relkind = 'S' ORDER BY c.relname"
)
FUNCTIONS = (
    "SELECT pg_get_functiondef(p.oid) AS definition FROM pg_proc p "
    "WHERE p.pronamespace = CAST(%s AS regnamespace) AND p.prokind IN ('f', 'p') "
    "ORDER BY p.proname, p.oid"
)
TABLES = (
    "SELECT c.relname AS name, string_agg(quote_ident(a.attname) || ' ' || "
    "format_type(a.atttypid, a.atttypmod) || "
    "CASE WHEN d.adbin IS NULL THEN '' ELSE ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) END "
    "|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, ', ' ORDER BY a.attnum) AS columns "
    "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
    "AND NOT a.attisdropped LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum "
    "WHERE c.relnamespace = CAST(%s AS regnamespace) AND c.relkind = 'r' "
    "GROUP BY c.relname ORDER BY c.relname"
)
CONSTRAINTS = (
    "SELECT c.relname AS table_name, k.conname AS name, pg_get_constraintdef(k.oid) AS definition "
    "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
    "WHERE c.relnamespace = CAST(%s AS regnamespace) AND k.contype IN ('p', 'u', 'c') "
    "ORDER BY c.relname, k.conname"
)
INDEXES = (
    "SELECT pg_get_indexdef(i.indexrelid) AS definition FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = CAST(%s AS regnamespace) "
    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
    "ORDER BY 1"
)
VIEWS = (
    "SELECT c.relname AS name, pg_get_viewdef(c.oid) AS definition FROM pg_class c "
    "WHERE c.relnamespace = CAST(%s AS regnamespace) AND c.relkind = 'v' ORDER BY c.relname"
)


def _name(schema: str, name: str) -> str:
    return sql.Identifier(schema, name).as_string()


def message_store_ddl(store: Store) -> tuple[list[str], list[str]]:
    """The extensions, and the statements that recreate the store's `message_store` schema
    (types, sequences, functions, tables, constraints, indexes, views) without its rows."""
    with store.reading() as tx:
        tx.fetchval("SELECT set_config('search_path', 'pg_catalog', true)")
        extensions = [str(r["extname"]) for r in tx.fetchall(EXTENSIONS)]
        ddl = [sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)).as_string()]
        for row in tx.fetchall(COMPOSITE_TYPES, [SCHEMA]):
            ddl.append(f"CREATE TYPE {_name(SCHEMA, row['name'])} AS ({row['columns']})")
        for row in tx.fetchall(SEQUENCES, [SCHEMA]):
            ddl.append(f"CREATE SEQUENCE {_name(SCHEMA, row['name'])}")
        ddl += [str(r["definition"]) for r in tx.fetchall(FUNCTIONS, [SCHEMA])]
        for row in tx.fetchall(TABLES, [SCHEMA]):
            ddl.append(f"CREATE TABLE {_name(SCHEMA, row['name'])} ({row['columns']})")
        for row in tx.fetchall(CONSTRAINTS, [SCHEMA]):
            table, name = _name(SCHEMA, row["table_name"]), sql.Identifier(row["name"])
            ddl.append(f"ALTER TABLE {table} ADD CONSTRAINT {name.as_string()} {row['definition']}")
        ddl += [str(r["definition"]) for r in tx.fetchall(INDEXES, [SCHEMA])]
        for row in tx.fetchall(VIEWS, [SCHEMA]):
            ddl.append(f"CREATE VIEW {_name(SCHEMA, row['name'])} AS {row['definition']}")
    if len(ddl) == 1:
        raise UsageError("bench refused: the store has no message_store schema to copy")
    return extensions, ddl


def create_throwaway(source: Store) -> str:
    """A new database on the store's server holding a copy of its Message DB schema; its name."""
    extensions, ddl = message_store_ddl(source)
    name = f"esctl_bench_{uuid.uuid4().hex[:12]}"
    with source.connect(autocommit=True) as conn:  # type: ignore[attr-defined]
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except Exception as error:
            raise UsageError(
                f"bench refused: it runs in a throwaway Message DB database, and CREATE DATABASE "
                f"failed: {str(error).splitlines()[0]}",
                hint="run bench as a role with CREATEDB on the Message DB's server",
            ) from error
    try:
        with source.connect(autocommit=False, dbname=name) as conn:  # type: ignore[attr-defined]
            conn.execute("SET LOCAL check_function_bodies = off")
            for extension in extensions:
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
                )
            for statement in ddl:
                conn.execute(statement)  # type: ignore[arg-type]  # the server's own DDL
    except Exception as error:
        drop_throwaway(source, name)
        raise UsageError(
            "bench refused: copying the store's Message DB schema into a throwaway database "
            f"failed: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from error
    except BaseException:
        drop_throwaway(source, name)
        raise
    return name


def store_url(store_url: str, name: str) -> str:
    """The store's URL or conninfo, naming the database `name` instead (libpq keywords)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(store_url, dbname=name)


def drop_throwaway(source: Store, name: str) -> None:
    """Drop a bench's database (only one whose name the bench generated)."""
    if not BENCH_DATABASE.match(name):
        raise ValueError(f"not a bench database: {name!r}")
    with source.connect(autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def write_messages_raw(store: Store, events: Iterable[dict[str, Any]]) -> int:
    """Each event by `SELECT message_store.write_message(…)` with no expected version and a new
    id, one statement and round trip after another in one transaction, as psql runs a script of
    them; the messages written."""
    from esctl.store.message_db.writes import WRITE

    params = [
        [
            str(uuid.uuid4()),
            event["stream_id"],
            event["event_type"],
            json.dumps(event["data"]),
            json.dumps(event.get("metadata") or {}),
            None,
        ]
        for event in events
    ]
    with store.writing() as tx:
        tx.fetchval("SELECT set_config('search_path', 'message_store, public', true)")
        for values in params:
            tx.fetchval(WRITE, values)
    return len(params)
