"""Frames of a `--watch` view: redrawn in place on a terminal (rich Live), one after another
elsewhere.

- table/wide on a terminal: a rich Live view, redrawn each frame; the cursor and the screen are
  restored when the watch ends, however it ends (Ctrl-C, SIGTERM, an error);
- table/wide to a pipe or file: each frame printed in full, after a `--- TIME ---` line;
- json/jsonl: one JSON document per frame, on one line (JSON lines a script can follow);
- csv: refused (exit 2): a frame is not one table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from esctl.encoding import dumps
from esctl.errors import UsageError
from esctl.render.formats.json import JsonFormat
from esctl.render.sink import write_whole
from esctl.render.views import Detail, Listing

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

    from esctl.render.renderer import Renderer
    from esctl.render.views import View


class Frames:
    """Writes the frames of one watch (see the module docstring)."""

    def __init__(self, out: Renderer, live: Live | None) -> None:
        self.out = out
        self._live = live
        self.count = 0

    def frame(self, record: Mapping[str, Any], view: View, *, error: str | None = None) -> None:
        """Show one frame: `record` for the data formats, `view` for a person; `error` (a lost
        connection) is shown in the frame instead of fresh figures."""
        out = self.out
        self.count += 1
        if not out._format.for_people:
            line = dict(record) if error is None else {**record, "error": error}
            write_whole(out.stdout, dumps(line) + "\n")
            return
        if self._live is not None:
            self._live.update(_renderable(out, view, error), refresh=True)
            return
        stamp = record.get("sampled_at")
        when = stamp.isoformat() if isinstance(stamp, datetime) else str(stamp or "")
        write_whole(out.stdout, ("\n" if self.count > 1 else "") + f"--- {when} ---\n")
        if error is not None:
            write_whole(out.stdout, f"Error: {error} (retrying)\n")
        else:
            out.result(record, view=view)
        out.stdout.flush()


@contextlib.contextmanager
def watching(out: Renderer) -> Iterator[Frames]:
    """A frame writer for this invocation's format and terminal."""
    fmt = out._format
    if not fmt.for_people and not isinstance(fmt, JsonFormat):
        raise UsageError(f"--watch writes table, wide, json or jsonl frames, not -o {fmt.name}")
    if not fmt.for_people or not out.console.is_terminal:
        yield Frames(out, None)
        return
    from rich.live import Live

    with Live(console=out.console, auto_refresh=False, transient=False) as live:
        yield Frames(out, live)


def _renderable(out: Renderer, view: View, error: str | None) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    from esctl.render.tables import listing_table, record_table

    width = out.console.width
    parts: list[RenderableType] = []
    if error is not None:
        parts.append(Text(f"Error: {error} (retrying)", style="bold red"))
    listings: list[Listing] = []
    if isinstance(view, Detail):
        parts.append(record_table(view.record, title=view.title, zone=out.zone))
        listings = list(view.parts)
    elif isinstance(view, Listing):
        listings = [view]
    for listing in listings:
        built = listing_table(
            listing.rows, listing.columns, title=listing.title, zone=out.zone, width=width
        )
        if built.table is not None:
            parts.append(built.table)
        elif listing.empty:
            parts.append(Text(listing.empty, style="dim"))
    return Group(*parts)
