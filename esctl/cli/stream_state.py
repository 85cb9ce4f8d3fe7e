"""`esctl streams state STREAM`: a stream's state at a version or a time, and what each event changed."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esctl.cli.completion import complete_stream
from esctl.cli.options import examples
from esctl.cli.state import state
from esctl.render import Column, Detail, Said

STATE_EXAMPLES = examples(
    "esctl streams state Order-5f1c",
    "esctl streams state Order-5f1c --at-version 3 -o json",
    "esctl streams state Order-5f1c --at 2026-05-01T12:00:00Z --changes",
)


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
    view = Detail(shown, title=title) if shown else Said([f"{title}: empty."])
    out.result(fold.state, view=view)
