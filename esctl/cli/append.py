"""`esctl append`: validate JSON events, then append them atomically and idempotently."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from esctl.cli.options import DryRunOpt, LimitOpt, examples
from esctl.cli.state import state
from esctl.output import Column, Renderer

APPEND_EXAMPLES = examples(
    "esctl append examples/orders.jsonl",
    "esctl append export.jsonl --stream Order-42 --expected-version 3",
    "cat events.json | esctl append - --expected-version no-stream",
    "esctl append huge.jsonl --commit-every 50000",
    "esctl -s postgresql://app@db/app read --all -o jsonl | esctl -s copy.db append -",
)

COLUMNS = [
    Column("stream_id", "stream"),
    Column("stream_type", "type"),
    Column("appended", "new", justify="right"),
    Column("duplicates", "dups", justify="right"),
    Column("first_version", "first ver", justify="right"),
    Column("last_version", "last ver", justify="right"),
    Column("first_position", "first pos", justify="right"),
    Column("last_position", "last pos", justify="right"),
]


def append(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            help="Input files: .json (object or array), .jsonl/.ndjson, or - for stdin.",
            metavar="FILE...",
        ),
    ],
    stream: Annotated[
        str | None, typer.Option("--stream", help="Put every event in this stream.")
    ] = None,
    expected_version: Annotated[
        str,
        typer.Option(
            "--expected-version",
            "-e",
            metavar="any|no-stream|exists|N",
            help="Version each stream must have before the first event of the input.",
        ),
    ] = "any",
    commit_every: Annotated[
        int | None,
        typer.Option(
            "--commit-every",
            min=1,
            metavar="N",
            help="Commit every N events instead of all at once (huge imports).",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="An input without events is not an error: append nothing, exit 0 (for "
            "incremental copies).",
        ),
    ] = False,
    limit: LimitOpt = None,
) -> None:
    """Validate events from JSON files, then append them: atomic, idempotent by event_id.

    Every input is checked first (exit 6 with file, line and field; nothing written). Versions
    continue each stream; --expected-version is checked atomically (exit 3 on a conflict). Events
    already stored (same event_id and content) are reported as duplicates, not appended again.
    """
    from esctl.appending import ExpectedVersion, append_events
    from esctl.events import EmptyInput
    from esctl.inputs import open_sources

    app = state(ctx)
    expected = ExpectedVersion.parse(expected_version)
    store = app.open_store(write=not dry_run)
    out = app.out
    try:
        with open_sources(files) as sources, _progress(out) as progress:
            result = append_events(
                store,
                sources,
                stream=stream,
                expected=expected,
                commit_every=commit_every,
                dry_run=dry_run,
                progress=progress,
            )
    except EmptyInput:
        if not allow_empty:
            raise
        if out.format != "table":
            out.rows([], COLUMNS)  # an empty result: `[]`, or the CSV header
        out.note("The input holds no events: nothing was appended (--allow-empty).")
        return
    shown = out.default_limit(limit)
    streams = result.streams if shown is None else result.streams[: shown + 1]
    if not (out.quiet and out.format == "table"):  # -q: a table is a message, not data
        out.rows(
            (s.to_dict() for s in streams),
            COLUMNS,
            limit=shown,
            more_hint="use --limit N to see more streams, or -o jsonl for all",
        )
    verb = "Would append" if dry_run else "Appended"
    line = f"{verb} {result.appended} events to {len(result.streams)} streams"
    if result.duplicates:
        line += f"; {result.duplicates} were already stored (duplicates, not appended)"
    out.message(line + ".")
    if dry_run:
        out.note("Dry run: nothing was written.")


ProgressFn = Callable[[str, int, int | None], None]


@contextmanager
def _progress(out: Renderer) -> Iterator[ProgressFn | None]:
    """A progress bar (events, events/s, ETA) on a terminal only; refreshed at most 10 times/s."""
    if not out.interactive:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} events/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=out.err_console, transient=True) as bar:
        tasks: dict[str, object] = {}
        counts: dict[str, int] = {}
        totals: dict[str, int] = {}
        started = time.monotonic()
        shown = 0.0

        def update(phase: str, done: int, total: int | None) -> None:
            nonlocal shown, started
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase.capitalize(), total=total, rate="-")
                if total is not None:
                    totals[phase] = total
                counts[phase] = 0
                started = time.monotonic()
            counts[phase] += done
            now = time.monotonic()
            if now - shown > 0.1:
                shown = now
                rate = counts[phase] / max(now - started, 1e-6)
                # The single pass estimates its total as it reads. A new total resets rich's speed
                # samples (so the ETA), so pass it only when it moved by more than 2 %.
                known = totals.get(phase)
                more: dict[str, int] = {}
                if total is not None and (known is None or abs(total - known) > known / 50):
                    more = {"total": total}
                    totals[phase] = total
                bar.update(tasks[phase], completed=counts[phase], rate=f"{rate:,.0f}", **more)  # type: ignore[arg-type]

        yield update
