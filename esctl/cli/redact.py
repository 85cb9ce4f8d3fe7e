"""`esctl events redact`: a dry run that prints the plan unless --execute; an executed run is
audited (`esctl audit`), with a sha256 of each removed value, never the value."""

from __future__ import annotations

from typing import Annotated

import typer

from esctl.cli.options import ExecuteOpt, examples
from esctl.cli.state import state
from esctl.render import Column, Listing
from esctl.words import plural

REDACT_EXAMPLES = examples(
    "esctl events redact 5f1c0a7e-1b2c-4d3e-8f90-123456789abc --path data.email",
    "esctl events redact 5f1c0a7e-1b2c-4d3e-8f90-123456789abc --path data.email "
    "--path metadata.client.ip --execute",
)

PATH_COLUMNS = [
    Column("path", "path"),
    Column("status", "status", kind="status"),
    Column("bytes", "bytes", justify="right"),
    Column("sha256", "sha256 of the value", priority=2),
]


def redact(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(help="The event's id (a UUID).", metavar="EVENT_ID")],
    paths: Annotated[
        list[str],
        typer.Option(
            "--path",
            help="A value to erase: data.KEY or metadata.KEY, dotted for nested keys, as in "
            "--where (repeatable; required).",
        ),
    ],
    execute: ExecuteOpt = False,
) -> None:
    """Erase values from one event in place (erasure requests, GDPR). A dry run that prints the
    plan unless --execute.

    Each value becomes {"$redacted": true}; every other field of the event stays as it was
    (id, position, version, type, times, the other keys). The audit row keeps a sha256 of each
    removed value (of its canonical JSON), never the value. A snapshot of the stream at the
    event's version or later is reported by `snapshots verify` until `snapshots rebuild`
    rewrites it. Works on a protected store (`init --protect`). A path already redacted is a
    no-op; one not in the event is reported. Exit 4 for an unknown event, or when no path is in it.
    """
    from esctl.lifecycle.redact import execute_redaction, plan_redaction

    app = state(ctx)
    store = app.open_store(write=execute, command="events redact")
    if execute:
        plan = execute_redaction(store, event_id, paths, actor=app.actor())
    else:
        plan = plan_redaction(store, event_id, paths)
    out = app.out
    what = (
        f"{plural(len(plan.redacting), 'value')} of event {plan.event_id} "
        f"({plan.stream_id}, version {plan.version})"
    )
    title = f"Redacted {what}" if plan.executed else f"Would redact {what}"
    if not plan.redacting:
        title = f"Nothing to redact in event {plan.event_id} ({plan.stream_id})"
    rows = [p.to_dict(with_hash=plan.executed) for p in plan.paths]
    out.result(plan.to_dict(), view=Listing(rows, PATH_COLUMNS, title=title))
    for note in plan.notes:
        out.note(f"Note: {note}.")
    if plan.executed:
        out.note(f"{title}; audit id {plan.audit_id} (esctl audit).")
    elif not plan.redacting:
        out.note("Nothing to redact: every path found is already redacted.")
    else:
        out.note("Dry run: nothing was changed. Add --execute to apply.")
