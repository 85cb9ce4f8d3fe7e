"""`--format TEMPLATE` (kcat's `-f`): one line of text per row from a template such as
`'{global_position} {stream_id} {event_type} {data.amount}'`.

`{KEY}` is a field of the row, `{data.PATH}` / `{metadata.PATH}` a dotted path into a JSON field;
`{{` and `}}` are literal braces; `\\n`, `\\t` and `\\\\` are a newline, a tab and a backslash.
A missing value is empty; text is written as it is, anything else as compact JSON; control
characters in values are escaped, so one row stays one line. Each row ends with a newline
unless the template already does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from esctl.display import escape_controls
from esctl.encoding import dumps
from esctl.errors import UsageError

ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}
HINT = "e.g. --format '{global_position} {stream_id} {event_type} {data.amount}'"
NESTED = ("data", "metadata")  # the fields a dotted path may go into


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and field paths, in order."""

    parts: tuple[str | tuple[str, ...], ...]
    newline: bool

    def line(self, row: Mapping[str, Any]) -> str:
        """The row as one line of text (with its newline)."""
        pieces = [
            part if isinstance(part, str) else _text(_lookup(row, part)) for part in self.parts
        ]
        return "".join(pieces) + ("\n" if self.newline else "")


def parse_template(text: str, fields: Sequence[str]) -> Template:
    """Parse `text`; an unknown field, an empty `{}` or an unbalanced brace is a usage error
    (exit 2) that names the fields there are."""
    parts: list[str | tuple[str, ...]] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        pair = text[index : index + 2]
        if pair in ("{{", "}}"):
            literal.append(char)
            index += 2
        elif char == "\\" and index + 1 < len(text) and text[index + 1] in ESCAPES:
            literal.append(ESCAPES[text[index + 1]])
            index += 2
        elif char == "{":
            end = text.find("}", index)
            if end < 0:
                raise _error(text, "a '{' is not closed (write {{ for a literal brace)")
            path = _path(text, text[index + 1 : end].strip(), fields)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(path)
            index = end + 1
        elif char == "}":
            raise _error(text, "a '}' closes nothing (write }} for a literal brace)")
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append("".join(literal))
    ends_with_newline = bool(parts) and isinstance(parts[-1], str) and parts[-1].endswith("\n")
    return Template(tuple(parts), newline=not ends_with_newline)


def _path(text: str, name: str, fields: Sequence[str]) -> tuple[str, ...]:
    keys = tuple(name.split("."))
    if not name or any(not key for key in keys) or any("{" in key for key in keys):
        raise _error(text, f"{{{name}}} is not a field")
    if keys[0] not in fields or (len(keys) > 1 and keys[0] not in NESTED):
        raise _error(
            text,
            f"no field {name!r} (fields: {', '.join(fields)}; data.PATH and metadata.PATH "
            "reach into the JSON)",
        )
    return keys


def _lookup(row: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = row
    for key in path:
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else dumps(value)
    return escape_controls(text)


def _error(text: str, why: str) -> UsageError:
    return UsageError(f"--format {escape_controls(text)!r}: {why}", hint=HINT)
