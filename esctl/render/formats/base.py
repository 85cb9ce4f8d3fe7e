"""What every output format module implements, and the row plumbing they share.

A format is one subclass of `Format` in its own module, listed once in
`esctl.render.formats.REGISTRY`: the renderer asks it how to write a listing, a result, a live
row and a ready line, and the `-o` choices are the registry's names."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from esctl.display import Zone
    from esctl.render.columns import Column
    from esctl.render.renderer import Renderer
    from esctl.render.views import Listing, Tree, View

Row = Mapping[str, Any]
LineOf = Callable[[Row, "Zone"], str]  # one live row as a line of text, for a person


class Format:
    """How one `-o` format writes results; the renderer holds one instance per invocation."""

    name: ClassVar[str]
    help: ClassVar[str] = ""
    # A person reads it: results show their table view (`esctl.render.views`), empty listings
    # and legends get a note, a table that is a report hides under --quiet, listings default to
    # `--limit 100`. Data formats (read by programs) write every row and every field instead.
    for_people: ClassVar[bool] = False
    default_limit: ClassVar[int | None] = None
    # It can write events already encoded as JSON lines (the fast path of `read --all`).
    takes_json_lines: ClassVar[bool] = False

    def __init__(self, out: Renderer) -> None:
        self.out = out

    def listing(self, rows: Iterator[Row], columns: Sequence[Column], title: str | None) -> int:
        """Write the rows (at most what the renderer lets through); return how many."""
        raise NotImplementedError

    def result(
        self, record: Row, *, title: str | None, view: View | None, csv: Listing | None
    ) -> None:
        """Write one result: `record` is the object, `view` what a person sees instead of its
        two-column table, `csv` the rows CSV writes instead of the object's one row."""
        raise NotImplementedError

    def tree(self, tree: Tree) -> int:
        """Write rows that form a tree; a data format writes them flat, as a listing."""
        return self.listing(iter(tree.rows), tree.columns, tree.title)

    def json_lines(self, chunks: Iterator[bytes], limit: int | None) -> int:
        """Write pre-encoded JSON lines (only when `takes_json_lines`); return how many."""
        raise NotImplementedError(f"-o {self.name} does not take JSON lines")

    def live(self, columns: Sequence[Column], line: LineOf) -> Callable[[Row], None]:
        """A writer of one row at a time, each whole and flushed (what `tail` counts as
        delivered); whatever a format writes before its first row is written now."""
        raise NotImplementedError

    def live_lines(self) -> Callable[[bytes], None] | None:
        """A writer of live events already rendered as JSON lines (UTF-8, whole lines), each
        call written whole and flushed like `live`'s rows; None when this format writes events
        otherwise (then `live` writes them one by one)."""
        return None

    def ready_text(self, details: Row, text: str) -> str:
        """The ready line of a background service (`sandbox`): `text` for a shell or a person."""
        return text


def started(rows: Iterator[Any]) -> Iterator[Any]:
    """The same rows, the first one already fetched: a listing that fails before its first row
    (a missing stream, a lost connection) raises here, before anything is written."""
    for first in rows:
        return itertools.chain((first,), rows)
    return iter(())


def take(rows: Iterator[Any], limit: int) -> tuple[Iterator[Any], list[bool]]:
    """Yield at most `limit` rows; the flag list says afterwards whether more were there."""
    flag = [False]

    def limited() -> Iterator[Any]:
        for index, row in enumerate(rows):
            if index >= limit:
                flag[0] = True
                return
            yield row

    return limited(), flag


def flush_quietly(stream: IO[str]) -> None:
    """Flush data written so far (a note must not land inside a table); a stdout that fails
    is reported by the data write itself, not by a note on stderr."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        stream.flush()
