"""`--where` expressions (`data.customer.id=C-42`, `metadata.tenant!=acme`, `data.total>=100`,
`data.note~refund`): parsed into `Condition`s, and tested against an event in Python.

The ground floor: no SQL here. Store adapters compile a `Condition` to their query language
(`esctl.store.esctl_layout.filters`), and must agree with `Condition.matches`:

- a PATH is dotted object keys (`data.customer.id`); a key is letters, digits, `_`, `-`, `@`, `$`,
  `:`. A key never indexes an array. A path that is not there (or a document that is not an
  object) matches nothing, except under `!=`.
- `=` compares typed values: `42`, `-1.5` are numbers (and match only JSON numbers, `42` equals
  `42.0`), `true`/`false`/`null` are those JSON values, anything else is a string. Quote a value to
  make it a string: `data.zip='01234'`, `data.n="42"` (double quotes: a JSON string).
- `!=` is the negation of `=`: it also matches events without the key.
- `>`, `<`, `>=`, `<=` compare a number with JSON numbers, or a time (ISO 8601: `2024-05-01`,
  `2024-05-01T10:00:00.5+02:00`; no offset means UTC) with JSON strings that are such times.
- `~` is a case-sensitive substring of a JSON string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Final, Literal

from esctl.errors import UsageError

if TYPE_CHECKING:
    from esctl.types import RecordedEvent

Column = Literal["data", "metadata"]
Kind = Literal["number", "string", "boolean", "null", "time"]

OPERATORS: Final = ("!=", ">=", "<=", "=", ">", "<", "~")
RANGE_OPERATORS: Final = (">", "<", ">=", "<=")

# One key of a path: what a JSON key usually is, nothing a query language gives meaning to.
KEY_PATTERN: Final = r"[\w@$:-]+"
_KEY = re.compile(KEY_PATTERN)
_EXPRESSION = re.compile(
    r"^\s*(data|metadata)((?:\.[^.=!<>~\s]*)*)\s*(!=|>=|<=|==|=|>|<|~)(.*)$", re.DOTALL
)
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
INT64_MAX: Final = 2**63 - 1

# A time `--where` compares as a time: a valid calendar date from year 1000 to 9999 (February 29
# only in leap years), an optional time of day, an optional offset (Z or ±hh:mm up to 14 h). The
# same pattern guards PostgreSQL's cast (it must never fail on a row), so it is written in the
# regular-expression syntax Python and PostgreSQL share.
_LEAP_YEAR = r"(?:[1-9]\d(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)"
_DATE = (
    r"(?:[1-9]\d{3}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))"
    r"|" + _LEAP_YEAR + r"-02-29)"
)
_CLOCK = r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)?)?"
TIME_PATTERN: Final = "^" + _DATE + _CLOCK + "$"
OFFSET_PATTERN: Final = r"(?:Z|[+-]\d\d:\d\d)$"
_TIME = re.compile(TIME_PATTERN)
_OFFSET = re.compile(OFFSET_PATTERN)


def time_text(text: str) -> str | None:
    """A time as `--where` compares it, in a form PostgreSQL casts to timestamptz the same way
    (an offset always, `T00:00:00` for a date), or None when `text` is not such a time."""
    if _TIME.match(text) is None:
        return None
    if len(text) == 10:
        return text + "T00:00:00+00:00"
    return text if _OFFSET.search(text) else text + "+00:00"


def time_key(text: Any) -> int | None:
    """Microseconds since 0001-01-01 UTC of a time string (integers: no overflow at the ends of
    the calendar), or None when `text` is not a time `--where` compares."""
    if not isinstance(text, str):
        return None
    normal = time_text(text)
    if normal is None:
        return None
    day = date(int(normal[0:4]), int(normal[5:7]), int(normal[8:10])).toordinal()
    clock, offset = normal[11:], 0
    if clock.endswith("Z"):
        clock = clock[:-1]
    else:
        sign = -1 if clock[-6] == "-" else 1
        offset = sign * (int(clock[-5:-3]) * 3600 + int(clock[-2:]) * 60)
        clock = clock[:-6]
    hours, minutes, *rest = clock.split(":")
    seconds, _, fraction = (rest[0] if rest else "0").partition(".")
    micros = int((fraction + "000000")[:6])
    total = ((day * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds) - offset
    return total * 1_000_000 + micros


_MISSING: Final = object()


@dataclass(frozen=True)
class Condition:
    """One `--where` expression: `column.path op value`. `value` is an int or float (number), a
    str (string and `~`; time: the text as given), a bool, or None (null)."""

    column: Column
    path: tuple[str, ...]
    op: str
    value: Any
    kind: Kind
    text: str = ""

    @property
    def time(self) -> int | None:
        """The value's `time_key` (kind `time`)."""
        return time_key(self.value) if self.kind == "time" else None

    def lookup(self, document: Any) -> Any:
        """The value at the path, or `_MISSING`."""
        for key in self.path:
            if not isinstance(document, dict) or key not in document:
                return _MISSING
            document = document[key]
        return document

    def matches(self, event: RecordedEvent) -> bool:
        """Whether the event's data or metadata satisfies the expression (as the stores do)."""
        found = self.lookup(event.data if self.column == "data" else event.metadata)
        if self.op == "=":
            return self._equal(found)
        if self.op == "!=":
            return not self._equal(found)
        if self.op == "~":
            return isinstance(found, str) and self.value in found
        if self.kind == "number":
            if not _is_number(found):
                return False
            left, right = found, self.value
        else:
            left, right = time_key(found), self.time
            if left is None or right is None:
                return False
        return bool(_compare(self.op, left, right))

    def _equal(self, found: Any) -> bool:
        if found is _MISSING:
            return False
        if self.kind == "number":
            return _is_number(found) and bool(found == self.value)
        if self.kind == "boolean":
            return isinstance(found, bool) and found == self.value
        if self.kind == "null":
            return found is None
        return isinstance(found, str) and found == self.value

    def nested(self) -> dict[str, Any]:
        """The value at the path as a JSON object (`{"a": {"b": value}}`): what equality is
        containment of."""
        nested: Any = self.value
        for key in reversed(self.path):
            nested = {key: nested}
        return dict(nested)


