"""`--watch [--interval S] [--max-frames N]` of `checkpoints list` and `stats`: sample, draw,
sleep, until Ctrl-C or SIGTERM (exit 0, the terminal restored by the frame writer).

Not a terminal: one frame per interval, printed whole after a `--- TIME ---` line (json/jsonl:
one JSON document per line). A lost connection (exit 5 otherwise) is shown in the frame and the
next interval tries again."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated, Any

import typer

from esctl.errors import StoreUnavailable, UsageError
from esctl.render import Renderer
from esctl.render.views import View

WatchOpt = Annotated[
    bool,
    typer.Option(
        "--watch",
        help="Redraw every --interval seconds with the rates since the last frame, until Ctrl-C "
        "(exit 0). Not a terminal: one frame per interval (json/jsonl: one JSON document a "
        "line). A lost connection is shown in the frame and retried.",
    ),
]
IntervalOpt = Annotated[
    float, typer.Option("--interval", min=0.05, help="Seconds between --watch frames.")
]
MaxFramesOpt = Annotated[
    int | None,
    typer.Option("--max-frames", min=1, help="With --watch: stop after N frames (for scripts)."),
]


class _Stopped(Exception):
    """SIGTERM: end the watch as Ctrl-C does."""


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_watch_options(watch: bool, interval: float, max_frames: int | None) -> None:
    if not watch and max_frames is not None:
        raise UsageError("--max-frames needs --watch")


def run_watch(
    out: Renderer,
    sample: Callable[[Any], Any],
    draw: Callable[[Any], tuple[dict[str, Any], View]],
    *,
    interval: float,
    max_frames: int | None,
) -> None:
    """Frames until Ctrl-C/SIGTERM or `max_frames`: `sample(previous)` gives a frame, `draw`
    its record (data formats) and view (a person)."""
    previous: Any = None
    shown = 0
    try:
        with _sigterm_stops(), out.watch() as frames:
            while True:
                try:
                    previous = sample(previous)
                    record, view = draw(previous)
                    frames.frame(record, view)
                except StoreUnavailable as error:
                    record = {"sampled_at": datetime.now(UTC)}
                    stale = draw(previous)[1] if previous is not None else _empty_view()
                    frames.frame(record, stale, error=error.message)
                    previous = None  # rates restart after the connection comes back
                shown += 1
                if max_frames is not None and shown >= max_frames:
                    break
                time.sleep(interval)
    except (KeyboardInterrupt, _Stopped):
        out.end_interrupted_line()


def _empty_view() -> View:
    from esctl.render.views import Lines

    return Lines("")
