"""The read side, admin, completion and bench ask the store's ports and hold no SQL (issue 15).
(A scan of all of `esctl/` outside `esctl/store/` follows once every feature has moved.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import esctl

ROOT = Path(esctl.__file__).parent
MODULES = sorted(
    [
        *(ROOT / "read").glob("*.py"),
        *(ROOT / "admin").glob("*.py"),
        ROOT / "cli" / "completion.py",
        *(ROOT / "bench").glob("*.py"),
        ROOT / "reading.py",
        ROOT / "stats.py",
        ROOT / "tailing.py",
        ROOT / "schema.py",
    ]
)
SQL = re.compile(
    r"""["'][^"'\n]*\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|DROP|ALTER)\b"""
    r"""|\{(events|snapshots|checkpoints|esctl_schema|leases)\}"""
    r"""|\bsession\.(execute|executemany|fetchall|fetchone|fetchval|stream)\("""
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_holds_no_sql(path: Path) -> None:
    found = [
        f"{n}: {line.strip()}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == []


def test_the_scan_finds_sql_where_there_is_some() -> None:
    layout = (ROOT / "store" / "esctl_layout" / "event_log.py").read_text()
    assert SQL.search(layout)
