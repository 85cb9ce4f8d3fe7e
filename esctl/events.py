"""Validating input values into new events: fields, aliases, names, ids, versions, duplicates.

What an input event may carry (everything else is refused, so no field is silently meaningful):
`stream_id`, `stream_type`, `event_type` (alias `type`), `data` (alias `event_data`), `metadata`,
`event_id` (alias `id`) and, as written by `esctl read -o jsonl`, `version`, `created_at` and
`global_position`. `created_at` is kept (naive times are UTC). `version`, when present, is where the
event must land: appending checks it (exit 3 if the stream is elsewhere), so an export appended into
an empty store reproduces each stream's versions. `global_position` is accepted and ignored: the
destination store assigns positions.

Reading the files is `esctl.inputs`; a `Validator` checks the values one by one, so the append can
write while it validates (and stop writing at the first problem).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from esctl.errors import InvalidInput
from esctl.inputs import InputSource, Item, Problem, iter_items, strict_decode
from esctl.values import category_of
from esctl.words import number, plural


class EmptyInput(InvalidInput):
    """The inputs hold no event at all (exit 6, unless `append --allow-empty`)."""


MAX_NAME = 255
MAX_PROBLEMS = 50
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
CANONICAL_FIELDS = FIELDS - set(ALIASES)
_SPACED_KEY = re.compile(r'"\s+:')  # a key's closing quote, space, then its colon
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ProgressFn = Callable[[int], None]
# One C encoder for every event (json.dumps would build one per call). allow_nan=False refuses the
# infinite numbers the fast decoder lets through; no circular check (decoded JSON has no cycles).
_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, None, json.encoder.encode_basestring, None, ":", ",", False, False, False
)


def to_json(value: dict[str, Any]) -> str:
    """Compact JSON text of an object (ValueError for a number out of range)."""
    return "".join(_ENCODE(value, 0)) if value else "{}"


@dataclass(slots=True)
class NewEvent:
    """An event read from the input, validated, not yet stored (`data_json`, `metadata_json`: the
    compact JSON text that is written)."""

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
    data_json: str = ""
    metadata_json: str = ""


@dataclass
class StreamPlan:
    """What the input holds for one stream."""

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


def _canonical_fields(value: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    """The event's fields under their canonical names; unknown fields and aliases given twice are
    problems."""
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
    return fields


def build_event(
    value: Any, where: str, *, stream: str | None = None, suspicious: bool = False
) -> NewEvent:
    """Validate one input value into a NewEvent; raise Problem listing everything wrong with it."""
    if not isinstance(value, dict):
        kind = type(value).__name__ if value is not None else "null"
        raise Problem([f"{where}: not a JSON object (got {kind}); each event must be an object"])
    problems: list[str] = []
    fields: dict[str, Any]
    if value.keys() <= CANONICAL_FIELDS:
        fields = value  # the common case: no aliases, nothing unknown (a C-level set test)
    else:
        fields = _canonical_fields(value, where, problems)
    stream_id = stream or _name(
        fields.get("stream_id"), "stream_id", problems, where, required=True
    )
    given_type = fields.get("stream_type")
    if isinstance(given_type, str) and not given_type.strip() and len(given_type) <= MAX_NAME:
        # Empty or blank: a value the schema holds (older esctl derived `""` for ids starting
        # with `-`), kept as it is so that every exported stream goes back in.
        stream_type = given_type
    else:
        stream_type = _name(given_type, "stream_type", problems, where, required=False)
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
        stream_type=stream_type if given_type is not None else category_of(stream_id),
        event_type=event_type,
        event_id=event_id,
        data=data,  # type: ignore[arg-type]
        metadata=metadata,
        created_at=created_at,
        version=version,
        where=where,
        has_id=has_id,
    )


# The fields of the common event shape, checked by `_common_event` without the general machinery.
_COMMON_FIELDS = frozenset(CANONICAL_FIELDS)


def _common_event(
    value: dict[str, Any], where: str, stream: str | None, text: str | None
) -> NewEvent | None:
    """The common shape (no aliases; names, ids, versions and times well-formed; no `\\u`
    escapes of NULs or surrogates, which only the full check walks for) validated quickly; None
    when the full check must look."""
    get = value.get
    stream_id = stream or get("stream_id")
    event_type = get("event_type")
    data = get("data")
    if (
        type(stream_id) is not str
        or not 0 < len(stream_id) <= MAX_NAME
        or stream_id.isspace()
        or type(event_type) is not str
        or not 0 < len(event_type) <= MAX_NAME
        or event_type.isspace()
        or type(data) is not dict
    ):
        return None
    metadata = get("metadata")
    if text is not None:
        # From the fast decoder: prove that no key was given twice. Every object of the text is
        # the event, `data` or `metadata` (`{` counted: strings can only add some), and the text
        # has no more keys than were decoded: each key is followed by its own colon, so a text
        # with as many `:` as keys decoded has no other key (strings can only add colons).
        # Failing that (colons in values), as many `":` as keys, and no key with a space before
        # its colon; else the strict decoder decides.
        objects, keys = 2, len(value) + len(data)
        if type(metadata) is dict:
            objects, keys = 3, keys + len(metadata)
        if text.count("{") != objects or (
            text.count(":") != keys
            and (text.count('":') != keys or _SPACED_KEY.search(text) is not None)
        ):
            return None
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        return None
    stream_type = get("stream_type")
    if stream_type is None:
        stream_type = category_of(stream_id)
    elif (
        type(stream_type) is not str
        or not 0 < len(stream_type) <= MAX_NAME
        or stream_type.isspace()
    ):
        return None
    version = get("version")
    if version is not None and (type(version) is not int or version < 1):
        return None
    position = get("global_position")  # as written by `esctl read`: accepted, not used
    if position is not None and (type(position) is not int or position < 1):
        return None
    created_at = get("created_at")
    if created_at is not None:
        if type(created_at) is not str:
            return None
        try:
            created_at = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
        except ValueError:
            return None
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
    event_id = get("event_id")
    if event_id is None:
        event_id, has_id = str(uuid.uuid4()), False
    elif type(event_id) is not str or not _CANONICAL_UUID.fullmatch(event_id):
        return None
    else:
        has_id = True
    return NewEvent(
        stream_id,
        stream_type,
        event_type,
        event_id,
        data,
        metadata,
        created_at,
        version,
        where,
        has_id,
    )


# --- validating, one event at a time -----------------------------------------------------------


def _id_key(event_id: str) -> int:
    # 64 bits of the (per-process) string hash: a repeat is confirmed on the exact ids afterwards.
    return hash(event_id) & 0xFFFF_FFFF_FFFF_FFFF


class Validator:
    """Checks every event of the inputs once, in order, without keeping them: the problems found
    (file, line and field), what each stream gets (`summary`), and 64-bit keys of the event ids
    (to find an id given twice at the end)."""

    def __init__(
        self,
        sources: Sequence[InputSource],
        *,
        stream: str | None = None,
        unit_size: int | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.sources = sources
        self.stream = stream
        self.unit_size = unit_size
        self.progress = progress
        self.summary = InputSummary()
        self.problems: list[str] = []
        self._keys = array("Q")
        self._items: Iterator[Item] = itertools.chain.from_iterable(
            iter_items(source) for source in sources
        )

    def events(self) -> Iterator[NewEvent]:
        """The valid events, in input order, until the first problem (`finish` reads the rest)."""
        check, stream, progress = self._check, self.stream, self.progress
        summary, add_key, encode = self.summary, self._keys.append, _ENCODE
        streams = summary.streams
        for item in self._items:
            # The common case inlined (this loop runs once per event): an event of the common
            # shape, in a stream seen before without versions. Anything else goes to _check.
            where, value, suspicious, text = item
            if type(value) is dict and not suspicious and value.keys() <= _COMMON_FIELDS:
                event = _common_event(value, where, stream, text)
                if event is not None:
                    plan = streams.get(event.stream_id)
                    version = event.version
                    last = plan.last_input_version if plan is not None else None
                    if (
                        plan is not None
                        and plan.stream_type == event.stream_type
                        and (
                            (version is None and last is None)
                            or (version is not None and last is not None and version == last + 1)
                        )
                    ):
                        try:
                            data, metadata = event.data, event.metadata
                            event.data_json = "".join(encode(data, 0)) if data else "{}"
                            event.metadata_json = "".join(encode(metadata, 0)) if metadata else "{}"
                        except ValueError:
                            pass  # a number out of range: _check explains
                        else:
                            if progress is not None:
                                progress(1)
                            plan.count += 1
                            if version is not None:
                                plan.last_input_version = version
                            summary.events += 1
                            if event.has_id:
                                add_key(hash(event.event_id) & 0xFFFF_FFFF_FFFF_FFFF)
                            else:
                                summary.without_id += 1
                            yield event
                            continue
            event = check(item)
            if event is None:
                return
            yield event

    def finish(self, *, ids_stored: bool = False) -> InputSummary:
        """Check what `events` left unread; raise InvalidInput (exit 6) naming every problem found
        (up to MAX_PROBLEMS), or for an input without events. `ids_stored`: every event was
        written in one transaction, whose unique index on `id` already refused any id given twice."""
        for item in self._items:
            self._check(item)
        problems = self.problems
        if not problems and not ids_stored:
            problems += _duplicate_ids(self.sources, self._keys, self.stream)
        if problems:
            count = plural(len(problems), "problem")
            raise InvalidInput(f"the input has {count}; nothing was written", problems=problems)
        if self.summary.events == 0:
            raise EmptyInput(
                "the input holds no events; nothing was written",
                hint="pass --allow-empty to accept an empty input (exit 0)",
            )
        return self.summary

    def _check(self, item: Item) -> NewEvent | None:
        where, value, suspicious, text = item
        if self.progress is not None:
            self.progress(1)
        problems = self.problems
        before = len(problems)
        if isinstance(value, Problem):
            problems += value.messages
        else:
            try:
                event = None
                if type(value) is dict and not suspicious and value.keys() <= _COMMON_FIELDS:
                    event = _common_event(value, where, self.stream, text)
                if event is None:
                    if text is not None:  # from the fast decoder: only the strict one decides
                        value = strict_decode(text, where)
                        if isinstance(value, Problem):
                            raise value
                        text = None
                    event = build_event(value, where, stream=self.stream, suspicious=suspicious)
                event.data_json = "".join(_ENCODE(event.data, 0)) if event.data else "{}"
                event.metadata_json = (
                    "".join(_ENCODE(event.metadata, 0)) if event.metadata else "{}"
                )
            except Problem as problem:
                problems += _explained(problem.messages, text, where)
            except ValueError:  # a number out of range, let through by the fast decoder
                problems += _explained([f"{where}: a number is out of range"], text, where)
            else:
                plan = self.summary.streams.get(event.stream_id)
                if (
                    plan is not None
                    and event.version is None
                    and plan.last_input_version is None
                    and plan.stream_type == event.stream_type
                ):  # the common case of _plan
                    plan.count += 1
                    self.summary.events += 1
                    if event.has_id:
                        self._keys.append(hash(event.event_id) & 0xFFFF_FFFF_FFFF_FFFF)
                    else:
                        self.summary.without_id += 1
                    return event
                _plan(self.summary, event, problems, self.unit_size)
                if len(problems) == before:
                    if event.has_id:
                        self._keys.append(_id_key(event.event_id))
                    return event
        if len(problems) >= MAX_PROBLEMS:
            raise InvalidInput(
                f"the input has at least {number(len(problems))} problems (stopped reading); "
                "nothing was written",
                problems=problems,
            )
        return None


def _explained(messages: list[str], text: str | None, where: str) -> list[str]:
    """Problems of a value the fast decoder read: the strict decoder's complaint comes first (a
    duplicate key or an infinite number explains the rest)."""
    if text is not None:
        value = strict_decode(text, where)
        if isinstance(value, Problem):
            return value.messages
    return messages


def validate_inputs(
    sources: Sequence[InputSource],
    *,
    stream: str | None = None,
    unit_size: int | None = None,
    progress: ProgressFn | None = None,
) -> InputSummary:
    """Read and check every event without keeping them; raise InvalidInput (exit 6) with every
    problem found (up to MAX_PROBLEMS), naming file, line and field."""
    validator = Validator(sources, stream=stream, unit_size=unit_size, progress=progress)
    return validator.finish()


def read_events(sources: Sequence[InputSource], *, stream: str | None = None) -> Iterator[NewEvent]:
    """Every event of every input, in order, read again after a Validator passed them: values
    are taken as they are (a file changed in between still fails cleanly)."""
    for source in sources:
        for where, value, _, _ in iter_items(source, trusted=True):
            try:
                yield _trusted_event(value, where, stream)
            except (KeyError, TypeError, AttributeError, ValueError):
                raise InvalidInput(
                    f"{where}: the input changed since it was validated; nothing more was written",
                ) from None


def _trusted_event(value: Any, where: str, stream: str | None) -> NewEvent:
    """A NewEvent from a value that passed build_event before."""
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
    if data is None:
        data = value["event_data"]
    metadata = get("metadata") or {}
    return NewEvent(
        stream_id=stream_id,
        stream_type=get("stream_type") or category_of(stream_id),
        event_type=get("event_type") or value["type"],
        event_id=event_id.lower() if event_id is not None else str(uuid.uuid4()),
        data=data,
        metadata=metadata,
        created_at=created_at,
        version=get("version"),
        where=where,
        has_id=event_id is not None,
        data_json=to_json(data),
        metadata_json=to_json(metadata),
    )


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
        return
    if event.version is not None:
        last = plan.last_input_version
        if last is not None and event.version != last + 1:
            problems.append(
                f"{event.where}: field 'version': {event.version} does not follow {last} "
                f"in stream {event.stream_id!r}"
            )
            return
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
    for event in _valid_events(sources, stream):
        if event.has_id and _id_key(event.event_id) in repeated:
            places.setdefault(event.event_id, []).append(event.where)
    return [
        f"{wheres[1]}: field 'event_id': {event_id} appears more than once in the input "
        f"(first at {wheres[0]})"
        for event_id, wheres in places.items()
        if len(wheres) > 1
    ]


def _valid_events(sources: Iterable[InputSource], stream: str | None) -> Iterator[NewEvent]:
    for source in sources:
        for where, value, suspicious, _ in iter_items(source):
            if not isinstance(value, Problem):
                try:
                    yield build_event(value, where, stream=stream, suspicious=suspicious)
                except Problem:
                    continue
