"""`esctl retention plan | apply`: the profile's `retention:` rules, planned per category, and
applied (archived first when `archive_dir:` is set) only with --execute, audited."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esctl.cli.options import ExecuteOpt, examples
from esctl.cli.state import state
from esctl.render import Column, Listing
from esctl.words import plural

PLAN_EXAMPLES = examples("esctl retention plan", "esctl retention plan -o json")
APPLY_EXAMPLES = examples("esctl retention apply", "esctl retention apply --execute")

app = typer.Typer(
    help="Retention: remove (and archive) events by the profile's retention: rules.",
    epilog=examples("esctl retention plan", "esctl retention apply --execute"),
    no_args_is_help=True,
)


def _range(low: Any, high: Any) -> str:
    return "-" if low is None else f"{low}..{high}"


COLUMNS = [
    Column("category", "category"),
    Column("rule", "rule"),
    Column("streams", "streams", justify="right"),
    Column("events", "events", justify="right"),
    Column("positions", "positions", justify="right", priority=1),
    Column("bytes", "bytes", justify="right", priority=2),
    Column("snapshots", "snapshots", justify="right", priority=2),
    Column("checkpoints", "checkpoints affected", priority=3, wrap=True),
    Column("archive", "archive", priority=1, wrap=True),
    Column("events_deleted", "deleted", justify="right", priority=1),
]


def _rows(plan: Any) -> list[dict[str, Any]]:
    rows = []
    for category in plan.to_dict()["categories"]:
        rule = [f"max_age {category['max_age']}"] if category["max_age"] else []
        rule += [f"max_count {category['max_count']}"] if category["max_count"] else []
        rows.append(
            {
                **category,
                "rule": ", ".join(rule),
                "positions": _range(category["first_position"], category["last_position"]),
                "checkpoints": ", ".join(category["checkpoints_affected"]),
                "archive": category["archive"] or "-",
            }
        )
    return rows


def _run(ctx: typer.Context, execute: bool, batch_size: int) -> None:
    from esctl.lifecycle.retention import apply_retention, plan_retention

    app_state = state(ctx)
    store = app_state.open_store(write=execute, command="retention")
    plan = plan_retention(store)
    out = app_state.out
    if execute:
        with out.progress("events") as bars:
            plan = apply_retention(
                store,
                plan,
                actor=app_state.actor(),
                batch_size=batch_size,
                warn=out.warning,
                progress=lambda phase, n: bars.advance(phase, by=n, total=plan.events),
            )
    where = f" (archived to {plan.archive_dir} first)" if plan.archive_dir else ""
    what = f"{plural(plan.events, 'event')} in {plural(len(plan.categories), 'category', 'categories')}"
    title = f"Removed {what}{where}" if plan.executed else f"Would remove {what}{where}"
    out.result(plan.to_dict(), view=Listing(_rows(plan), COLUMNS, title=title))
    for archive in plan.unfinished:
        verb = "Finished" if plan.executed else "Will first finish"
        out.note(f"{verb} the interrupted archive {archive} (its events still stored).")
    if plan.executed:
        ids = [str(c.audit_id) for c in plan.categories if c.audit_id is not None]
        out.note(f"{title}; audit ids {', '.join(ids) or '-'} (esctl audit).")
    else:
        out.note("Dry run: nothing was changed. `esctl retention apply --execute` applies it.")


def plan(ctx: typer.Context) -> None:
    """What the profile's retention: rules would remove (and archive) now; changes nothing.

    Per category: events older than max_age, and those beyond each stream's newest max_count
    (either rule takes an event), with streams, position ranges, bytes, snapshots and the
    checkpoints that still had them pending.
    """
    _run(ctx, False, 1000)


def apply(
    ctx: typer.Context,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Events deleted per transaction.")
    ] = 1000,
    execute: ExecuteOpt = False,
) -> None:
    """Apply the retention: rules. A dry run that prints the plan unless --execute.

    With archive_dir: in the profile, each category's events are first archived to
    ARCHIVE_DIR/CATEGORY-TIME.jsonl.gz (and its manifest), verified, then removed exactly;
    without it they are removed. In audited batches: an interrupted run is finished by
    running it again (an archive it left unfinished is completed first).
    """
    _run(ctx, execute, batch_size)


app.command("plan", epilog=PLAN_EXAMPLES)(plan)
app.command("apply", epilog=APPLY_EXAMPLES)(apply)
