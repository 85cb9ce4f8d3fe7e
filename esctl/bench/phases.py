"""The bench phases: append (through `esctl append`'s own code), the raw-COPY ceiling, read-all and
tail latency at a target rate.

Writers are processes, not threads: `append` parses and validates JSON in Python, and threads
serialise on the GIL there (see benchmarks/bench_writers.py for the measurement)."""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esctl.bench.stats import ERROR_CAUSES, Latency, PhaseResult, classify_error
from esctl.bench.workload import Batch, Parameters, Workload
from esctl.config import Settings
from esctl.store import open_store

ProgressFn = Callable[[str, int, int | None], None]
TAIL_IDLE_TIMEOUT = 10.0  # the follower gives up this long after the last event


@dataclass
class WriterReport:
    """What one writer process measured."""

    latencies: list[float] = field(default_factory=list)
    events: int = 0
    ended: float = 0.0
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_CAUSES, 0))
    first_error: str | None = None


def append_batch(settings: Settings, store: Any, batch: Batch) -> None:
    """One batch through `esctl append`'s code path: validate the file, then append it."""
    from esctl.append.sources import InputSource
    from esctl.append.writing import append_events

    append_events(store, [InputSource(batch.path.name, batch.path, "lines")])


def copy_batch(settings: Settings, store: Any, batch: Batch) -> None:
    """One batch by raw COPY into the ceiling table."""
    store.copy_into_ceiling(batch.copy_text)


def write_message_batch(settings: Settings, store: Any, batch: Batch) -> None:
    """One batch as a plain client writes it to Message DB: write_message per message."""
    import json

    from esctl.store.message_db.bench_place import write_messages_raw

    with batch.path.open(encoding="utf-8") as lines:
        write_messages_raw(store, (json.loads(line) for line in lines if line.strip()))


WRITE_KINDS: dict[str, Callable[[Settings, Any, Batch], None]] = {
    "append": append_batch,
    "copy": copy_batch,
    "write_message": write_message_batch,
}


def _writer(
    kind: str,
    settings: Settings,
    warmup: list[Batch],
    batches: list[Batch],
    barrier: Any,
    counter: Any,
    results: Any,
    deadline_seconds: float | None,
) -> None:
    """A writer: its warm-up batches, the start line, then its measured batches, each timed."""
    _leave_signals_to_the_parent()
    write = WRITE_KINDS[kind]
    report = WriterReport()
    with open_store(settings, write=True) as store:
        for batch in warmup:
            _timed(write, settings, store, batch, report, measured=False)
        barrier.wait()
        started = time.time()
        for batch in batches:
            if deadline_seconds is not None and time.time() - started >= deadline_seconds:
                break
            if _timed(write, settings, store, batch, report, measured=True):
                with counter.get_lock():
                    counter.value += batch.events
    report.ended = time.time()
    results.put(report)


def _timed(
    write: Callable[[Settings, Any, Batch], None],
    settings: Settings,
    store: Any,
    batch: Batch,
    report: WriterReport,
    *,
    measured: bool,
) -> bool:
    started = time.perf_counter()
    try:
        write(settings, store, batch)
    except Exception as error:  # counted by cause; the run goes on, like a load test client
        if measured:
            report.errors[classify_error(error)] += 1
            report.first_error = report.first_error or f"{type(error).__name__}: {error}"
        store.close()  # a broken connection is reopened by the next batch
        return False
    if measured:
        report.latencies.append(time.perf_counter() - started)
        report.events += batch.events
    return True


def run_writers(
    phase: str,
    kind: str,
    settings: Settings,
    params: Parameters,
    warmup: Sequence[tuple[int, Batch]],
    batches: Sequence[tuple[int, Batch]],
    *,
    progress: ProgressFn | None = None,
    mode: str = "process",
) -> PhaseResult:
    """Run `params.writers` concurrent writers (processes, or threads with `mode="thread"`) over
    the batches, and measure from the moment all of them are ready."""
    writers = max(1, params.writers)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    counter = context.Value("q", 0)
    results = context.Queue()
    total = sum(b.events for _, b in batches)
    workers: list[Any] = []
    for writer in range(writers):
        args = (
            kind,
            settings,
            [b for w, b in warmup if w == writer],
            [b for w, b in batches if w == writer],
            barrier,
            counter,
            results,
            params.duration,
        )
        if mode == "thread":
            import threading

            workers.append(threading.Thread(target=_writer, args=args, daemon=True))
        else:
            workers.append(context.Process(target=_writer, args=args, daemon=True))
    try:
        with _signals_held():
            for worker in workers:
                worker.start()
        barrier.wait(timeout=120)
        started = time.time()
        reports: list[WriterReport] = []
        while len(reports) < writers:
            try:
                reports.append(results.get(timeout=0.2))
            except Exception:  # queue.Empty: report progress, and notice a dead writer
                if not any(w.is_alive() for w in workers) and results.empty():
                    break
            if progress is not None:
                progress(phase, counter.value, total)
    except BaseException:
        stop_processes(workers)  # interrupted (SIGINT/SIGTERM) or failed: no writer outlives us
        raise
    finally:
        for worker in workers:
            worker.join(timeout=30)
    if len(reports) < writers:
        from esctl.errors import EsctlError

        raise EsctlError(f"bench {phase}: {writers - len(reports)} writer(s) died without a report")
    result = PhaseResult(
        phase=phase,
        events=sum(r.events for r in reports),
        seconds=max(r.ended for r in reports) - started,
        payload_bytes=sum(r.events for r in reports) * params.payload_bytes,
        latency=Latency.of([s for r in reports for s in r.latencies]),
        latency_of="batch",
        writers=writers,
    )
    for report in reports:
        for cause, count in report.errors.items():
            result.errors[cause] += count
        if report.first_error and len(result.notes) < 3:
            result.notes.append(report.first_error)
    return result


