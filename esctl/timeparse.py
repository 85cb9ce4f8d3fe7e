"""Times and durations as people type them: on the command line and in the config file.

One set of rules everywhere: a duration is a number with a unit (`500ms`, `30s`, `10m`/`10min`,
`2h`, `7d`, `1w`, or compound: `1h30m`, `2d12h`); a time is ISO 8601 (UTC when no offset is given) or a duration meaning that
long ago (`--since 2h`)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from esctl.errors import ConfigError, UsageError

_NUMBER = r"\d+(?:\.\d+)?"
# Longer units first, so `10min` is not `10m` followed by `in`.
_PART = re.compile(rf"({_NUMBER})\s*(ms|min|sec|s|m|h|d|w)", re.IGNORECASE)
_COMPOUND = re.compile(rf"^\s*(?:{_NUMBER}\s*(?:ms|min|sec|s|m|h|d|w)\s*)+$", re.IGNORECASE)
_BARE = re.compile(rf"^\s*({_NUMBER})\s*$")
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
EXAMPLES = "500ms, 30s, 10m, 2h, 7d, 1h30m"


def is_duration(text: str) -> bool:
    """Whether `text` is a duration with its unit(s): `15m`, `1h30m` (not a bare number)."""
    return _COMPOUND.match(text) is not None


def parse_duration(
    text: str, option: str, *, bare_unit: str | None = "s", error: type[UsageError] = UsageError
) -> float:
    """Seconds. A number without a unit is in `bare_unit` (None: a unit is required). Compound
    durations (`1h30m`, `2d12h`, `1m30s`) give their units from the largest down, each once."""
    bare = _BARE.match(text)
    if bare is not None and bare_unit is not None:
        return float(bare.group(1)) * _SECONDS[bare_unit]
    if not is_duration(text):
        raise error(f"{option}: {text!r} is not a duration", hint=f"use e.g. {EXAMPLES}")
    total = 0.0
    previous = math.inf
    for number, unit in _PART.findall(text):
        size = _SECONDS[unit.lower()]
        if size >= previous:
            raise error(
                f"{option}: {text!r} is not a duration: give its units from the largest down, "
                "each once",
                hint=f"use e.g. {EXAMPLES}",
            )
        previous = size
        total += float(number) * size
    if not math.isfinite(total):
        raise error(f"{option}: {text!r} is too long a duration", hint=f"use e.g. {EXAMPLES}")
    return total


def parse_time_arg(text: str, option: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC when no offset is given) or a duration ago (`15m`, `2h`, `7d`)."""
    value = text.strip()
    if is_duration(value):
        seconds = parse_duration(value, option)
        try:
            return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        except OverflowError:
            raise UsageError(
                f"{option}: {text!r} ago is before the year 1", hint="use a shorter duration"
            ) from None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not a time",
            hint="use ISO 8601 (2026-05-01T12:00:00Z, 2026-05-01; UTC when no offset is given) "
            "or a duration ago (15m, 2h, 7d, 1h30m)",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_duration_ms(value: Any, what: str) -> int:
    """`500`, `"500ms"`, `"30s"`, `"2min"`, `"1h"` -> milliseconds (a bare number is milliseconds,
    as in PostgreSQL's own settings)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{what} must be a duration such as 30s or 500ms, not {value!r}")
    if isinstance(value, int | float):
        return int(value)
    return round(parse_duration(value, what, bare_unit="ms", error=ConfigError) * 1000)


def parse_seconds(value: Any, what: str) -> int:
    """A whole number of seconds (at least 1) from `10` or a duration string such as `"5s"`."""
    millis = parse_duration_ms(value, what) if isinstance(value, str) else None
    seconds = millis / 1000 if millis is not None else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ConfigError(f"{what} must be a positive number of seconds, not {value!r}")
    return max(1, round(seconds))
