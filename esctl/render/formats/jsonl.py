"""`-o jsonl`: one JSON object per line, streamed; the lines of events are valid input for
`esctl append`. A result is one compact object on one line."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from esctl.encoding import dumps
from esctl.render.formats.base import Row
from esctl.render.formats.json import JsonFormat, write_json_lines

if TYPE_CHECKING:
    from esctl.render.columns import Column
    from esctl.render.views import Listing, View


class JsonlFormat(JsonFormat):
    name = "jsonl"
    help = "JSON lines, streamed"

    def listing(self, rows: Iterator[Row], columns: Sequence[Column], title: str | None) -> int:
        # A listing need not make a system call per row: one flush at the end.
        out = self.out.stdout
        written = 0
        for written, row in enumerate(rows, start=1):  # noqa: B007 - the count is used
            out.write(dumps(row) + "\n")
        out.flush()
        return written

    def result(
        self, record: Row, *, title: str | None, view: View | None, csv: Listing | None
    ) -> None:
        self.out.stdout.write(dumps(record) + "\n")

    def json_lines(self, chunks: Iterator[bytes], limit: int | None) -> int:
        return write_json_lines(self.out, chunks, limit, array=False)
