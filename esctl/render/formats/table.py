"""`-o table` (the default): rich tables sized to the terminal, for a person.

Results show their table view (`esctl.render.views`); a listing too wide for the terminal cuts
its `shrink` columns and then leaves columns out, with a note naming them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar

from esctl.render.formats.base import Format, LineOf, Row
from esctl.render.sink import write_whole
from esctl.render.views import Detail, Lines, Listing, Said

if TYPE_CHECKING:
    from esctl.render.columns import Column
    from esctl.render.views import Tree, View

DEFAULT_TABLE_LIMIT = 100


class TableFormat(Format):
    name = "table"
    help = "tables that fit the terminal"
    for_people = True
    default_limit = DEFAULT_TABLE_LIMIT
    wide: ClassVar[bool] = False  # `-o wide`: tables that never cut a value (they fold instead)

    def listing(self, rows: Iterator[Row], columns: Sequence[Column], title: str | None) -> int:
        from esctl.render.tables import listing_table

        out = self.out
        width = out.console.width
        built = listing_table(
            rows, columns, title=title, zone=out.zone, width=width, wide=self.wide
        )
        if built.count:
            out.console.print(built.table)
            if built.dropped:
                out.note(
                    f"Not shown at {width} columns: {', '.join(built.dropped)} "
                    "(-o wide shows every column)."
                )
        return built.count

    def tree(self, tree: Tree) -> int:
        from esctl.render.tables import tree_of

        out = self.out
        if not tree.rows:
            return 0
        out.console.print(tree_of(tree, out.zone))
        return len(tree.rows)

    def result(
        self, record: Row, *, title: str | None, view: View | None, csv: Listing | None
    ) -> None:
        out = self.out
        if view is None:
            self._record(record, title)
        elif isinstance(view, Detail):
            self._record(view.record, view.title)
            for part in view.parts:
                out.listing(part)
        elif isinstance(view, Listing):
            out.listing(view)
        elif isinstance(view, Lines):
            if view.text:
                out.stdout.write(view.text)
            if view.note:
                out.note(view.note)
            if view.message:
                out.message(view.message)
        elif isinstance(view, Said):
            for message in view.messages:
                out.message(message)

    def _record(self, record: Row, title: str | None) -> None:
        from esctl.render.formats.base import flush_quietly
        from esctl.render.tables import record_table

        out = self.out
        flush_quietly(out.stdout)
        out.console.print(record_table(record, title=title, zone=out.zone))

    def live(self, columns: Sequence[Column], line: LineOf) -> Callable[[Row], None]:
        """One plain line per row (a live table cannot wait to size its columns)."""
        stdout, zone = self.out.stdout, self.out.zone
        return lambda row: write_whole(stdout, line(row, zone) + "\n")
