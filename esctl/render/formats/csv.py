"""`-o csv`: a header of row keys, then one line per row (raw numbers, ISO 8601 times, compact
JSON: for scripts). One table per output: a result is its own row, or the rows it names."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from esctl.render.columns import Column, csv_value
from esctl.render.formats.base import Format, LineOf, Row, started
from esctl.render.sink import write_whole

if TYPE_CHECKING:
    from esctl.render.views import Listing, View


class CsvFormat(Format):
    name = "csv"
    help = "CSV with a header"

    def listing(self, rows: Iterator[Row], columns: Sequence[Column], title: str | None) -> int:
        stdout = self.out.stdout
        writer = csv.writer(stdout, lineterminator="\n")
        rows = started(rows)  # an error before the first row leaves stdout empty (no header)
        writer.writerow([c.key for c in columns])
        count = 0
        for row in rows:
            writer.writerow([csv_value(row.get(c.key)) for c in columns])
            count += 1
        stdout.flush()
        return count

    def result(
        self, record: Row, *, title: str | None, view: View | None, csv: Listing | None
    ) -> None:
        if csv is not None:
            self.out.listing(csv)
        else:
            self.listing(iter([record]), [Column(key) for key in record], None)

    def live(self, columns: Sequence[Column], line: LineOf) -> Callable[[Row], None]:
        """The header now (a reader learns the columns before the first event), then each row
        as one whole line."""
        stdout = self.out.stdout
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")

        def write_line(values: list[str]) -> None:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(values)
            write_whole(stdout, buffer.getvalue())

        write_line([c.key for c in columns])
        return lambda row: write_line([csv_value(row.get(c.key)) for c in columns])
