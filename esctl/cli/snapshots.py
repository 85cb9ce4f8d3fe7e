"""`esctl snapshots list | show | rebuild | verify`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from esctl.cli.completion import complete_stream
from esctl.cli.options import DryRunOpt, IncludeDeletedOpt, LimitOpt, examples
from esctl.cli.state import AppState, state
from esctl.display import age
from esctl.encoding import dumps
from esctl.errors import CheckFailed
from esctl.render import Column, Detail, Renderer
from esctl.words import noun_for, number, plural

if TYPE_CHECKING:
    from esctl.reducers import ReducerChoice
    from esctl.snapshots import Selection

T = TypeVar("T")

app = typer.Typer(
    help="List and show stored snapshots; rebuild or verify them by replaying events through "
    "reducers.",
    epilog=examples(
        "esctl snapshots list",
        "esctl snapshots rebuild --all --dry-run",
        "esctl snapshots verify --all",
    ),
    no_args_is_help=True,
)

StreamsArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Stream ids (or use --stream-type / --all).",
        metavar="STREAM...",
        show_default=False,
        autocompletion=complete_stream,
    ),
]
StreamTypeOpt = Annotated[
    str | None, typer.Option("--stream-type", help="Only streams of this stream type.")
]
AllOpt = Annotated[bool, typer.Option("--all", help="Every stream in the store.")]
ReducerOpt = Annotated[
    str | None,
    typer.Option(
        "--reducer",
        "-r",
        help="merge, module:function or path/to/file.py:function, for every stream "
        "(default: the profile's reducers: per stream type, else merge).",
    ),
]


def _state_cell(value: Any) -> str:
    return dumps(value)


@app.command(
    "list",
    epilog=examples(
        "esctl snapshots list",
        "esctl snapshots list --stream-type Order -o json",
    ),
)
def list_(
    ctx: typer.Context,
    stream_type: StreamTypeOpt = None,
    limit: LimitOpt = None,
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """Stored snapshots: stream, type, version, events behind the stream, age and state.

    Snapshots of soft-deleted streams are left out unless --include-deleted."""
    from esctl.snapshots import list_snapshots

    app_state = state(ctx)
    app_state.include_deleted = include_deleted
    out = app_state.out
    shown = out.default_limit(limit)
    store = app_state.open_store(needs=["has_snapshots"], command="snapshots")
    now = datetime.now(UTC)
    with store.reading() as session:
        snapshots = list_snapshots(
            session, stream_type=stream_type, limit=None if shown is None else shown + 1
        )
        out.table(
            (snapshot.to_dict(now) for snapshot in snapshots),
            [
                Column("stream_id", "stream"),
                Column("stream_type", "type", shrink=True, priority=2),
                Column("version", justify="right"),
                Column("events_behind", "behind", justify="right"),
                Column("age_seconds", "age", justify="right", priority=1),
                Column("snapshot_data", "state", format=_state_cell, shrink=True, priority=3),
            ],
            limit=shown,
            empty="No snapshots stored. `esctl snapshots rebuild --all` makes them.",
        )


@app.command(
    epilog=examples("esctl snapshots show Order-5f1c", "esctl snapshots show Order-5f1c -o json")
)
def show(
    ctx: typer.Context,
    stream: Annotated[
        str,
        typer.Argument(
            help="The stream id.",
            metavar="STREAM",
            show_default=False,
            autocompletion=complete_stream,
        ),
    ],
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """One stream's snapshot: version, age, events beyond it, and the state.

    A soft-deleted stream's snapshot is shown only with --include-deleted (else exit 4, saying
    the stream is deleted)."""
    from esctl.snapshots import show_snapshot

    app_state = state(ctx)
    app_state.include_deleted = include_deleted
    out = app_state.out
    store = app_state.open_store(needs=["has_snapshots"], command="snapshots")
    with store.reading() as session:
        snapshot = show_snapshot(session, stream)
    values = snapshot.to_dict()
    shown = {
        "stream": snapshot.stream_id,
        "type": snapshot.stream_type,
        "version": snapshot.version,
        "stream version": snapshot.stream_version,
        "events behind": snapshot.events_behind,
        "created": snapshot.created_at,
        "age": age(values["age_seconds"]),
        "state": snapshot.snapshot_data,
    }
    out.result(values, view=Detail(shown))


def _selection(streams: list[str] | None, stream_type: str | None, all_: bool) -> Selection:
    from esctl.snapshots import Selection

    return Selection(tuple(streams or ()), stream_type, all_)


def _reducers(app_state: AppState, reducer: str | None, selection: Selection) -> ReducerChoice:
    """The reducer choice; a reducer that will surely be needed is loaded now, so a bad name fails
    before anything is read or written."""
    from esctl.reducers import ReducerChoice

    settings = app_state.settings
    config_dir = settings.config_path.parent if settings.config_path else Path.cwd()
    choice = ReducerChoice(reducer, settings.reducers, config_dir, settings.profile)
    if reducer is not None or selection.stream_type is not None:
        choice.for_stream_type(selection.stream_type or "")
    return choice


@contextmanager
def _progress(out: Renderer, total: int | None, what: str) -> Iterator[Callable[[str], None]]:
    """A transient bar on stderr with streams/s and ETA (only on a terminal), and a function that
    counts one stream and prints its failure line, if any, above the bar (failures must not hide
    behind it)."""
    with out.progress("streams") as bars:

        def advance(line: str) -> None:
            if line:
                bars.print(line)
            bars.advance(what, total=total)

        yield advance


def _ticking(
    items: Iterable[T], advance: Callable[[str], None], failure: Callable[[T], str]
) -> Iterator[T]:
    for item in items:
        advance(failure(item))
        yield item


def _total(app_state: AppState, store: Any, selection: Selection) -> int | None:
    """The stream count for the ETA, counted only when a bar is shown."""
    from esctl.snapshots import count_streams

    if not app_state.out.interactive:
        return None
    with store.reading() as session:
        return count_streams(session, selection)


REBUILD_COLUMNS = [
    Column("stream_id", "stream"),
    Column("stream_type", "type"),
    Column("drift", kind="status"),
    Column("previous_version", "stored version", justify="right"),
    Column("version", "new version", justify="right"),
    Column("reducer"),
]


@app.command(
    epilog=examples(
        "esctl snapshots rebuild Order-5f1c",
        "esctl snapshots rebuild --stream-type Order --dry-run",
        "esctl snapshots rebuild --all --reducer ./reducers.py:order",
    )
)
def rebuild(
    ctx: typer.Context,
    streams: StreamsArg = None,
    stream_type: StreamTypeOpt = None,
    all_: AllOpt = False,
    reducer: ReducerOpt = None,
    dry_run: DryRunOpt = False,
    limit: LimitOpt = None,
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """Replay streams from their first event and upsert their snapshots; exit 1 if any failed.

    Each snapshot gets the version of the last event replayed, in transactions of a few hundred
    streams; a snapshot written meanwhile with a newer version is kept. A failing reducer is
    reported with stream, version and event type, and the run goes on. With --dry-run nothing is
    written and the streams that would change are listed (--limit caps that table). A snapshot
    older than a redaction of its events is rewritten even when it replays the same.
    Soft-deleted streams are left out unless --include-deleted.
    """
    from esctl.snapshots import RebuildOutcome, RebuildSummary, rebuild_snapshots

    app_state = state(ctx)
    app_state.include_deleted = include_deleted
    out = app_state.out
    selection = _selection(streams, stream_type, all_)
    store = app_state.open_store(
        write=not dry_run, needs=["has_snapshots"], command="snapshots rebuild"
    )
    reducers = _reducers(app_state, reducer, selection)
    total = _total(app_state, store, selection)
    summary = RebuildSummary()
    shown = out.default_limit(limit)
    changes: list[dict[str, Any]] = []
    started = time.monotonic()

    def failure(outcome: RebuildOutcome) -> str:
        summary.add(outcome)
        if outcome.status == "would-rebuild" and (shown is None or len(changes) <= shown):
            changes.append(outcome.to_dict())
        return f"Failed: {outcome.stream_id}: {outcome.error}" if outcome.status == "failed" else ""

    label = "Checking" if dry_run else "Rebuilding"
    with _progress(out, total, label) as advance:
        outcomes = _ticking(
            rebuild_snapshots(store, selection, reducers, dry_run=dry_run), advance, failure
        )
        # The data formats write every outcome as it comes; a person gets the tables below.
        out.stream(
            (o.to_dict() for o in outcomes),
            [Column(k) for k in RebuildOutcome.__dataclass_fields__],
        )
    seconds = time.monotonic() - started
    if dry_run:
        out.summary(changes, REBUILD_COLUMNS, limit=shown, title="Would rebuild")
    rows: list[dict[str, Any]] = [
        {"result": "would rebuild" if dry_run else "rebuilt", "streams": summary.rebuilt},
        {"result": "unchanged", "streams": summary.unchanged},
        {"result": "failed", "streams": summary.failed},
    ]
    if summary.kept_newer:
        rows.append({"result": "kept newer", "streams": summary.kept_newer})
    out.summary(rows, [Column("result", kind="status"), Column("streams", justify="right")])
    rate = summary.streams / seconds if seconds > 0 else 0.0
    out.message(
        f"Replayed {plural(summary.events, 'event')} of {plural(summary.streams, 'stream')} in {seconds:.1f}s "
        f"({rate:,.0f} streams/s)." + (" Dry run: nothing was written." if dry_run else "")
    )
    if summary.failed:
        raise CheckFailed(
            f"{number(summary.failed)} of {plural(summary.streams, 'stream')} failed to rebuild",
            hint="each failure is printed above; fix the reducer or the events and run again",
        )


@app.command(
    epilog=examples(
        "esctl snapshots verify --all",
        "esctl snapshots verify Order-5f1c -o json",
        "esctl snapshots verify --stream-type Order --reducer myapp.reducers:order",
    )
)
def verify(
    ctx: typer.Context,
    streams: StreamsArg = None,
    stream_type: StreamTypeOpt = None,
    all_: AllOpt = False,
    reducer: ReducerOpt = None,
    limit: LimitOpt = None,
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """Replay streams and compare with the stored snapshots; exit 1 on drift. Read-only.

    Drift is `missing` (no snapshot), `stale` (behind the stream), `different` (same version,
    different state, with a short diff), `ahead` (a version above the stream's last event),
    `redacted` (written before `events redact` erased values of an event it holds: it may hold
    them; rebuild rewrites it) or `failed` (the reducer raised). Soft-deleted streams are left
    out unless --include-deleted.
    """
    from esctl.snapshots import SnapshotCheck, verify_snapshots

    app_state = state(ctx)
    app_state.include_deleted = include_deleted
    out = app_state.out
    selection = _selection(streams, stream_type, all_)
    store = app_state.open_store(needs=["has_snapshots"], command="snapshots")
    reducers = _reducers(app_state, reducer, selection)
    total = _total(app_state, store, selection)
    counts: Counter[str] = Counter()
    shown = out.default_limit(limit)

    def count(check: SnapshotCheck) -> str:
        counts[check.drift] += 1
        return ""

    columns = [
        Column("stream_id", "stream"),
        Column("stream_type", "type"),
        Column("drift", kind="status"),
        Column("snapshot_version", "snapshot", justify="right"),
        Column("stream_version", "stream", justify="right"),
        Column("detail", wrap=True),
        Column("diff", format=lambda lines: "\n".join(lines or []), wrap=True),
    ]
    with _progress(out, total, "Verifying") as advance, store.reading() as session:
        checks = _ticking(verify_snapshots(session, selection, reducers), advance, count)
        problems = (c.to_dict() for c in checks if c.drift != "ok")
        # Every stream is checked (the exit code covers them all), past --limit too.
        drifted = out.stream(problems, columns, limit=shown, keep=True)
    out.summary(drifted, columns, limit=shown)
    checked = sum(counts.values())
    bad = checked - counts["ok"]
    kinds = ", ".join(f"{kind} {counts[kind]}" for kind in sorted(counts) if kind != "ok")
    out.message(
        f"Verified {plural(checked, 'stream')}: {bad:,} drifted"
        + (f" ({kinds})." if kinds else ".")
    )
    if bad:
        raise CheckFailed(
            f"{number(bad)} of {plural(checked, 'snapshot')} {noun_for(bad, 'drifts', 'drift')} from their events",
            hint="esctl snapshots rebuild with the same selection repairs them",
        )
