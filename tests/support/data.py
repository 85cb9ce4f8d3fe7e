"""Data for tests: config files, event files, events written without esctl's append (so tests of
reading, checkpoints and snapshots do not depend on it), and stored events read back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from esctl.store.base import Store

if TYPE_CHECKING:
    from tests.support.stores import Target


def write_config(path: Path, profiles: dict[str, dict[str, Any]], **top: Any) -> Path:
    path.write_text(yaml.safe_dump({**top, "profiles": profiles}))
    return path


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event) + "\n")
    return path


def seed_events(store: Store, events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Write events with plain SQL (not esctl's append), continuing each stream's versions.

    For tests of reading, checkpoints and snapshots that must not depend on `esctl append`."""
    from esctl.values import category_of

    with store.writing() as session:
        for stream_id, event_type, data in events:
            version = session.fetchval(
                "SELECT coalesce(max(version), 0) + 1 FROM {events} WHERE stream_id = %s",
                [stream_id],
            )
            session.execute(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                "metadata, version) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    str(uuid.uuid4()),
                    stream_id,
                    category_of(stream_id),
                    event_type,
                    session.json_param(data),
                    session.json_param({}),
                    version,
                ],
            )


def all_events(target: Target) -> list[dict[str, Any]]:
    """Every stored event (id, stream_id, version), in position order."""
    with target.open(write=False, create=False) as store, store.reading() as session:
        return session.fetchall(
            "SELECT id, stream_id, version, event_type FROM {events} ORDER BY global_position"
        )
