"""The bench workload: events generated deterministically from `--seed`, written as the JSON-lines
files `esctl append` reads, and as the COPY text of the raw-COPY ceiling."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATEGORY = "Bench"
EVENT_TYPES = ("Placed", "Paid", "Shipped", "Delivered")
MIN_PAYLOAD = 48  # room for the counter and an empty pad


@dataclass(frozen=True)
class Parameters:
    """What a bench run does; part of its JSON output, so two runs can be compared."""

    events: int = 10_000
    streams: int = 100
    batch_size: int = 100
    writers: int = 1
    payload_bytes: int = 256
    rate: int = 1000
    warmup: int = 0
    duration: float | None = None
    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def stream_id(index: int) -> str:
    return f"{CATEGORY}-{index:06d}"


@dataclass(frozen=True)
class Batch:
    """One append unit: a JSON-lines file for `append_events`, and the same rows as COPY text."""

    number: int
    path: Path
    events: int
    copy_text: str


class Workload:
    """Every event of a run, reproducible from the seed: event ids, streams (each writer owns
    its own streams, so writers do not race for a version unless there are fewer streams than
    writers), types and a payload whose `data` JSON is exactly `payload_bytes` long."""

    def __init__(self, params: Parameters, directory: Path, salt: str = "append") -> None:
        self.params = params
        self.directory = directory
        # One generator per phase (the salt), so the tail phase's event ids are new ones.
        self._rng = random.Random(f"{params.seed}:{salt}")
        self._versions: dict[str, int] = {}
        self._next = 0

    def data(self, n: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """An event payload; its JSON (compact) is exactly `payload_bytes` long when it fits."""
        data: dict[str, Any] = {"n": n, **(extra or {}), "pad": ""}
        size = len(json.dumps(data, separators=(",", ":")))
        pad = max(0, self.params.payload_bytes - size)
        data["pad"] = self._rng.randbytes((pad + 1) // 2).hex()[:pad]
        return data

    def stream_for(self, writer: int, n: int) -> str:
        streams, writers = self.params.streams, max(1, self.params.writers)
        if streams < writers:
            return stream_id(n % streams)
        owned = range(writer, streams, writers)  # this writer's streams
        return stream_id(owned[n % len(owned)])

    def event(self, writer: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        n = self._next
        self._next += 1
        sid = self.stream_for(writer, n)
        version = self._versions.get(sid, 0) + 1
        self._versions[sid] = version
        return {
            "event_id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            "stream_id": sid,
            "event_type": EVENT_TYPES[n % len(EVENT_TYPES)],
            "data": self.data(n, extra),
            "metadata": {"bench": True, "writer": writer},
            "_version": version,
        }

    def batch(self, writer: int, number: int, size: int) -> Batch:
        """The next `size` events of `writer`, written to a file."""
        events = [self.event(writer) for _ in range(size)]
        return self.write_batch(number, events)

    def write_batch(self, number: int, events: list[dict[str, Any]]) -> Batch:
        path = self.directory / f"batch-{number:07d}.jsonl"
        lines, copy_rows = [], []
        for event in events:
            version = event.pop("_version", None)
            lines.append(json.dumps(event, separators=(",", ":")))
            if version is not None:
                copy_rows.append(_copy_row(event, version))
        path.write_text("\n".join(lines) + "\n")
        return Batch(number, path, len(events), "".join(copy_rows))

    def writer_batches(self, warmup: bool = False) -> Iterator[tuple[int, Batch]]:
        """(writer, batch) for the whole run, round-robin over writers: `warmup` events first
        when asked, else `events`."""
        params = self.params
        total = params.warmup if warmup else params.events
        writers = max(1, params.writers)
        number = 0
        done = 0
        while done < total:
            writer = number % writers
            size = min(params.batch_size, total - done)
            yield writer, self.batch(writer, number + (0 if not warmup else 1_000_000), size)
            done += size
            number += 1


def _copy_row(event: dict[str, Any], version: int) -> str:
    """One row of COPY text (id, stream_id, stream_type, event_type, event_data, metadata,
    version). Generated names hold no tab, newline or backslash; JSON text never holds a raw tab
    or newline, so only backslashes need doubling."""

    def text(value: Any) -> str:
        return json.dumps(value, separators=(",", ":")).replace("\\", "\\\\")

    return (
        f"{event['event_id']}\t{event['stream_id']}\t{CATEGORY}\t{event['event_type']}\t"
        f"{text(event['data'])}\t{text(event['metadata'])}\t{version}\n"
    )
