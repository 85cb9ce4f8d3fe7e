"""`esctl streams list|show` and `esctl stats`."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Annotated, Any

import typer

from esctl.cli.completion import complete_stream
from esctl.cli.options import IncludeDeletedOpt, LimitOpt, examples
from esctl.cli.state import state
from esctl.cli.watch import IntervalOpt, MaxFramesOpt, WatchOpt, check_watch_options, run_watch
from esctl.errors import UsageError
from esctl.render import Column, Detail, Listing

LIST_EXAMPLES = examples(
    "esctl streams list --category Order",
    "esctl streams list --limit 50 --after Order-5f1c",
    "esctl streams list --sort size --limit 10",
)
SHOW_EXAMPLES = examples("esctl streams show Order-5f1c", "esctl streams show Order-5f1c -o json")
STATS_EXAMPLES = examples(
    "esctl stats",
    "esctl stats -o json",
    "esctl stats --exact",
    "esctl stats --by-size",
    "esctl stats --by type-stream --exact",
    "esctl stats --watch --interval 5",
)


class Grouping(StrEnum):
    """`stats --by`: the keys of `esctl.read.stats.GROUPINGS`."""

    category_type = "category-type"
    type_category = "type-category"
    type_stream = "type-stream"
    stream_type = "stream-type"
    category = "category"
    type = "type"
    stream = "stream"


# The columns of a `stats --by` table, by dimension.
DIMENSION_COLUMNS = {
    "category": Column("category"),
    "event_type": Column("event_type", "type"),
    "stream_id": Column("stream_id", "stream"),
}
DIMENSION_WORDS = {"category": "category", "event_type": "type", "stream_id": "stream"}


class SortChoice(StrEnum):
    events = "events"
    size = "size"
    last = "last"
    stream = "stream"


def _bytes(value: Any) -> str:
    from esctl.render.progress import human_bytes

    return "" if value is None else human_bytes(value)


def _sample_note(percent: float) -> str:
    return f"Estimated from a {percent:.3g}% sample; --exact for a full scan."


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
    sort: Annotated[
        SortChoice,
        typer.Option(
            "--sort",
            help="Order: stream (id, the default), or events, size (data + metadata bytes), "
            "last (event time), largest first.",
        ),
    ] = SortChoice.stream,
    reverse: Annotated[bool, typer.Option("--reverse", help="Reverse the order.")] = False,
    exact: Annotated[
        bool,
        typer.Option("--exact", help="Rank by every event even on a huge PostgreSQL store."),
    ] = False,
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """List streams: type, version, events, bytes, last event time; in id order (paginated with
    --after) or ranked with --sort.

    Bytes are the UTF-8 bytes of the JSON text of data and metadata. Ranking reads every event;
    on a PostgreSQL store of more than a million events it ranks a sample (said so, JSON
    `estimated: true`) unless --exact.
    """
    from esctl.read.streams import list_streams, listing_sample

    app = state(ctx)
    app.include_deleted = include_deleted
    out = app.out
    limit = out.default_limit(limit)
    fetch = limit + 1 if limit is not None else None
    store = app.open_store()
    percent = listing_sample(store, sort=sort.value, exact=exact)
    rows: Any = list_streams(
        store,
        category=category,
        after=after,
        limit=fetch,
        sort=sort.value,
        reverse=reverse,
        sample_percent=percent,
    )
    if percent is not None:
        out.note(_sample_note(percent))
    hint = "use --limit N to see more"
    if limit is not None and sort == SortChoice.stream:
        rows = list(rows)
        if len(rows) > limit and limit > 0:
            hint = f"next page: --after {rows[limit - 1]['stream_id']}"
    approx = "~" if percent is not None else ""
    columns = [
        Column("stream_id", "stream"),
        Column("stream_type", "type", shrink=True, priority=2),
        Column("version", justify="right"),
        Column("events", format=lambda n: f"{approx}{n:,}", justify="right"),
        Column("bytes", format=lambda n: approx + _bytes(n), justify="right", priority=1),
        Column("data_bytes", "data", format=_bytes, justify="right", priority=3),
        Column("metadata_bytes", "metadata", format=_bytes, justify="right", priority=3),
        Column("last_event_at", "last event", priority=1),
    ]
    if percent is not None:
        columns += [Column("estimated", priority=4), Column("sample_percent", priority=4)]
    out.table(
        rows,
        columns,
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
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """Show one stream: version, counts by type, first and last event time, snapshot version."""
    from esctl.read.streams import show_stream

    app = state(ctx)
    app.include_deleted = include_deleted
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
    by_size: Annotated[
        bool,
        typer.Option(
            "--by-size",
            help="Also bytes by category and type, largest events, table sizes (PostgreSQL).",
        ),
    ] = False,
    by: Annotated[
        Grouping,
        typer.Option(
            "--by",
            help="The table of counts: category-type, type-category, type-stream, stream-type, "
            "category, type or stream (the summaries Message DB's mdb-print-* tools print).",
        ),
    ] = Grouping.category_type,
    limit: LimitOpt = None,
    include_deleted: IncludeDeletedOpt = False,
    watch: WatchOpt = False,
    interval: IntervalOpt = 2.0,
    max_frames: MaxFramesOpt = None,
) -> None:
    """Show head position, totals, oldest and newest event, and counts by category x type.

    --by chooses the table of counts (JSON `by`, and `counts` holds its rows: the keys of its
    dimensions, `events`, `percent` of all events rounded half up to 2 places, as Message DB's
    summary views round it), sorted by its dimensions in the store's collation. A table by
    stream counts every event: on a store of more than a million events it needs --exact.

    On a PostgreSQL store of more than a million events the totals and counts are catalog and
    sample estimates (marked `~`, JSON `estimated: true`) unless --exact. --by-size adds where
    the bytes are (UTF-8 bytes of the JSON text of data and metadata), from a sample on such a
    store too (JSON `sizes.estimated`, `sizes.sample_percent`). --watch redraws the events per
    category with "appended/s" (`appended_per_second`) since the last frame (estimates where the
    counts are).
    """
    check_watch_options(watch, interval, max_frames)
    state(ctx).include_deleted = include_deleted
    if watch:
        if by_size or by != Grouping.category_type:
            raise UsageError(f"{'--by-size' if by_size else '--by'} does not go with --watch")
        _watch_stats(ctx, exact, interval, max_frames)
        return
    from esctl.read.sizes import store_sizes
    from esctl.read.stats import store_stats

    app = state(ctx)
    store = app.open_store()
    # --by-size reads the counts by type in its own scan: stats reuses them.
    sizes = store_sizes(store, exact=exact) if by_size else None
    counts_read = sizes.type_counts() if sizes is not None else None
    result = store_stats(store, exact=exact, type_counts=counts_read, by=by.value)
    out = app.out
    approx = "~" if result.estimated else ""
    record = result.to_dict()
    summary = dict(record)
    summary.pop("counts")
    summary.pop("by")  # the title of the counts says it
    summary.pop("estimated_figures")
    for key in ("events", "streams"):
        if key in result.estimated:
            summary[key] = f"~{summary[key]}" if summary[key] is not None else "unknown"
    counts = _counts_listing(record["counts"], by.value, approx)
    shown_limit = out.default_limit(limit)
    if shown_limit is not None and len(record["counts"]) > shown_limit:
        counts = replace(counts, rows=record["counts"][:shown_limit])
        rows_word = "row" if shown_limit == 1 else "rows"
        out.note(
            f"Showing the first {shown_limit} {rows_word} of counts; use --limit N or -o json."
        )
    parts = [counts]
    csv = counts  # CSV writes one table: the counts, or with --by-size the bytes by type
    if sizes is not None:
        record["sizes"] = sizes.to_dict()
        if sizes.estimated:
            record["estimated"] = summary["estimated"] = True
            record["estimated_figures"] = [*record["estimated_figures"], "sizes"]
        size_parts = _size_listings(sizes)
        parts += size_parts
        csv = size_parts[1]
    out.result(record, view=Detail(summary, title="Store", parts=parts), csv=csv)


def _counts_listing(rows: list[dict[str, Any]], by: str, approx: str) -> Listing:
    """The table of counts `stats --by` chose."""
    from esctl.read.stats import GROUPINGS

    dimensions = GROUPINGS[by]
    title = " x ".join(DIMENSION_WORDS[d] for d in dimensions)
    return Listing(
        rows,
        [
            *(DIMENSION_COLUMNS[d] for d in dimensions),
            Column("events", format=lambda n: f"{approx}{n:,}", justify="right"),
            Column("percent", "%", format=lambda p: f"{p:.1f}%", justify="right", priority=1),
        ],
        title=f"Events by {title}" + (" (estimated from a sample)" if approx else ""),
        empty="No events.",
    )


def _watch_stats(ctx: typer.Context, exact: bool, interval: float, max_frames: int | None) -> None:
    from esctl.operate.watch import sample_stats

    app = state(ctx)
    store = app.open_store()
    columns = [
        Column("category"),
        Column("events", justify="right"),
        Column(
            "appended_per_second",
            "appended/s",
            justify="right",
            format=lambda r: "" if r is None else f"{r:,.1f}",
        ),
    ]

    def draw(frame: Any) -> tuple[dict[str, Any], Any]:
        stats = frame.stats
        approx = "~" if stats.estimated else ""
        summary = {
            "head_position": stats.head_position,
            "events": f"{approx}{stats.events:,}",
            "newest_event_at": stats.to_dict()["newest_event_at"],
        }
        listing = Listing(frame.category_rows(), columns, title="By category", empty="No events.")
        return frame.to_dict(), Detail(summary, title="Store", parts=[listing])

    run_watch(
        app.out,
        lambda previous: sample_stats(store, previous, exact=exact),
        draw,
        interval=interval,
        max_frames=max_frames,
    )


def _size_listings(sizes: Any) -> list[Listing]:
    """The tables of `stats --by-size`: by category, by category x type, the store's tables."""
    approx = "~" if sizes.estimated else ""
    note = (
        f" (estimated from a {sizes.sample_percent:.3g}% sample; --exact for a full scan)"
        if sizes.estimated
        else ""
    )

    def columns(with_type: bool) -> list[Column]:
        return [
            Column("category"),
            *([Column("event_type", "type")] if with_type else []),
            Column("events", format=lambda n: f"{approx}{n:,}", justify="right"),
            Column("bytes", format=lambda n: approx + _bytes(n), justify="right"),
            Column("data_bytes", "data", format=_bytes, justify="right", priority=3),
            Column("metadata_bytes", "metadata", format=_bytes, justify="right", priority=3),
            Column("avg_bytes", "avg", format=_bytes, justify="right", priority=2),
            Column("largest_bytes", "largest", format=_bytes, justify="right"),
            Column("largest_id", "largest event", priority=1),
            Column("largest_stream_id", "in stream", priority=1),
        ]

    listings = [
        Listing(
            [g.to_dict() for g in sizes.by_category],
            columns(False),
            title="Bytes by category" + note,
            empty="No events.",
        ),
        Listing(
            [g.to_dict() for g in sizes.by_type],
            columns(True),
            title="Bytes by category x type" + note,
            empty="No events.",
            legend="Bytes: UTF-8 bytes of the JSON text of data and metadata.",
        ),
    ]
    if sizes.tables:
        listings.append(
            Listing(
                sizes.tables,
                [
                    Column("table"),
                    Column("rows_estimate", "rows (est.)", justify="right"),
                    Column("table_bytes", "table", format=_bytes, justify="right"),
                    Column("toast_bytes", "toast", format=_bytes, justify="right"),
                    Column("index_bytes", "indexes", format=_bytes, justify="right"),
                    Column("total_bytes", "total", format=_bytes, justify="right"),
                ],
                title="Tables on disk",
            )
        )
    return listings
