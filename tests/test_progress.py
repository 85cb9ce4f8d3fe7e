"""Progress bars: stable totals, completed phases, and a rate that agrees with the summary line."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from esctl.render.progress import amount, human_bytes, progress_bars
from tests.support.processes import run_process

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=120, color_system=None), buffer


def test_amounts_read_the_same_everywhere() -> None:
    assert amount(1500, 3000, in_bytes=False) == "1,500/3,000"
    assert amount(1500, None, in_bytes=False) == "1,500"
    assert amount(12_300_000, 28_000_000, in_bytes=True) == "12.3/28.0 MB"
    assert human_bytes(512) == "512 B" and human_bytes(2_500) == "2.5 kB"


def test_rate_is_count_over_elapsed_even_when_work_comes_in_bursts() -> None:
    # snapshots rebuild yields its outcomes 500 at a time, one burst per transaction. rich's own
    # speed estimate (samples at burst ends, the first one dropped) showed about twice the rate of
    # the summary line; the bar's rate is now the summary's: items / time since the bar started.
    console, _ = _console()
    clock = Clock()
    with progress_bars(None, "streams", console=console, clock=clock) as bars:
        assert bars is not None
        for _ in range(2):
            clock.now += 1.0
            for _ in range(500):
                bars.advance("Rebuilding", total=1000)
        task = bars.progress.tasks[0]
        columns = bars.progress.columns
        rendered = [str(column.render(task)) for column in columns[2:]]
        assert rendered[0] == "1,000/1,000"
        assert rendered[1] == "500 streams/s"  # 1,000 streams in 2 s, as the summary says


def test_a_finished_phase_is_completed_and_its_rate_frozen() -> None:
    console, _ = _console()
    clock = Clock()
    with progress_bars(None, "events", console=console, clock=clock) as bars:
        assert bars is not None
        clock.now += 2.0
        bars.update("validating", count=293_282)  # no total known: a counter
        first = bars.progress.tasks[0]
        assert first.total is None
        bars.update("appending", count=1_000, total=293_282)  # the next phase starts
        assert first.total == first.completed == 293_282  # not left at 293282/?
        clock.now += 10.0
        columns = bars.progress.columns
        assert str(columns[2].render(first)) == "293,282/293,282"
        assert str(columns[3].render(first)) == "146,641 events/s"  # frozen at its end


def test_no_bars_without_a_terminal() -> None:
    with progress_bars(None, "events") as bars:
        assert bars is None


def _frames(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run esctl with stderr on a pseudo-terminal (stdout to a pipe); the frames it drew."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "esctl", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = process.wait(timeout=120)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return code, [f.strip() for f in re.split(r"[\r\n]", text) if f.strip()]


def _big_input(path: Path, count: int) -> Path:
    with path.open("w") as f:
        for i in range(count):
            event = {"stream_id": f"Order-{i % 500}", "event_type": "Placed", "data": {"n": i}}
            f.write(json.dumps(event) + "\n")
    return path


def _sqlite_store(tmp_path: Path) -> str:
    """Bars are presentation, the same on every backend: a SQLite store keeps these tests quick."""
    url = f"sqlite:///{tmp_path / 'bars.db'}"
    assert run_process("-s", url, "init").returncode == 0
    return url


ENV = {**os.environ, "COLUMNS": "150", "TERM": "xterm"}


def test_append_bar_total_is_the_input_size_and_never_moves(tmp_path: Path) -> None:
    source = _big_input(tmp_path / "big.jsonl", 40_000)
    url = _sqlite_store(tmp_path)
    code, frames = _frames(["-s", url, "append", str(source)], tmp_path, ENV)
    assert code == 0, frames[-5:]
    bars = [f for f in frames if f.startswith("Appending")]
    assert bars, frames[-5:]
    totals = {re.search(r"/(\S+ [kMG]?B)", f).group(1) for f in bars}  # type: ignore[union-attr]
    assert totals == {human_bytes(source.stat().st_size)}, bars
    assert any("Appended 40,000 events to 500 streams." in f for f in frames)


def test_append_commit_every_completes_the_validation_bar(tmp_path: Path) -> None:
    source = _big_input(tmp_path / "big.jsonl", 40_000)
    args = ["-s", _sqlite_store(tmp_path), "append", str(source), "--commit-every", "20000"]
    code, frames = _frames(args, tmp_path, ENV)
    assert code == 0, frames[-5:]
    size = human_bytes(source.stat().st_size)
    first_append = next(i for i, f in enumerate(frames) if f.startswith("Appending"))
    validating_after = [f for f in frames[first_append:] if f.startswith("Validating")]
    assert validating_after, frames[first_append : first_append + 5]
    whole = size.split(" ")[0]
    assert all(f"{whole}/{size}" in f for f in validating_after), validating_after[:3]
    appending = [f for f in frames if f.startswith("Appending")]
    assert all("/40,000" in f for f in appending), appending[:3]
    assert "?" not in " ".join(validating_after)
