"""`esctl audit`: the audit trail of executed changes (checkpoint moves, stream deletes, …)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from esctl.cli.options import LimitOpt, examples
from esctl.cli.state import state
from esctl.render import Column

AUDIT_EXAMPLES = examples(
    "esctl audit",
    "esctl audit --since 24h",
    "esctl audit --since 2026-01-31T00:00:00Z -o json",
)


def _counts_cell(row: Any) -> str:
    counts = row.get("counts") or {}
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in counts.items())


AUDIT_COLUMNS = [
    Column("id", "id", justify="right"),
    Column("at", "at", kind="time"),
    Column("operation", "operation"),
    Column("target", "target", wrap=True),
    # One line a change where the terminal allows: counts and the command line are cut
    # (ellipsis) rather than folded a few characters a line; -o wide and -o json show them whole.
    Column("counts", "counts", cell_of=_counts_cell, priority=1, shrink=True, max_width=48),
    Column("db_user", "db user", priority=3),
    Column("os_user", "os user", priority=2),
    Column("host", "host", priority=3),
    Column("command", "command", priority=2, shrink=True),
]


def audit(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only changes at or after TIME (ISO 8601, UTC if no offset; or 2h = 2 hours ago).",
        ),
    ] = None,
    limit: LimitOpt = None,
) -> None:
    """The audit trail: every executed change esctl made, newest first.

    One row per `checkpoints set|delete --execute`, `streams delete|undelete|truncate|archive
    --execute`, `events redact --execute` (with a sha256 of each removed value, never the
    value), `retention apply --execute` and `init --protect|--unprotect`: when, the database
    and OS user, the host, the command line (passwords redacted), the operation, its target and
    counts. Written in the transaction of the change, so a change that rolled back left no row.
    """
    from esctl.lifecycle.audit import list_audit
    from esctl.timeparse import parse_time_arg

    when = parse_time_arg(since, "--since") if since is not None else None
    app_state = state(ctx)
    store = app_state.open_store()
    out = app_state.out
    limit = out.default_limit(limit)
    rows = list_audit(store, since=when, limit=None if limit is None else limit + 1)
    out.table(rows, AUDIT_COLUMNS, limit=limit, empty="No audited changes yet.")
