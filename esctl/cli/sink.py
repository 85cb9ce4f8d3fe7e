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


def write_whole(stream: IO[str] | None, text: str) -> None:
    """Write `text` and flush it, or raise BrokenPipeError / OutputFailed."""
    if stream is None:  # Python sets sys.stdout to None when fd 1 was closed at start
        raise OutputFailed("cannot write output: stdout is closed")
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        discard(stream)
        raise
    except (OSError, ValueError) as error:
        discard(stream)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise OutputFailed(f"cannot write output: {reason}") from None


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
