"""Validating the inputs: every event checked once, in order, without keeping them.

A `Validator` checks the values one by one (`esctl.append.new_events`), so the append can write
while it validates (and stop writing at the first problem); it names every problem with file, line
and field, plans what each stream gets (`InputSummary`), and finds an event id given twice.
`validate_inputs` is the whole check up front (`--commit-every`, `--dry-run`); `read_events` reads
the inputs again once they passed.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from esctl.append.decoding import FAST_DUMPS, Item, Problem, iter_items, strict_decode
from esctl.append.new_events import (
    COMMON_FIELDS,
    ENCODE,
    NewEvent,
    build_event,
    common_event,
    trusted_event,
)
from esctl.append.sources import InputSource
from esctl.errors import InvalidInput
from esctl.words import number, plural


class EmptyInput(InvalidInput):
    """The inputs hold no event at all (exit 6, unless `append --allow-empty`)."""


MAX_PROBLEMS = 50
ProgressFn = Callable[[int], None]


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
        summary, add_key, encode, dumps = self.summary, self._keys.append, ENCODE, FAST_DUMPS
        streams, unit_size = summary.streams, self.unit_size
        for item in self._items:
            # The common case inlined (this loop runs once per event): an event of the common
            # shape, in a new stream or one seen before without versions (or with the next
            # version). Anything else goes to _check.
            where, value, suspicious, text = item
            event = None
            if type(value) is dict and not suspicious and value.keys() <= COMMON_FIELDS:
                event = common_event(value, where, stream, text)
                if event is not None:
                    plan = streams.get(event.stream_id)
                    version = event.version
                    last = plan.last_input_version if plan is not None else None
                    if plan is None or (
                        plan.stream_type == event.stream_type
                        and (
                            (version is None and last is None)
                            or (version is not None and last is not None and version == last + 1)
                        )
                    ):
                        try:
                            data, metadata = event.data, event.metadata
                            if text is not None:  # orjson's values: its encoder can take them
                                event.data_json = dumps(data).decode() if data else "{}"
                                event.metadata_json = dumps(metadata).decode() if metadata else "{}"
                            else:
                                event.data_json = "".join(encode(data, 0)) if data else "{}"
                                event.metadata_json = (
                                    "".join(encode(metadata, 0)) if metadata else "{}"
                                )
                        except (ValueError, TypeError):
                            pass  # a number out of range, or nested past orjson's 254: to _check
                        else:
                            if progress is not None:
                                progress(1)
                            if plan is None:
                                plan = _start_plan(summary, event, unit_size)
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
            event = check(item, event)  # a stream's first event, say: not built twice
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

    def _check(self, item: Item, built: NewEvent | None = None) -> NewEvent | None:
        """Check one item in full (`built`: what `common_event` already made of it)."""
        where, value, suspicious, text = item
        if self.progress is not None:
            self.progress(1)
        problems = self.problems
        before = len(problems)
        if isinstance(value, Problem):
            problems += value.messages
        else:
            try:
                event = built
                if (
                    event is None
                    and type(value) is dict
                    and not suspicious
                    and value.keys() <= COMMON_FIELDS
                ):
                    event = common_event(value, where, self.stream, text)
                if event is None:
                    if text is not None:  # from the fast decoder: only the strict one decides
                        value = strict_decode(text, where)
                        if isinstance(value, Problem):
                            raise value
                        text = None
                    event = build_event(value, where, stream=self.stream, suspicious=suspicious)
                event.data_json = "".join(ENCODE(event.data, 0)) if event.data else "{}"
                event.metadata_json = "".join(ENCODE(event.metadata, 0)) if event.metadata else "{}"
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
                yield trusted_event(value, where, stream)
            except (KeyError, TypeError, AttributeError, ValueError):
                raise InvalidInput(
                    f"{where}: the input changed since it was validated; nothing more was written",
                ) from None


def _start_plan(summary: InputSummary, event: NewEvent, unit_size: int | None) -> StreamPlan:
    """The plan of a stream first seen at `event`: in the `--commit-every` unit of its event."""
    unit = summary.events // unit_size if unit_size else 0
    plan = summary.streams[event.stream_id] = StreamPlan(event.stream_type, first_unit=unit)
    return plan


def _plan(
    summary: InputSummary, event: NewEvent, problems: list[str], unit_size: int | None
) -> None:
    plan = summary.streams.get(event.stream_id)
    if plan is None:
        plan = _start_plan(summary, event, unit_size)
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
