"""`esctl bench`: throughput and latency of the store, with the raw-COPY ceiling beside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer

from esctl.cli.options import examples
from esctl.cli.state import state
from esctl.render import Column, Listing, Renderer

BENCH_EXAMPLES = examples(
    "esctl bench",
    "esctl bench append --events 100000 --writers 4 --batch-size 500",
    "esctl bench tail --rate 2000 --duration 10",
    "esctl -s postgresql://app@db/app bench all -o json > before.json",
    "esctl bench --compare before.json after.json",
)


class PhaseChoice(StrEnum):
    append = "append"
    read = "read"
    tail = "tail"
    all = "all"


def _ms(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) else ""


def _num(value: Any) -> str:
    return f"{value:,.0f}" if isinstance(value, int | float) else ""


def _figure(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"


PHASE_COLUMNS = [
    Column("phase"),
    Column("writers", "wr", justify="right"),
    Column("events", justify="right", format=_num),
    Column("seconds", "s", justify="right", format=lambda v: f"{v:,.2f}"),
    Column("events_per_second", "events/s", justify="right", format=_num),
    Column("mb_per_second", "MB/s", justify="right", format=lambda v: f"{v:,.2f}"),
    Column("p50", "p50", justify="right", format=_ms),
    Column("p95", "p95", justify="right", format=_ms),
    Column("p99", "p99", justify="right", format=_ms),
    Column("p99_9", "p99.9", justify="right", format=_ms),
    Column("max", "max", justify="right", format=_ms),
    Column("errors", "errors c/t/o", justify="right"),
]

COMPARE_COLUMNS = [
    Column("phase"),
    Column("figure"),
    Column("old", justify="right", format=lambda v: _figure(v)),
    Column("new", justify="right", format=lambda v: _figure(v)),
    Column(
        "change_percent",
        "change",
        justify="right",
        format=lambda v: "" if v is None else f"{v:+.1f}%",
    ),
    Column("verdict"),
]


def bench(
    ctx: typer.Context,
    phase: Annotated[
        PhaseChoice,
        typer.Argument(help="Which phase to run (all: append, read, then tail).", metavar="PHASE"),
    ] = PhaseChoice.all,
    events: Annotated[
        int, typer.Option("--events", min=1, help="Events per phase (warm-up not included).")
    ] = 10_000,
    streams: Annotated[
        int, typer.Option("--streams", min=1, help="Streams to spread them on.")
    ] = 100,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Events per append (one transaction).")
    ] = 100,
    writers: Annotated[
        int, typer.Option("--writers", min=1, help="Concurrent writer processes.")
    ] = 1,
    payload_bytes: Annotated[
        int, typer.Option("--payload-bytes", min=1, help="Size of each event's data JSON.")
    ] = 256,
    rate: Annotated[
        int, typer.Option("--rate", min=1, help="Target events/s of the tail phase's producer.")
    ] = 1000,
    warmup: Annotated[
        int, typer.Option("--warmup", min=0, help="Events done first and left out of the figures.")
    ] = 0,
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration",
            metavar="DURATION",
            help="How long (10s, 2m, 1m30s; a bare number is seconds): tail runs rate x duration "
            "events; append stops after it (--events caps).",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the throwaway schema or file afterwards.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated events.")] = 42,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare",
            metavar="OLD.json NEW.json",
            help="Compare two `esctl bench -o json` reports instead of running.",
        ),
    ] = None,
) -> None:
    """Measure append, read and tail throughput and latency in a throwaway schema or file.

    Runs in an isolated place: PostgreSQL, a new schema `esctl_bench_…`; SQLite, a temporary file beside the store. It is created with `esctl init`'s code and removed unless --keep.

    Your tables are never touched; bench writes, so a read-only profile refuses it (exit 8).

    Append goes through `esctl append`'s own code with --writers processes. On PostgreSQL the same events are also loaded by raw COPY into an identical table: the ceiling, and esctl's ratio to it.

    Tail latency runs from each event's intended send time at --rate (no coordinated omission).

    On a Message DB store (layout message-db) the place is a new database `esctl_bench_…` on the same server (the role needs CREATEDB) holding a copy of the store's own message_store schema, without its messages: append goes through write_message, read and tail read Message DB's rows, and the baseline, run last, is write_message called per message, one round trip each, as psql runs a script of them ("raw write_message"). Other layouts are refused (exit 2).
    """
    app = state(ctx)
    out = app.out
    if compare is not None:
        _compare(out, *compare)
        return
    from esctl.bench import PHASES, parameter_line, run_bench
    from esctl.bench.workload import Parameters

    params = Parameters(
        events=events,
        streams=streams,
        batch_size=batch_size,
        writers=writers,
        payload_bytes=payload_bytes,
        rate=rate,
        warmup=warmup,
        duration=_duration(duration),
        seed=seed,
    )
    phases = PHASES if phase is PhaseChoice.all else (phase.value,)
    with _progress(out) as progress:
        report = run_bench(app.settings, phases, params, keep=keep, progress=progress)
    rows = []
    for result in report.phases:
        figures = result.to_dict()
        errors = figures["errors"]
        figures["errors"] = "/".join(str(errors[c]) for c in ("conflict", "timeout", "other"))
        rows.append({**figures, **figures["latency_ms"]})
    phases_table = Listing(
        rows,
        PHASE_COLUMNS,
        title=f"esctl bench — {report.server}",
        legend=(
            "Latency in ms: per batch (append, raw COPY), per page (read), per event from "
            "its intended send time (tail). Errors: conflict/timeout/other."
        ),
    )
    out.result(report.to_dict(), view=phases_table, csv=phases_table)
    for result in report.phases:
        for note in result.notes:
            out.warning(f"{result.phase}: {note}")
    for ceiling in ("raw COPY", "raw write_message"):
        ratio = report.ratio_to(ceiling)
        if ratio is not None:
            out.message(
                f"esctl append / {ceiling}: {ratio:.2f} (events/s of esctl append ÷ {ceiling})."
            )
    for note in report.notes:
        out.note(note)
    where = "kept" if report.kept else "removed"
    out.note(f"Ran in a {report.place} ({where}). Parameters: {parameter_line(params)}.")


def _compare(out: Renderer, old_path: str, new_path: str) -> None:
    from esctl.bench.compare import compare_reports, differing_parameters, load_report

    old, new = load_report(old_path), load_report(new_path)
    changes = compare_reports(old, new)
    changes_table = Listing(
        [c.to_dict() for c in changes], COMPARE_COLUMNS, title=f"{old_path} → {new_path}"
    )
    out.result(
        {
            "old": old_path,
            "new": new_path,
            "differences": differing_parameters(old, new),
            "changes": [c.to_dict() for c in changes],
        },
        view=changes_table,
        csv=changes_table,
    )
    for difference in differing_parameters(old, new):
        out.warning(f"the runs differ in {difference}")


@contextmanager
def _progress(out: Renderer) -> Iterator[Any]:
    """A transient bar per phase on a terminal only (`Renderer.progress`)."""
    with out.progress("events") as bars:
        if not bars.shown:
            yield None
            return

        def update(phase: str, done: int, total: int | None) -> None:
            bars.update(phase, count=done, total=total)

        yield update


def _duration(text: str | None) -> float | None:
    from esctl.errors import UsageError
    from esctl.timeparse import parse_duration

    if text is None:
        return None
    seconds = parse_duration(text, "--duration")
    if seconds < 0.001:
        raise UsageError(f"--duration: {text!r} is shorter than 1ms")
    return seconds
