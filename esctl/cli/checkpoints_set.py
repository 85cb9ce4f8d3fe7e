"""`checkpoints set`: one checkpoint or a plan of many (`NAME…`, `--all`, `--match GLOB`),
exported to a file (`--export`) and applied from one (`--from-file`); a dry run unless --execute."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esctl.cli.completion import complete_subscription
from esctl.cli.options import ExecuteOpt, examples
from esctl.cli.state import AppState, state
from esctl.errors import UsageError
from esctl.render import Column, Lines
from esctl.words import plural

SET_EXAMPLES = examples(
    "esctl checkpoints set orders-projection --to-time 2026-01-31T12:00:00Z",
    "esctl checkpoints set orders-projection --shift-by -100 --execute",
    "esctl checkpoints set billing --to-end -o json",
    "esctl checkpoints set --match 'orders-*' --by-duration 2h --export plan.csv",
    "esctl checkpoints set --from-file plan.csv --execute",
)

ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="With --execute: change it even while a running consumer holds it (that consumer "
        "stops with exit 3 at its next save).",
    ),
]

PLAN_COLUMNS = [
    Column("subscription_id", "subscription"),
    Column("action", "action"),
    Column("old_position", "from", justify="right"),
    Column("new_position", "to", justify="right"),
    Column("events_redelivered", "re-delivered", justify="right"),
    Column("events_skipped", "skipped", justify="right"),
    Column("target", "target", priority=1),
    Column("executed", "done", priority=2),
]


def set_checkpoint(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="The subscription ids (several: one plan).",
            metavar="[NAME]...",
            autocompletion=complete_subscription,
            show_default=False,
        ),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every checkpoint of the store, in one plan.")
    ] = False,
    match: Annotated[
        list[str] | None,
        typer.Option(
            "--match",
            metavar="GLOB",
            help="The checkpoints whose name matches GLOB (`orders-*`; repeatable), in one plan.",
        ),
    ] = None,
    position: Annotated[
        int | None, typer.Option("--position", min=0, help="Move to the event at this position.")
    ] = None,
    to_start: Annotated[
        bool, typer.Option("--to-start", help="Move to the start: re-deliver everything.")
    ] = False,
    to_end: Annotated[
        bool, typer.Option("--to-end", help="Move to the last event: skip everything pending.")
    ] = False,
    to_time: Annotated[
        str | None,
        typer.Option(
            "--to-time",
            help="Move to the last event before TIME (ISO 8601, UTC if no offset; or 2h = 2 "
            "hours ago): every event created at or after it is delivered again.",
        ),
    ] = None,
    by_duration: Annotated[
        str | None,
        typer.Option(
            "--by-duration",
            metavar="DURATION",
            help="Move back to DURATION ago (2h, 1d12h; Kafka's --by-duration): every event "
            "created since then is delivered again.",
        ),
    ] = None,
    shift_by: Annotated[
        int | None,
        typer.Option(
            "--shift-by", help="Move by N events along commit order (negative: re-deliver)."
        ),
    ] = None,
    export: Annotated[
        str | None,
        typer.Option(
            "--export",
            metavar="FILE",
            help="Also write the plan to FILE (.csv or .json), for --from-file.",
        ),
    ] = None,
    from_file: Annotated[
        str | None,
        typer.Option(
            "--from-file",
            metavar="FILE",
            help="Apply exactly the plan in FILE (from --export); refused (exit 3) if any of its "
            "checkpoints moved since it was made.",
        ),
    ] = None,
    execute: ExecuteOpt = False,
    force: ForceOpt = False,
) -> None:
    """Move checkpoints. A dry run that prints old → new unless --execute.

    One target (or --from-file) for every checkpoint named, matched (--match) or all (--all):
    several make one plan, written in one transaction (every move or none). Each write is a
    compare-and-set on the old value: if a checkpoint moved meanwhile, nothing is written and
    the exit code is 3. A named subscription without a checkpoint is created (except by
    --shift-by, which needs one: exit 4). A checkpoint held by a running `tail --checkpoint`
    refuses the whole plan (exit 3, naming it) unless --force.

    --export FILE writes the plan (subscription, stored row as read, where it is, where it
    goes, planned_at) as CSV or JSON; --from-file FILE applies exactly that plan later, after
    checking that no checkpoint in it moved since (exit 3, nothing changed, if one did).
    """
    from esctl.checkpoints import LAG_COUNT_CAP
    from esctl.checkpoints.plan_file import plan_format, read_plan, write_plan
    from esctl.checkpoints.plans import plan_moves, recheck

    patterns = list(match or [])
    given = list(names or [])
    targets = _targets(position, to_start, to_end, to_time, by_duration, shift_by)
    if from_file is not None:
        clash = [f for f, on in (("NAME", given), ("--all", every), ("--match", patterns)) if on]
        clash += [flag for flag, _ in targets] + (["--export"] if export else [])
        if clash:
            raise UsageError(f"--from-file takes no {', '.join(clash)}: the file is the plan")
        plan_format(from_file, "--from-file")
        loaded = read_plan(from_file)
    elif len(targets) != 1:
        raise UsageError(
            "give exactly one of --position, --to-start, --to-end, --to-time, --by-duration, "
            "--shift-by" + (f" (got {', '.join(f for f, _ in targets)})" if targets else "")
        )
    if export is not None:
        plan_format(export, "--export")
    app_state = state(ctx)
    store = app_state.open_store(
        write=execute,
        needs=["has_checkpoints", "can_move_checkpoints"],
        command="checkpoints",
    )
    single = from_file is None and len(given) == 1 and not every and not patterns
    if from_file is not None:
        plans = recheck(store, loaded, source=from_file, count_cap=LAG_COUNT_CAP)
    elif single:
        from esctl.checkpoints import plan_move

        plans = [plan_move(store, given[0], targets[0][1])]
    else:
        plans = plan_moves(
            store, given, targets[0][1], every=every, patterns=patterns, count_cap=LAG_COUNT_CAP
        )
    if export is not None:
        write_plan(export, plans)
    if single:
        apply_move(app_state, store, plans[0], execute, force)
    else:
        _apply_plan(app_state, store, plans, execute, force)
    if export is not None:
        app_state.out.note(f"Plan of {plural(len(plans), 'checkpoint')} written to {export}.")


def _targets(
    position: int | None,
    to_start: bool,
    to_end: bool,
    to_time: str | None,
    by_duration: str | None,
    shift_by: int | None,
) -> list[tuple[str, Any]]:
    """The targets given, each as (flag, MoveTarget)."""
    from esctl.checkpoints import MoveTarget
    from esctl.timeparse import parse_duration, parse_time_arg

    chosen: list[tuple[str, Any]] = []
    if position is not None:
        chosen.append(("--position", MoveTarget("position", position=position)))
    if to_start:
        chosen.append(("--to-start", MoveTarget("start")))
    if to_end:
        chosen.append(("--to-end", MoveTarget("end")))
    if to_time is not None:
        chosen.append(("--to-time", MoveTarget("time", time=parse_time_arg(to_time, "--to-time"))))
    if by_duration is not None:
        parse_duration(by_duration, "--by-duration", bare_unit=None)  # a unit, never a time
        when = parse_time_arg(by_duration, "--by-duration")
        chosen.append(("--by-duration", MoveTarget("time", time=when)))
    if shift_by is not None:
        chosen.append(("--shift-by", MoveTarget("shift", shift=shift_by)))
    return chosen


def _apply_plan(
    app_state: AppState, store: Any, plans: list[Any], execute: bool, force: bool
) -> None:
    """Print a plan of many checkpoints; with --execute write it first, in one transaction."""
    from esctl.checkpoints.moves import execute_all

    out = app_state.out
    moving = [p for p in plans if not p.changes_nothing]
    if execute and moving:
        plans = execute_all(store, plans, force=force, actor=app_state.actor())
    out.table([p.to_dict() for p in plans], PLAN_COLUMNS)
    for plan in plans:
        for note in plan.notes:
            out.note(f"Note: {plan.subscription_id}: {note}.")
    if not moving:
        out.note(f"All {plural(len(plans), 'checkpoint')} are already there: nothing to do.")
    elif execute:
        out.message(f"Moved {plural(len(moving), 'checkpoint')} in one transaction.")
    else:
        out.note(
            f"Dry run: nothing was changed ({plural(len(moving), 'checkpoint')} would move). "
            "Add --execute to apply."
        )


def apply_move(app_state: AppState, store: Any, plan: Any, execute: bool, force: bool) -> None:
    """Print the plan; with --execute write it first (compare-and-set)."""
    from esctl.checkpoints import execute as execute_plan

    out = app_state.out
    if execute and not plan.changes_nothing:
        plan = execute_plan(store, plan, force=force, actor=app_state.actor())
    # A table shows the plan as a summary on stdout (the data of a dry run, like `init
    # --dry-run`'s SQL); the data formats write the plan itself.
    out.result(plan.to_dict(), view=Lines(_summary(plan) + "\n"))
    for note in plan.notes:
        out.note(f"Note: {note}.")
    if plan.changes_nothing:
        out.note("The checkpoint is already there: nothing to do.")
    elif not execute:
        out.note("Dry run: nothing was changed. Add --execute to apply.")


def _summary(plan: Any) -> str:
    name = plan.subscription_id
    done = plan.executed
    if plan.action == "delete":
        verb = "Deleted" if done else "Would delete"
        return f"{verb} checkpoint {name} (at position {plan.old_position})."
    if plan.changes_nothing:
        return f"Checkpoint {name} is already at position {plan.new_position} ({plan.target})."
    approx = "about " if plan.estimated else ""
    effect = ""
    if plan.redelivered:
        effect = f"; {approx}{plural(plan.redelivered, 'event')} will be re-delivered"
    elif plan.skipped:
        effect = f"; {approx}{plural(plan.skipped, 'event')} will be skipped"
    if plan.action == "create":
        verb = "Created" if done else "Would create"
        return f"{verb} checkpoint {name} at position {plan.new_position} ({plan.target}){effect}."
    verb = "Moved" if done else "Would move"
    return (
        f"{verb} checkpoint {name}: position {plan.old_position} → {plan.new_position} "
        f"({plan.target}){effect}."
    )
