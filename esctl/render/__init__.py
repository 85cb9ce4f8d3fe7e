"""Presentation: the renderer commands write through, one module per `-o` format, rich tables
and progress bars. Only `esctl.cli` imports this package; nothing below the CLI does (the JSON
encoder both sides share is `esctl.encoding`, how values read is `esctl.display`)."""

from __future__ import annotations

from esctl.render.columns import Column, csv_value, plain, table_value
from esctl.render.renderer import Renderer
from esctl.render.views import Detail, Lines, Listing, Said

__all__ = [
    "Column",
    "Detail",
    "Lines",
    "Listing",
    "Renderer",
    "Said",
    "csv_value",
    "plain",
    "table_value",
]