@dataclass(frozen=True)
class WherePlan:
    """How the store runs a `--where` read (PostgreSQL's plan): the indexes it uses, the GIN
    indexes on data and metadata, and the `CREATE INDEX` statements that would serve it."""

    indexes_used: tuple[str, ...] = ()
    json_indexes: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """What `-v` prints."""
        used = ", ".join(self.indexes_used)
        lines = [f"--where: the plan uses index {used}" if used else "--where: no index used"]
        lines += [f"--where: an index would help: {statement}" for statement in self.suggestions]
        return lines


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == ">":
        return bool(left > right)
    if op == "<":
        return bool(left < right)
    if op == ">=":
        return bool(left >= right)
    return bool(left <= right)


HINT = "e.g. --where data.customer_id=C-42, --where 'data.total>=100', --where data.note~refund"


def _usage(expression: str, why: str) -> UsageError:
    return UsageError(f"--where {expression!r}: {why}", hint=HINT)


def _literal(expression: str, raw: str) -> tuple[Any, bool]:
    """The value of the text after the operator, and whether it was quoted."""
    text = raw.strip()
    if text[:1] == '"':
        try:
            value = json.loads(text)
        except ValueError:
            raise _usage(expression, "unbalanced or invalid double-quoted value") from None
        if not isinstance(value, str):
            raise _usage(expression, "unbalanced or invalid double-quoted value")
        return value, True
    if text[:1] == "'":
        if len(text) < 2 or text[-1] != "'":
            raise _usage(expression, "unbalanced single quote")
        return text[1:-1], True
    return text, False


