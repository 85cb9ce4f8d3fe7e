"""The domain's data: events as stored and read, and the cursor of the commit-ordered log."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def category_of(stream_id: str) -> str:
    """The category of a stream: its id up to the first `-` (`Order-5f1c` -> `Order`)."""
    return stream_id.split("-", 1)[0]


def parse_time(value: Any) -> datetime:
    """A stored timestamp (a datetime from PostgreSQL, ISO text from SQLite) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def json_value(value: Any) -> Any:
    """jsonb arrives decoded from PostgreSQL, as text from SQLite."""
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored. `to_dict()` is the output format of `-o json`/`-o jsonl`, which is also
    valid input for `esctl append`."""

    global_position: int
    stream_id: str
    stream_type: str
    version: int
    event_type: str
    event_id: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    created_at: datetime
    transaction_id: int | None = field(default=None, compare=False)

    # The columns to select for `from_row` (table alias-free, for `SELECT … FROM {events}`).
    COLUMNS = (
        "global_position, stream_id, stream_type, version, event_type, id, event_data, "
        "metadata, created_at"
    )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RecordedEvent:
        """Build from a row selected with `COLUMNS` (plus, optionally, `transaction_id`)."""
        transaction_id = row.get("transaction_id")
        return cls(
            global_position=int(row["global_position"]),
            stream_id=row["stream_id"],
            stream_type=row["stream_type"],
            version=int(row["version"]),
            event_type=row["event_type"],
            event_id=str(row["id"]),
            data=json_value(row["event_data"]),
            metadata=json_value(row["metadata"]) or {},
            created_at=parse_time(row["created_at"]),
            transaction_id=int(transaction_id) if transaction_id is not None else None,
        )

    @property
    def category(self) -> str:
        return category_of(self.stream_id)

    def to_dict(self) -> dict[str, Any]:
        from esctl.output import iso_time

        return {
            "global_position": self.global_position,
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "version": self.version,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "data": self.data,
            "metadata": self.metadata,
            "created_at": iso_time(self.created_at),
        }
