"""Standard output that went away: a closed pipe, a closed descriptor, a full disk.

`main()` calls `guard_closed_stdout()` first and maps what `write_failure()` recognises once:
a reader that went away (EPIPE) ends the command quietly with 141 (128 + SIGPIPE, as `head` and
`kcat` expect); any other failure to write standard output is `Error: cannot write output: …`
with exit 1."""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import io
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType

EXIT_BROKEN_PIPE = 141


class ClosedStdout(io.TextIOBase):
    """Stands in for `sys.stdout` when descriptor 1 was closed (`esctl read --all >&-`): every
    write fails with EBADF, so the command stops with a clear error instead of an AttributeError."""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        return None


class StdoutWriteError(OSError):
    """A write to standard output failed (ENOSPC, EIO, EBADF…): not an input or store error."""


class _StdoutRaw(io.RawIOBase):
    """Descriptor 1, with its write failures marked as StdoutWriteError (a closed pipe stays a
    BrokenPipeError)."""

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return 1

    def isatty(self) -> bool:
        return os.isatty(1)

    def write(self, data: Any) -> int:
        try:
            return os.write(1, data)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise StdoutWriteError(error.errno, error.strerror) from error


def guard_stdout() -> None:
    """Make a failed write to standard output recognisable. When descriptor 1 is closed, hold it
    with /dev/null (so no file or socket opened later becomes our "stdout") and make writes to
    `sys.stdout` fail."""
    stdout = sys.stdout
    if stdout is not None:
        if isinstance(stdout, io.TextIOWrapper) and stdout.fileno() == 1:
            stdout.flush()
            sys.stdout = io.TextIOWrapper(
                io.BufferedWriter(_StdoutRaw()),
                encoding=stdout.encoding,
                errors=stdout.errors,
                line_buffering=stdout.line_buffering,
            )
        return
    try:
        os.fstat(1)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        if devnull != 1:
            os.dup2(devnull, 1)
            os.close(devnull)
    sys.stdout = ClosedStdout()


def stdout_is_closed(stream: Any) -> bool:
    """True for a standard output that was closed when esctl started (`>&-`)."""
    return stream is None or isinstance(stream, ClosedStdout)


def silence_stdout() -> None:
    """Point descriptor 1 at /dev/null, so the interpreter's last flush of what is still buffered
    does not fail again (and print `Exception ignored …`)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    stdout = sys.stdout
    if stdout is not None and not isinstance(stdout, ClosedStdout):
        with contextlib.suppress(OSError, ValueError):
            stdout.flush()


def write_failure(error: BaseException) -> str | None:
    """Why standard output cannot be written, when `error` is that failure (else None):
    the reason for `Error: cannot write output: <reason>`, or "" for a closed pipe."""
    if isinstance(error, BrokenPipeError):
        return ""
    stdout = sys.stdout
    if isinstance(error, StdoutWriteError):
        return error.strerror or os.strerror(error.errno or errno.EIO)
    if isinstance(error, OSError) and isinstance(stdout, ClosedStdout):
        return error.strerror if error.errno == errno.EBADF else None
    if isinstance(error, ValueError) and "closed file" in str(error):
        return "standard output is closed" if stdout is None or stdout.closed else None
    return None


def _reader_gone(console: Any) -> None:
    """rich's `Console.on_broken_pipe` says exit 1; a reader that went away is 141 here."""
    silence_stdout()
    raise SystemExit(EXIT_BROKEN_PIPE)


def quiet_broken_pipes() -> None:
    """Every rich console of this process (the help screens' included) ends like a data write
    when its reader goes away: quietly, exit 141. rich is patched when it is first imported, so
    a command that prints no table (JSON output, an append) does not pay for importing it."""
    console = sys.modules.get("rich.console")
    if console is not None:
        console.Console.on_broken_pipe = _reader_gone
    elif not any(isinstance(finder, _RichConsolePatch) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RichConsolePatch())


class _RichConsolePatch:
    """A meta path finder (not subclassing importlib.abc's, which imports tempfile and random):
    finds `rich.console` as the other finders do, and patches `Console` once it is loaded."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if name != "rich.console":
            return None
        sys.meta_path.remove(self)  # once: the other finders find the module itself
        spec = importlib.util.find_spec(name)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        load = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            module.Console.on_broken_pipe = _reader_gone

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
