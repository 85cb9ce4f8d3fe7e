"""Reading and validating input files into new events, streamed in constant memory.

Input is `.json` (one object or an array), `.jsonl`/`.ndjson` (one object a line), or `-` (standard
input, spooled to a temporary file: an array if it starts with `[`, else JSON lines). Other names
are sniffed like standard input.

What an input event may carry (everything else is refused, so no field is silently meaningful):
`stream_id`, `stream_type`, `event_type` (alias `type`), `data` (alias `event_data`), `metadata`,
`event_id` (alias `id`) and, as written by `esctl read -o jsonl`, `version`, `created_at` and
`global_position`. `created_at` is kept (naive times are UTC). `version`, when present, is where the
event must land: appending checks it (exit 3 if the stream is elsewhere), so an export appended into
an empty store reproduces each stream's versions. `global_position` is accepted and ignored: the
destination store assigns positions.

JSON is strict: duplicate keys (whose meaning differs between parsers), `NaN`/`Infinity`, numbers
out of float range, NUL characters and unpaired surrogates (which PostgreSQL cannot store) are
refused with file, line and field.
"""

from __future__ import annotations

import codecs
import itertools
import json
import math
import re
import shutil
import tempfile
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from esctl.errors import InvalidInput
from esctl.models import category_of

MAX_NAME = 255
MAX_PROBLEMS = 50
CHUNK = 1 << 20
MAX_ITEM_BYTES = 256 << 20  # PostgreSQL's jsonb limit is 255 MB
ALIASES = {"type": "event_type", "event_data": "data", "id": "event_id"}
FIELDS = {
    "stream_id",
    "stream_type",
    "event_type",
    "data",
    "metadata",
    "event_id",
    "version",
    "created_at",
    "global_position",
    *ALIASES,
}
# NULs and unpaired surrogates can only come from `\u` escapes (raw bytes are strict UTF-8): a hit
# of this pre-filter on the raw text triggers the full walk of the event's values.
_SUSPICIOUS = re.compile(r"\\u0000|\\u[dD][89a-fA-F]")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ProgressFn = Callable[[int], None]


@dataclass(slots=True)
class NewEvent:
    """An event read from the input, validated, not yet stored."""

    stream_id: str
    stream_type: str
    event_type: str
    event_id: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    created_at: datetime | None
    version: int | None
    where: str
    has_id: bool = True


@dataclass(frozen=True)
class InputSource:
    """One input file (standard input is spooled to a file first)."""

    label: str
    path: Path
    kind: str  # "lines", "document" or "sniff"

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class StreamPlan:
    """What the input holds for one stream (pass 1)."""

    stream_type: str
    count: int = 0
    first_unit: int = 0
    last_input_version: int | None = None


@dataclass
class InputSummary:
    """The result of validating every input: counts per stream, in input order."""

    events: int = 0
    without_id: int = 0
    streams: dict[str, StreamPlan] = field(default_factory=dict)


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


def _suspicious(text: str, start: int = 0, end: int | None = None) -> bool:
    if text.find("\\u", start, end) < 0:
        return False
    return _SUSPICIOUS.search(text, start, len(text) if end is None else end) is not None


# Pass 1 checks everything; pass 2 re-reads validated input with the plain C decoder.
DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)
FAST_DECODER = json.JSONDecoder()


