"""The `.json` array reader: line numbers stay right across its 1 MB read chunks, and it reads an
array in time linear in its size (it used to count newlines from the buffer's start for every
element, and scan the whole buffer for a backslash: 25x slower than JSON lines)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from esctl.append.decoding import Problem, iter_items
from esctl.append.sources import InputSource


def _array(path: Path, count: int, *, bad_at: int | None = None) -> Path:
    items = []
    for i in range(count):
        items.append("7" if i == bad_at else json.dumps({"stream_id": f"S-{i}", "pad": "x" * 60}))
    path.write_text("[\n" + ",\n".join(items) + "\n]\n")
    return path


def test_line_numbers_are_right_after_many_chunks(tmp_path: Path) -> None:
    count = 40_000  # about 3.5 MB: several chunks
    path = _array(tmp_path / "a.json", count)
    wheres = [where for where, _, _, _ in iter_items(InputSource("a.json", path, "document"))]
    assert len(wheres) == count
    assert wheres[0] == "a.json: item 0 (line 2)"
    assert wheres[-1] == f"a.json: item {count - 1} (line {count + 1})"


def test_a_problem_deep_in_a_big_array_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text("[\n" + ",\n".join(json.dumps({"i": i}) for i in range(100_000)) + ",\n}\n")
    items = list(iter_items(InputSource("b.json", path, "document")))
    where, problem, _, _ = items[-1]
    assert isinstance(problem, Problem)
    assert where == "b.json: line 100002"


def test_an_array_reads_about_as_fast_as_json_lines(tmp_path: Path) -> None:
    count = 100_000
    array = _array(tmp_path / "n.json", count)
    lines = tmp_path / "n.jsonl"
    lines.write_text(
        "".join(
            json.dumps(json.loads(line.rstrip(",\n"))) + "\n"
            for line in array.read_text().splitlines()[1:-1]
        )
    )

    def seconds(source: InputSource) -> float:
        started = time.perf_counter()
        assert sum(1 for _ in iter_items(source)) == count
        return time.perf_counter() - started

    as_lines = seconds(InputSource("n.jsonl", lines, "lines"))
    as_array = seconds(InputSource("n.json", array, "document"))
    # The reader that counted newlines from the buffer's start per element took 25x longer.
    assert as_array < as_lines * 4, (as_lines, as_array)
