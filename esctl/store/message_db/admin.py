"""The schema admin port for Message DB: what `doctor` checks (Message DB's version through its own
`message_store.message_store_version()`, its table, functions and indexes as its install scripts
create them). esctl never creates or alters Message DB's schema: `init` is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esctl.errors import SchemaMissing, UsageError
from esctl.types import Migration, NodeStatus, SchemaReport

if TYPE_CHECKING:
    from esctl.store.base import Session, Store

# What Message DB 1.3's install.sh creates (database/functions, database/indexes).
FUNCTIONS = (
    "acquire_lock",
    "cardinal_id",
    "category",
    "get_category_messages",
    "get_last_stream_message",
    "get_stream_messages",
    "hash_64",
    "id",
    "is_category",
    "message_store_version",
    "stream_version",
    "write_message",
)
# Needed by esctl: reading (the table) and appending (write_message's checks).
REQUIRED_FUNCTIONS = ("category", "write_message", "stream_version", "acquire_lock")
INDEXES = ("messages_pkey", "messages_id", "messages_stream", "messages_category")
COLUMNS = ("global_position", "position", "time", "stream_name", "type", "data", "metadata", "id")
INIT_REFUSED = "init refused: esctl never creates or alters a Message DB schema (message-db layout)"


def version_number(text: str | None) -> int | None:
    """`1.3.0` as 10300 (doctor's schema version); None when it is not such a version."""
    if not text:
        return None
    parts = text.strip().split(".")
    try:
        major, minor, patch = (int(p) for p in [*parts, "0", "0"][:3])
    except ValueError:
        return None
    return major * 10000 + minor * 100 + patch


def catalog(session: Session) -> dict[str, Any]:
    """What the catalog holds of Message DB: columns of messages, functions, indexes (valid)."""
    columns = [
        r["column_name"]
        for r in session.fetchall(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'message_store' AND table_name = 'messages'"
        )
    ]
    functions = {
        r["proname"]
        for r in session.fetchall(
            "SELECT p.proname FROM pg_catalog.pg_proc p "
            "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'message_store'"
        )
    }
    indexes = {
        r["relname"]: bool(r["indisvalid"])
        for r in session.fetchall(
            "SELECT c.relname, i.indisvalid FROM pg_catalog.pg_index i "
            "JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'message_store'"
        )
    }
    return {"columns": columns, "functions": functions, "indexes": indexes}


def require_message_store(store: Store) -> None:
    """Exit 7 (one line) unless the database holds Message DB's messages table and the functions
    esctl reads and writes through."""
    with store.reading() as session:
        found = catalog(session)
    lacking = [f"column messages.{c}" for c in COLUMNS if c not in found["columns"]]
    if not found["columns"]:
        lacking = ["table message_store.messages"]
    lacking += [
        f"function message_store.{f}" for f in REQUIRED_FUNCTIONS if f not in found["functions"]
    ]
    if lacking:
        raise SchemaMissing(
            f"store {store.display_url} is not a complete Message DB: missing {', '.join(lacking)}",
            hint="install Message DB with its own database/install.sh; `esctl doctor` lists what is missing",
        )


class MessageDbAdmin:
    def __init__(self, store: Store) -> None:
        self.store = store

    def server_version(self) -> str:
        return self.store.server_version()

    def _version_text(self) -> str | None:
        with self.store.reading() as session:
            present = session.fetchval(
                "SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
                "ON n.oid = p.pronamespace WHERE n.nspname = 'message_store' "
                "AND p.proname = 'message_store_version'"
            )
            if not present:
                return None
            return str(session.fetchval("SELECT message_store.message_store_version()"))

    def schema_version(self) -> int | None:
        return version_number(self._version_text())

    def migrations(self) -> list[Migration]:
        return []

    def pending_migrations(self) -> list[Migration]:
        raise UsageError(INIT_REFUSED)

    def render_migration(self, migration: Migration) -> list[str]:
        raise UsageError(INIT_REFUSED)

    def repairs(self) -> list[str]:
        return []

    def check_init_privileges(self, *, alters: bool) -> None:
        raise UsageError(INIT_REFUSED)

    def apply_migrations(self, pending: list[Migration]) -> list[str]:
        raise UsageError(INIT_REFUSED)

    def inspect(self) -> SchemaReport:
        text = self._version_text()
        number = version_number(text)
        with self.store.reading() as session:
            found = catalog(session)
        report = SchemaReport(schema_version=number, expected_version=number or 10300)
        if not found["columns"]:
            report.missing.append("table message_store.messages")
        else:
            report.missing += [f"column messages.{c}" for c in COLUMNS if c not in found["columns"]]
            report.extra += [f"column messages.{c}" for c in found["columns"] if c not in COLUMNS]
        report.missing += [
            f"function message_store.{f}" for f in FUNCTIONS if f not in found["functions"]
        ]
        for index in INDEXES:
            if index not in found["indexes"]:
                report.missing.append(f"index message_store.{index}")
            elif not found["indexes"][index]:
                report.missing.append(f"index message_store.{index} (invalid: rebuild it)")
        if text is None:
            report.notes.append(
                "Message DB version: unknown (no message_store.message_store_version())"
            )
        else:
            report.notes.append(
                f"Message DB version {text} (message_store.message_store_version())"
            )
        report.notes.append(
            "versions are Message DB positions: a stream's first message is at position 0"
        )
        return report

    def doctor_facts(self) -> dict[str, Any]:
        from esctl.store.postgres_facts import doctor_facts

        with self.store.reading() as session:
            facts = doctor_facts(session, "message_store")
        return {**facts, "json_indexes": []}

    def node_status(self, primary_lsn: str | None = None) -> NodeStatus:
        return self.store.node_status(primary_lsn)

    def drop_schema(self) -> None:
        raise UsageError("esctl never drops a Message DB schema")
