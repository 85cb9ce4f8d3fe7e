"""Subscription checkpoints: lag you can trust, moves that are planned before they are made, and
the consumer that owns its checkpoint while it runs.

A checkpoint is a place in the log in commit order (`esctl.types.Cursor`): every event at or
before it has been handled. The store keeps it as (`last_transaction_id`, `last_position`); rows
written by the seed's subscriber carry `last_position` only, and their cursor is the cursor of the
event there. Features here reach the store only through a transaction's ports (`tx.checkpoints`,
`tx.leases`, the commit-ordered `tx.log`): no SQL.

- `lag`: `checkpoints list` and `show` (lag counted, capped, statuses);
- `moves`: `checkpoints set` and `delete` (`MovePlan`, then `execute` with compare-and-set);
- `plans`, `plan_file`: a plan of many moves in one transaction, exported to and applied from a
  file (`--export`, `--from-file`), refused when a checkpoint moved since;
- `leases`: the lease of a running consumer;
- `consumer`: `CheckpointOwner`, the checkpoint of `tail --checkpoint`.
"""

from __future__ import annotations

from esctl.checkpoints.consumer import (
    CheckpointOwner,
    check_unmoved,
    create_cursor,
    load_cursor,
    load_stored,
    moved_under,
    save_owned,
)
from esctl.checkpoints.lag import (
    DEFAULT_LAG_THRESHOLD,
    DEFAULT_STALE_AFTER,
    LAG_COUNT_CAP,
    STATUS_PRECEDENCE,
    CheckpointState,
    Status,
    Thresholds,
    list_checkpoints,
    matching,
    show_checkpoint,
)
from esctl.checkpoints.moves import (
    MovePlan,
    MoveTarget,
    TargetKind,
    execute,
    plan_delete,
    plan_move,
)
from esctl.checkpoints.names import MAX_SUBSCRIPTION_NAME, check_subscription_name
from esctl.types import utc_time

__all__ = [
    "DEFAULT_LAG_THRESHOLD",
    "DEFAULT_STALE_AFTER",
    "LAG_COUNT_CAP",
    "MAX_SUBSCRIPTION_NAME",
    "STATUS_PRECEDENCE",
    "CheckpointOwner",
    "CheckpointState",
    "MovePlan",
    "MoveTarget",
    "Status",
    "TargetKind",
    "Thresholds",
    "check_subscription_name",
    "check_unmoved",
    "create_cursor",
    "execute",
    "list_checkpoints",
    "load_cursor",
    "load_stored",
    "matching",
    "moved_under",
    "plan_delete",
    "plan_move",
    "save_owned",
    "show_checkpoint",
    "utc_time",
]
