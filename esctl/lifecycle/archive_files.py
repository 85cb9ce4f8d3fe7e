"""The files of `streams archive`: the events as JSON lines (gzip when the name ends in `.gz`) and
the manifest beside it (`FILE.manifest.json`), written so that a killed run never leaves a file
that looks complete, and checked by reading them back.

Both are written to `NAME.partial` first, synced, and renamed into place, the manifest first,
then the archive, the directory synced after each: an archive file that exists is therefore
complete and has its manifest (a manifest alone is the leftover of a killed run and is replaced).
Writers in one directory take turns (a lock on the directory), so two runs never interleave
their renames. `verify` re-reads a file: its sha256 and, event by event, its counts and ranges."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from esctl.errors import Conflict, EsctlError

MANIFEST_SUFFIX = ".manifest.json"
FORMAT = "esctl-archive/1"
READ_CHUNK = 1 << 20


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def is_gzip(path: Path) -> bool:
    """Whether the archive (or its partial file) is gzip: its name ends in `.gz`."""
    return path.name.lower().removesuffix(".partial").endswith(".gz")


@dataclass
class StreamRange:
    """One stream's events in an archive."""

    events: int = 0
    first_version: int | None = None
    last_version: int | None = None
    first_position: int | None = None
    last_position: int | None = None

    def add(self, version: int, position: int) -> None:
        self.events += 1
        if self.first_version is None or version < self.first_version:
            self.first_version = version
        if self.last_version is None or version > self.last_version:
            self.last_version = version
        if self.first_position is None or position < self.first_position:
            self.first_position = position
        if self.last_position is None or position > self.last_position:
            self.last_position = position


@dataclass
class Contents:
    """What an archive holds, counted line by line."""

    streams: dict[str, StreamRange] = field(default_factory=dict)
    events: int = 0
    json_bytes: int = 0  # uncompressed
    last_event: tuple[int, str] | None = None  # the last line's (position, event id)

    def add_line(self, line: bytes) -> None:
        event = json.loads(line)
        self.streams.setdefault(event["stream_id"], StreamRange()).add(
            int(event["version"]), int(event["global_position"])
        )
        self.events += 1
        self.json_bytes += len(line) + 1
        self.last_event = (int(event["global_position"]), str(event["event_id"]))

    def to_dict(self) -> dict[str, Any]:
        firsts = [r.first_position for r in self.streams.values() if r.first_position is not None]
        lasts = [r.last_position for r in self.streams.values() if r.last_position is not None]
        return {
            "events": self.events,
            "json_bytes": self.json_bytes,
            "first_position": min(firsts) if firsts else None,
            "last_position": max(lasts) if lasts else None,
            "last_event_id": self.last_event[1] if self.last_event else None,
            "streams": [
                {"stream_id": stream_id, **vars(r)} for stream_id, r in sorted(self.streams.items())
            ],
        }


class _Hashing(io.RawIOBase):
    """A writer that hashes the bytes it passes on (the sha256 of the file as stored)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        self.size += len(data)
        self.raw.write(data)
        return len(data)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Hold the directory's lock: one esctl archive writer at a time in it (exit 3 if busy)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as error:
        raise EsctlError(
            f"cannot open the archive directory {directory}: {error.strerror}"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"another esctl is writing an archive in {directory}",
                hint="wait for it to finish, then run this again",
            ) from None
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Written:
    """A partial archive, written and synced: its sha256, size and contents."""

    partial: Path
    sha256: str
    size: int
    contents: Contents


def write_partial(path: Path, chunks: Iterable[bytes]) -> Written:
    """Write the JSON-line chunks to `path`'s partial file (gzip for `.gz`), counting every line,
    and fsync it."""
    partial = partial_path(path)
    contents = Contents()
    with partial.open("wb") as raw:
        hashing = _Hashing(raw)
        packer = (
            gzip.GzipFile(filename="", mode="wb", fileobj=hashing, compresslevel=6, mtime=0)
            if is_gzip(path)
            else None
        )
        sink: Any = packer or hashing
        rest = b""
        for chunk in chunks:
            sink.write(chunk)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line:
                    contents.add_line(line)
        if rest:  # chunks end with a newline: this never happens, but count it honestly
            sink.write(b"\n")
            contents.add_line(rest)
        if packer is not None:
            packer.close()
        raw.flush()
        os.fsync(raw.fileno())
    return Written(partial, hashing.digest.hexdigest(), hashing.size, contents)


def read_lines(path: Path) -> Iterator[bytes]:
    """The JSON lines of an archive (gunzipped for `.gz`); a corrupt file is an EsctlError."""
    try:
        with path.open("rb") as raw:
            stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip(path) else raw
            for line in stream:
                line = line.rstrip(b"\n")
                if line:
                    yield line
    except (OSError, EOFError, zlib.error) as error:
        raise EsctlError(f"cannot read archive {path}: {error}") from None


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as raw:
        while chunk := raw.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def problems(path: Path, manifest: dict[str, Any]) -> list[str]:
    """How the file at `path` differs from `manifest` (sha256, size, counts and ranges); []
    when it matches."""
    found: list[str] = []
    sha, size = file_sha256(path)
    if sha != manifest.get("sha256"):
        found.append(f"its sha256 is {sha}, the manifest says {manifest.get('sha256')}")
    if size != manifest.get("bytes"):
        found.append(f"it has {size} bytes, the manifest says {manifest.get('bytes')}")
    contents = Contents()
    try:
        for line in read_lines(path):
            contents.add_line(line)
    except (EsctlError, ValueError, KeyError, TypeError) as error:
        found.append(f"its events cannot be read ({error})")
        return found
    counted = contents.to_dict()
    for key in ("events", "first_position", "last_position", "last_event_id", "streams"):
        if counted[key] != manifest.get(key):
            found.append(f"its {key} differ from the manifest's")
    return found


def publish(path: Path, written: Written, manifest: dict[str, Any]) -> None:
    """Write the manifest, then rename manifest and archive into place (in that order), syncing
    the directory after each. Refuses (exit 2) if `path` appeared meanwhile."""
    directory = path.parent
    target = manifest_path(path)
    partial_manifest = partial_path(target)
    with partial_manifest.open("w", encoding="utf-8") as out:
        json.dump(manifest, out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial_manifest, target)
    _sync_dir(directory)
    os.replace(written.partial, path)
    _sync_dir(directory)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest beside `path`, or None when there is none or it is not one."""
    try:
        data = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def discard(written: Written) -> None:
    with suppress(FileNotFoundError):
        written.partial.unlink()