def read_phase(
    settings: Settings, params: Parameters, *, progress: ProgressFn | None = None
) -> PhaseResult:
    """Read the whole log back through `read --all`'s library call; one latency sample per page
    of `batch_size` events. The first `warmup` events are read but not counted."""
    from esctl.read.events import read_all

    page = max(1, params.batch_size)
    latencies: list[float] = []
    events = 0
    seen = 0
    with open_store(settings, write=False) as store:
        with store.reading() as tx:
            total = tx.log.count()
        started = last = time.perf_counter()
        for _event in read_all(store):
            seen += 1
            if seen == params.warmup:
                started = last = time.perf_counter()
                continue
            if seen <= params.warmup:
                continue
            events += 1
            if events % page == 0:
                now = time.perf_counter()
                latencies.append(now - last)
                last = now
                if progress is not None:
                    progress("read", seen, total)
        ended = time.perf_counter()
        if events % page:
            latencies.append(ended - last)
    return PhaseResult(
        phase="read",
        events=events,
        seconds=ended - started,
        payload_bytes=events * params.payload_bytes,
        latency=Latency.of(latencies),
        latency_of="page",
    )


# --- tail ------------------------------------------------------------------------------------------


def _leave_signals_to_the_parent() -> None:
    """A writer or follower ignores Ctrl-C (the terminal sends it to the whole process group):
    the bench process stops its children itself, then removes its schema or file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait while child processes start: a start cut short leaves a child
    reading half its arguments (and printing a traceback), outside the list of those to stop."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop_processes(workers: Sequence[Any]) -> None:
    """Terminate the live writer processes (threads cannot be stopped: they are daemons) and
    wait for them, killing any that does not end within 5 s."""
    processes = [w for w in workers if hasattr(w, "terminate") and w.is_alive()]
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + 5
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def _follower(settings: Settings, expected: int, ready: Any, results: Any) -> None:
    """The tail follower process: from the live head, record delivery time - intended send time
    of each event (wall clock: the producer is another process)."""
    from esctl.ports import EventFilter
    from esctl.read.follow import Follower

    _leave_signals_to_the_parent()
    latencies: dict[int, float] = {}
    with open_store(settings, write=False) as store:
        follower = Follower(store, EventFilter(), store.live.head())
        ready.set()

        def emit(event: Any) -> None:
            intended = event.data.get("intended_at")
            if intended is not None:  # only the producer's events count (not earlier phases')
                latencies[int(event.data["n"])] = time.time() - float(intended)
                if len(latencies) >= expected:
                    follower.stop()

        follower.run(emit, idle_timeout=TAIL_IDLE_TIMEOUT)
    results.put(latencies)


def tail_phase(
    settings: Settings,
    params: Parameters,
    directory: Path,
    *,
    progress: ProgressFn | None = None,
) -> PhaseResult:
    """A producer appends at `params.rate` events/s (through `esctl append`'s code) while a
    follower tails. Latency runs from each event's intended send time, not from when the
    producer got round to it, so a producer or store that falls behind is not flattered
    (no coordinated omission)."""
    rate = max(1, params.rate)
    measured = int(rate * params.duration) if params.duration else params.events
    total = params.warmup + measured
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    results = context.Queue()
    follower = context.Process(
        target=_follower, args=(settings, total, ready, results), daemon=True
    )
    with _signals_held():
        follower.start()
    workload = Workload(params, directory, salt="tail")
    errors = dict.fromkeys(ERROR_CAUSES, 0)
    notes: list[str] = []
    try:
        if not ready.wait(timeout=120):
            from esctl.errors import EsctlError

            raise EsctlError("bench tail: the follower did not start")
        with open_store(settings, write=True) as store:
            origin = time.time() + 0.05
            sent = 0
            number = 0
            while sent < total:
                now = time.time()
                due = min(total, int((now - origin) * rate) + 1)
                if due <= sent:
                    time.sleep(max(0.0, origin + sent / rate - now))
                    continue
                count = min(due - sent, max(1, params.batch_size))
                events = [
                    workload.event(0, {"intended_at": round(origin + (sent + i) / rate, 6)})
                    for i in range(count)
                ]
                batch = workload.write_batch(2_000_000 + number, events)
                number += 1
                try:
                    append_batch(settings, store, batch)
                except Exception as error:
                    errors[classify_error(error)] += 1
                    if len(notes) < 3:
                        notes.append(f"{type(error).__name__}: {error}")
                    store.close()
                batch.path.unlink(missing_ok=True)
                sent += count
                if progress is not None:
                    progress("tail", sent, total)
        latencies: dict[int, float] = results.get(timeout=TAIL_IDLE_TIMEOUT + 60)
    except BaseException:
        stop_processes([follower])
        raise
    finally:
        follower.join(timeout=30)
        if follower.is_alive():
            follower.kill()
    # Event n carries "n" from the workload's counter, which starts at 0 in this phase.
    kept = {n: s for n, s in latencies.items() if n >= params.warmup}
    seconds = 0.0
    if kept:
        first = min(kept)
        last = max(kept)
        first_sent = origin + first / rate
        seconds = (origin + last / rate + kept[last]) - first_sent
    delivered = len(kept)
    result = PhaseResult(
        phase="tail",
        events=delivered,
        seconds=seconds,
        payload_bytes=delivered * params.payload_bytes,
        latency=Latency.of(list(kept.values())),
        latency_of="event",
        errors=errors,
        notes=notes,
    )
    if delivered < measured - sum(errors.values()) * params.batch_size:
        result.notes.append(f"only {delivered} of {measured} events reached the follower")
    return result
