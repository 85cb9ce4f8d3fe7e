"""`esctl tail`: follow the log live, never losing an event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from esctl.cli.completion import complete_stream, complete_subscription
from esctl.cli.event_columns import EVENT_COLUMNS, event_line
from esctl.cli.options import examples
from esctl.cli.state import state
from esctl.errors import UsageError
from esctl.models import RecordedEvent
from esctl.output import Renderer, csv_value
from esctl.words import plural

TAIL_EXAMPLES = examples(
    "esctl tail --all",
    "esctl tail Order-5f1c",
    "esctl tail --category Order --type OrderPlaced -o jsonl",
    "esctl tail --all --checkpoint audit-export --from-start -o jsonl >> audit.jsonl",
    "esctl tail --all --from-position 1 --max 100 --idle-timeout 5 -o jsonl",
)


def tail(
    ctx: typer.Context,
    stream: Annotated[
        str | None,
        typer.Argument(
            help="Follow this stream only.", metavar="STREAM", autocompletion=complete_stream
        ),
    ] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="Follow the streams of this category.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Follow every stream (the default).")] = False,
    types: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="Only this event type (repeatable).")
    ] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Start at the first event, not at the end.")
    ] = False,
    from_position: Annotated[
        int | None,
        typer.Option("--from-position", min=0, help="Start at the event at this position."),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            help="Resume from and save to this subscription (saved after output is written).",
            autocompletion=complete_subscription,
        ),
    ] = None,
    max_events: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after N events.")
    ] = None,
    idle_timeout: Annotated[
        float | None,
        typer.Option("--idle-timeout", min=0, help="Stop after SECONDS without an event."),
    ] = None,
) -> None:
    """Follow events live in commit order, from the end by default.

    No event is skipped or repeated, even with concurrent writers; Ctrl-C or SIGTERM ends it
    cleanly (exit 0). With
    --checkpoint, tail resumes where that subscription stopped (--from-start/--from-position
    apply only when it does not exist yet) and saves its place after each batch is written out.
    Output is flushed per event; -o json is written as JSON lines.
    """
    from esctl.checkpoints import load_cursor
    from esctl.reading import EventFilter
    from esctl.tailing import Follower, StartAt, start_cursor, stop_on_signals

    if sum([stream is not None, category is not None, all_]) > 1:
        raise UsageError("give at most one of STREAM, --category and --all")
    if from_start and from_position is not None:
        raise UsageError("give --from-start or --from-position, not both")
    app = state(ctx)
    out = app.out
    # The checkpoint lives on the primary: read from there, and saved there (a read-only
    # profile refuses --checkpoint here, before any connection).
    primary = app.open_store(write=True) if checkpoint else None
    store = app.open_store()  # the read_store (a replica) when the profile has one
    cursor = load_cursor(primary, checkpoint) if primary and checkpoint else None
    resumed = cursor is not None
    if resumed and (from_start or from_position is not None):
        out.note(f"Checkpoint {checkpoint!r} exists: resuming there (--from-* apply to a new one).")
    if cursor is None:
        cursor = start_cursor(store, StartAt(from_start=from_start, from_position=from_position))
    follower = Follower(
        store,
        EventFilter(
            stream_id=stream,
            category=category,
            types=tuple(types or ()),
            from_position=None if resumed else from_position,
        ),
        cursor,
        checkpoint=checkpoint,
        checkpoint_store=primary,
        warn=out.warning,
    )
    what = f"stream {stream}" if stream else f"category {category}" if category else "all events"
    where = f"checkpoint {checkpoint!r}" if resumed else f"position {cursor.global_position}"
    out.note(f"Following {what} after {where} (Ctrl-C to stop).")
    with stop_on_signals(follower):
        delivered = follower.run(_emitter(out), max_events=max_events, idle_timeout=idle_timeout)
    out.note(f"{plural(delivered, 'event')}.")


def _emitter(out: Renderer) -> Callable[[RecordedEvent], None]:
    """Write one event and flush, in the chosen format."""
    if out.format in ("json", "jsonl"):
        return lambda event: out.json_line(event.to_dict())
    stdout = out.stdout
    if out.format == "csv":
        import csv

        writer = csv.writer(stdout, lineterminator="\n")
        writer.writerow([c.key for c in EVENT_COLUMNS])

        def csv_row(event: RecordedEvent) -> None:
            row = event.to_dict()
            writer.writerow([csv_value(row.get(c.key)) for c in EVENT_COLUMNS])
            stdout.flush()

        return csv_row

    def text_line(event: RecordedEvent) -> None:
        stdout.write(event_line(event.to_dict()) + "\n")
        stdout.flush()

    return text_line
