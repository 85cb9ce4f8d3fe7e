"""`esctl read` (one stream or the global log) and `esctl events show`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from esctl.cli.completion import complete_stream
from esctl.cli.event_columns import EVENT_COLUMNS, use_format
from esctl.cli.options import FormatOpt, IncludeDeletedOpt, LimitOpt, WhereOpt, examples
from esctl.cli.state import state
from esctl.errors import UsageError
from esctl.words import noun_for

READ_EXAMPLES = examples(
    "esctl read Order-5f1c",
    "esctl read Order-5f1c --backwards --limit 5",
    "esctl read --all --category Order --type OrderPlaced --since 2h",
    "esctl read --all --from-position 1000 -o jsonl > events.jsonl",
    "esctl read --all --where data.customer_id=C-42 --where 'data.total>=100'",
    "esctl read Order-5f1c --where 'metadata.user~alice'",
    "esctl read --all --format '{global_position} {stream_id} {event_type} {data.amount}'",
)
SHOW_EXAMPLES = examples("esctl events show 5f1c0a7e-1b2c-4d3e-8f90-123456789abc -o json")

events_app = typer.Typer(
    help="Look up single events.",
    epilog=examples("esctl events show 5f1c0d2e-3a4b-4c5d-8e6f-000000001001"),
    no_args_is_help=True,
)


def read(
    ctx: typer.Context,
    stream: Annotated[
        str | None,
        typer.Argument(
            help="The stream to read.", metavar="STREAM", autocompletion=complete_stream
        ),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Read the global log instead.")] = False,
    from_version: Annotated[
        int | None,
        typer.Option("--from-version", min=0, help="STREAM: start at this version (inclusive)."),
    ] = None,
    backwards: Annotated[bool, typer.Option("--backwards", help="STREAM: newest first.")] = False,
    from_position: Annotated[
        int | None,
        typer.Option("--from-position", min=0, help="--all: start at this position (inclusive)."),
    ] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="--all: only streams of this category.")
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="--all: only this event type (repeatable)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="--all: from this time (ISO 8601, or 15m, 2h, 7d ago)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="--all: before this time (same forms).")
    ] = None,
    expressions: WhereOpt = None,
    limit: LimitOpt = None,
    template: FormatOpt = None,
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """Read one stream in version order, or the global log with --all.

    Output streams row by row, so `-o jsonl` of a whole store keeps memory flat; the JSON lines
    are valid input for `esctl append`. On a Message DB store versions are Message DB's own
    positions: 0 is a stream's first message.
    """
    from esctl.conditions import parse_conditions
    from esctl.read.events import EventFilter, capped, read_all, read_all_json, read_stream
    from esctl.timeparse import parse_time_arg

    conditions = parse_conditions(expressions)

    if (stream is None) == (not all_):
        raise UsageError("give a STREAM or --all (not both)", hint="esctl read --help")
    if stream is not None:
        misplaced = [
            name
            for name, value in (
                ("--from-position", from_position),
                ("--category", category),
                ("--type", types),
                ("--since", since),
                ("--until", until),
            )
            if value
        ]
        if misplaced:
            raise UsageError(
                f"{' and '.join(misplaced)} {noun_for(len(misplaced), 'works', 'work')} only with --all"
            )
    elif from_version is not None or backwards:
        raise UsageError("--from-version and --backwards work only with a STREAM")
    app = state(ctx)
    app.include_deleted = include_deleted
    out = app.out
    use_format(out, template)
    limit = out.default_limit(limit)
    fetch = limit + 1 if limit is not None else None
    store = app.open_store()
    if stream is not None:
        events = read_stream(
            store,
            stream,
            from_version=from_version,
            limit=fetch,
            backwards=backwards,
            conditions=conditions,
            warn=capped(out.warning),
        )
        out.table(
            (e.to_dict() for e in events),
            EVENT_COLUMNS,
            limit=limit,
            empty=f"Stream {stream} has no events in that range.",
        )
        return
    event_filter = EventFilter(
        category=category,
        types=tuple(types or ()),
        since=parse_time_arg(since, "--since") if since else None,
        until=parse_time_arg(until, "--until") if until else None,
        conditions=conditions,
    )

    if conditions and app.verbose:
        explain_where(app, store, event_filter)

    def rows() -> Iterator[dict[str, Any]]:
        events = read_all(
            store, event_filter, from_position=from_position, limit=fetch, warn=capped(out.warning)
        )
        for event in events:
            yield event.to_dict()

    out.table(
        rows(),
        EVENT_COLUMNS,
        limit=limit,
        empty="No events match.",
        # The JSON formats write the events as the store encodes them (no row decoded).
        json_lines=lambda: read_all_json(
            store, event_filter, from_position=from_position, limit=fetch, warn=capped(out.warning)
        ),
    )


@events_app.command("show", epilog=SHOW_EXAMPLES)
def show(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(help="The event's id (a UUID).", metavar="EVENT_ID")],
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """Show one event by its id (exit 4 when there is none, or when its stream is soft-deleted
    and not --include-deleted)."""
    import uuid

    from esctl.read.events import get_event

    app = state(ctx)
    app.include_deleted = include_deleted
    try:
        uuid.UUID(event_id)
    except ValueError:
        # A layout without event ids names its own form (eventsourcing: ORIGINATOR_ID:VERSION).
        if getattr(app.open_store().layout, "event_id_form", None) is None:
            raise UsageError(
                f"{event_id!r} is not an event id (a UUID)",
                hint="event ids look like 5f1c0a7e-1b2c-4d3e-8f90-123456789abc",
            ) from None
    event = get_event(app.open_store(), event_id, warn=app.out.warning)
    app.out.result(event.to_dict(), title=f"Event {event.event_id}")


def explain_where(app: Any, store: Any, event_filter: Any) -> None:
    """`-v` with --where: whether the store's plan uses an index, and the one that would help."""
    from esctl.read.events import where_plan

    plan = where_plan(store, event_filter)
    for line in plan.lines() if plan is not None else ["--where: this store shows no plan"]:
        app.out.note(line)
