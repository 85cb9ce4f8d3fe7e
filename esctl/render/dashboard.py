"""The screen of `esctl top`, drawn from one `esctl.operate.top.TopSnapshot`: fits 80x24."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esctl.display import status_style
from esctl.render.tables import safe_text

if TYPE_CHECKING:
    from rich.console import RenderableType

BLOCKS = " ▁▂▃▄▅▆▇█"
MAX_CATEGORIES = 6
MAX_CHECKPOINTS = 8


def sparkline(values: list[float], width: int = 20) -> str:
    """The last `width` values as block characters scaled to their maximum."""
    shown = values[-width:]
    top = max(shown, default=0.0)
    if top <= 0:
        return "▁" * len(shown)
    return "".join(BLOCKS[min(8, max(1, round(8 * v / top)))] if v > 0 else "▁" for v in shown)


def bar(value: float, top: float, width: int = 16) -> str:
    if top <= 0 or value <= 0:
        return ""
    return "█" * max(1, round(width * min(value, top) / top))


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}/s"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}s"


def dashboard(snapshot: Any) -> RenderableType:
    """The whole screen: a header line, categories with sparklines, checkpoints with bars."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    approx = "~" if snapshot.estimated else ""
    header = Text(
        f"esctl top  {snapshot.sampled_at:%H:%M:%S}  head {snapshot.head_position}  "
        f"horizon age {_seconds(snapshot.horizon_age) if snapshot.horizon_age is not None else 'none'}"
        + (
            f"  replica lag {_seconds(snapshot.replica_lag)}"
            if snapshot.replica_lag is not None
            else ""
        )
        + "  (q quits)",
        style="bold",
    )
    categories = Table(title="Appended by category", expand=False, pad_edge=False)
    for name, justify in (
        ("category", "left"),
        ("events", "right"),
        ("1m", "right"),
        ("5m", "right"),
        ("history", "left"),
    ):
        categories.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for c in snapshot.categories[:MAX_CATEGORIES]:
        categories.add_row(
            safe_text(c.category[:20]),
            f"{approx}{c.events:,}",
            _rate(c.per_second_1m),
            _rate(c.per_second_5m),
            sparkline(c.history),
        )
    checkpoints = Table(title="Checkpoints", expand=False, pad_edge=False)
    for name, justify in (
        ("subscription", "left"),
        ("lag", "right"),
        ("lag time", "right"),
        ("", "left"),
        ("status", "left"),
    ):
        checkpoints.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    top = max((max(s.lag, 0) for s in snapshot.checkpoints), default=0)
    for s in snapshot.checkpoints[:MAX_CHECKPOINTS]:
        style = status_style(s.status) or ""
        checkpoints.add_row(
            safe_text(s.subscription_id[:24]),
            f"{'~' if s.lag_estimated else ''}{s.lag:,}",
            _seconds(s.lag_seconds),
            Text(bar(s.lag, top), style=style),
            Text(s.status, style=style),
        )
    more = len(snapshot.checkpoints) - MAX_CHECKPOINTS
    parts: list[RenderableType] = [header, categories, checkpoints]
    if more > 0:
        parts.append(Text(f"… and {more} more (checkpoints list)", style="dim"))
    if not snapshot.checkpoints:
        parts.append(Text("No checkpoints.", style="dim"))
    return Group(*parts)
