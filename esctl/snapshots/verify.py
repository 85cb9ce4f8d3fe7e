"""`snapshots verify`: each stored snapshot compared with a replay of its stream's events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esctl.snapshots.redactions import redaction_marks
from esctl.snapshots.reducers import ReducerChoice
from esctl.snapshots.replay import Drift, Replay, replay_streams, same_state
from esctl.snapshots.selection import check_streams_exist, snapshots_of
from esctl.types import StreamSelection

if TYPE_CHECKING:
    from esctl.store.base import Session

DIFF_LINES = 5


@dataclass(frozen=True)
class SnapshotCheck:
    """One stream's stored snapshot compared with a replay of its events."""

    stream_id: str
    stream_type: str
    drift: Drift
    snapshot_version: int | None
    stream_version: int
    detail: str
    diff: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "drift": self.drift,
            "snapshot_version": self.snapshot_version,
            "stream_version": self.stream_version,
            "detail": self.detail,
            "diff": list(self.diff),
        }


def _check(replay: Replay) -> SnapshotCheck:
    drift = replay.drift
    diff: list[str] = []
    stored = replay.stored_version
    if drift == "failed":
        detail = str(replay.failure)
    elif drift == "missing":
        detail = "no snapshot"
    elif drift == "ahead":
        detail = f"above the last event ({replay.version})"
    elif drift == "stale":
        behind = replay.version - (stored or 0)
        detail = f"{behind} event{'s' if behind != 1 else ''} behind"
        if not same_state(replay.replayed_at_stored, replay.stored_state):
            diff = diff_states(replay.stored_state, replay.replayed_at_stored)
            detail += f"; state differs from a replay to version {stored}"
    elif drift == "redacted":
        # No diff: its lines would print the very values the redaction removed.
        detail = str(replay.redaction)
    elif drift == "different":
        diff = diff_states(replay.stored_state, replay.state)
        detail = "state differs from the replay"
    else:
        detail = "ok"
    return SnapshotCheck(
        replay.stream_id, replay.stream_type, drift, stored, replay.version, detail, tuple(diff)
    )


def verify_snapshots(
    tx: Session, selection: StreamSelection, reducers: ReducerChoice
) -> Iterator[SnapshotCheck]:
    """Replay the selected streams and compare with their stored snapshots, in the transaction
    `tx`: one check per stream (drift `ok` included), then any snapshot of the selection whose
    stream has no events."""
    snapshots = snapshots_of(tx)
    check_streams_exist(tx, selection)
    marks = redaction_marks(tx, selection)
    for replay in replay_streams(snapshots, selection, reducers, marks):
        yield _check(replay)
    if selection.stream_ids:
        return
    for orphan in snapshots.without_events(selection.stream_type):
        yield SnapshotCheck(
            orphan.stream_id,
            orphan.stream_type,
            "ahead",
            orphan.version,
            0,
            "the stream has no events",
        )


@dataclass(frozen=True)
class Difference:
    """One path where two states differ: `added` (only in `after`), `removed`, `changed`."""

    kind: str
    path: str
    before: Any = None
    after: Any = None

    def line(self, what: tuple[str, str] = ("in the state before", "")) -> str:
        """The diff line `snapshots verify` shows; `what` names the two sides."""
        if self.kind == "removed":
            return f"- {self.path}: {_short(self.before)} (only {what[0]})"
        if self.kind == "added":
            return f"+ {self.path}: {_short(self.after)} (not {what[0]})"
        return f"~ {self.path or '(whole state)'}: {_short(self.before)} → {_short(self.after)}"


def differences(before: Any, after: Any, path: str = "") -> Iterator[Difference]:
    """Every path where `after` differs from `before`, keys in order, nested objects by key."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in after:
                yield Difference("removed", sub, before=before[key])
            elif key not in before:
                yield Difference("added", sub, after=after[key])
            else:
                yield from differences(before[key], after[key], sub)
    elif not same_state(before, after):
        yield Difference("changed", path, before, after)


def diff_states(stored: Any, replayed: Any, limit: int = DIFF_LINES) -> list[str]:
    """A short diff of two states: one line per differing path, at most `limit` lines."""
    lines = [d.line(("in the snapshot", "")) for d in differences(stored, replayed)]
    if len(lines) > limit:
        return [*lines[:limit], f"… and {len(lines) - limit} more differences"]
    return lines


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
