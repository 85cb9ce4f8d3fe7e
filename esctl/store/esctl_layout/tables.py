"""esctl's table layout, declared once: every table, column and index, with its type on each engine
and the migration that adds it. The DDL of both engines (`migrations`) and what `doctor` expects
to find (`expected_columns`, `expected_indexes`) are derived from this declaration, so a column
added here is created by `init` and checked by `doctor` on both engines.

Statements are templates (`{events}`, `{schema}`, … filled in by the engine's session). SQLite's
DDL names its tables bare (`events`), as `init --dry-run` has always printed it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from esctl.errors import SchemaMissing
from esctl.types import SCHEMA_VERSION, Migration

Engine = Literal["postgresql", "sqlite"]

# SQLite's `now`: the one text form of a time there (UTC, milliseconds, `Z`).
SQLITE_NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"


@dataclass(frozen=True)
class Column:
    """One column: its DDL (type, constraints, default) on each engine, and the migration that
    adds it on each (0: never on that engine)."""

    name: str
    postgres: str
    sqlite: str
    since: int = 1
    sqlite_since: int | None = None  # when SQLite's migration differs from PostgreSQL's
    # PostgreSQL statements that follow its ADD COLUMN (a default set apart, so adding the column
    # stays a catalog-only change on a large table).
    postgres_then: tuple[str, ...] = ()

    def ddl(self, engine: Engine) -> str:
        return f"{self.name} {self.postgres if engine == 'postgresql' else self.sqlite}"

    def added_in(self, engine: Engine) -> int:
        if engine == "sqlite" and self.sqlite_since is not None:
            return self.sqlite_since
        return self.since


@dataclass(frozen=True)
class Index:
    """A plain index built inside a migration's transaction."""

    name: str
    columns: str
    sqlite: bool = True  # SQLite's rowid serves global_position without one


@dataclass(frozen=True)
class Table:
    """One table: its name in the store, its placeholder in SQL templates, its columns (in
    PostgreSQL's order; `sqlite_order` when SQLite's differs) and table constraints."""

    name: str
    key: str
    columns: tuple[Column, ...]
    constraints: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()
    since: int = 1
    sqlite_order: tuple[str, ...] = ()

    def columns_of(self, engine: Engine) -> list[Column]:
        """The columns in the order of the engine's CREATE TABLE."""
        if engine == "sqlite" and self.sqlite_order:
            by_name = {c.name: c for c in self.columns}
            return [by_name[name] for name in self.sqlite_order]
        return list(self.columns)

    def reference(self, engine: Engine) -> str:
        """How DDL names the table: the `{key}` placeholder, or SQLite's bare name."""
        return "{" + self.key + "}" if engine == "postgresql" else self.name


def _name(name: str) -> Column:
    return Column(name, "VARCHAR(255) NOT NULL", "TEXT NOT NULL")


def _json(name: str) -> Column:
    return Column(name, "JSONB NOT NULL", "TEXT NOT NULL")


def _created(name: str, *, not_null: bool = False) -> Column:
    if not_null:
        return Column(
            name, "TIMESTAMPTZ NOT NULL DEFAULT now()", f"TEXT NOT NULL DEFAULT {SQLITE_NOW}"
        )
    return Column(name, "TIMESTAMPTZ DEFAULT NOW()", f"TEXT DEFAULT {SQLITE_NOW}")


