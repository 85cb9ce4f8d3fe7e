"""Stored values as esctl reads them: times, JSON texts and categories (the ground floor, with
`esctl.types`; imports nothing from esctl).

`RecordedEvent.from_row` (esctl.types) is the one place where a stored row becomes an event, built
on the decoders here. It accepts every value the schema can hold, including rows written by other programs: a time no `datetime` can
hold becomes an `OddTime` (its text), JSON that is not an object or not JSON at all is kept, and
each value that cannot go back through `esctl append` unchanged is named in `problems`, which
readers turn into a warning naming the event's global position."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any


def category_of(stream_id: str) -> str:
    """The category of a stream: its id up to the first `-` that does not start it
    (`Order-5f1c` -> `Order`, `-x-1` -> `-x`, `-` -> `-`), so a category is never empty."""
    end = stream_id.find("-", 1)
    return stream_id if end < 0 else stream_id[:end]


# --- times ---------------------------------------------------------------------------------


class OddTime(str):
    """A stored time that no `datetime` holds, as its JSON text: `infinity`, `-infinity`, an ISO
    8601 time with an expanded year (`-0043-03-15T10:00:00Z` is 44 BC, astronomical numbering;
    `+10000-01-01T00:00:00Z`), or, on SQLite, the stored text itself."""


StoredTime = datetime | OddTime | None

_ISO_TIME = re.compile(
    r"\s*([+-]?)(\d{1,9})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?(\s+BC)?\s*",
    re.IGNORECASE,
)


def parse_time(value: Any) -> datetime:
    """A stored timestamp (a datetime from PostgreSQL, ISO text from SQLite) as an aware datetime;
    ValueError when it is none (see `stored_time` for a reader that never fails)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    time = stored_time(value)
    if not isinstance(time, datetime):
        raise ValueError(f"not a time esctl can hold: {value!r}")
    return time


def stored_time(value: Any) -> StoredTime:
    """Any stored `created_at`: a datetime when one holds it, else an OddTime, None for NULL."""
    if value is None or isinstance(value, OddTime):
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    try:
        time = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _lenient_time(text)
    if time.tzinfo is None:
        return time.replace(tzinfo=UTC)
    try:
        return time.astimezone(UTC)
    except OverflowError:
        return _lenient_time(text)


def _lenient_time(text: str) -> StoredTime:
    """Times `fromisoformat` refuses: unpadded or expanded years (as older esctl wrote year 1 on
    SQLite), PostgreSQL's `… BC`; outside 0001-9999 an OddTime in esctl's expanded form."""
    if text.strip().lower() in ("infinity", "-infinity", "+infinity"):
        return OddTime(text.strip().lower().lstrip("+"))
    match = _ISO_TIME.fullmatch(text)
    if match is None:
        return OddTime(text)
    sign, year, month, day, hour, minute, second, fraction, zone, bc = match.groups()
    year_number = int(year)
    if bc:
        year_number = 1 - year_number  # 1 BC is year 0, 44 BC is year -43
    elif sign == "-":
        year_number = -year_number
    try:
        # Any year maps to one with the same calendar in 2000-2399 (the Gregorian calendar
        # repeats every 400 years), where datetime can do the arithmetic.
        shift = year_number - (2000 + year_number % 400)
        local = datetime(
            year_number - shift,
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
    except ValueError:
        return OddTime(text)
    utc = local - _offset(zone)
    year_number = utc.year + shift
    if 1 <= year_number <= 9999:
        return utc.replace(year=year_number, tzinfo=UTC)
    return OddTime(_expanded_year(year_number) + utc.isoformat()[4:] + "Z")


def _offset(zone: str | None) -> timedelta:
    if not zone or zone.upper() == "Z":
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    seconds = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60 + int(digits[4:6] or 0)
    return timedelta(seconds=-seconds if zone[0] == "-" else seconds)


def _expanded_year(year: int) -> str:
    if year < 0:
        return f"-{-year:04d}"
    return f"+{year}" if year > 9999 else f"{year:04d}"


def time_json(value: StoredTime) -> str | None:
    """A stored time in JSON: ISO 8601 UTC with `Z` (six fraction digits, none when zero), an
    OddTime's text, null for NULL."""
    if value is None or isinstance(value, OddTime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- JSON values ---------------------------------------------------------------------------


class JSONText(str):
    """JSON text that output writes as it is (not as a JSON string): an event's `data` and
    `metadata` as the store renders them, so every command prints the same bytes for them."""


class EventDict(dict[str, Any]):
    """`RecordedEvent.to_dict()`: plain values for Python, plus `json_texts`, the store's JSON
    text of some of them, which esctl's JSON output writes instead of encoding the value again."""

    __slots__ = ("json_texts",)

    def __init__(self, values: dict[str, Any], json_texts: dict[str, JSONText]) -> None:
        super().__init__(values)
        self.json_texts = json_texts


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_encode_string = json.encoder.encode_basestring  # type: ignore[attr-defined]
_REFUSED_ESCAPE = re.compile(r"\\u(?:[dD][89abAB]|0000)")


def decode_json(value: Any) -> tuple[Any, JSONText, str | None]:
    """A stored JSON column (text, or decoded by psycopg): its value, its JSON text, and a problem
    (None when there is none). The text is the store's (PostgreSQL's jsonb text is canonical)
    unless it spans lines; text that is not JSON becomes a JSON string of itself."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return value, JSONText(json.dumps(value, ensure_ascii=False)), None
    try:
        decoded = _DECODER.decode(value)
    except (ValueError, RecursionError):
        return value, JSONText(_encode_string(value)), "is not JSON (shown as a JSON string)"
    text = value.strip()
    if "\n" in text or "\r" in text:
        text = json.dumps(decoded, ensure_ascii=False)
    problem = None
    if _REFUSED_ESCAPE.search(text) is not None and _refused_text(decoded):
        problem = "holds a NUL or an unpaired surrogate (append refuses it)"
        decoded = _scrub(decoded)  # the text keeps the escape; Python's value cannot be printed
    return decoded, JSONText(text), problem


def _scrub(value: Any) -> Any:
    """`value` with each unpaired surrogate replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def json_value(value: Any) -> Any:
    """A stored JSON column as a value (text that is not JSON stays that text)."""
    return decode_json(value)[0]


def _refused_text(value: Any) -> bool:
    """Whether a string in `value` holds a NUL or an unpaired surrogate (which PostgreSQL's
    jsonb, and so `esctl append`, refuses)."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_refused_text(k) or _refused_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_refused_text(v) for v in value)
    return False


def _text(value: Any) -> str:
    """A text column as str, whatever another program stored in it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def value_problems(data: Any, metadata: Any) -> list[str]:
    """Why `data`/`metadata` would not go back through `esctl append` (which takes objects)."""
    problems = []
    if not isinstance(data, dict):
        problems.append(f"data is {_kind(data)}, not a JSON object (append refuses it)")
    if metadata is None:
        problems.append("metadata is JSON null (append would store {})")
    elif not isinstance(metadata, dict):
        problems.append(f"metadata is {_kind(metadata)}, not a JSON object (append refuses it)")
    return problems


def created_at_problem(created_at: StoredTime) -> str | None:
    if created_at is None:
        return "created_at is NULL (shown as null; append would stamp the time of the append)"
    if isinstance(created_at, OddTime):
        return f"created_at {created_at!s} is not a time append takes"
    return None


def odd_row_warning(position: int, problems: tuple[str, ...] | list[str]) -> str | None:
    if not problems:
        return None
    return f"event at global position {position}: {'; '.join(problems)}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
