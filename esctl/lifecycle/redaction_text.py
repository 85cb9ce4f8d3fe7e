"""Redaction on the JSON text of a document: find the exact span of the value at a path and put
`{"$redacted":true}` in its place, so that every other byte of the text stays as it was (its
whitespace, key order, number spellings). On SQLite that text is what is stored; on PostgreSQL it
is jsonb's own text, which casts back to the very same jsonb for everything not redacted.

Paths are `--where`'s (esctl.conditions): object keys, never array indexes. A key that occurs
twice in one object (JSON allows it; SQLite stores it) is redacted in every occurrence.

The hash of a removed value (`value_sha256`) is the sha256 of its canonical JSON: keys sorted,
no spaces, UTF-8, non-ASCII as is. For a string that is its JSON text with the quotes:
sha256(b'"alice@example.com"'). Anyone holding the value can recompute it; the audit keeps it,
never the value."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, Literal

REDACTED: dict[str, Any] = {"$redacted": True}
REDACTED_TEXT = '{"$redacted":true}'

Status = Literal["redact", "not-found", "already-redacted"]

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def is_redacted(value: Any) -> bool:
    """Whether `value` is the marker a redaction left (`true`, not `1`)."""
    return isinstance(value, dict) and value.keys() == {"$redacted"} and value["$redacted"] is True


def value_sha256(value: Any) -> str:
    """The sha256 (hex) of a value's canonical JSON (see the module's docstring)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _skip(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    return match.end() if match else index


def _end_of_value(text: str, start: int) -> int:
    _, end = _DECODER.raw_decode(text, start)
    return int(end)


def value_spans(text: str, keys: Sequence[str], start: int = 0) -> list[tuple[int, int]]:
    """Every (start, end) of the value at `keys` in the JSON text (from the value at `start`);
    [] when the path is not there. ValueError when the text is not JSON."""
    start = _skip(text, start)
    if not keys:
        return [(start, _end_of_value(text, start))]
    if text[start : start + 1] != "{":
        _end_of_value(text, start)  # not an object: still JSON, or ValueError
        return []
    spans: list[tuple[int, int]] = []
    index = _skip(text, start + 1)
    if text[index : index + 1] == "}":
        return []
    while True:
        if text[index : index + 1] != '"':
            raise ValueError(f"a key was expected at offset {index}")
        key, index = scanstring(text, index + 1)
        index = _skip(text, index)
        if text[index : index + 1] != ":":
            raise ValueError(f"':' was expected at offset {index}")
        value_start = _skip(text, index + 1)
        if key == keys[0]:
            spans += value_spans(text, keys[1:], value_start)
        index = _skip(text, _end_of_value(text, value_start))
        if text[index : index + 1] == ",":
            index = _skip(text, index + 1)
            continue
        if text[index : index + 1] == "}":
            return spans
        raise ValueError(f"',' or '}}' was expected at offset {index}")


@dataclass(frozen=True)
class ValueRedaction:
    """What redacting one path of one document found: the status, the UTF-8 bytes of the value's
    text, the sha256 of the value (`redact` only), and the document's text afterwards."""

    status: Status
    text: str
    bytes: int = 0
    sha256: str | None = None


def redact_value(text: str, keys: Sequence[str]) -> ValueRedaction:
    """Replace the value at `keys` in the JSON text `text` by the redaction marker."""
    spans = value_spans(text, keys)
    if not spans:
        return ValueRedaction("not-found", text)
    values = [json.loads(text[a:b]) for a, b in spans]
    size = sum(len(text[a:b].encode("utf-8")) for a, b in spans)
    if all(is_redacted(v) for v in values):
        return ValueRedaction("already-redacted", text, size)
    out = text
    for a, b in reversed(spans):  # from the end: earlier offsets stay valid
        out = out[:a] + REDACTED_TEXT + out[b:]
    # The value a reader sees is the last occurrence of a duplicated key (json, jsonb agree).
    return ValueRedaction("redact", out, size, value_sha256(values[-1]))