def _typed(expression: str, text: str) -> tuple[Any, Kind]:
    """An unquoted value: a number, true, false, null, or a string."""
    if text in ("true", "false"):
        return text == "true", "boolean"
    if text == "null":
        return None, "null"
    if _NUMBER.fullmatch(text):
        if re.fullmatch(r"-?\d+", text):
            number = int(text)
            if abs(number) > INT64_MAX:
                raise _usage(expression, "the number is too large to compare exactly (quote it)")
            return number, "number"
        real = float(text)
        mantissa = re.split("[eE]", text)[0]
        if real in (float("inf"), float("-inf")) or (real == 0 and re.search("[1-9]", mantissa)):
            raise _usage(expression, "the number is out of range (quote it)")
        return real, "number"
    return text, "string"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an argument of bytes that are not UTF-8 (surrogateescape)
        return False
    return True


def parse_condition(expression: str) -> Condition:
    """One `--where` expression; UsageError (exit 2) naming what is wrong with it."""
    if not expression.strip():
        raise _usage(expression, "empty expression")
    if "\x00" in expression or not _encodable(expression):
        raise _usage(
            expression.encode("utf-8", "replace").decode(),
            "holds a NUL or bytes that are not UTF-8 (no stored value can hold them)",
        )
    matched = _EXPRESSION.match(expression)
    if matched is None:
        raise _usage(
            expression,
            "not an expression: give data.PATH or metadata.PATH, an operator "
            "(= != > < >= <= ~) and a value",
        )
    column, dotted, op, raw = matched.groups()
    op = "=" if op == "==" else op
    keys = _keys(column, dotted, lambda why: _usage(expression, why))
    value, quoted = _literal(expression, raw)
    kind: Kind = "string"
    if op == "~":
        pass  # a substring is text, whatever it looks like
    elif quoted:
        if op in RANGE_OPERATORS:
            kind = "time" if time_key(value) is not None else "string"
    else:
        value, kind = _typed(expression, value)
        if op in RANGE_OPERATORS and kind == "string" and time_key(value) is not None:
            kind = "time"
    if op in RANGE_OPERATORS and kind not in ("number", "time"):
        raise _usage(
            expression,
            f"{op} compares numbers or times (ISO 8601, e.g. 2024-05-01T10:00:00Z), "
            f"not {raw.strip() or 'an empty value'!r}",
        )
    return Condition(column, keys, op, value, kind, expression)  # type: ignore[arg-type]


def _keys(column: str, dotted: str, fail: Callable[[str], UsageError]) -> tuple[str, ...]:
    """The keys of `.a.b` after `column`; `fail(why)` is the error to raise."""
    keys = tuple(dotted.split(".")[1:])
    if not keys:
        raise fail(f"give a path inside {column} ({column}.KEY)")
    for key in keys:
        if not _KEY.fullmatch(key):
            raise fail(f"{key!r} is not a valid key (letters, digits, _ - @ $ : between the dots)")
    return keys


def parse_path(text: str, option: str = "--path") -> tuple[Column, tuple[str, ...]]:
    """A PATH as `--where` spells it, without operator and value (`data.customer.email`,
    `metadata.client.ip`): the column and its keys; UsageError (exit 2) naming `option`."""

    def fail(why: str) -> UsageError:
        return UsageError(
            f"{option} {text!r}: {why}", hint="e.g. --path data.email, --path metadata.client.ip"
        )

    column, dot, rest = text.partition(".")
    if column not in ("data", "metadata"):
        raise fail("a path starts with data. or metadata.")
    return column, _keys(column, dot + rest, fail)  # type: ignore[return-value]


def parse_conditions(expressions: list[str] | tuple[str, ...] | None) -> tuple[Condition, ...]:
    """Every `--where` of a command (ANDed)."""
    return tuple(parse_condition(text) for text in expressions or ())


__all__ = [
    "Condition",
    "WherePlan",
    "parse_condition",
    "parse_conditions",
    "parse_path",
    "time_key",
    "time_text",
]
