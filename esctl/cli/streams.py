"""`esctl streams list|show` and `esctl stats`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esctl.cli.completion import complete_stream
from esctl.cli.options import LimitOpt, examples
from esctl.cli.state import state
from esctl.render import Column, Detail, Listing

LIST_EXAMPLES = examples(
    "esctl streams list --category Order",
    "esctl streams list --limit 50 --after Order-5f1c",
)
SHOW_EXAMPLES = examples("esctl streams show Order-5f1c", "esctl streams show Order-5f1c -o json")
STATS_EXAMPLES = examples("esctl stats", "esctl stats -o json", "esctl stats --exact")

streams_app = typer.Typer(
    help="List and inspect streams.",
    epilog=examples("esctl streams list --category Order", "esctl streams show Order-1001"),
    no_args_is_help=True,
)


@streams_app.command("list", epilog=LIST_EXAMPLES)
def list_(
    ctx: typer.Context,
    category: Annotated[
        str | None, typer.Option("--category", help="Only streams of this category.")
    ] = None,
    after: Annotated[
        str | None, typer.Option("--after", help="Start after this stream id (the next page).")
    ] = None,
    limit: LimitOpt = None,
) -> None:
    """List streams in id order: type, version, events, last event time; paginated with --after."""
    from esctl.read.streams import list_streams

    app = state(ctx)
    out = app.out
    limit = out.default_limit(limit)
    fetch = limit + 1 if limit is not None else None
    rows: Any = list_streams(app.open_store(), category=category, after=after, limit=fetch)
    hint = "use --limit N to see more"
    if limit is not None:
        rows = list(rows)
        if len(rows) > limit and limit > 0:
            hint = f"next page: --after {rows[limit - 1]['stream_id']}"
    out.table(
        rows,
        [
            Column("stream_id", "stream"),
            Column("stream_type", "type", shrink=True, priority=2),
            Column("version", justify="right"),
            Column("events", justify="right"),
            Column("last_event_at", "last event", priority=1),
        ],
        limit=limit,
        more_hint=hint,
        empty="No streams.",
    )


@streams_app.command("show", epilog=SHOW_EXAMPLES)
def show(
    ctx: typer.Context,
    stream: Annotated[
        str, typer.Argument(help="The stream id.", metavar="STREAM", autocompletion=complete_stream)
    ],
) -> None:
    """Show one stream: version, counts by type, first and last event time, snapshot version."""
    from esctl.read.streams import show_stream

    app = state(ctx)
    info = show_stream(app.open_store(), stream)
    out = app.out
    record = info.to_dict()
    shown = dict(record)
    by_type = shown.pop("counts_by_type")
    if shown["snapshot_version"] is None:
        shown["snapshot_version"] = "none"
    counts = Listing(
        [{"event_type": t, "events": n} for t, n in by_type.items()],
        [Column("event_type", "type"), Column("events", justify="right")],
    )
    out.result(record, view=Detail(shown, title=f"Stream {stream}", parts=[counts]))


def stats(
    ctx: typer.Context,
    exact: Annotated[
        bool, typer.Option("--exact", help="Count exactly even on a huge PostgreSQL store.")
    ] = False,
) -> None:
    """Show head position, totals, oldest and newest event, and counts by category x type.

    On a PostgreSQL store of more than a million events the totals and counts are catalog and
    sample estimates (marked `~`, JSON `estimated: true`) unless --exact.
    """
    from esctl.read.stats import store_stats

    app = state(ctx)
    result = store_stats(app.open_store(), exact=exact)
    out = app.out
    approx = "~" if result.estimated else ""
    summary = result.to_dict()
    summary.pop("counts")
    summary.pop("estimated_figures")
    for key in ("events", "streams"):
        if key in result.estimated:
            summary[key] = f"~{summary[key]}" if summary[key] is not None else "unknown"
    counts = Listing(
        [c.to_dict() for c in result.counts],
        [
            Column("category"),
            Column("event_type", "type"),
            Column("events", format=lambda n: f"{approx}{n:,}", justify="right"),
            Column("percent", "%", format=lambda p: f"{p:.1f}%", justify="right", priority=1),
        ],
        title="Events by category x type" + (" (estimated from a sample)" if approx else ""),
        empty="No events.",
    )
    # CSV writes the counts only (one table per output).
    out.result(result.to_dict(), view=Detail(summary, title="Store", parts=[counts]), csv=counts)


STATE_EXAMPLES = examples(
    "esctl streams state Order-5f1c",
    "esctl streams state Order-5f1c --at-version 3 -o json",
    "esctl streams state Order-5f1c --at 2026-05-01T12:00:00Z --changes",
)


@streams_app.command("state", epilog=STATE_EXAMPLES)
def state_(
    ctx: typer.Context,
    stream: Annotated[
        str, typer.Argument(help="The stream id.", metavar="STREAM", autocompletion=complete_stream)
    ],
    at_version: Annotated[
        int | None, typer.Option("--at-version", min=0, help="The state after this version.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="The state as of this time (ISO 8601, or 15m, 2h, 7d ago)."),
    ] = None,
    reducer: Annotated[
        str | None,
        typer.Option(
            "--reducer",
            "-r",
            help="merge, module:function or path/to/file.py:function (default: the profile's "
            "reducers: for the stream type, else merge).",
        ),
    ] = None,
    changes: Annotated[
        bool, typer.Option("--changes", help="For each event: the keys it added, changed, removed.")
    ] = False,
    no_snapshot: Annotated[
        bool, typer.Option("--no-snapshot", help="Fold from the first event, not a snapshot.")
    ] = False,
) -> None:
    """Fold the stream through its reducer to a version or a time and print the state.

    A stored snapshot at or below the target is the starting point (stderr says so); with
    --changes only the events after it are listed (--no-snapshot lists every one)."""
    from pathlib import Path

    from esctl.errors import UsageError
    from esctl.reducers import ReducerChoice
    from esctl.snapshots.state import Change, stream_state
    from esctl.timeparse import parse_time_arg

    if at_version is not None and at is not None:
        raise UsageError("give --at-version or --at, not both")
    app = state(ctx)
    out = app.out
    when = parse_time_arg(at, "--at") if at is not None else None
    settings = app.settings
    config_dir = settings.config_path.parent if settings.config_path else Path.cwd()
    reducers = ReducerChoice(reducer, settings.reducers, config_dir, settings.profile)
    rows: list[dict[str, Any]] = []

    def keep(change: Change) -> None:
        rows.append(change.to_dict())

    fold = stream_state(
        app.open_store(),
        stream,
        reducers,
        at_version=at_version,
        at=when,
        use_snapshot=not no_snapshot,
        on_change=keep if changes else None,
    )
    if fold.snapshot_version is not None:
        out.message(f"Started from the snapshot at version {fold.snapshot_version}.")
    elif fold.snapshot_skipped is not None:
        out.message(f"Folded from the first event: {fold.snapshot_skipped}.")
    if changes:
        lines = lambda v: "\n".join(v or [])  # noqa: E731
        out.table(
            rows,
            [
                Column("version", justify="right"),
                Column("event_type", "type"),
                Column("created_at", "time", priority=2),
                Column("added", format=lines, wrap=True),
                Column("changed", format=lines, wrap=True),
                Column("removed", format=lines, wrap=True),
                Column("diff", format=lines, wrap=True, priority=1),
            ],
            empty="No events folded.",
        )
        return
    from esctl.encoding import dumps

    shown = {
        key: dumps(value) if isinstance(value, dict | list) else value
        for key, value in fold.state.items()
    }
    title = f"State of {stream} at version {fold.version}"
    from esctl.render import Said

    view = Detail(shown, title=title) if shown else Said([f"{title}: empty."])
    out.result(fold.state, view=view)