EVENTS = Table(
    "events",
    "events",
    (
        Column("id", "UUID PRIMARY KEY DEFAULT gen_random_uuid()", "TEXT NOT NULL UNIQUE"),
        _name("stream_id"),
        _name("stream_type"),
        _name("event_type"),
        _json("event_data"),
        Column("metadata", "JSONB DEFAULT '{{}}'", "TEXT DEFAULT '{{}}'"),
        Column("version", "BIGINT NOT NULL", "INTEGER NOT NULL"),
        Column("global_position", "BIGSERIAL", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        Column("created_at", "TIMESTAMPTZ DEFAULT NOW()", f"TEXT NOT NULL DEFAULT {SQLITE_NOW}"),
        # The committing transaction (xid8): the commit-order cursor of `tail` and checkpoints.
        Column(
            "transaction_id",
            "xid8",
            "INTEGER",
            since=2,
            sqlite_since=1,
            postgres_then=(
                "ALTER TABLE {events} ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id()",
            ),
        ),
    ),
    # The constraint's unique index serves every lookup by stream and version.
    constraints=("CONSTRAINT unique_stream_version UNIQUE (stream_id, version)",),
    indexes=(
        Index("idx_events_global_position", "global_position", sqlite=False),
        Index("idx_events_event_type", "event_type"),
        Index("idx_events_created_at", "created_at"),
    ),
    sqlite_order=(
        "global_position",
        "id",
        "stream_id",
        "stream_type",
        "event_type",
        "event_data",
        "metadata",
        "version",
        "created_at",
        "transaction_id",
    ),
)
SNAPSHOTS = Table(
    "snapshots",
    "snapshots",
    (
        Column("stream_id", "VARCHAR(255) PRIMARY KEY", "TEXT PRIMARY KEY"),
        _name("stream_type"),
        _json("snapshot_data"),
        Column("version", "BIGINT NOT NULL", "INTEGER NOT NULL"),
        _created("created_at"),
    ),
)
CHECKPOINTS = Table(
    "subscription_checkpoints",
    "checkpoints",
    (
        Column("subscription_id", "VARCHAR(255) PRIMARY KEY", "TEXT PRIMARY KEY"),
        Column("last_position", "BIGINT NOT NULL DEFAULT 0", "INTEGER NOT NULL DEFAULT 0"),
        _created("updated_at"),
        Column("last_transaction_id", "xid8", "INTEGER", since=2),
    ),
)
ESCTL_SCHEMA = Table(
    "esctl_schema",
    "esctl_schema",
    (
        Column("version", "INTEGER PRIMARY KEY", "INTEGER PRIMARY KEY"),
        Column("description", "TEXT NOT NULL", "TEXT NOT NULL"),
        _created("applied_at", not_null=True),
        Column("esctl_version", "TEXT NOT NULL", "TEXT NOT NULL"),
    ),
)
# Who runs a `tail --checkpoint NAME` now (esctl/leases.py). A table of its own: the seed's
# subscription_checkpoints keeps its columns, and its subscriber's plain INSERT/UPDATE keeps working.
LEASES = Table(
    "esctl_leases",
    "leases",
    (
        Column("subscription_id", "VARCHAR(255) PRIMARY KEY", "TEXT PRIMARY KEY"),
        Column("holder_host", "TEXT NOT NULL", "TEXT NOT NULL"),
        Column("holder_pid", "BIGINT NOT NULL", "INTEGER NOT NULL"),
        Column("token", "TEXT NOT NULL", "TEXT NOT NULL"),
        Column("since", "TIMESTAMPTZ NOT NULL", "TEXT NOT NULL"),
        Column("expires_at", "TIMESTAMPTZ NOT NULL", "TEXT NOT NULL"),
    ),
    since=3,
)

# The last few positions esctl gave each checkpoint and when (`checkpoints list` sees a rewind in
# it). Written in the transaction of every esctl checkpoint write, pruned to HISTORY_KEEP rows per
# checkpoint; another program writing subscription_checkpoints directly leaves no history.
CHECKPOINT_HISTORY = Table(
    "esctl_checkpoint_history",
    "checkpoint_history",
    (
        Column(
            "seq",
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
        ),
        Column("subscription_id", "VARCHAR(255) NOT NULL", "TEXT NOT NULL"),
        Column("position", "BIGINT NOT NULL", "INTEGER NOT NULL"),
        Column("moved_at", "TIMESTAMPTZ NOT NULL", "TEXT NOT NULL"),
    ),
    indexes=(Index("idx_checkpoint_history_subscription", "subscription_id, seq"),),
    since=4,
)
HISTORY_KEEP = 10

# The audit trail (SPEC "Lifecycle"): one row per executed change esctl makes to events or
# checkpoints, written in the transaction of the change (esctl/store/lifecycle.py).
AUDIT = Table(
    "esctl_audit",
    "audit",
    (
        Column(
            "id",
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
        ),
        _created("at", not_null=True),
        Column("db_user", "TEXT DEFAULT current_user", "TEXT"),
        Column("os_user", "TEXT NOT NULL", "TEXT NOT NULL"),
        Column("host", "TEXT NOT NULL", "TEXT NOT NULL"),
        Column("command", "TEXT NOT NULL", "TEXT NOT NULL"),  # secrets redacted
        Column("operation", "TEXT NOT NULL", "TEXT NOT NULL"),
        Column("target", "TEXT NOT NULL", "TEXT NOT NULL"),
        _json("counts"),
        Column("manifest_sha256", "TEXT", "TEXT"),
    ),
    indexes=(Index("idx_esctl_audit_at", "at"),),
    since=5,
)
# Soft-deleted streams (`streams delete` without --hard): hidden from reads until undeleted.
TOMBSTONES = Table(
    "esctl_stream_tombstones",
    "tombstones",
    (
        Column("stream_id", "VARCHAR(255) PRIMARY KEY", "TEXT PRIMARY KEY"),
        _created("deleted_at", not_null=True),
        Column("version", "BIGINT NOT NULL", "INTEGER NOT NULL"),
        Column("audit_id", "BIGINT NOT NULL", "INTEGER NOT NULL"),
    ),
    since=5,
)

TABLES: tuple[Table, ...] = (
    EVENTS,
    SNAPSHOTS,
    CHECKPOINTS,
    ESCTL_SCHEMA,
    LEASES,
    CHECKPOINT_HISTORY,
    AUDIT,
    TOMBSTONES,
)

LEASE_COLUMNS = [c.name for c in LEASES.columns]


def placeholders() -> dict[str, str]:
    """Each table's `{key}` and its name in the store."""
    return {t.key: t.name for t in TABLES}


def expected_columns(engine: Engine) -> dict[str, list[str]]:
    """What `doctor` expects: each table's columns, in the engine's order."""
    return {t.name: [c.name for c in t.columns_of(engine)] for t in TABLES}


# Indexes the seed design creates that another one already is, to the same columns: doctor notes
# them (every insert pays for each). esctl no longer creates them, and drops none it finds.
REDUNDANT_INDEXES = {"idx_events_stream_id": "(stream_id, version)"}


def redundancy_notes(indexes: Iterable[str], drop: Callable[[str], str]) -> list[str]:
    """doctor's notes on the redundant indexes among `indexes`; `drop(name)` is the engine's
    statement that removes one."""
    present = set(indexes)
    return [
        f"index {name} duplicates the unique index on {of}; every insert pays for it: "
        f"`{drop(name)}` removes it"
        for name, of in REDUNDANT_INDEXES.items()
        if name in present
    ]


def expected_indexes(engine: Engine) -> list[str]:
    """The plain indexes `doctor` expects (PostgreSQL adds its unique and concurrent ones)."""
    return [i.name for t in TABLES for i in t.indexes if engine == "postgresql" or i.sqlite]


def create_table(table: Table, engine: Engine, *, version: int) -> str:
    """The CREATE TABLE of `table` with the columns it has at migration `version`."""
    lines = [c.ddl(engine) for c in table.columns_of(engine) if c.added_in(engine) <= version]
    lines += table.constraints
    body = ",\n    ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {table.reference(engine)} (\n    {body}\n)"


def repair_statements(engine: Engine, tables: set[str], indexes: set[str]) -> list[tuple[str, str]]:
    """What `init` runs on a store at the current schema version whose tables or plain indexes
    are missing (dropped by hand): each as the current schema makes it, `IF NOT EXISTS` (a second
    `init` at once is harmless), as (what is repaired, statement). `events` and `esctl_schema`
    are never made again here: a new, empty event log would restart positions under consumers'
    checkpoints (SchemaMissing instead). On PostgreSQL the plain indexes of `events` are left to
    `doctor` to report: built in `init`'s transaction they would block every writer."""
    if EVENTS.name not in tables:
        raise SchemaMissing(
            f"table {EVENTS.name} is missing from a store at schema version {SCHEMA_VERSION}: "
            "init does not make a new, empty event log under existing checkpoints",
            hint="restore the table from a backup (a new store: drop esctl_schema first)",
        )
    statements: list[tuple[str, str]] = []
    for table in TABLES:
        if table.name not in tables:
            if table is ESCTL_SCHEMA:
                continue
            sql = create_table(table, engine, version=SCHEMA_VERSION)
            statements.append((f"created table {table.name}", sql))
        if engine == "postgresql" and table is EVENTS:
            continue  # built in a transaction, an index would block writers for the whole build
        for index in table.indexes:
            if (engine == "postgresql" or index.sqlite) and index.name not in indexes:
                sql = f"CREATE INDEX IF NOT EXISTS {index.name} ON {table.reference(engine)}"
                statements.append((f"created index {index.name}", f"{sql}({index.columns})"))
    return statements


def _add_column(table: Table, column: Column, engine: Engine) -> list[str]:
    if engine == "postgresql":
        add = f"ALTER TABLE {table.reference(engine)} ADD COLUMN IF NOT EXISTS {column.ddl(engine)}"
        return [add, *column.postgres_then]
    return [f"ALTER TABLE {table.reference(engine)} ADD COLUMN {column.ddl(engine)}"]


def migration_statements(engine: Engine, version: int) -> list[str]:
    """The tables created and columns added by migration `version`, in declaration order."""
    statements: list[str] = []
    for table in TABLES:
        if table.since == version:
            statements.append(create_table(table, engine, version=version))
            statements += [
                f"CREATE INDEX IF NOT EXISTS {i.name} ON {table.reference(engine)}({i.columns})"
                for i in table.indexes
                if engine == "postgresql" or i.sqlite
            ]
        elif table.since < version:
            for column in table.columns_of(engine):
                if column.added_in(engine) == version:
                    statements += _add_column(table, column, engine)
    return statements


def migrations(
    engine: Engine,
    descriptions: Sequence[str],
    *,
    before: Mapping[int, Sequence[str]] | None = None,
    after: Mapping[int, Sequence[str]] | None = None,
) -> list[Migration]:
    """Every migration of the engine, oldest first: `descriptions[i]` names migration i + 1;
    `before`/`after` add the engine's own statements (a schema, a trigger) around the derived ones."""
    return [
        Migration(
            version,
            description,
            [
                *(before or {}).get(version, ()),
                *migration_statements(engine, version),
                *(after or {}).get(version, ()),
            ],
        )
        for version, description in enumerate(descriptions, start=1)
    ]


# The columns to select for `RecordedEvent.from_row` (alias-free, for `SELECT … FROM {events}`).
# JSON as text: PostgreSQL's jsonb text is what every output prints.
EVENT_COLUMNS = (
    "global_position, stream_id, stream_type, version, event_type, id, "
    "CAST(event_data AS TEXT) AS event_data, CAST(metadata AS TEXT) AS metadata, created_at"
)
