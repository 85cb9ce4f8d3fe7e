"""One renderer for every command: rich tables, JSON, JSON lines (streamed) and CSV.

Data goes to stdout; messages, notes and progress go to stderr. JSON arrays and JSON lines are
written row by row, never built in memory, so a listing of a million events stays flat."""

from __future__ import annotations

import contextlib
import csv
import json
import json.encoder
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Literal

from esctl.display import (
    UTC_ZONE,
    Kind,
    Zone,
    age,
    count,
    escape_controls,
    kind_of,
    resolve_zone,
    table_time,
)
from esctl.encoding import dumps, to_jsonable
from esctl.types import iso_time

if TYPE_CHECKING:
    from rich.console import Console

OutputFormat = Literal["table", "json", "jsonl", "csv"]
FORMATS: tuple[OutputFormat, ...] = ("table", "json", "jsonl", "csv")
DEFAULT_TABLE_LIMIT = 100
PIPE_WIDTH = 200
MAX_PROBLEMS_SHOWN = 50


@dataclass(frozen=True)
class Column:
    """A column of a table: the row key, its header, and how the table shows it.

    How a value reads follows from its key (`esctl.display.kind_of`: times, ages, ids and
    positions, statuses) unless `kind` or `format` says otherwise. In a narrow terminal a `shrink`
    column is cut (ellipsis) and a `wrap` column folds; every other column stays whole, and whole
    columns are dropped, highest `priority` first (0: never), before an identity is cut."""

    key: str
    header: str | None = None
    format: Callable[[Any], str] | None = None
    justify: Literal["left", "right", "center"] = "left"
    max_width: int | None = None  # for `shrink` and `wrap` columns only: ids are never cut
    wrap: bool = False  # free text (details, messages) may wrap; ids and numbers never do
    shrink: bool = False  # in a narrow terminal, this column gives up its width first (ellipsis)
    priority: int = 0
    kind: Kind | None = None

    @property
    def value_kind(self) -> Kind | None:
        return self.kind or kind_of(self.key)

    def cell(self, row: Mapping[str, Any], zone: Zone = UTC_ZONE) -> str:
        """The cell's text (before control characters are escaped)."""
        value = row.get(self.key)
        if self.format is not None:
            return self.format(value)
        return table_value(value, self.value_kind, zone)


