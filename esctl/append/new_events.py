"""One input value checked into a new event: fields, aliases, names, ids, versions, times.

What an input event may carry (everything else is refused, so no field is silently meaningful):
`stream_id`, `stream_type`, `event_type` (alias `type`), `data` (alias `event_data`), `metadata`,
`event_id` (alias `id`) and, as written by `esctl read -o jsonl`, `version`, `created_at` and
`global_position`. `created_at` is kept (naive times are UTC). `version`, when present, is where the
event must land: appending checks it (exit 3 if the stream is elsewhere), so an export appended into
an empty store reproduces each stream's versions. `global_position` is accepted and ignored: the
destination store assigns positions.

`common_event` is the fast check of the common shape, `build_event` the full one that names every
problem; `trusted_event` rebuilds an event already validated (the second pass of an append).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from esctl.append.decoding import Problem
from esctl.values import category_of

MAX_NAME = 255
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
# One C encoder for every event (json.dumps would build one per call). allow_nan=False refuses the
# infinite numbers the fast decoder lets through; no circular check (decoded JSON has no cycles).
ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, None, json.encoder.encode_basestring, None, ":", ",", False, False, False
)


def to_json(value: dict[str, Any]) -> str:
    """Compact JSON text of an object (ValueError for a number out of range)."""
    return "".join(ENCODE(value, 0)) if value else "{}"


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
    elif has_surrogate(value):
        problems.append(f"{where}: field {field_name!r}: contains an unpaired surrogate")
    return value


def has_surrogate(text: str) -> bool:
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
        elif has_surrogate(value):
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
            if isinstance(fields.get(name), str) and has_surrogate(fields[name]):
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


# The fields of the common event shape, checked by `common_event` without the general machinery.
COMMON_FIELDS = frozenset(CANONICAL_FIELDS)


def common_event(
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
    if stream_type is None:  # category_of(), inlined (once per event)
        end = stream_id.find("-", 1)
        stream_type = stream_id if end < 0 else stream_id[:end]
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


def trusted_event(value: Any, where: str, stream: str | None) -> NewEvent:
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
