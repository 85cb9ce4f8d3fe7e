"""`esctl checkpoints`: list with lag and status, show, and moves that are dry runs by default."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from esctl.cli.checkpoints_set import SET_EXAMPLES, ForceOpt, apply_move, set_checkpoint
from esctl.cli.completion import complete_subscription
from esctl.cli.event_columns import EVENT_COLUMNS
from esctl.cli.options import ExecuteOpt, IncludeDeletedOpt, LimitOpt, examples
from esctl.cli.state import state
from esctl.cli.watch import IntervalOpt, MaxFramesOpt, WatchOpt, check_watch_options
from esctl.errors import CheckFailed, UsageError
from esctl.render import Column, Detail, Listing, plain
from esctl.words import number, plural

app = typer.Typer(
    help="Inspect subscription checkpoints, their lag and status, and move them safely.",
    epilog=examples(
        "esctl checkpoints list --fail-on lagging",
        "esctl checkpoints set orders --to-time 2h",
        "esctl checkpoints set orders --to-time 2h --execute",
    ),
    no_args_is_help=True,
)

LIST_EXAMPLES = examples(
    "esctl checkpoints list",
    "esctl checkpoints list --lag-threshold 500 --stall-after 2m",
    "esctl -p prod checkpoints list -o json --fail-on lagging --fail-on stalled",
    "esctl checkpoints list --watch --interval 5",
)
SHOW_EXAMPLES = examples(
    "esctl checkpoints show orders-projection", "esctl checkpoints show billing -o json"
)
DELETE_EXAMPLES = examples(
    "esctl checkpoints delete old-projection", "esctl checkpoints delete old-projection --execute"
)


class Condition(StrEnum):
    lagging = "lagging"
    stalled = "stalled"
    rewound = "rewound"
    ahead_of_head = "ahead-of-head"


LagThresholdOpt = Annotated[
    int,
    typer.Option("--lag-threshold", min=0, help="Lag (events) over which a checkpoint is lagging."),
]
StaleAfterOpt = Annotated[
    str,
    typer.Option(
        "--stall-after",
        help="No move for this long while events are pending is stalled; a backward move "
        "this recent is rewound (90, 30s, 5m, 2h, 1d).",
    ),
]
ExactOpt = Annotated[
    bool,
    typer.Option(
        "--exact",
        help="Count every pending event, however many (by default lag past 100,000 is estimated).",
    ),
]


def _thresholds(lag_threshold: int, stale_after: str, exact: bool) -> Any:
    from esctl.checkpoints import LAG_COUNT_CAP, Thresholds
    from esctl.timeparse import parse_duration

    return Thresholds(
        lag=lag_threshold,
        stale_after=parse_duration(stale_after, "--stall-after"),
        count_cap=None if exact else LAG_COUNT_CAP,
    )


def _lag_cell(row: Any) -> str:
    lag = row.get("lag")
    text = f"{lag:,}" if isinstance(lag, int) else plain(lag)
    return f"~{text}" if row.get("lag_estimated") else text


CHECKPOINT_COLUMNS = [
    # Never cut: subscription, position, lag, status. Left out first in a narrow terminal: the
    # lease holder, the update time (the age says it), the head (the same on every row), the age.
    Column("subscription_id", "subscription"),
    Column("last_position", "position", justify="right"),
    Column("head_position", "head", justify="right", priority=2),
    Column("lag", "lag", justify="right", cell_of=_lag_cell),  # `~N`: JSON has `lag_estimated`
    Column("updated_at", "updated", priority=3),
    Column("age_seconds", "age", justify="right", priority=1),
    # How long the oldest pending event has waited (JSON: seconds; null past the head).
    Column("lag_seconds", "lag time", justify="right", priority=1),
    Column("status", "status"),
    Column("lease_holder", "leased by", priority=4),
]


@app.command("list", epilog=LIST_EXAMPLES)
def list_checkpoints(
    ctx: typer.Context,
    lag_threshold: LagThresholdOpt = 1_000,
    stale_after: StaleAfterOpt = "5m",
    fail_on: Annotated[
        list[Condition] | None,
        typer.Option("--fail-on", help="Exit 1 when any checkpoint is in this state (repeatable)."),
    ] = None,
    exact: ExactOpt = False,
    limit: LimitOpt = None,
    watch: WatchOpt = False,
    interval: IntervalOpt = 2.0,
    max_frames: MaxFramesOpt = None,
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """Every subscription's position, head, lag (in events), last update, age and status.

    Status, the first that holds of: ahead-of-head (position past the last event, e.g. after a
    restore; lag is negative), rewound (esctl last moved it backwards, within --stall-after),
    stalled (events pending and no move for --stall-after), lagging (lag over --lag-threshold), ok.
    "lag time" (`lag_seconds`) is how long the oldest pending event has waited; 0 caught up.
    Sorted by lag, most behind first. Lag is counted, not head - position; past 100,000 events it
    is estimated from positions (shown as ~N, `lag_estimated` in JSON) unless --exact.
    "leased by" (`lease_holder`, `lease_since` in JSON) is the running `tail --checkpoint` that
    holds the checkpoint: HOST:PID, and since when; empty (null) when none runs.
    --watch adds "consumed/s" (`consumed_per_second`): events each checkpoint handled per second
    since the last frame (lag before + events appended - lag now; negative when rewound).
    Events of soft-deleted streams, which consumers are not delivered, are not counted unless
    --include-deleted.
    """
    from esctl.checkpoints import list_checkpoints as list_all
    from esctl.checkpoints import matching

    check_watch_options(watch, interval, max_frames)
    if watch and fail_on:
        raise UsageError("--fail-on does not go with --watch")
    app_state = state(ctx)
    app_state.include_deleted = include_deleted
    thresholds = _thresholds(lag_threshold, stale_after, exact)
    store = app_state.open_store(needs=["has_checkpoints"], command="checkpoints")
    if watch:
        from esctl.cli.checkpoints_watch import watch_checkpoints

        watch_checkpoints(app_state, store, thresholds, interval, max_frames, CHECKPOINT_COLUMNS)
        return
    states = list_all(store, thresholds)
    out = app_state.out
    limit = out.default_limit(limit)
    shown = states if limit is None else states[: limit + 1]
    out.table(
        [s.to_dict() for s in shown],
        CHECKPOINT_COLUMNS,
        limit=limit,
        empty="No checkpoints: no subscription has saved a position yet.",
    )
    lagging_replica = app_state.replica_lag_note()
    if lagging_replica:
        out.warning(lagging_replica)
    if fail_on:
        wanted = {c.value for c in fail_on}
        failing = matching(states, wanted)
        if failing:
            names = ", ".join(s.subscription_id for s in failing[:10])
            more = f" and {number(len(failing) - 10)} more" if len(failing) > 10 else ""
            raise CheckFailed(
                f"{plural(len(failing), 'checkpoint')} {'/'.join(sorted(wanted))}: {names}{more}"
            )


@app.command("show", epilog=SHOW_EXAMPLES)
def show(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The subscription id.", metavar="NAME", autocompletion=complete_subscription
        ),
    ],
    pending: Annotated[
        int, typer.Option("--pending", min=0, help="How many pending events to list.")
    ] = 10,
    lag_threshold: LagThresholdOpt = 1_000,
    stale_after: StaleAfterOpt = "5m",
    exact: ExactOpt = False,
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """One checkpoint and the next events it has not handled yet. Exit 4 if it does not exist.

    Events of soft-deleted streams are neither counted nor listed unless --include-deleted."""
    from esctl.checkpoints import show_checkpoint

    app_state = state(ctx)
    app_state.include_deleted = include_deleted
    thresholds = _thresholds(lag_threshold, stale_after, exact)
    store = app_state.open_store(needs=["has_checkpoints"], command="checkpoints")
    checkpoint, events = show_checkpoint(store, name, pending=pending, thresholds=thresholds)
    out = app_state.out
    record = checkpoint.to_dict()
    pending_events = [e.to_dict() for e in events]
    shown = {**record, "lag": _lag_cell(record)}  # `~N` marks an estimated lag
    out.result(
        {**record, "pending": pending_events},  # one object: the checkpoint with its events
        view=Detail(
            shown,
            title=f"Checkpoint {name}",
            parts=[
                Listing(
                    pending_events,
                    EVENT_COLUMNS,
                    title=f"Next {plural(len(events), 'pending event')}",
                    empty="No pending events: the subscription is caught up.",
                )
            ],
        ),
        # One table per output: the checkpoint's row, as `list` writes it.
        csv=Listing([record], CHECKPOINT_COLUMNS),
    )


app.command("set", epilog=SET_EXAMPLES)(set_checkpoint)


@app.command("delete", epilog=DELETE_EXAMPLES)
def delete(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The subscription id.", metavar="NAME", autocompletion=complete_subscription
        ),
    ],
    execute: ExecuteOpt = False,
    force: ForceOpt = False,
) -> None:
    """Delete a checkpoint. A dry run unless --execute; exit 4 if it does not exist.

    A checkpoint held by a running `tail --checkpoint` is refused (exit 3) unless --force.
    """
    from esctl.checkpoints import plan_delete

    app_state = state(ctx)
    store = app_state.open_store(
        write=execute,
        needs=["has_checkpoints", "can_move_checkpoints"],
        command="checkpoints",
    )
    apply_move(app_state, store, plan_delete(store, name), execute, force)