class Problem(Exception):
    """One or more problems with one input item, each already naming where and which field."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


# --- opening inputs ------------------------------------------------------------------------------


@contextmanager
def open_sources(
    names: Sequence[str], stdin: IO[bytes] | None = None
) -> Iterator[list[InputSource]]:
    """The inputs named on the command line; `-` is standard input, spooled to a temporary file so
    it can be validated first and appended after, in constant memory."""
    with ExitStack() as stack:
        sources = []
        for name in names:
            if name == "-":
                if stdin is None:
                    import sys

                    stdin = sys.stdin.buffer
                spool = stack.enter_context(tempfile.NamedTemporaryFile(prefix="esctl-stdin-"))
                shutil.copyfileobj(stdin, spool, CHUNK)
                spool.flush()
                sources.append(InputSource("<stdin>", Path(spool.name), "sniff"))
                continue
            path = Path(name)
            if not path.is_file():
                why = "is a directory" if path.is_dir() else "no such file"
                raise InvalidInput(f"cannot read {name}: {why}")
            suffix = path.suffix.lower()
            kind = {".json": "document", ".jsonl": "lines", ".ndjson": "lines"}.get(suffix, "sniff")
            sources.append(InputSource(name, path, kind))
        yield sources


# --- reading items -------------------------------------------------------------------------------


def _decode_error(exc: BaseException) -> str:
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


Item = tuple[str, Any, bool]  # where, value (or a Problem), suspicious


def iter_items(source: InputSource, *, trusted: bool = False) -> Iterator[Item]:
    """Every JSON value of one input, with where it is; a value that cannot be read is a Problem.
    `trusted`: the input was validated already (pass 2), decode it with the plain C decoder."""
    kind = source.kind
    if kind == "sniff":
        kind = "array" if _first_byte(source.path) == b"[" else "lines"
    decoder = FAST_DECODER if trusted else DECODER
    if kind == "lines":
        yield from _iter_lines(source, decoder)
    else:
        yield from _iter_document(source, decoder)


def _first_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    return head[:1]


def _iter_lines(source: InputSource, decoder: json.JSONDecoder) -> Iterator[Item]:
    with source.path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{source.label}:{lineno}"
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield where, Problem([f"{where}: not valid UTF-8 (byte {exc.start + 1})"]), False
                continue
            if not text.strip():
                continue
            try:
                value = decoder.decode(text)
            except (ValueError, RecursionError) as exc:
                if isinstance(exc, json.JSONDecodeError) and exc.pos >= len(text.rstrip()):
                    exc = json.JSONDecodeError("unexpected end of line", text, len(text.rstrip()))
                yield where, Problem([f"{where}: {_decode_error(exc)}"]), False
                continue
            yield where, value, _suspicious(text)


def _iter_document(source: InputSource, decoder: json.JSONDecoder) -> Iterator[Item]:
    """A `.json` file: one object or an array, read element by element in constant memory."""
    label = source.label
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    with source.path.open("rb") as f:
        buf = ""
        pos = 0
        line = 1  # line number at `pos`
        eof = False

        def more(size: int = CHUNK) -> bool:
            nonlocal buf, pos, line, eof
            if eof:
                return False
            line += buf.count("\n", 0, pos)
            chunk = f.read(size)
            eof = not chunk
            buf = buf[pos:] + utf8.decode(chunk, final=eof)
            pos = 0
            return True

        def skip_ws() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not more():
                    return buf[pos] if pos < len(buf) else ""

        def here() -> int:
            return line + buf.count("\n", 0, pos)

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
                    yield where, Problem([f"{where}: {_decode_error(exc)}"]), False
                    return
                yield where, value, _suspicious(buf, pos)
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
                yield where, value, _suspicious(buf, pos, end)
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
            yield where, Problem([f"{where}: not valid UTF-8 ({exc.reason})"]), False
        except (ValueError, RecursionError) as exc:
            where = f"{label}: line {here()}"
            yield (
                where,
                Problem([f"{where}: {_decode_error(exc)}; the rest of the file is unread"]),
                False,
            )


# --- one event -----------------------------------------------------------------------------------


def _name(value: Any, field_name: str, problems: list[str], where: str, *, required: bool) -> str:
    if (
        type(value) is str
        and 0 < len(value) <= MAX_NAME
        and "\x00" not in value
        and not value.isspace()
    ):
        return value  # the common case, cheaply; surrogates are checked when `\u` escapes occur
    if value is None:
        if required:
            problems.append(f"{where}: field {field_name!r}: missing")
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: field {field_name!r}: must be a non-empty string")
        return ""
    if len(value) > MAX_NAME:
        problems.append(f"{where}: field {field_name!r}: longer than {MAX_NAME} characters")
    if "\x00" in value:
        problems.append(f"{where}: field {field_name!r}: contains a NUL character")
    elif _has_surrogate(value):
        problems.append(f"{where}: field {field_name!r}: contains an unpaired surrogate")
    return value


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _walk(value: Any, path: str, problems: list[str], where: str) -> None:
    """The full check behind the raw-text pre-filter: NULs, surrogates, infinite numbers."""
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(key, path, problems, where)
            _walk(item, f"{path}.{key}", problems, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", problems, where)
    elif isinstance(value, str):
        if "\x00" in value:
            problems.append(f"{where}: field {path!r}: contains a NUL character (\\u0000)")
        elif _has_surrogate(value):
            problems.append(f"{where}: field {path!r}: contains an unpaired surrogate")
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{where}: field {path!r}: number out of range")


def _integer(value: Any, field_name: str, problems: list[str], where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"{where}: field {field_name!r}: must be a positive integer")
        return None
    return value


def build_event(
    value: Any, where: str, *, stream: str | None = None, suspicious: bool = False
) -> NewEvent:
    """Validate one input value into a NewEvent; raise Problem listing everything wrong with it."""
    if not isinstance(value, dict):
        kind = type(value).__name__ if value is not None else "null"
        raise Problem([f"{where}: not a JSON object (got {kind}); each event must be an object"])
    problems: list[str] = []
    fields: dict[str, Any] = {}
    for key, item in value.items():
        if key not in FIELDS:
            problems.append(
                f"{where}: field {key!r}: unknown field (put application data in 'data' or 'metadata')"
            )
            continue
        canonical: str = ALIASES.get(key) or key
        if canonical in fields:
            problems.append(f"{where}: field {key!r}: given twice (as {canonical!r} and an alias)")
        fields[canonical] = item
    stream_id = stream or _name(
        fields.get("stream_id"), "stream_id", problems, where, required=True
    )
    stream_type = _name(fields.get("stream_type"), "stream_type", problems, where, required=False)
    event_type = _name(fields.get("event_type"), "event_type", problems, where, required=True)
    data = fields.get("data")
    if "data" not in fields:
        problems.append(f"{where}: field 'data': missing")
    elif not isinstance(data, dict):
        problems.append(f"{where}: field 'data': must be a JSON object")
    metadata = fields.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        problems.append(f"{where}: field 'metadata': must be a JSON object")
    event_id = fields.get("event_id")
    has_id = event_id is not None
    if event_id is None:
        event_id = str(uuid.uuid4())
    elif not isinstance(event_id, str):
        problems.append(f"{where}: field 'event_id': must be a UUID string")
    elif not _CANONICAL_UUID.fullmatch(event_id):
        try:
            event_id = str(uuid.UUID(event_id))
        except ValueError:
            problems.append(f"{where}: field 'event_id': {event_id[:60]!r} is not a UUID")
    version = _integer(fields.get("version"), "version", problems, where)
    _integer(fields.get("global_position"), "global_position", problems, where)
    created_at = None
    raw_time = fields.get("created_at")
    if raw_time is not None:
        try:
            if not isinstance(raw_time, str):
                raise TypeError
            created_at = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
            if created_at.tzinfo is None:
                created_at = created_at.replace(tzinfo=UTC)
        except (TypeError, ValueError):
            problems.append(f"{where}: field 'created_at': not an ISO 8601 time")
    if suspicious:
        for name in ("stream_id", "stream_type", "event_type"):
            if isinstance(fields.get(name), str) and _has_surrogate(fields[name]):
                problems.append(f"{where}: field {name!r}: contains an unpaired surrogate")
        _walk(data, "data", problems, where)
        _walk(metadata, "metadata", problems, where)
    if problems:
        raise Problem(problems)
    return NewEvent(
        stream_id=stream_id,
        stream_type=stream_type or category_of(stream_id),
        event_type=event_type,
        event_id=event_id,
        data=data,  # type: ignore[arg-type]
        metadata=metadata,
        created_at=created_at,
        version=version,
        where=where,
        has_id=has_id,
    )


# --- the two passes ------------------------------------------------------------------------------


def read_events(sources: Sequence[InputSource], *, stream: str | None = None) -> Iterator[NewEvent]:
    """Every event of every input, in order (pass 2: the input was validated already, so values are
    taken as they are; a file changed in between still fails cleanly)."""
    for source in sources:
        for where, value, _ in iter_items(source, trusted=True):
            try:
                yield _trusted_event(value, where, stream)
            except (KeyError, TypeError, AttributeError, ValueError):
                raise InvalidInput(
                    f"{where}: the input changed since it was validated; nothing more was written",
                ) from None


def _trusted_event(value: Any, where: str, stream: str | None) -> NewEvent:
    """A NewEvent from a value that passed build_event in pass 1."""
    get = value.get
    stream_id = stream or value["stream_id"]
    event_id = get("event_id") or get("id")
    if event_id is not None and len(event_id) != 36:
        event_id = str(uuid.UUID(event_id))
    created_at = get("created_at")
    if created_at is not None:
        created_at = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
    data = get("data")
    return NewEvent(
        stream_id=stream_id,
        stream_type=get("stream_type") or category_of(stream_id),
        event_type=get("event_type") or value["type"],
        event_id=event_id.lower() if event_id is not None else str(uuid.uuid4()),
        data=data if data is not None else value["event_data"],
        metadata=get("metadata") or {},
        created_at=created_at,
        version=get("version"),
        where=where,
        has_id=event_id is not None,
    )


def _id_key(event_id: str) -> int:
    # 64 bits of the (per-process) string hash: a repeat is confirmed on the exact ids afterwards.
    return hash(event_id) & 0xFFFF_FFFF_FFFF_FFFF


def validate_inputs(
    sources: Sequence[InputSource],
    *,
    stream: str | None = None,
    unit_size: int | None = None,
    progress: ProgressFn | None = None,
) -> InputSummary:
    """Pass 1: read and check every event without keeping them; raise InvalidInput (exit 6) with
    every problem found (up to MAX_PROBLEMS), naming file, line and field."""
    summary = InputSummary()
    problems: list[str] = []
    keys = array("Q")
    for source in sources:
        for where, value, suspicious in iter_items(source):
            if progress is not None:
                progress(1)
            if isinstance(value, Problem):
                problems += value.messages
            else:
                try:
                    event = build_event(value, where, stream=stream, suspicious=suspicious)
                except Problem as problem:
                    problems += problem.messages
                else:
                    _plan(summary, event, problems, unit_size)
                    if event.has_id:
                        keys.append(_id_key(event.event_id))
            if len(problems) >= MAX_PROBLEMS:
                raise InvalidInput(
                    f"the input has at least {len(problems)} problems (stopped reading); "
                    "nothing was written",
                    problems=problems,
                )
    problems += _duplicate_ids(sources, keys, stream)
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise InvalidInput(f"the input has {count}; nothing was written", problems=problems)
    if summary.events == 0:
        raise InvalidInput("the input holds no events; nothing was written")
    return summary


def _plan(
    summary: InputSummary, event: NewEvent, problems: list[str], unit_size: int | None
) -> None:
    plan = summary.streams.get(event.stream_id)
    if plan is None:
        unit = summary.events // unit_size if unit_size else 0
        plan = summary.streams[event.stream_id] = StreamPlan(event.stream_type, first_unit=unit)
    elif plan.stream_type != event.stream_type:
        problems.append(
            f"{event.where}: field 'stream_type': {event.stream_type!r} differs from "
            f"{plan.stream_type!r} given earlier for stream {event.stream_id!r}"
        )
    if event.version is not None:
        last = plan.last_input_version
        if last is not None and event.version != last + 1:
            problems.append(
                f"{event.where}: field 'version': {event.version} does not follow {last} "
                f"in stream {event.stream_id!r}"
            )
        plan.last_input_version = event.version
    elif plan.last_input_version is not None:
        plan.last_input_version += 1
    plan.count += 1
    summary.events += 1
    if not event.has_id:
        summary.without_id += 1


def _duplicate_ids(
    sources: Sequence[InputSource], keys: array[int], stream: str | None
) -> list[str]:
    """event_ids given twice in the input (64-bit keys first, then the exact ids if any repeat)."""
    ordered = sorted(keys)
    repeated = {a for a, b in itertools.pairwise(ordered) if a == b}
    del ordered
    if not repeated:
        return []
    places: dict[str, list[str]] = {}
    for event in read_events(sources, stream=stream):
        if event.has_id and _id_key(event.event_id) in repeated:
            places.setdefault(event.event_id, []).append(event.where)
    return [
        f"{wheres[1]}: field 'event_id': {event_id} appears more than once in the input "
        f"(first at {wheres[0]})"
        for event_id, wheres in places.items()
        if len(wheres) > 1
    ]
