"""How values read on a terminal: user text printed literally with control characters escaped,
one time format, one age format, one number rule, statuses in colour, and the column layout of a
table that must fit a narrow terminal without cropping an identity.

Pure functions, no rich import: the renderer applies them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

Kind = Literal["text", "id", "count", "time", "age", "status"]

# C0 and C1 controls, DEL, and the invisible characters that reorder or hide text (bidi embeddings,
# overrides and isolates, line/paragraph separators): a stream id holding one of these could move
# the cursor, set a hyperlink or make `Order-1` look like `1-redrO` on the operator's terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_NEWLINES = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """`Order\\x1b[31m` -> `Order\\\\x1b[31m`: control and bidi characters as visible escapes."""
    pattern = _UNSAFE_KEEP_NEWLINES if keep_newlines else _UNSAFE
    return pattern.sub(_escaped, text)


# --- times ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    """The time zone tables show times in, and how headers name it."""

    tz: tzinfo
    label: str


UTC_ZONE = Zone(UTC, "UTC")


def resolve_zone(name: str | None, *, what: str = "--tz") -> Zone:
    """`None`/`UTC` -> UTC, `local` -> this machine's zone, else an IANA name (`Europe/Paris`).
    An unknown name is a usage error (exit 2)."""
    from esctl.errors import UsageError

    if name is None or name.strip().upper() in ("UTC", "Z", ""):
        return UTC_ZONE
    if name.strip().lower() == "local":
        local = datetime.now().astimezone().tzinfo
        return Zone(local or UTC, "local")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return Zone(ZoneInfo(name.strip()), name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(
            f"{what}: unknown time zone {escape_controls(name)!r}",
            hint="use local, UTC or an IANA name such as Europe/Paris",
        ) from None


def as_datetime(value: Any) -> datetime | None:
    """A datetime from a datetime or an ISO 8601 string; None for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def table_time(value: Any, zone: Zone = UTC_ZONE) -> str:
    """A time in a table: `2026-12-01 21:12:44`, to the second, in `zone` (named in the header).
    A value that is not a time (`infinity`, text a foreign program wrote) is shown as it is."""
    if value is None or value == "":
        return ""
    moment = as_datetime(value)
    if moment is None:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(zone.tz)
    except (OverflowError, ValueError):  # year 1 moved west of UTC: show it in UTC, as stored
        moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


# --- ages and numbers -------------------------------------------------------------------------


def age(seconds: Any) -> str:
    """`42s`, `5m10s`, `2h05m`, `3d04h`: one age format in every table."""
    if seconds is None or seconds == "" or isinstance(seconds, bool):
        return ""
    try:
        total = int(float(seconds))
    except (TypeError, ValueError, OverflowError):
        return str(seconds)
    if total < 0:
        return "-" + age(-total)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    return f"{total // 86400}d{total % 86400 // 3600:02d}h"


def count(value: Any) -> str:
    """A quantity (events, lag, streams): `300,006`. Positions, versions and ids are not
    quantities and never get separators (they are copied into `--from-position`, `--after`…)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def kind_of(key: str) -> Kind | None:
    """What a row key holds, by name: the one place that decides how a value of a table reads."""
    if key.endswith("_at") or key in ("time", "updated", "created"):
        return "time"
    if key in ("age_seconds", "age", "lag_seconds"):
        return "age"
    if key == "status":
        return "status"
    if key.endswith("_id") or "position" in key or "version" in key or key in ("head", "id"):
        return "id"
    return None


# --- colour -----------------------------------------------------------------------------------

STATUS_STYLES = {
    "ok": "green",
    "fail": "bold red",
    "failed": "bold red",
    "lagging": "yellow",
    "stalled": "bold red",
    "ahead-of-head": "magenta",
    "missing": "red",
    "stale": "yellow",
    "different": "red",
    "redacted": "red",
    "ahead": "magenta",
    "note": "cyan",
    "rebuilt": "green",
    "unchanged": "green",
    "would-rebuild": "yellow",
    "kept-newer": "yellow",
    "redact": "yellow",
    "not-found": "yellow",
    "already-redacted": "green",
}


def status_style(text: str) -> str | None:
    """The colour of a status word (`FAIL`, `lagging`, …), or None."""
    return STATUS_STYLES.get(text.strip().lower())


# --- layout -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnFit:
    """What the layout needs to know of one column."""

    need: int  # the widest cell or header
    minimum: int  # the narrowest it may become (== need for a column that is never cropped)
    priority: int  # 0: always shown; higher numbers are dropped first when nothing else helps
    flexible: bool = False  # may become narrower than `minimum` when nothing else is left


def fit_columns(columns: Sequence[ColumnFit], width: int) -> tuple[list[int], dict[int, int]]:
    """Which columns to show and how wide, in a table `width` cells wide (borders included).

    Flexible columns (data, types, free text) give up their width first; when their minimum
    still does not fit, whole columns are dropped, least important first. Columns that must stay
    whole (ids, positions, versions, statuses, numbers) keep their full width."""
    shown = list(range(len(columns)))

    def overhead() -> int:
        return 3 * len(shown) + 1

    while True:
        least = sum(columns[i].minimum for i in shown) + overhead()
        droppable = [i for i in shown if columns[i].priority > 0]
        if least <= width or not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].priority, i)))
    widths = {i: columns[i].minimum for i in shown}
    room = width - overhead() - sum(widths.values())
    for index in sorted(shown, key=lambda i: (columns[i].priority, i)):
        extra = max(0, min(columns[index].need - widths[index], room))
        widths[index] += extra
        room -= extra
    # Still too wide with every droppable column gone: the flexible ones fold narrower still,
    # so that ids stay whole as long as they alone fit.
    flexible = [i for i in shown if columns[i].flexible]
    while room < 0 and flexible:
        widest = max(flexible, key=lambda i: widths[i])
        if widths[widest] <= 1:
            break
        widths[widest] -= 1
        room += 1
    return shown, widths
