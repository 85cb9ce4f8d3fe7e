"""The progress bars of esctl (append, snapshots rebuild/verify, bench), behind `Renderer.progress`.

On a terminal only; bars are transient (they vanish when the command ends, the summary line stays).
Each phase is one bar. Its total is stable: bytes read of the input size when that is known, else an
exact count, else no total (a counter). The rate is always `count / time since the bar started`,
the same definition the commands' summary lines use, so bar and summary agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from esctl.display import escape_controls
from esctl.words import number

if TYPE_CHECKING:
    from rich.console import Console

    from esctl.render.renderer import Renderer


def human_bytes(size: float) -> str:
    """`512 B`, `12.3 MB`: decimal units, as `ls -h --si` and rich's download column print them."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def amount(done: int, total: int | None, in_bytes: bool) -> str:
    """What the bar has done: `1.2/40.0 MB`, `1,000/3,000`, or `1,000` without a total."""
    if in_bytes:
        shown = human_bytes(total or 0).split(" ")
        scale = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[shown[1]]
        return f"{done / scale:,.1f}/{shown[0]} {shown[1]}"
    return number(done) if total is None else f"{number(done)}/{number(total)}"


def rate(count: int, elapsed: float) -> float:
    """Items per second since the start (0 before any time has passed)."""
    return count / elapsed if elapsed > 0 else 0.0


class Bars:
    """The bars of one command: one per phase, created on first use."""

    def __init__(self, progress: Any, unit: str, clock: Callable[[], float]) -> None:
        self.progress = progress
        self.unit = unit
        self.clock = clock
        self.tasks: dict[str, Any] = {}
        # A phase runs from the end of the one before (the first from when the bars appeared), so
        # the time before its first item counts, as it does in the command's summary line.
        self.mark = clock()

    def update(
        self,
        phase: str,
        *,
        count: int,
        total: int | None = None,
        done_bytes: int | None = None,
        size: int | None = None,
    ) -> None:
        """Phase `phase` has handled `count` items (and, when the input size is known, read
        `done_bytes` of `size` bytes: the bar then moves by bytes, against a total that never moves)."""
        in_bytes = size is not None and done_bytes is not None
        if phase not in self.tasks:
            if self.tasks:
                self.finish()
                self.mark = self.clock()
            self.tasks[phase] = self.progress.add_task(
                phase[:1].upper() + phase[1:],
                total=size if in_bytes else total,
                count=0,
                bytes=in_bytes,
                started=self.clock() if count == 0 else self.mark,  # 0: the phase says it starts
                ended=None,
            )
        task = self.tasks[phase]
        completed = done_bytes if in_bytes else count
        self.progress.update(task, completed=completed, count=count)

    def advance(self, phase: str, by: int = 1, total: int | None = None) -> None:
        """One more item (or `by`) done in `phase`."""
        task = self.tasks.get(phase)
        count = by if task is None else self._task(task).fields["count"] + by
        self.update(phase, count=count, total=total)

    shown = True  # bars are drawn: a command may report progress (see `SilentBars`)

    def print(self, line: str, style: str = "red") -> None:
        """A line above the bars (failures must not hide behind them); user text, so control
        characters are escaped."""
        self.progress.console.print(
            escape_controls(line), markup=False, soft_wrap=True, style=style
        )

    def finish(self) -> None:
        """Complete every bar shown so far (a phase that ended is shown as done, not `n/?`)."""
        for task_id in self.tasks.values():
            task = self._task(task_id)
            if task.fields.get("ended") is None:
                self.progress.update(
                    task_id, total=task.completed, completed=task.completed, ended=self.clock()
                )

    def _task(self, task_id: Any) -> Any:
        return next(task for task in self.progress.tasks if task.id == task_id)


class SilentBars:
    """Progress where no bar is drawn (stderr is no terminal, or --quiet): counts are dropped,
    lines still go to stderr. `shown` is False, so a command can skip work done only for a bar
    (counting the streams of an ETA, reporting each event)."""

    shown = False

    def __init__(self, out: Renderer) -> None:
        self.out = out

    def update(
        self,
        phase: str,
        *,
        count: int,
        total: int | None = None,
        done_bytes: int | None = None,
        size: int | None = None,
    ) -> None:
        """Nothing to draw."""

    def advance(self, phase: str, by: int = 1, total: int | None = None) -> None:
        """Nothing to draw."""

    def print(self, line: str, style: str = "red") -> None:
        """The line on stderr, as `Bars.print` shows it above the bars."""
        self.out.err_console.print(escape_controls(line), soft_wrap=True, style=style)

    def finish(self) -> None:
        """Nothing to complete."""


def _columns(unit: str, clock: Callable[[], float]) -> tuple[Any, ...]:
    from rich.progress import BarColumn, ProgressColumn, Task, TextColumn
    from rich.text import Text

    class AmountColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            total = None if task.total is None else int(task.total)
            return Text(amount(int(task.completed), total, task.fields["bytes"]), style="green")

    def elapsed(task: Task) -> float:
        return float((task.fields["ended"] or clock()) - task.fields["started"])

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{rate(task.fields['count'], elapsed(task)):,.0f} {unit}/s", style="cyan")

    class EtaColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            if task.total is None or not task.completed or task.finished:
                return Text("")
            left = (task.total - task.completed) * elapsed(task) / task.completed
            minutes, seconds = divmod(round(left), 60)
            return Text(f"ETA {minutes}:{seconds:02d}", style="magenta")

    return (
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        AmountColumn(),
        RateColumn(),
        EtaColumn(),
    )


@contextmanager
def progress_bars(
    out: Renderer | None,
    unit: str,
    *,
    console: Console | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Bars | None]:
    """Bars on stderr when it is a terminal (else None), removed when the block ends."""
    if console is None:
        if out is None or not out.interactive:
            yield None
            return
        console = out.err_console
    from rich.progress import Progress

    with Progress(
        *_columns(unit, clock),
        console=console,
        transient=True,
        get_time=clock,
        refresh_per_second=10,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as progress:
        bars = Bars(progress, unit, clock)
        yield bars
        bars.finish()
