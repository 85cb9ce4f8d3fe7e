"""`esctl bench`: throughput and latency of a store, measured in an isolated place.

`run_bench` creates a throwaway schema (PostgreSQL) or file (SQLite) with `esctl init`'s code,
runs the chosen phases — append (esctl's own append path, N writer processes), the raw-COPY ceiling
(PostgreSQL), read-all, tail at a target rate — and removes the place unless asked to keep it."""

from __future__ import annotations

import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esctl import __version__
from esctl.bench.phases import ProgressFn, read_phase, run_writers, tail_phase
from esctl.bench.stats import PhaseResult
from esctl.bench.workload import Parameters, Workload
from esctl.config import Settings
from esctl.errors import UsageError

PHASES = ("append", "read", "tail")
RAW_WRITE_MESSAGE = "raw write_message"  # Message DB's baseline phase


def server_label(backend: str, version: str) -> str:
    """`PostgreSQL 18.1` from backend `postgresql` and version `18.1 (Debian 18.1-1)`."""
    name = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(backend, backend)
    if version.lower().startswith(name.lower()):
        return version
    return f"{name} {version.split(' (')[0]}"


PARAMETER_WORDS = {
    "events": ("events", ""),
    "streams": ("streams", ""),
    "batch_size": ("batch size", ""),
    "writers": ("writers", ""),
    "payload_bytes": ("payload", " bytes"),
    "rate": ("tail rate", " events/s"),
    "warmup": ("warm-up", " events"),
    "duration": ("duration", " s"),
    "seed": ("seed", ""),
}


def parameter_line(params: Parameters) -> str:
    """The parameters for people: `events 10,000, streams 100, batch size 100, …`."""
    parts = []
    for key, value in params.to_dict().items():
        if value is None:
            continue
        name, unit = PARAMETER_WORDS.get(key, (key.replace("_", " "), ""))
        shown = (
            str(value)
            if key == "seed"
            else f"{value:,}"
            if isinstance(value, int)
            else f"{value:g}"
        )
        parts.append(f"{name} {shown}{unit}")
    return ", ".join(parts)


@dataclass
class BenchReport:
    """Every figure of one run, with what is needed to compare two runs."""

    backend: str
    server_version: str
    place: str
    params: Parameters
    phases: list[PhaseResult] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    kept: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def server(self) -> str:
        """The server for people: `PostgreSQL 18.1`, `SQLite 3.46.1` (JSON keeps the raw version)."""
        return server_label(self.backend, self.server_version)

    def phase(self, name: str) -> PhaseResult | None:
        return next((p for p in self.phases if p.phase == name), None)

    def ratio_to(self, ceiling: str) -> float | None:
        """esctl append's events/s as a fraction of the `ceiling` phase's."""
        append, top = self.phase("append"), self.phase(ceiling)
        if append is None or top is None or not top.events_per_second:
            return None
        return append.events_per_second / top.events_per_second

    @property
    def copy_ratio(self) -> float | None:
        """esctl append's events/s as a fraction of raw COPY's (PostgreSQL)."""
        return self.ratio_to("raw COPY")

    def to_dict(self) -> dict[str, Any]:
        ratio = self.copy_ratio
        return {
            "esctl_version": __version__,
            "backend": self.backend,
            "server_version": self.server_version,
            "place": self.place,
            "kept": self.kept,
            "started_at": self.started_at,
            "parameters": self.params.to_dict(),
            "phases": [p.to_dict() for p in self.phases],
            "append_to_raw_copy_ratio": round(ratio, 4) if ratio is not None else None,
            "append_to_raw_write_message_ratio": _rounded(self.ratio_to(RAW_WRITE_MESSAGE)),
            "notes": self.notes,
        }


