"""`--format TEMPLATE`: one line of text per row (`esctl.render.template`), in place of `-o`.

Not an `-o` choice (it takes an argument): `Renderer.use_template` puts it in place. A listing
streams its lines; a live row (`tail`) is written whole and flushed, like every live format."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from esctl.render.formats.base import Format, LineOf, Row
from esctl.render.sink import write_whole

if TYPE_CHECKING:
    from esctl.render.columns import Column
    from esctl.render.renderer import Renderer
    from esctl.render.template import Template
    from esctl.render.views import Listing, View


class TemplateFormat(Format):
    name = "template"
    help = "one line per row from --format TEMPLATE"

    def __init__(self, out: Renderer, template: Template) -> None:
        super().__init__(out)
        self.template = template

    def listing(self, rows: Iterator[Row], columns: Sequence[Column], title: str | None) -> int:
        out = self.out.stdout
        written = 0
        for written, row in enumerate(rows, start=1):  # noqa: B007 - the count is used
            out.write(self.template.line(row))
        out.flush()
        return written

    def result(
        self, record: Row, *, title: str | None, view: View | None, csv: Listing | None
    ) -> None:
        self.out.stdout.write(self.template.line(record))

    def live(self, columns: Sequence[Column], line: LineOf) -> Callable[[Row], None]:
        stdout, template = self.out.stdout, self.template
        return lambda row: write_whole(stdout, template.line(row))
