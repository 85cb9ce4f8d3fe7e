"""Decoding inputs into JSON values, streamed in constant memory, with where each one is.

JSON is strict: duplicate keys (whose meaning differs between parsers), `NaN`/`Infinity`, numbers
out of float range, NUL characters and unpaired surrogates (which PostgreSQL cannot store) are
refused with file, line and field. JSON lines are decoded with orjson first; cheap
tests on the raw text (`esctl.append.new_events`) then decide whether the strict decoder must look
again. A `.json` document (one object or an array) is read element by element.
"""

from __future__ import annotations

import codecs
import itertools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from esctl.append.sources import CHUNK, InputSource

MAX_ITEM_BYTES = 256 << 20  # PostgreSQL's jsonb limit is 255 MB
# NULs and unpaired surrogates can only come from `\u` escapes (raw bytes are strict UTF-8): a hit
# of this pre-filter on the raw text triggers the full walk of the event's values.
_SUSPICIOUS = re.compile(r"\\u0000|\\u[dD][89a-fA-F]")


class _DuplicateKey(ValueError):
    pass


class _BadConstant(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return value


def _constant(name: str) -> Any:
    raise _BadConstant(name)


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _BadConstant(f"{text[:20]}… (out of range)" if len(text) > 20 else text)
    return value


def suspicious(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether the raw text holds a `\\u` escape of a NUL or a surrogate."""
    if start == 0 and end is None and "\\" not in text:  # one-character test first: fast
        return False
    if text.find("\\u", start, end) < 0:  # a slice of a buffer: never scan the whole buffer
        return False
    return _SUSPICIOUS.search(text, start, len(text) if end is None else end) is not None


# The strict decoder checks everything while decoding. JSON lines go to orjson first: it decodes
# a line as fast as json's C scanner, and refuses NaN/Infinity, numbers out of float range,
# unpaired surrogates and anything after the value (the strict decoder then says what is wrong),
# so its values are ones orjson's encoder takes as they are (in under a third of json's time).
# A value from it comes with its raw text: the validator proves on that text that no key was given
# twice (else decodes it strictly again). orjson makes a float of an integer past 64 bits without
# a word, so a line with such a number in it (20 digits in a row, or 19 after a minus) is left to
# the strict decoder, which keeps every digit.
DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)
TRUSTED_DECODER = json.JSONDecoder()
FAST_LOADS = orjson.loads
FAST_DUMPS = orjson.dumps  # for values FAST_LOADS made: every number finite and within 64 bits
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER, _LONG_NEGATIVE = b"0" * 20, b"-" + b"0" * 19


class Problem(Exception):
    """One or more problems with one input item, each already naming where and which field."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


# --- reading items -------------------------------------------------------------------------------


def decode_error(exc: BaseException) -> str:
    """What is wrong with a text the strict decoder refused."""
    if isinstance(exc, _DuplicateKey):
        return (
            f"duplicate key {exc.args[0]!r} in one object (refused: parsers disagree on which wins)"
        )
    if isinstance(exc, _BadConstant):
        return f"{exc.args[0]} is not valid JSON here (numbers must be finite)"
    if isinstance(exc, RecursionError):
        return "not valid JSON: nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} (column {exc.colno})"
    return f"not valid JSON: {exc}"


# where, value (or a Problem), suspicious, and the raw text when the value came from the fast
# decoder (so a later problem can be explained by the strict one).
Item = tuple[str, Any, bool, str | None]


def iter_items(source: InputSource, *, trusted: bool = False) -> Iterator[Item]:
    """Every JSON value of one input, with where it is; a value that cannot be read is a Problem.
    `trusted`: the input was validated already (a second pass), decode it with the plain C scanner."""
    kind = source.kind
    if kind == "sniff":
        kind = "array" if _first_byte(source.path) == b"[" else "lines"
    if kind == "lines":
        yield from (_iter_trusted_lines(source) if trusted else _iter_lines(source))
    else:
        yield from _iter_document(source, TRUSTED_DECODER if trusted else DECODER)


def _first_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    return head[:1]


def strict_decode(text: str, where: str) -> Any:
    """One JSON text through the strict decoder: its value, or a Problem saying what is wrong."""
    try:
        return DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, json.JSONDecodeError) and exc.pos >= len(text.rstrip()):
            exc = json.JSONDecodeError("unexpected end of line", text, len(text.rstrip()))
        return Problem([f"{where}: {decode_error(exc)}"])


def _iter_lines(source: InputSource) -> Iterator[Item]:
    # Once per event: kept to the fewest Python operations (orjson does the work).
    loads, refused = FAST_LOADS, orjson.JSONDecodeError
    zeros, long_number, long_negative = _DIGITS_AS_ZEROS, _LONG_NUMBER, _LONG_NEGATIVE
    label = source.label
    with source.open() as f:
        first = f.readline()
        lines = itertools.chain((first.removeprefix(codecs.BOM_UTF8),) if first else (), f)
        for lineno, raw in enumerate(lines, 1):
            try:
                text = raw.decode()
            except UnicodeDecodeError as exc:
                where = f"{label}:{lineno}"
                yield (
                    where,
                    Problem([f"{where}: not valid UTF-8 (byte {exc.start + 1})"]),
                    False,
                    None,
                )
                continue
            if not text or text.isspace():
                continue
            try:
                digits = raw.translate(zeros)  # an integer orjson would not keep exactly?
                if long_number in digits or long_negative in digits:
                    raise ValueError
                value = loads(text)
            except (refused, ValueError):
                where = f"{label}:{lineno}"
                value = strict_decode(text, where)
                if isinstance(value, Problem):
                    yield where, value, False, None
                else:  # no raw text: the strict decoder has checked the keys
                    yield where, value, suspicious(text), None
                continue
            # suspicious(), inlined: most lines hold no backslash at all
            yield f"{label}:{lineno}", value, "\\" in text and suspicious(text), text


def _iter_trusted_lines(source: InputSource) -> Iterator[Item]:
    """JSON lines validated already: the C scanner straight on each line."""
    scan = TRUSTED_DECODER.scan_once  # type: ignore[attr-defined]
    with source.open() as f:
        for lineno, raw in enumerate(f, 1):
            text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").lstrip()
            if text:
                yield f"{source.label}:{lineno}", scan(text, 0)[0], False, None


def _iter_document(source: InputSource, decoder: json.JSONDecoder) -> Iterator[Item]:
    """A `.json` file: one object or an array, read element by element in constant memory."""
    label = source.label
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    with source.open() as f:
        buf = ""
        pos = 0
        line = 1  # line number at `mark`: newlines are counted once, as `pos` moves past them
        mark = 0
        eof = False

        def more(size: int = CHUNK) -> bool:
            nonlocal buf, pos, line, mark, eof
            if eof:
                return False
            line += buf.count("\n", mark, pos)
            chunk = f.read(size)
            eof = not chunk
            buf = buf[pos:] + utf8.decode(chunk, final=eof)
            pos = mark = 0
            return True

        def skip_ws() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not more():
                    return buf[pos] if pos < len(buf) else ""

        def here() -> int:
            # Counting from the start of the buffer for every element made a large array
            # quadratic in the buffer size (25x slower than JSON lines).
            nonlocal line, mark
            line += buf.count("\n", mark, pos)
            mark = pos
            return line

        try:
            first = skip_ws()
            if first == "":
                return
            if first != "[":
                # One object (or a problem): it is a single item.
                start_line = here()
                while more():
                    if len(buf) > MAX_ITEM_BYTES:
                        raise ValueError("the document is too large for one event")
                where = f"{label}:{start_line}"
                try:
                    value = decoder.decode(buf[pos:])
                except (ValueError, RecursionError) as exc:
                    yield where, Problem([f"{where}: {decode_error(exc)}"]), False, None
                    return
                yield where, value, suspicious(buf, pos), None
                return
            pos += 1
            index = 0
            if skip_ws() == "]":
                pos += 1
                if skip_ws() != "":
                    raise json.JSONDecodeError("extra data after the array", buf, pos)
                return
            while True:
                skip_ws()
                where = f"{label}: item {index} (line {here()})"
                size = CHUNK
                while True:
                    try:
                        value, end = decoder.raw_decode(buf, pos)
                        break
                    except json.JSONDecodeError:
                        # Maybe the element continues past the buffer: read more, then retry.
                        if len(buf) - pos > MAX_ITEM_BYTES or not more(size):
                            raise
                        size *= 2
                yield where, value, suspicious(buf, pos, end), None
                pos = end
                index += 1
                after = skip_ws()
                if after == ",":
                    pos += 1
                    continue
                if after == "]":
                    pos += 1
                    if skip_ws() != "":
                        raise json.JSONDecodeError("extra data after the array", buf, pos)
                    return
                raise json.JSONDecodeError("expected ',' or ']' after an array element", buf, pos)
        except UnicodeDecodeError as exc:
            where = f"{label}: line {here()}"
            yield where, Problem([f"{where}: not valid UTF-8 ({exc.reason})"]), False, None
        except (ValueError, RecursionError) as exc:
            where = f"{label}: line {here()}"
            yield (
                where,
                Problem([f"{where}: {decode_error(exc)}; the rest of the file is unread"]),
                False,
                None,
            )
