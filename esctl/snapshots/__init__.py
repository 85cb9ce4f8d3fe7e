"""Snapshots: list and show the stored ones, rebuild them by replaying events through reducers, and
verify them against a replay.

Rebuild and verify make one pass over the selected streams' events, ordered by (stream_id,
version), each with its stream's stored snapshot (the Snapshots port's `replay_rows`), so nothing is
fetched per stream or per event and memory stays flat (one stream's state at a time, plus one
batch of results). Features here reach the store only through the Snapshots port: no SQL.

- `selection`: which streams (`Selection`), and the checks on them;
- `stored`: `snapshots list` and `show`;
- `replay`: the replay pass (`Replay`, drift);
- `rebuild`: `snapshots rebuild` (batched upserts that keep newer snapshots);
- `verify`: `snapshots verify` (drift and short diffs);
- `reducers`: how events fold into a state.
"""

from __future__ import annotations

from esctl.snapshots.rebuild import (
    DEFAULT_BATCH_SIZE,
    FATAL_ERRORS,
    RebuildOutcome,
    RebuildSummary,
    Status,
    rebuild_snapshots,
)
from esctl.snapshots.replay import (
    Drift,
    ReducerFailure,
    Replay,
    normalise,
    replay_streams,
    same_state,
)
from esctl.snapshots.selection import Selection, check_streams_exist, count_streams
from esctl.snapshots.stored import list_snapshots, show_snapshot
from esctl.snapshots.verify import DIFF_LINES, SnapshotCheck, diff_states, verify_snapshots
from esctl.types import Snapshot

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DIFF_LINES",
    "FATAL_ERRORS",
    "Drift",
    "RebuildOutcome",
    "RebuildSummary",
    "ReducerFailure",
    "Replay",
    "Selection",
    "Snapshot",
    "SnapshotCheck",
    "Status",
    "check_streams_exist",
    "count_streams",
    "diff_states",
    "list_snapshots",
    "normalise",
    "rebuild_snapshots",
    "replay_streams",
    "same_state",
    "show_snapshot",
    "verify_snapshots",
]
