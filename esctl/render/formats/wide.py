"""`-o wide`: the tables of `-o table` that never cut a value nor leave a column out; a
column that does not fit folds onto more lines instead."""

from __future__ import annotations

from esctl.render.formats.table import TableFormat


class WideFormat(TableFormat):
    name = "wide"
    help = "tables that fold, never cut, a value"
    wide = True
