"""`esctl trace ID`: what one request caused, across streams, as a causation tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from esctl.cli.event_columns import EVENT_COLUMNS, short_time
from esctl.cli.options import LimitOpt, examples
from esctl.cli.state import state
from esctl.display import UTC_ZONE, Zone
from esctl.render import Column

TRACE_EXAMPLES = examples(
    "esctl trace 5f1c0a7e-1b2c-4d3e-8f90-123456789abc",
    "esctl trace req-7f3a            # a correlation id",
    "esctl trace req-7f3a -o jsonl | jq -c '{depth, stream_id, event_type}'",
    "esctl trace req-7f3a --limit 10000 -v",
)

TRACE_COLUMNS = [
    Column("depth", "depth", justify="right"),
    *EVENT_COLUMNS[:5],
    Column("event_id", "event"),
    Column("parent_event_id", "parent"),
    Column("since_parent_seconds", "after parent", justify="right"),
    Column("note", "note", wrap=True),
]


def trace(
    ctx: typer.Context,
    identifier: Annotated[
        str,
        typer.Argument(
            help="An event id (its correlation id is followed) or a correlation id.",
            metavar="ID",
        ),
    ],
    limit: LimitOpt = None,
) -> None:
    """Every event that shares ID's correlation id, as a causation tree across streams.

    A parent is the event whose id is the child's causation id; an event whose parent is not
    stored (or is past --limit) is a root with a note. The metadata keys are correlation_id and
    causation_id unless the profile's trace_keys: names others. -o json/jsonl/csv write the
    events flat, in tree order, with parent_event_id and depth. Exit 4 when no event has ID.
    """
    from esctl.read.trace import DEFAULT_LIMIT
    from esctl.read.trace import trace as trace_events
    from esctl.render.views import Tree

    app = state(ctx)
    out = app.out
    store = app.open_store()
    found = trace_events(
        store,
        identifier,
        keys=app.settings.trace_keys,
        limit=DEFAULT_LIMIT if limit is None else limit,
        explain=True,
    )
    rows = [traced.to_dict() for traced in found.events]
    out.tree(
        Tree(
            rows,
            TRACE_COLUMNS,
            label=_node,
            title=f"{app.settings.trace_keys[0]} {found.correlation_id}",
        )
    )
    if found.cut:
        out.warning(
            f"Showing the first {len(rows)} events of the trace; use --limit N to see more."
        )
    plan = found.plan
    if plan is None:
        return
    if app.verbose:
        for line in plan.lines():
            out.note(line)
    elif not plan.indexes_used and plan.suggestions:
        out.note(
            "trace: no index serves the trace key, so each trace reads the whole events table; "
            f"an index would help: {plan.suggestions[0]}"
        )


def _node(row: Mapping[str, Any], zone: Zone = UTC_ZONE) -> str:
    """`Payment-1@2  PaymentTaken  2026-12-01 10:00:01  +1.250s`: one event of the tree."""
    since = row.get("since_parent_seconds")
    after = f"  +{_seconds(since)}" if since is not None else ""
    return (
        f"{row['stream_id']}@{row['version']}  {row['event_type']}  "
        f"{short_time(row['created_at'], zone)}{after}"
    )


def _seconds(value: float) -> str:
    if abs(value) < 1:
        return f"{value * 1000:.0f}ms"
    if abs(value) < 120:
        return f"{value:.2f}s"
    return f"{value / 60:.1f}m"
