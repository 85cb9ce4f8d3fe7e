"""One renderer for every command: commands say what they show, the `-o` format decides how.

Commands call semantic methods (`table`, `stream`, `summary`, `result`, `live`, `ready_line`,
`progress`, `note`, `message`, `warning`, `error`) and never look at the format; each format is
one module under `esctl.render.formats`. Data goes to stdout; messages, notes and progress go to
stderr. JSON arrays and JSON lines are written row by row, never built in memory, so a listing
of a million events stays flat."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from esctl.display import Zone, escape_controls, resolve_zone
from esctl.render.formats import format_class
from esctl.render.formats.base import LineOf, flush_quietly, take
from esctl.render.views import LIMIT_HINT, MORE_HINT, Listing

if TYPE_CHECKING:
    from rich.console import Console

    from esctl.render.columns import Column
    from esctl.render.formats.base import Format
    from esctl.render.frames import Frames
    from esctl.render.progress import Bars, SilentBars
    from esctl.render.template import Template
    from esctl.render.views import Tree, View

Row = Mapping[str, Any]
PIPE_WIDTH = 200
MAX_PROBLEMS_SHOWN = 50


def _console_class() -> type[Console]:
    """rich's Console, except that a closed pipe raises BrokenPipeError (rich's own handler exits
    1 silently) so `esctl.cli.app` ends every command on a closed pipe the same way."""
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError("standard output was closed by its reader")

    return StdoutConsole


class Renderer:
    """Writes command results in the format chosen with `--output`."""

    def __init__(
        self,
        fmt: str = "table",
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
        if wide and fmt == "table":  # the older spelling of `-o wide`
            fmt = "wide"
        self._format: Format = format_class(fmt)(self)
        self.color = color
        self.quiet = quiet
        self._tz = tz  # a zone name, or a function giving it (a profile read only when needed)
        self._zone: Zone | None = None
        self._terminal = terminal  # force (True) or deny (False) a terminal; None: detect
        self._width = width
        self._stdout = stdout
        self._stderr = stderr
        self._console: Console | None = None
        self._err_console: Console | None = None

    def use_template(self, template: Template) -> None:
        """Write rows as lines of `template` (`--format`) in place of the `-o` format."""
        from esctl.render.formats.template import TemplateFormat

        self._format = TemplateFormat(self, template)

    @property
    def format(self) -> str:
        """The name of the `-o` format (`table`, `wide`, `json`, …)."""
        return self._format.name

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
        return limit if limit is not None else self._format.default_limit

    # --- messages (stderr) --------------------------------------------------------------------
    # Each first flushes stdout, so that a note follows the table it is about (`| less`, `2>&1`),
    # and prints user values literally: no rich markup, control characters escaped.

    def _say(self, label: str | None, text: str, style: str | None, label_style: str) -> None:
        flush_quietly(self.stdout)
        if self._plain_stderr():  # what rich would write, without importing it (~17 ms)
            safe = escape_controls(text, keep_newlines=True)
            self.stderr.write(f"{label} {safe}\n" if label else f"{safe}\n")
            self.stderr.flush()
            return
        from rich.text import Text

        line = Text()
        if label:
            line.append(label, style=label_style)
            line.append(" ")
        line.append(escape_controls(text, keep_newlines=True), style=style or "")
        self.err_console.print(line, soft_wrap=True)

    def _plain_stderr(self) -> bool:
        """Messages go to stderr as plain text: no rich console is in use there, and rich would
        not style them (no colour, or no terminal and no FORCE_COLOR)."""
        if self._err_console is not None:
            return False
        if not self.color:
            return True
        import os

        forced = os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1"
        return self._terminal is not True and not forced and not _isatty(self.stderr)

    def message(self, text: str) -> None:
        """An informational line on stderr, silenced by --quiet."""
        if not self.quiet:
            self._say(None, text, None, "")

    def note(self, text: str) -> None:
        """A dim hint on stderr (how to see more, what to add), silenced by --quiet."""
        if not self.quiet:
            self._say(None, text, "dim", "")

    def table_note(self, text: str) -> None:
        """A note for a person reading a table (what to do about its rows); the data formats,
        read by programs, get none."""
        if self._format.for_people:
            self.note(text)

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

    def end_interrupted_line(self) -> None:
        """After a terminal's `^C`, start the next line of stderr on a line of its own."""
        if self.stderr.isatty():
            self.stderr.write("\n")
            self.stderr.flush()

    # --- data (stdout) ------------------------------------------------------------------------

    def table(
        self,
        rows: Iterable[Row],
        columns: Sequence[Column],
        *,
        title: str | None = None,
        limit: int | None = None,
        more_hint: str = MORE_HINT,
        empty: str | None = None,
        legend: str | None = None,
        as_message: bool = False,
        json_lines: Callable[[], Iterator[bytes]] | None = None,
    ) -> int:
        """Write a listing in every format. With `limit`, pass up to limit+1 rows: the extra one
        only tells that the listing was cut, and a note on stderr then says how to see more.

        `empty` and `legend` are notes for a person (table views only). With `as_message` the
        rows are a report to a person where a table is shown, so --quiet hides them there; the
        data formats always write them. `json_lines` gives the same rows already encoded as JSON
        lines, which the JSON formats write instead (not a row is decoded). Returns rows written."""
        fmt = self._format
        if as_message and self.quiet and fmt.for_people:
            return 0
        if json_lines is not None and fmt.takes_json_lines:
            return fmt.json_lines(json_lines(), limit)
        iterator = iter(rows)
        cut_flag: list[bool] = []
        if limit is not None:
            iterator, cut_flag = take(iterator, limit)
        written = fmt.listing(iterator, columns, title)
        if cut_flag and cut_flag[0]:
            rows_word = "row" if limit == 1 else "rows"
            if more_hint == MORE_HINT and not fmt.for_people:
                more_hint = LIMIT_HINT  # the output is data already: no "-o jsonl" advice
            self.note(f"Showing the first {limit} {rows_word}; {more_hint}.")
        elif written == 0 and empty and fmt.for_people:
            self.note(empty)
        if legend and fmt.for_people:
            self.note(legend)
        return written

    rows = table  # the name the renderer's tests grew up with

    def listing(self, listing: Listing) -> int:
        """`table` for a `Listing` a view or a result carries."""
        return self.table(
            listing.rows,
            listing.columns,
            title=listing.title,
            empty=listing.empty,
            legend=listing.legend,
        )

    def tree(self, tree: Tree) -> int:
        """Rows that form a tree (`esctl trace`): a rich tree for a person, the flat rows in
        every data format. Returns the rows written."""
        written = self._format.tree(tree)
        if written == 0 and tree.empty and self._format.for_people:
            self.note(tree.empty)
        return written

    def stream(
        self,
        rows: Iterable[Row],
        columns: Sequence[Column],
        *,
        limit: int | None = None,
        keep: bool = False,
    ) -> list[Row]:
        """Rows that come while work goes on (under a progress bar): the data formats write
        them as they come (cut at `limit`, with the note); a table cannot be printed under the
        bars, so the table views keep, with `keep`, the first `limit`+1 for a `summary` after
        the work. Every row is consumed either way (the caller counts each one)."""
        iterator = iter(rows)
        kept: list[Row] = []
        if not self._format.for_people:
            self.table(iterator, columns, limit=limit)
        elif keep:
            for row in iterator:
                kept.append(row)
                if limit is not None and len(kept) > limit:
                    break
        for _ in iterator:  # past --limit: keep counting, the exit code covers every row
            pass
        return kept

    def summary(
        self,
        rows: Iterable[Row],
        columns: Sequence[Column],
        *,
        title: str | None = None,
        limit: int | None = None,
    ) -> int:
        """A table only a person sees (totals after a run, what `stream` kept): the data formats
        have written their rows already."""
        if not self._format.for_people:
            return 0
        return self.table(rows, columns, title=title, limit=limit)

    def result(
        self,
        record: Row,
        *,
        title: str | None = None,
        view: View | None = None,
        csv: Listing | None = None,
    ) -> None:
        """One result: json and jsonl write `record` as one object; a table shows `view` (see
        `esctl.render.views`), by default `record` as a two-column table titled `title`; CSV
        writes `csv`'s rows, by default `record` as one row."""
        self._format.result(record, title=title, view=view, csv=csv)

    def record(self, row: Row, *, title: str | None = None) -> None:
        """One object: a two-column table, or one JSON object (`result` without a view)."""
        self.result(row, title=title)

    def live(self, columns: Sequence[Column], line: LineOf) -> Callable[[Row], None]:
        """A writer for rows that arrive one by one (`tail`): each is written whole and flushed,
        or BrokenPipeError / `OutputFailed` is raised (see `esctl.render.sink`). A table shows
        each row as `line(row, zone)`; CSV writes its header at once."""
        return self._format.live(columns, line)

    def live_lines(self) -> Callable[[bytes], None] | None:
        """For `tail`: a writer of events the store rendered as JSON lines (whole and flushed,
        like `live`, or raising with `written_bytes`: see `esctl.render.sink`), where the
        format writes events as exactly those lines (json, jsonl); None elsewhere."""
        return self._format.live_lines()

    def ready_line(self, details: Row, text: str) -> None:
        """What a background service prints once it is ready (`sandbox`): `text` (a URL, shell
        exports), or the details as one JSON line. Messages written before go out first, so a
        script that waits for the first line of stdout finds them already written."""
        self.stderr.flush()
        self.stdout.write(self._format.ready_text(details, text))
        self.stdout.flush()

    def watch(self) -> contextlib.AbstractContextManager[Frames]:
        """The frame writer of a `--watch` view (see `esctl.render.frames`)."""
        from esctl.render.frames import watching

        return watching(self)

    @contextlib.contextmanager
    def progress(self, unit: str) -> Iterator[Bars | SilentBars]:
        """The one progress API: transient bars per phase on stderr when it is a terminal (see
        `esctl.render.progress`); elsewhere a stand-in that draws nothing (`shown` is False)
        and prints failure lines plainly."""
        from esctl.render.progress import SilentBars, progress_bars

        with progress_bars(self, unit) as bars:
            yield bars if bars is not None else SilentBars(self)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # a closed or odd stream is no terminal
        return False
