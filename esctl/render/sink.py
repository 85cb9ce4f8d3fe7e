"""Write a piece of output whole and flushed, or fail loudly: what `tail` counts as delivered.

A short write, a full disk (ENOSPC), a closed stdout (`>&-`) or any other write error is an
`OutputFailed` (exit 1, `Error: cannot write output: …`); a reader that went away raises
BrokenPipeError (the quiet exit 141 of `esctl.cli.app`). Either way the caller learns that the
text was not delivered, so a checkpoint is not moved past it. What stayed in Python's buffer is
sent to /dev/null, so nothing half-written is retried at exit."""

from __future__ import annotations

import os
from typing import IO

from esctl.errors import EsctlError


class OutputFailed(EsctlError):
    """stdout could not take the output (exit 1)."""

    exit_code = 1
    # How many bytes of the data given to `write_bytes_whole` went out before it failed (a
    # BrokenPipeError it raises carries the same attribute).
    written_bytes = 0


def write_whole(stream: IO[str] | None, text: str) -> None:
    """Write `text` and flush it, or raise BrokenPipeError / OutputFailed.

    On a real descriptor the bytes go out with os.write in a loop, each short write continued
    until all is written or the kernel reports why not: Python's buffered writer can report a
    flush as done after a short write (seen on a full tmpfs), dropping the rest of the line."""
    if stream is None:  # Python sets sys.stdout to None when fd 1 was closed at start
        raise OutputFailed("cannot write output: standard output is closed")
    try:
        fd = _descriptor(stream)
        if fd is None:
            stream.write(text)
            stream.flush()
            return
        stream.flush()  # anything written through the stream before goes first
        data = memoryview(text.encode(_encoding(stream), _errors(stream)))
        while data:
            written = os.write(fd, data)
            data = data[written:]
    except BrokenPipeError:
        discard(stream)
        raise
    except (OSError, ValueError) as error:
        discard(stream)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise OutputFailed(f"cannot write output: {reason}") from None


def write_bytes_whole(stream: IO[str] | None, data: bytes) -> None:
    """`write_whole` for text already encoded as UTF-8 (JSON lines a store rendered): the
    exception raised on a failure has `written_bytes`, how many of `data` were written."""
    if stream is None:
        raise OutputFailed("cannot write output: standard output is closed")
    written = 0
    try:
        fd = _descriptor(stream)
        if fd is None:
            stream.write(data.decode())
            stream.flush()
            return
        stream.flush()
        view = memoryview(data)
        while written < len(data):
            written += os.write(fd, view[written:])
    except BrokenPipeError as error:
        discard(stream)
        error.written_bytes = written  # type: ignore[attr-defined]
        raise
    except (OSError, ValueError) as error:
        discard(stream)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        failed = OutputFailed(f"cannot write output: {reason}")
        failed.written_bytes = written
        raise failed from None


def is_utf8(stream: IO[str] | None) -> bool:
    """Whether text written to `stream` goes out as UTF-8 (so UTF-8 bytes can be written for it)."""
    import codecs

    if stream is None:
        return False
    try:
        return codecs.lookup(_encoding(stream)).name == "utf-8"
    except LookupError:
        return False


def _descriptor(stream: IO[str]) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError):  # an in-memory stream (tests): no descriptor
        return None


def _encoding(stream: IO[str]) -> str:
    return getattr(stream, "encoding", None) or "utf-8"


def _errors(stream: IO[str]) -> str:
    return getattr(stream, "errors", None) or "strict"


def discard(stream: IO[str]) -> None:
    """Point the stream's descriptor at /dev/null, so a later flush (at exit) cannot fail."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