def table_value(value: Any, kind: Kind | None, zone: Zone = UTC_ZONE) -> str:
    """How a value reads in a table cell, by kind: the one place for times, ages and numbers."""
    if kind == "time" or isinstance(value, datetime):
        return table_time(value, zone)
    if kind == "age":
        return age(value)
    if kind in ("id", "status", "text"):  # positions, versions, ids: never `1,234`
        return plain(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return count(value)
    return plain(value)


def plain(value: Any) -> str:
    """How a value reads in a table cell or a CSV field."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, dict | list):
        return dumps(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def csv_value(value: Any) -> str:
    """How a value is written in CSV: for scripts, so raw numbers, `true`/`false`, ISO 8601 times
    and compact JSON (never a table's `3,725.12` or `yes`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=to_jsonable, ensure_ascii=False, separators=(",", ":"))
    return str.__str__(value) if isinstance(value, str) else str(value)


def _console_class() -> type[Console]:
    """rich's Console, except that a closed pipe raises BrokenPipeError (rich's own handler exits
    1 silently) so `esctl.cli.app` ends every command on a closed pipe the same way."""
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError("standard output was closed by its reader")

    return StdoutConsole


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


class Renderer:
    """Writes command results in the format chosen with `--output`."""

    def __init__(
        self,
        fmt: OutputFormat = "table",
        *,
        color: bool = True,
        quiet: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        wide: bool = False,
        tz: str | Callable[[], str | None] | None = None,
        terminal: bool | None = None,
        width: int | None = None,
    ) -> None:
        self.format = fmt
        self.color = color
        self.quiet = quiet
        self.wide = wide  # `-o wide`: tables that never cut a value (they fold instead)
        self._tz = tz  # a zone name, or a function giving it (a profile read only when needed)
        self._zone: Zone | None = None
        self._terminal = terminal  # force (True) or deny (False) a terminal; None: detect
        self._width = width
        self._stdout = stdout
        self._stderr = stderr
        self._console: Console | None = None
        self._err_console: Console | None = None

    @property
    def stdout(self) -> IO[str]:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return self._stderr or sys.stderr

    @property
    def zone(self) -> Zone:
        """The zone of times in tables (`--tz`, the profile's `tz:`, else UTC)."""
        if self._zone is None:
            name = self._tz() if callable(self._tz) else self._tz
            self._zone = resolve_zone(name)
        return self._zone

    def _make_console(self, file: IO[str], *, stderr: bool, width: int | None) -> Console:
        from rich.console import Console

        console_class = Console if stderr else _console_class()
        # `--no-color`/NO_COLOR: no escape sequences at all (not even bold). A file or pipe is
        # never coloured: rich only colours a terminal (or one forced, in tests).
        return console_class(
            file=file,
            color_system="auto" if self.color else None,
            no_color=not self.color,
            highlight=False,
            markup=False,
            emoji=False,
            width=width,
            force_terminal=self._terminal,
            stderr=stderr,
        )

    @property
    def console(self) -> Console:
        """A rich console on stdout (for tables)."""
        if self._console is None:
            import os

            width = self._width
            terminal = self._terminal if self._terminal is not None else _isatty(self.stdout)
            if width is None and not terminal and not os.environ.get("COLUMNS"):
                # Piped or redirected tables are not cut to 80 columns: a file has no width
                # ($COLUMNS still sets one, e.g. for a pager: `COLUMNS=80 esctl read | less`).
                width = PIPE_WIDTH
            self._console = self._make_console(self.stdout, stderr=False, width=width)
        return self._console

    @property
    def err_console(self) -> Console:
        """A rich console on stderr (for messages and progress)."""
        if self._err_console is None:
            self._err_console = self._make_console(self.stderr, stderr=True, width=self._width)
        return self._err_console

    @property
    def interactive(self) -> bool:
        """True when stderr is a terminal: progress bars are shown only then."""
        return not self.quiet and self.stderr.isatty()

    def default_limit(self, limit: int | None) -> int | None:
        """`--limit` defaults to 100 for tables and to no limit for json, jsonl and csv."""
        if limit is not None:
            return limit
        return DEFAULT_TABLE_LIMIT if self.format == "table" else None

    # --- messages (stderr) --------------------------------------------------------------------
    # Each first flushes stdout, so that a note follows the table it is about (`| less`, `2>&1`),
    # and prints user values literally: no rich markup, control characters escaped.

    def _say(self, label: str | None, text: str, style: str | None, label_style: str) -> None:
        from rich.text import Text

        _flush_quietly(self.stdout)
        line = Text()
        if label:
            line.append(label, style=label_style)
            line.append(" ")
        line.append(escape_controls(text, keep_newlines=True), style=style or "")
        self.err_console.print(line, soft_wrap=True)

    def message(self, text: str) -> None:
        """An informational line on stderr, silenced by --quiet."""
        if not self.quiet:
            self._say(None, text, None, "")

    def note(self, text: str) -> None:
        """A dim hint on stderr (how to see more, what to add), silenced by --quiet."""
        if not self.quiet:
            self._say(None, text, "dim", "")

    def warning(self, text: str) -> None:
        """A warning on stderr; shown even with --quiet."""
        self._say("Warning:", text, None, "bold yellow")

    def error(self, message: str, problems: Iterable[str] = (), hint: str | None = None) -> None:
        """`Error: …` (red on a colour terminal), the problems found, and a hint, on stderr."""
        self._say("Error:", message, None, "bold red")
        listed = list(problems)
        for problem in listed[:MAX_PROBLEMS_SHOWN]:
            self._say(None, f"  {problem}", None, "")
        if len(listed) > MAX_PROBLEMS_SHOWN:
            self._say(None, f"  … and {len(listed) - MAX_PROBLEMS_SHOWN} more", None, "")
        if hint:
            self._say("Hint:", hint, None, "bold cyan")

    # --- data (stdout) ------------------------------------------------------------------------

    def rows(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[Column],
        *,
        title: str | None = None,
        limit: int | None = None,
        more_hint: str = "use --limit N to see more, or -o jsonl for everything",
        empty: str | None = None,
    ) -> int:
        """Render a listing. With `limit`, pass up to limit+1 rows: the extra one only tells that the
        table was cut, and a note on stderr then says how to see more. Returns rows written."""
        iterator = iter(rows)
        cut = False
        if limit is not None:
            iterator, cut_flag = _take(iterator, limit)
        else:
            cut_flag = None
        if self.format == "table":
            written = self._table(iterator, columns, title)
        elif self.format == "json":
            written = self._json_array(iterator)
        elif self.format == "jsonl":
            written = 0
            for written, row in enumerate(iterator, start=1):  # noqa: B007 - the count is used
                self.json_line(row, flush=False)
            self.stdout.flush()
        else:
            written = self._csv(iterator, columns)
        cut = bool(cut_flag and cut_flag[0])
        if cut:
            rows_word = "row" if limit == 1 else "rows"
            self.note(f"Showing the first {limit} {rows_word}; {more_hint}.")
        elif written == 0 and empty and self.format == "table":
            self.note(empty)
        return written

    def json_line(self, row: Mapping[str, Any], *, flush: bool = True) -> None:
        """One JSON object on one line; flushed unless the caller flushes at the end (a listing
        need not make a system call per row; `tail` must show each event at once)."""
        self.stdout.write(dumps(row) + "\n")
        if flush:
            self.stdout.flush()

    def record(self, row: Mapping[str, Any], *, title: str | None = None) -> None:
        """One object: a two-column table, or one JSON object."""
        if self.format == "table":
            from esctl.tables import record_table

            _flush_quietly(self.stdout)
            self.console.print(record_table(row, title=title, zone=self.zone))
        elif self.format in ("json", "jsonl"):
            indent = 2 if self.format == "json" else None
            self.stdout.write(dumps(row, indent=indent) + "\n")
        else:
            self._csv(iter([row]), [Column(k) for k in row])

    def _table(
        self, rows: Iterator[Mapping[str, Any]], columns: list[Column], title: str | None
    ) -> int:
        from esctl.tables import listing_table

        built = listing_table(
            rows, columns, title=title, zone=self.zone, width=self.console.width, wide=self.wide
        )
        if built.count:
            self.console.print(built.table)
            if built.dropped:
                self.note(
                    f"Not shown at {self.console.width} columns: {', '.join(built.dropped)} "
                    "(-o wide shows every column)."
                )
        return built.count

    def _json_array(self, rows: Iterator[Mapping[str, Any]]) -> int:
        out = self.stdout
        count = 0
        rows = _started(rows)  # an error before the first row leaves stdout empty
        out.write("[")
        for row in rows:
            out.write(",\n  " if count else "\n  ")
            out.write(dumps(row))
            count += 1
        out.write("\n]\n" if count else "]\n")
        out.flush()
        return count

    def _csv(self, rows: Iterator[Mapping[str, Any]], columns: list[Column]) -> int:
        writer = csv.writer(self.stdout, lineterminator="\n")
        rows = _started(rows)  # an error before the first row leaves stdout empty (no header)
        writer.writerow([c.key for c in columns])
        count = 0
        for row in rows:
            writer.writerow([csv_value(row.get(c.key)) for c in columns])
            count += 1
        self.stdout.flush()
        return count


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # a closed or odd stream is no terminal
        return False


def _flush_quietly(stream: IO[str]) -> None:
    """Flush data written so far (a note must not land inside a table); a stdout that fails
    is reported by the data write itself, not by a note on stderr."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        stream.flush()


def _started(rows: Iterator[Any]) -> Iterator[Any]:
    """The same rows, the first one already fetched: a listing that fails before its first row
    (a missing stream, a lost connection) raises here, before anything is written."""
    import itertools

    for first in rows:
        return itertools.chain((first,), rows)
    return iter(())


def _take(rows: Iterator[Any], limit: int) -> tuple[Iterator[Any], list[bool]]:
    """Yield at most `limit` rows; the flag list says afterwards whether more were there."""
    flag = [False]

    def limited() -> Iterator[Any]:
        for index, row in enumerate(rows):
            if index >= limit:
                flag[0] = True
                return
            yield row

    return limited(), flag
