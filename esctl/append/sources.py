"""The inputs of an append: files, standard input, FIFOs, read in constant memory.

Input is `.json` (one object or an array), `.jsonl`/`.ndjson` (one object a line), or `-` (standard
input: an array if it starts with `[`, else JSON lines). Other names are sniffed like standard input.
A name ending in `.gz` (an archive of `streams archive`) is gunzipped as it is read: `.json.gz` is
a document, any other `.gz` JSON lines.
Standard input (and a FIFO or pipe) is copied to a temporary spool file while it is read, so a
second pass (the careful path of `esctl.append.writing`, or `--commit-every`) can read it again
without holding it in memory. Decoding the bytes into JSON values is `esctl.append.decoding`.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from esctl.errors import InvalidInput

CHUNK = 1 << 20


class _Tee(io.RawIOBase):
    """Standard input, copied to the spool as it is read (after a prefix read while sniffing)."""

    def __init__(self, source: IO[bytes], spool: IO[bytes], prefix: bytes) -> None:
        super().__init__()
        self.source, self.spool, self.prefix = source, spool, prefix
        self.complete = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self.prefix:  # already in the spool
            size = min(len(view), len(self.prefix))
            view[:size] = self.prefix[:size]
            self.prefix = self.prefix[size:]
            return size
        read1 = getattr(self.source, "read1", self.source.read)
        data = read1(len(view))
        if not data:
            self.spool.flush()
            self.complete = True
            return 0
        self.spool.write(data)
        view[: len(data)] = data
        return len(data)


class _Gunzip(io.RawIOBase):
    """A gzip file's bytes; a corrupt or cut file is invalid input naming the file."""

    def __init__(self, label: str, raw: IO[bytes]) -> None:
        import gzip

        super().__init__()
        self.label, self.raw = label, raw
        self.gzip = gzip.GzipFile(fileobj=raw, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        import zlib

        try:
            data = self.gzip.read(len(buffer))
        except (OSError, EOFError, zlib.error) as error:
            raise InvalidInput(
                f"cannot read {self.label}: not a whole gzip file ({error})"
            ) from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.gzip.close()
            self.raw.close()
        super().close()


@dataclass
class InputSource:
    """One input file, or standard input (read live the first time, from its spool after)."""

    label: str
    path: Path
    kind: str  # "lines", "document" or "sniff"
    live: _Tee | None = field(default=None, repr=False)
    read_once: bool = False
    compressed: bool = False  # gzip: read through `_Gunzip`, progress in compressed bytes
    _handle: IO[bytes] | None = field(default=None, repr=False)

    @property
    def size(self) -> int | None:
        return None if self.live is not None else self.path.stat().st_size

    def open(self) -> IO[bytes]:
        """The input's bytes from the start: standard input live the first time, then the spool."""
        if self.live is not None:
            if not self.read_once:
                self.read_once = True
                return io.BufferedReader(self.live, CHUNK)
            if not self.live.complete:
                raise AssertionError("standard input was not read to its end before a second pass")
        self._handle = self.path.open("rb")
        if self.compressed:
            return io.BufferedReader(_Gunzip(self.label, self._handle), CHUNK)
        return self._handle

    def position(self) -> int:
        """How many bytes of a file the current read has gone through (for an ETA)."""
        handle = self._handle
        if handle is None:
            return 0
        if handle.closed:
            return self.size or 0
        return handle.tell()


def fraction_read(sources: Sequence[InputSource]) -> float | None:
    """The part of the inputs read so far, or None when a size is unknown (standard input)."""
    sizes = [source.size for source in sources]
    if any(size is None for size in sizes):
        return None
    total = sum(size or 0 for size in sizes)
    return sum(source.position() for source in sources) / total if total else None


def _stdin_source(
    stdin: IO[bytes], spool: IO[bytes], label: str = "<stdin>", kind: str | None = None
) -> InputSource:
    """Standard input (or a FIFO, a pipe, `/dev/fd/N`), sniffed on its first non-blank byte
    (JSON lines unless it is `[`) when `kind` is not given."""
    prefix = b""
    while True:
        chunk = stdin.read(CHUNK) if not hasattr(stdin, "read1") else stdin.read1(CHUNK)  # type: ignore[attr-defined]
        spool.write(chunk)
        prefix += chunk
        head = prefix.lstrip(b"\xef\xbb\xbf").lstrip()
        if head or not chunk:
            break
    if kind is None:
        kind = "document" if head[:1] == b"[" else "lines"
    tee = _Tee(stdin, spool, prefix)
    if not chunk:
        spool.flush()
        tee.complete = True
    return InputSource(label, Path(spool.name), kind, tee)


@contextmanager
def open_sources(
    names: Sequence[str], stdin: IO[bytes] | None = None
) -> Iterator[list[InputSource]]:
    """The inputs named on the command line; `-` is standard input."""
    with ExitStack() as stack:
        sources = []

        def spool() -> IO[bytes]:
            import tempfile  # only streamed inputs need it: keep it off the start-up path

            return stack.enter_context(tempfile.NamedTemporaryFile(prefix="esctl-stdin-"))

        for name in names:
            if name == "-":
                sources.append(_stdin_source(stdin or sys.stdin.buffer, spool()))
                continue
            path = Path(name)
            compressed = path.suffix.lower() == ".gz"
            suffix = (path.with_suffix("") if compressed else path).suffix.lower()
            kind = {".json": "document", ".jsonl": "lines", ".ndjson": "lines"}.get(suffix, "sniff")
            if compressed and kind == "sniff":
                kind = "lines"
            if path.is_file():
                sources.append(InputSource(name, path, kind, compressed=compressed))
                continue
            if not path.exists() or path.is_dir():
                why = "is a directory" if path.is_dir() else "no such file"
                raise InvalidInput(f"cannot read {name}: {why}")
            # A FIFO, a pipe (`/dev/stdin`, process substitution's `/dev/fd/N`), a character
            # device: read once as it arrives, spooled like standard input for a second pass.
            try:
                stream = stack.enter_context(path.open("rb", buffering=0))
            except OSError as error:
                raise InvalidInput(f"cannot read {name}: {error.strerror or error}") from None
            streamed = None if kind == "sniff" else kind
            sources.append(_stdin_source(stream, spool(), name, streamed))
        yield sources
