"""`esctl streams delete` and `esctl streams undelete`: dry runs that print the plan unless
--execute; every executed run is audited (`esctl audit`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esctl.cli.completion import complete_stream
from esctl.cli.options import ExecuteOpt, examples
from esctl.cli.state import state
from esctl.render import Column, Listing
from esctl.words import plural

DELETE_EXAMPLES = examples(
    "esctl streams delete Order-1001",
    "esctl streams delete Order-1001 Order-1002 --execute",
    "esctl streams delete Order-1001 --hard --execute",
)
UNDELETE_EXAMPLES = examples(
    "esctl streams undelete Order-1001", "esctl streams undelete Order-1001 --execute"
)

StreamsArg = Annotated[
    list[str],
    typer.Argument(help="The stream ids.", metavar="STREAM...", autocompletion=complete_stream),
]

PLAN_COLUMNS = [
    Column("stream_id", "stream"),
    Column("events", "events", justify="right"),
    Column("versions", "versions", justify="right"),
    Column("positions", "positions", justify="right", priority=1),
    Column("bytes", "bytes", justify="right", priority=2),
    Column("snapshot_version", "snapshot", justify="right", priority=2),
    Column("checkpoints", "checkpoints affected", priority=3, wrap=True),
    Column("deleted_at", "deleted at", priority=3),
]


def _range(low: Any, high: Any) -> str:
    return "-" if low is None else f"{low}..{high}"


def _rows(plan: Any) -> list[dict[str, Any]]:
    return [
        {
            **s.to_dict(),
            "versions": _range(s.first_version, s.last_version),
            "positions": _range(s.first_position, s.last_position),
            "checkpoints": ", ".join(s.checkpoints),
        }
        for s in plan.streams
    ]


def _run(ctx: typer.Context, streams: list[str], action: Any, execute: bool, batch: int) -> None:
    from esctl.lifecycle.streams import execute as execute_plan
    from esctl.lifecycle.streams import plan_streams

    app_state = state(ctx)
    store = app_state.open_store(write=execute, command=f"streams {action}")
    plan = plan_streams(store, streams, action)
    out = app_state.out
    if execute:
        total = plan.events
        with out.progress("events") as bars:
            plan = execute_plan(
                store,
                plan,
                actor=app_state.actor(),
                batch_size=batch,
                progress=lambda n: bars.advance("deleting", by=n, total=total),
            )
    verb = {"delete": "soft-delete", "hard-delete": "delete for good", "undelete": "undelete"}
    done = {"delete": "Soft-deleted", "hard-delete": "Deleted for good", "undelete": "Undeleted"}
    what = f"{plural(len(plan.streams), 'stream')} ({plural(plan.events, 'event')})"
    title = f"{done[action]} {what}" if plan.executed else f"Would {verb[action]} {what}"
    out.result(plan.to_dict(), view=Listing(_rows(plan), PLAN_COLUMNS, title=title))
    for note in plan.notes:
        out.note(f"Note: {note}.")
    if plan.executed:
        out.note(f"{title}; audit id {plan.audit_id} (esctl audit).")
    else:
        out.note("Dry run: nothing was changed. Add --execute to apply.")


def delete(
    ctx: typer.Context,
    streams: StreamsArg,
    hard: Annotated[
        bool,
        typer.Option(
            "--hard", help="Remove the events, snapshot and tombstone for good (in batches)."
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Events deleted per transaction (--hard).")
    ] = 1000,
    execute: ExecuteOpt = False,
) -> None:
    """Delete streams. A dry run that prints the plan unless --execute.

    Soft (default): the streams are hidden from read, streams list/show, stats and tail (their
    --include-deleted shows them) and appends to them are refused (exit 3) until `streams
    undelete`. --hard removes their events, snapshots and tombstones for good, in batches: an
    interrupted run is finished by running it again. Exit 4 for a stream that does not exist.
    """
    _run(ctx, streams, "hard-delete" if hard else "delete", execute, batch_size)


def undelete(ctx: typer.Context, streams: StreamsArg, execute: ExecuteOpt = False) -> None:
    """Show soft-deleted streams again. A dry run unless --execute; exit 4 if one is not deleted."""
    _run(ctx, streams, "undelete", execute, 1000)
