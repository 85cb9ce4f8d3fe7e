"""`-o json`: a listing is one JSON array written row by row (never built in memory), a
result one indented object."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from esctl.encoding import dumps
from esctl.render.formats.base import Format, LineOf, Row, started
from esctl.render.sink import is_utf8, write_bytes_whole, write_whole
from esctl.render.views import LIMIT_HINT
from esctl.words import plural

if TYPE_CHECKING:
    from esctl.render.columns import Column
    from esctl.render.renderer import Renderer
    from esctl.render.views import Listing, View


class JsonFormat(Format):
    name = "json"
    help = "one JSON document"
    takes_json_lines = True

    def listing(self, rows: Iterator[Row], columns: Sequence[Column], title: str | None) -> int:
        out = self.out.stdout
        count = 0
        rows = started(rows)  # an error before the first row leaves stdout empty
        out.write("[")
        for row in rows:
            out.write(",\n  " if count else "\n  ")
            out.write(dumps(row))
            count += 1
        out.write("\n]\n" if count else "]\n")
        out.flush()
        return count

    def result(
        self, record: Row, *, title: str | None, view: View | None, csv: Listing | None
    ) -> None:
        self.out.stdout.write(dumps(record, indent=2) + "\n")

    def json_lines(self, chunks: Iterator[bytes], limit: int | None) -> int:
        return write_json_lines(self.out, chunks, limit, array=True)

    def live(self, columns: Sequence[Column], line: LineOf) -> Callable[[Row], None]:
        stdout = self.out.stdout
        return lambda row: write_whole(stdout, dumps(row) + "\n")

    def live_lines(self) -> Callable[[bytes], None] | None:
        stdout = self.out.stdout
        if not is_utf8(stdout):  # `live` encodes as stdout does; these bytes are UTF-8
            return None
        return lambda data: write_bytes_whole(stdout, data)

    def ready_text(self, details: Row, text: str) -> str:
        return dumps(details) + "\n"


def write_json_lines(
    out: Renderer, chunks: Iterator[bytes], limit: int | None, *, array: bool
) -> int:
    """Write events already rendered as JSON lines (chunks of whole lines), as JSON lines or one
    JSON array, with the cut note of a listing. `limit`+1 lines at most arrive."""
    out.stdout.flush()
    binary = getattr(out.stdout, "buffer", None)

    def write(data: bytes) -> None:
        if binary is not None:
            binary.write(data)
        else:
            out.stdout.write(data.decode())

    count = 0
    cut = False
    first = next(chunks, None)  # an error before the first event leaves stdout empty
    if array:
        write(b"[")
    for chunk in () if first is None else _chained(first, chunks):
        lines = chunk.count(b"\n")
        if limit is not None and count + lines > limit:
            keep = limit - count
            end = 0
            for _ in range(keep):
                end = chunk.index(b"\n", end) + 1
            chunk, lines, cut = chunk[:end], keep, True
        if lines:
            if array:
                body = b",\n  ".join(chunk[:-1].split(b"\n"))
                write((b",\n  " if count else b"\n  ") + body)
            else:
                write(chunk)
        count += lines
        if cut:
            break
    if array:
        write(b"\n]\n" if count else b"]\n")
    if binary is not None:
        binary.flush()
    out.stdout.flush()
    if cut:
        out.note(f"Showing the first {plural(limit or 0, 'row')}; {LIMIT_HINT}.")
    return count


def _chained(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
