"""The one JSON encoder of esctl: every `-o json`/`-o jsonl` line, export and JSON text esctl
writes. Stored JSON texts (`JSONText`, `EventDict`) are written as stored, never re-encoded; times
as ISO 8601 UTC. A library module (readers stream JSON lines with it), not presentation."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from esctl.types import iso_time
from esctl.values import EventDict, JSONText

__all__ = ["dumps", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """`json.dumps` default: times as ISO 8601 UTC, UUIDs and decimals as strings/numbers."""
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


# The one JSON encoder of esctl's output: `json.dumps`'s text (`", "` and `": "` separators,
# non-ASCII as it is), with `JSONText` (an event's data and metadata as the store renders them)
# written as it is, so `read`, `read --all`, `tail` and `events show` print the same bytes for an
# event, and the same bytes as PostgreSQL's COPY fast path of `read --all -o jsonl`.
_LEAF = json.JSONEncoder(default=to_jsonable, ensure_ascii=False)
_encode_string = json.encoder.encode_basestring  # type: ignore[attr-defined]
_NO_TEXTS: dict[str, JSONText] = {}


def dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON text of an output value (one line unless `indent`)."""
    kind = type(value)
    if (kind is dict or kind is EventDict) and indent is None:
        # A listing row: one level, most values leaves.
        texts = value.json_texts if kind is EventDict else _NO_TEXTS
        parts = []
        for key, item in value.items():
            if key in texts:
                parts.append(_encode_string(key) + ": " + texts[key])
                continue
            kind = type(item)
            if kind is JSONText:
                text: str = item
            elif kind is str:
                text = _encode_string(item)
            elif kind is int:
                text = int.__repr__(item)
            else:
                text = _encode(item, None, 0)
            parts.append(_encode_string(str(key)) + ": " + text)
        return "{" + ", ".join(parts) + "}"
    return _encode(value, indent, 0)


def _encode(value: Any, indent: int | None, level: int) -> str:
    if isinstance(value, JSONText):
        return str.__str__(value)
    if isinstance(value, str):
        return _encode_string(value)
    if hasattr(value, "to_dict") and not isinstance(value, dict | list | tuple):
        value = value.to_dict()
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        texts = value.json_texts if isinstance(value, EventDict) else _NO_TEXTS
        items = [
            _encode_string(_key(key))
            + ": "
            + (texts[key] if key in texts else _encode(item, indent, level + 1))
            for key, item in value.items()
        ]
        return _join("{", items, "}", indent, level)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return _join("[", [_encode(item, indent, level + 1) for item in value], "]", indent, level)
    text: str = _LEAF.encode(value)
    if text[:1] in ("{", "[") and indent is not None:  # a to_jsonable result holding containers
        return _encode(json.loads(text), indent, level)
    return text


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    text: str = _LEAF.encode(key)
    return text[1:-1] if text.startswith('"') else text


def _join(open_: str, items: list[str], close: str, indent: int | None, level: int) -> str:
    if indent is None:
        return open_ + ", ".join(items) + close
    inner = "\n" + " " * (indent * (level + 1))
    return open_ + inner + ("," + inner).join(items) + "\n" + " " * (indent * level) + close
