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
    return _stream_rows(plan.streams)


def _stream_rows(streams: Any) -> list[dict[str, Any]]:
    return [
        {
            **s.to_dict(),
            "versions": _range(s.first_version, s.last_version),
            "positions": _range(s.first_position, s.last_position),
            "checkpoints": ", ".join(s.checkpoints),
        }
        for s in streams
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


TRUNCATE_EXAMPLES = examples(
    "esctl streams truncate Order-1001 --before-version 100",
    "esctl streams truncate Order-1001 --before-version 100 --execute",
)


def truncate(
    ctx: typer.Context,
    stream: Annotated[
        str,
        typer.Argument(help="The stream id.", metavar="STREAM", autocompletion=complete_stream),
    ],
    before_version: Annotated[
        int,
        typer.Option(
            "--before-version", min=1, help="Remove the events below this version (required)."
        ),
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Truncate even without a snapshot at version N - 1 or later."),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Events deleted per transaction.")
    ] = 1000,
    execute: ExecuteOpt = False,
) -> None:
    """Remove a stream's events below a version. A dry run that prints the plan unless --execute.

    Refused (exit 2) unless the stream has a snapshot at version N - 1 or later (its state
    without the removed events), or --force; the stream's last event always stays. Deleted in
    batches: an interrupted run is finished by running it again. Exit 4 if the stream has no
    events.
    """
    from esctl.lifecycle.truncate import execute_truncate, plan_truncate

    app_state = state(ctx)
    store = app_state.open_store(write=execute, command="streams truncate")
    plan = plan_truncate(store, stream, before_version, force=force)
    out = app_state.out
    if execute and plan.stream.events:
        total = plan.stream.events
        with out.progress("events") as bars:
            plan = execute_truncate(
                store,
                plan,
                actor=app_state.actor(),
                batch_size=batch_size,
                progress=lambda n: bars.advance("deleting", by=n, total=total),
            )
    what = f"{plural(plan.stream.events, 'event')} below version {before_version} of {stream}"
    title = f"Removed {what}" if plan.executed else f"Would remove {what}"
    rows = _stream_rows([plan.stream])
    out.result(plan.to_dict(), view=Listing(rows, PLAN_COLUMNS, title=title))
    if not plan.stream.events:
        out.note("Nothing to remove: the stream has no events below that version.")
    elif plan.executed:
        out.note(f"{title}; audit id {plan.audit_id} (esctl audit).")
    else:
        out.note("Dry run: nothing was changed. Add --execute to apply.")
