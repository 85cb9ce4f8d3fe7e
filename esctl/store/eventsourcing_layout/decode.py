"""Stored events of the `eventsourcing` library as esctl's events.

stream = originator id, version = originator_version, global position = notification_id, type =
the topic's class (`module:Account.Opened` -> `Account.Opened`; the stream type is the aggregate,
`Account`), event id = `ORIGINATOR_ID:VERSION` (the library has no event ids). `state` is the
transcoder's bytes: JSON by default, decoded as data; the event's `timestamp` in it is its time.
Compressed (COMPRESSOR_TOPIC) or encrypted (CIPHER_TOPIC) state is not JSON: data is null,
metadata holds its size, and stderr says why once per process — never a crash."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from esctl.types import RecordedEvent, Row

COLUMNS = (
    "notification_id AS global_position, CAST(originator_id AS text) AS stream_id, "
    "originator_version AS version, topic, state"
)
_warned: set[str] = set()
CLASS_SQL = "split_part(topic, ':', 2)"


def stream_condition(stream_id: str) -> tuple[str, list[Any]]:
    """An originator id as a condition: a UUID uses the primary key (uuid or text columns alike);
    any other text is compared as text (it never matches a uuid column)."""
    try:
        canonical = str(uuid.UUID(stream_id))
    except ValueError:
        return "CAST(originator_id AS text) = %s", [stream_id]
    if canonical != stream_id:
        return "CAST(originator_id AS text) = %s", [stream_id]
    return "originator_id = %s", [stream_id]


def class_of(topic: str | None) -> str:
    """`module.sub:Outer.Inner` -> `Outer.Inner`."""
    text = topic or ""
    return text.rpartition(":")[2] or text or "?"


def aggregate_of(topic: str | None) -> str:
    name = class_of(topic)
    return name.split(".")[0] if "." in name else name


def _warn_once(reason: str) -> None:
    if reason in _warned:
        return
    _warned.add(reason)
    sys.stderr.write(f"Warning: {reason}\n")


def decode_state(state: Any) -> tuple[Any, str | None]:
    """The state as JSON, or (None, why not)."""
    if state is None:
        return None, "no state"
    raw = bytes(state)
    try:
        return json.loads(raw.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "not JSON (compressed or encrypted by the application)"


def _timestamp(data: Any) -> str | None:
    stamp = data.get("timestamp") if isinstance(data, dict) else None
    if isinstance(stamp, dict):  # the JSON transcoder's {"_type_": "datetime_iso", "_data_": …}
        stamp = stamp.get("_data_")
    return stamp if isinstance(stamp, str) else None


def event_row(row: Row) -> dict[str, Any]:
    """A stored-events row as the keys `RecordedEvent.from_row` takes."""
    data, problem = decode_state(row["state"])
    size = len(bytes(row["state"])) if row["state"] is not None else 0
    metadata: dict[str, Any] = {"topic": row["topic"], "state_bytes": size}
    if problem:
        metadata["state"] = problem
        _warn_once(
            "the state of some events is not JSON (the application compresses it with "
            "COMPRESSOR_TOPIC or encrypts it with CIPHER_TOPIC): their data is shown as null, "
            "metadata.state_bytes gives its size"
        )
    created = _timestamp(data)
    version = int(row["version"])
    return {
        "global_position": int(row["global_position"]),
        "stream_id": row["stream_id"],
        "stream_type": aggregate_of(row["topic"]),
        "version": version,
        "event_type": class_of(row["topic"]),
        "id": f"{row['stream_id']}:{version}",
        "event_data": json.dumps(data, ensure_ascii=False),
        "metadata": json.dumps(metadata, ensure_ascii=False),
        "created_at": created,
        "transaction_id": None,
    }


def event(row: Row) -> RecordedEvent:
    return RecordedEvent.from_row(event_row(row))
