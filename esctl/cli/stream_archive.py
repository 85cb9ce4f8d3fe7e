"""`esctl streams archive`: a dry run that prints the plan unless --execute; an executed run writes
the archive and its manifest, verifies them, and with --delete removes the archived events,
audited (`esctl audit`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from esctl.cli.completion import complete_stream
from esctl.cli.options import ExecuteOpt, IncludeDeletedOpt, examples
from esctl.cli.state import state
from esctl.cli.stream_delete import PLAN_COLUMNS, _stream_rows
from esctl.render import Listing
from esctl.words import plural

TABLE_STREAMS = 100  # a plan's table shows this many streams (json, all of them)
ARCHIVE_EXAMPLES = examples(
    "esctl streams archive Order-1001 --to order-1001.jsonl",
    "esctl streams archive --category Order --before 90d --to orders-2026-q1.jsonl.gz",
    "esctl streams archive --category Order --before 90d --to orders.jsonl.gz --delete --execute",
    "esctl append orders.jsonl.gz   # restore",
)


def report(app_state: Any, plan: Any, what: str) -> None:
    """Print an archive plan or its result (shared by `retention apply`)."""
    out = app_state.out
    request = plan.request
    if plan.executed:
        gone = f", deleted {plural(plan.events_deleted, 'event')}" if request.delete else ""
        title = f"Archived {plural(plan.events, 'event')} of {what} to {request.path}{gone}"
    else:
        then = " and delete them" if request.delete else ""
        title = f"Would archive {plural(plan.events, 'event')} of {what} to {request.path}{then}"
    shown = plan.streams[:TABLE_STREAMS]
    more = len(plan.streams) - len(shown)
    legend = (
        f"The first {len(shown)} of {len(plan.streams)} streams; -o json lists them all."
        if more
        else None
    )
    view = Listing(_stream_rows(shown), PLAN_COLUMNS, title=title, legend=legend)
    out.result(plan.to_dict(), view=view)
    for note in plan.notes:
        out.note(f"Note: {note}.")
    if plan.executed and plan.audit_id is not None:
        sha = plan.manifest["sha256"] if plan.manifest else ""
        out.note(f"{title}; manifest sha256 {sha}; audit id {plan.audit_id} (esctl audit).")
    elif not plan.executed:
        out.note("Dry run: nothing was changed. Add --execute to apply.")


def archive(
    ctx: typer.Context,
    to: Annotated[
        Path,
        typer.Option(
            "--to", help="The archive file: JSON lines, gzip when it ends in .gz (required)."
        ),
    ],
    streams: Annotated[
        list[str] | None,
        typer.Argument(
            help="The stream ids (or --category).",
            metavar="[STREAM]...",
            autocompletion=complete_stream,
            show_default=False,
        ),
    ] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="Every stream of this category.")
    ] = None,
    before: Annotated[
        str | None,
        typer.Option(
            "--before",
            help="Only events created before TIME (ISO 8601, UTC if no offset; or 90d = 90 days "
            "ago).",
        ),
    ] = None,
    delete: Annotated[
        bool,
        typer.Option(
            "--delete", help="Then remove the archived events (after the file is verified)."
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Events deleted per transaction.")
    ] = 1000,
    include_deleted: IncludeDeletedOpt = False,
    execute: ExecuteOpt = False,
) -> None:
    """Archive events to a file (and remove them). A dry run that prints the plan unless --execute.

    Writes the events as JSON lines (read -o jsonl's format; gzip for .gz) and FILE.manifest.json
    (counts, position and version ranges per stream, sha256 of the file, the selection), syncs
    both, reads the file back and checks it; only then, with --delete, removes exactly the
    archived events in batches. An existing FILE is never overwritten (exit 2), unless it is the
    complete archive of the same selection: then it is verified and the delete goes on, so an
    interrupted run is finished by running it again. `esctl append FILE` restores it.
    """
    from esctl.errors import UsageError
    from esctl.lifecycle.archive import ArchiveRequest, execute_archive, plan_archive
    from esctl.store.lifecycle import Selection
    from esctl.timeparse import parse_time_arg

    if bool(streams) == (category is not None):
        raise UsageError("name streams or --category, not both")
    when = parse_time_arg(before, "--before") if before is not None else None
    selection = Selection(tuple(dict.fromkeys(streams or ())), category, when)
    request = ArchiveRequest(selection, to.expanduser(), delete=delete, before_as_given=before)
    app_state = state(ctx)
    app_state.include_deleted = include_deleted
    store = app_state.open_store(write=execute, command="streams archive")
    plan = plan_archive(store, request)
    out = app_state.out
    if execute:
        total = plan.events
        with out.progress("events") as bars:
            plan = execute_archive(
                store,
                plan,
                actor=app_state.actor(),
                batch_size=batch_size,
                warn=out.warning,
                progress=lambda phase, n: bars.advance(phase, by=n, total=total),
            )
    what = f"category {category}" if category else plural(len(selection.stream_ids), "stream")
    report(app_state, plan, what)