def _rounded(ratio: float | None) -> float | None:
    return round(ratio, 4) if ratio is not None else None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every cleanup on the way out runs (exit 143)."""

    exit_code = 143


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While a bench runs, SIGTERM unwinds it like Ctrl-C: writers are stopped, the temporary
    files removed and the throwaway schema dropped. A second SIGTERM during that cleanup is
    ignored (SIGKILL still works)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated(
            "Terminated: the bench stopped its writers and removed its schema or file."
        )

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def validate(params: Parameters) -> None:
    for name in ("events", "streams", "batch_size", "writers", "rate"):
        if getattr(params, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if params.warmup < 0:
        raise UsageError("--warmup must be 0 or more")
    if params.duration is not None and params.duration <= 0:
        raise UsageError("--duration must be more than 0 seconds")


def run_bench(
    settings: Settings,
    phases: Sequence[str],
    params: Parameters,
    *,
    keep: bool = False,
    progress: ProgressFn | None = None,
    writer_mode: str = "process",
) -> BenchReport:
    """Run `phases` (a subset of PHASES) in an isolated place next to the configured store."""
    from esctl.bench.isolation import isolated_place

    validate(params)
    with (
        terminate_as_interrupt(),
        isolated_place(settings, keep=keep) as place,
        tempfile.TemporaryDirectory(prefix="esctl-bench-") as tmp,
    ):
        with place.open() as store:
            server = store.server_version()
        report = BenchReport(place.backend, server, place.description, params, kept=keep)
        directory = Path(tmp)
        written: tuple[list[Any], list[Any]] | None = None
        if "append" in phases or "read" in phases:
            written = _append_phases(
                report, place.settings, params, directory, phases, progress, writer_mode
            )
        if "read" in phases:
            report.phases.append(read_phase(place.settings, params, progress=progress))
        if "tail" in phases:
            report.phases.append(tail_phase(place.settings, params, directory, progress=progress))
        if "append" in phases and written is not None and place.settings.layout == "message-db":
            # Message DB's baseline writes into the same table (it has one), so it comes last:
            # read and tail above measured esctl's events only.
            warmup, batches = written
            report.phases.append(
                run_writers(
                    RAW_WRITE_MESSAGE,
                    "write_message",
                    place.settings,
                    params,
                    warmup,
                    batches,
                    progress=progress,
                    mode=writer_mode,
                )
            )
    return report


def _append_phases(
    report: BenchReport,
    settings: Settings,
    params: Parameters,
    directory: Path,
    phases: Sequence[str],
    progress: ProgressFn | None,
    writer_mode: str,
) -> tuple[list[Any], list[Any]]:
    """The append phase (and its ceiling, raw COPY, on esctl's layout); the batches written."""
    from esctl.store import open_store

    workload = Workload(params, directory)
    warmup = list(workload.writer_batches(warmup=True))
    batches = list(workload.writer_batches())
    appended = run_writers(
        "append", "append", settings, params, warmup, batches, progress=progress, mode=writer_mode
    )
    with open_store(settings, write=False) as store, store.reading() as tx:
        stored = tx.log.count()
    written = sum(b.events for _, b in warmup) + appended.events
    if stored != written:
        appended.notes.append(f"the store holds {stored} events, the writers reported {written}")
    if "append" not in phases:
        return warmup, batches  # `bench read` only needed the events
    report.phases.append(appended)
    if settings.layout == "message-db":
        report.notes.append(
            f"{RAW_WRITE_MESSAGE} (the baseline): SELECT message_store.write_message(…) per "
            "message, one round trip each, no expected version, one transaction per batch, as "
            "psql runs a script of them; esctl append pipelines them and passes each message's "
            "expected version"
        )
        return warmup, batches
    with open_store(settings, write=True) as store:
        has_copy = store.create_ceiling_table()
    if has_copy:
        report.phases.append(
            run_writers(
                "raw COPY",
                "copy",
                settings,
                params,
                warmup,
                batches,
                progress=progress,
                mode=writer_mode,
            )
        )
    else:
        report.notes.append("no raw-COPY ceiling on SQLite (it has no COPY)")
    return warmup, batches
