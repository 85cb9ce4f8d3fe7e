"""`esctl tail`: follow the log live, never losing an event."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Annotated

import typer

from esctl.cli.completion import complete_stream, complete_subscription
from esctl.cli.event_columns import EVENT_COLUMNS, event_line, use_format
from esctl.cli.options import FormatOpt, IncludeDeletedOpt, WhereOpt, examples
from esctl.cli.state import state
from esctl.cli.stdio import stdout_is_closed
from esctl.errors import UsageError
from esctl.render import Renderer
from esctl.render.sink import OutputFailed
from esctl.timeparse import parse_duration, parse_time_arg
from esctl.types import RecordedEvent
from esctl.words import plural

_POOLER_NOTE = (
    "Note: a transaction pooler sits in front of the store (pooler: {how}); LISTEN does not "
    "work through it, so new events are polled for every {every:g}s."
)

TAIL_EXAMPLES = examples(
    "esctl tail --all",
    "esctl tail Order-5f1c",
    "esctl tail --category Order --type OrderPlaced -o jsonl",
    "esctl tail --all --checkpoint audit-export --from-start -o jsonl >> audit.jsonl",
    "esctl tail --all --from-position 1 --max 100 --idle-timeout 5 -o jsonl",
    "esctl tail --all --since 2h --checkpoint replay -o jsonl",
    "esctl tail --category Order --where 'data.total>=1000'",
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
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Start at the first event created at or after TIME (ISO 8601, UTC if no "
            "offset; or 2h = 2 hours ago).",
        ),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            help="Resume from and save to this subscription (saved after output is written "
            "whole; held with a lease while tail runs).",
            autocompletion=complete_subscription,
        ),
    ] = None,
    expressions: WhereOpt = None,
    max_events: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after N events.")
    ] = None,
    idle_timeout_text: Annotated[
        str | None,
        typer.Option(
            "--idle-timeout",
            help="Stop after this long without an event: seconds (5, 0.3) or a duration (1m30s).",
        ),
    ] = None,
    template: FormatOpt = None,
    include_deleted: IncludeDeletedOpt = False,
) -> None:
    """Follow events live in commit order, from the end by default.

    No event is skipped, and none is repeated within a run, even with concurrent writers; Ctrl-C
    or SIGTERM ends it cleanly (exit 0). With --checkpoint, tail resumes where that subscription stopped
    (--from-start/--from-position/--since apply only when it does not exist yet; the first run
    creates it at once) and saves its place once the events before it are written out whole:
    after each batch at the head (up to 500 events), every 10,000 events or second while it
    catches up. A failed write (full disk, closed stdout) is exit 1 and the checkpoint stays
    before the event that was not written. Delivery is at least once: after a crash (SIGKILL,
    power loss) the events written since the last save are delivered again (at most 500 at the
    head, 10,000 behind it). A running tail holds a lease on its checkpoint: a second tail on it
    is refused (exit 3), and if the checkpoint is moved under it (checkpoints set --force) it
    stops with exit 3. Output is written and flushed batch by batch (a table, CSV and --format
    event by event); -o json is written as JSON lines.
    """
    from esctl.conditions import parse_conditions
    from esctl.ports import EventFilter
    from esctl.read.follow import Follower, StartAt, start_cursor, stop_on_signals

    conditions = parse_conditions(expressions)

    if sum([stream is not None, category is not None, all_]) > 1:
        raise UsageError("give at most one of STREAM, --category and --all")
    if sum([from_start, from_position is not None, since is not None]) > 1:
        raise UsageError("give at most one of --from-start, --from-position and --since")
    idle_timeout = (
        parse_duration(idle_timeout_text, "--idle-timeout")
        if idle_timeout_text is not None
        else None
    )
    app = state(ctx)
    app.include_deleted = include_deleted
    out = app.out
    use_format(out, template)
    if stdout_is_closed(out.stdout):  # `>&-`: refuse before connecting, nothing to deliver to
        raise OutputFailed("cannot write output: standard output is closed")
    start = StartAt(
        from_start=from_start,
        from_position=from_position,
        since=parse_time_arg(since, "--since") if since is not None else None,
    )
    # The checkpoint lives on the primary: read from there, and saved there (a read-only
    # profile refuses --checkpoint here, before any connection).
    primary = (
        app.open_store(
            write=True,
            needs=["has_checkpoints", "can_move_checkpoints"],
            command="tail --checkpoint",
        )
        if checkpoint
        else None
    )
    store = app.open_store(
        needs=["live_cursor"], command="tail"
    )  # the read_store (a replica) when the profile has one
    owner = None
    resumed = False
    if primary is not None and checkpoint is not None:
        from esctl.checkpoints.consumer import CheckpointOwner

        owner, cursor, resumed = CheckpointOwner.claim(
            primary, checkpoint, lambda: start_cursor(store, start)
        )
    else:
        cursor = start_cursor(store, start)
    try:
        if resumed and (from_start or from_position is not None or since is not None):
            out.note(
                f"Checkpoint {checkpoint!r} exists: resuming there (--from-*/--since apply to a "
                "new one)."
            )
        event_filter = EventFilter(
            stream_id=stream,
            category=category,
            types=tuple(types or ()),
            from_position=None if resumed else from_position,
            conditions=conditions,
        )
        if conditions and app.verbose:
            from esctl.cli.read import explain_where

            explain_where(app, store, event_filter)
        follower = Follower(
            store,
            event_filter,
            cursor,
            owner=owner,
            warn=out.warning,
        )
        what = (
            f"stream {stream}" if stream else f"category {category}" if category else "all events"
        )
        where = f"checkpoint {checkpoint!r}" if resumed else f"position {cursor.global_position}"
        try:
            with stop_on_signals(follower):
                # Said once the handlers are in place: a signal from here on is a clean stop.
                out.note(f"Following {what} after {where} (Ctrl-C to stop).")
                if store.pooler:
                    out.note(_POOLER_NOTE.format(how=store.pooler, every=follower.poll_interval))
                delivered = follower.run(
                    _emitter(out),
                    max_events=max_events,
                    idle_timeout=idle_timeout,
                    emit_lines=out.live_lines(),
                )
        except BrokenPipeError:
            if owner is None:
                raise  # `tail | head`: the quiet exit 141 of a closed pipe
            # A consumer whose reader went away failed to deliver (SPEC: exit 1, not a delivery).
            raise OutputFailed(
                f"cannot write output: the reader closed the pipe; checkpoint {checkpoint!r} stays "
                f"at position {owner.stored.global_position} (the last event written whole)"
            ) from None
        except OutputFailed as error:
            if owner is not None:
                error.message += (
                    f"; checkpoint {checkpoint!r} stays at position "
                    f"{owner.stored.global_position} (the last event written whole)"
                )
            raise
    finally:
        if owner is not None:
            owner.close()
    if follower.signal == signal.SIGINT:
        out.end_interrupted_line()  # after the terminal's `^C`, the summary on its own line
    out.note(f"{plural(delivered, 'event')}.")


def _emitter(out: Renderer) -> Callable[[RecordedEvent], None]:
    """Write one event whole and flush it, in the chosen format (or raise: see `write_whole`);
    a table shows each event as one line, CSV starts with its header."""
    write = out.live(EVENT_COLUMNS, event_line)
    return lambda event: write(event.to_dict())
