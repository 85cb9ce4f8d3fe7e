"""Times and durations as people type them: on the command line and in the config file.

One set of rules everywhere: a duration is a number with a unit (`500ms`, `30s`, `10m`/`10min`,
`2h`, `7d`, `1w`); a time is ISO 8601 (UTC when no offset is given) or a duration meaning that
long ago (`--since 2h`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from esctl.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d|w)?\s*$")
_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
EXAMPLES = "500ms, 30s, 10m, 2h, 7d"


def parse_duration(
    text: str, option: str, *, bare_unit: str | None = "s", error: type[UsageError] = UsageError
) -> float:
    """Seconds. A number without a unit is in `bare_unit` (None: a unit is required)."""
    match = _DURATION.match(text)
    unit = match.group(2) if match else None
    if match is None or (unit is None and bare_unit is None):
        raise error(f"{option}: {text!r} is not a duration", hint=f"use e.g. {EXAMPLES}")
    return float(match.group(1)) * _SECONDS[unit or bare_unit or "s"]


def parse_time_arg(text: str, option: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC when no offset is given) or a duration ago (`15m`, `2h`, `7d`)."""
    value = text.strip()
    match = _DURATION.match(value)
    if match is not None and match.group(2) is not None:
        return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(value, option))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not a time",
            hint="use ISO 8601 (2026-05-01T12:00:00Z, 2026-05-01; UTC when no offset is given) "
            "or a duration ago (15m, 2h, 7d)",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
