"""`checkpoints list --watch`: the listing redrawn with the events each checkpoint consumed per
second since the last frame (rates in `esctl.operate.watch`)."""

from __future__ import annotations

from typing import Any

from esctl.cli.state import AppState
from esctl.cli.watch import run_watch
from esctl.render import Column, Listing


def _columns(listing: list[Column]) -> list[Column]:
    """The columns of `checkpoints list` with "consumed/s" after the lag."""
    return [
        *listing[:4],
        Column(
            "consumed_per_second",
            "consumed/s",
            justify="right",
            format=lambda r: "" if r is None else f"{r:,.1f}",
        ),
        *listing[4:],
    ]


def watch_checkpoints(
    app_state: AppState,
    store: Any,
    thresholds: Any,
    interval: float,
    max_frames: int | None,
    listing: list[Column],
) -> None:
    from esctl.operate.watch import sample_checkpoints

    columns = _columns(listing)

    def draw(frame: Any) -> tuple[dict[str, Any], Any]:
        rows = frame.rows()
        title = f"Checkpoints ({frame.appended:,} events appended since the last frame)"
        return frame.to_dict(), Listing(rows, columns, title=title, empty="No checkpoints yet.")

    run_watch(
        app_state.out,
        lambda previous: sample_checkpoints(store, thresholds, previous),
        draw,
        interval=interval,
        max_frames=max_frames,
    )
