"""Emmett's processor checkpoints (`emt_processors`) as esctl's checkpoints port: read-only.

An Emmett processor (a projector or reactor run by `postgreSQLEventStoreConsumer`) stores, through
`store_processor_checkpoint`, the global position of the last message it handled as a 19-digit,
zero-padded text (`last_processed_checkpoint`), per `(processor_id, partition, version)`. On
resuming it reads the messages after that position and skips any at or below it, so the position
means "handled up to here": its cursor is `cursor_before` (at-least-once), and its lag counts the
active messages after it in Emmett's default partition, the only one Emmett's consumer pulls
(`readMessagesBatch` without a partition, 0.42), whatever the processor row's own partition. `last_processed_transaction_id` is the transaction
that stored the checkpoint, not a message's, so it is not a cursor. A checkpoint's name is the
processor id, with `@partition` when not Emmett's default partition and `#vN` when its version is
not 1. esctl never moves or deletes them (refused up front: Emmett's processor owns its row and
its lock; a move under a running one would be overwritten or refused by its next store)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from esctl.errors import UsageError
from esctl.store.emmett.messages import DEFAULT_PARTITION
from esctl.types import Cursor, StoredCheckpoint, utc_time
from esctl.values import StoredTime, stored_time

if TYPE_CHECKING:
    from esctl.ports import EventLog
    from esctl.store.base import Session

PROCESSORS = (
    "SELECT processor_id, partition, version, last_processed_checkpoint, status, "
    "processor_instance_id, last_updated FROM {schema}.emt_processors "
    "ORDER BY processor_id, partition, version"
)


def checkpoint_name(row: dict[str, Any]) -> str:
    name = str(row["processor_id"])
    if row["partition"] != DEFAULT_PARTITION:
        name += f"@{row['partition']}"
    if int(row["version"]) != 1:
        name += f"#v{row['version']}"
    return name


def _position(text: Any) -> int | None:
    value = str(text or "").strip()
    return int(value) if value.isdigit() else None


def _refused() -> UsageError:
    return UsageError(
        "checkpoint moves refused: the emmett layout's processor checkpoints belong to Emmett's "
        "processors (store_processor_checkpoint, under their processor lock)",
        hint="restart the processor with its own startFrom to move it",
    )


class EmmettProcessors:
    def __init__(self, session: Session, schema: str) -> None:
        self.session = session
        self.schema = schema

    def now(self) -> datetime:
        return utc_time(self.session.fetchval("SELECT CURRENT_TIMESTAMP"))

    def rows(self) -> list[dict[str, Any]]:
        """Emmett's processor rows as stored (doctor and tests show their status)."""
        return self.session.fetchall(PROCESSORS)

    def all(self) -> list[StoredCheckpoint]:
        found: list[StoredCheckpoint] = []
        for row in self.rows():
            position = _position(row["last_processed_checkpoint"])
            if position is None:
                continue  # not a position Emmett wrote
            name = checkpoint_name(row)
            found.append(StoredCheckpoint(name, position, None, stored_time(row["last_updated"])))
        return sorted(found, key=lambda c: c.name)

    def get(self, name: str) -> StoredCheckpoint | None:
        return next((c for c in self.all() if c.name == name), None)

    def names(self, prefix: str = "", limit: int | None = None) -> list[str]:
        names = [c.name for c in self.all() if c.name.startswith(prefix)]
        return names if limit is None else names[:limit]

    def log_of(self, checkpoint: StoredCheckpoint) -> EventLog:
        """The messages a processor reads: the active ones of Emmett's default partition."""
        from esctl.store.emmett.event_log import EmmettEventLog

        return EmmettEventLog(self.session, schema=self.schema, partition=DEFAULT_PARTITION)  # type: ignore[return-value]

    def recent_moves(self, name: str, limit: int = 2) -> list[tuple[int, StoredTime]]:
        return []

    def holds(self, name: str, expected: Cursor) -> bool:
        found = self.get(name)
        return found is not None and found.position == expected.global_position

    def save(self, name: str, cursor: Cursor) -> None:
        raise _refused()

    def create_if_absent(self, name: str, cursor: Cursor) -> bool:
        raise _refused()

    def compare_and_set(self, name: str, expected: Cursor, new: Cursor) -> bool:
        raise _refused()

    def delete(self, name: str, expected: Cursor | None = None) -> bool:
        raise _refused()
