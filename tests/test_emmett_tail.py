"""`tail` on Emmett without loss: four Node processes append through Emmett's own event store at
once (4 categories, 2 streams each) while esctl tails `--all`, one category and one stream; the
complete output of each tail, read after it ended, holds every message of its selection exactly
once. And a message whose transaction (held open by an Emmett inline projection) drew a lower
global position than one committed before it is not skipped: tail holds the later one back until
the older transaction ends, then prints both in (transaction_id, global_position) order."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support import emmett
from tests.support.processes import esctl_command

pytestmark = [pytest.mark.postgres, pytest.mark.reliability]

WRITERS = 4
PER_WRITER = 60


@pytest.fixture(scope="module")
def store(pg_server_url: str) -> Iterator[tuple[Path, str]]:
    folder = emmett.install()
    name = f"esctl_emtt_{uuid.uuid4().hex[:8]}"
    url = emmett.create_database(pg_server_url, name)
    try:
        emmett.run(folder, url, "seed", "first")  # Emmett creates its schema on first use
        yield folder, url
    finally:
        emmett.drop_database(pg_server_url, name)


def _head(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(max(global_position), 0) FROM emt_messages").fetchone()
    assert row is not None
    return int(row[0])


def _tail(url: str, *selection: str, start: int, total: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        esctl_command(
            "--store",
            url,
            "tail",
            *selection,
            "--from-position",
            str(start),
            "--max",
            str(total),
            "-o",
            "jsonl",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(tail: subprocess.Popen[str], timeout: float = 180) -> list[dict[str, object]]:
    try:
        out, err = tail.communicate(timeout=timeout)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.communicate()
    assert tail.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _lost_and_duplicated(written: list[str], delivered: list[dict[str, object]]) -> tuple[int, int]:
    ids = [str(e["event_id"]) for e in delivered]
    return len(set(written) - set(ids)), len(ids) - len(set(ids))


def test_tail_delivers_every_message_once_under_four_emmett_writers(
    store: tuple[Path, str],
) -> None:
    folder, url = store
    start = _head(url) + 1
    categories = [f"race{uuid.uuid4().hex[:6]}" for _ in range(WRITERS)]
    tails = {
        "all": _tail(url, "--all", start=start, total=WRITERS * PER_WRITER),
        "category": _tail(url, "--category", categories[1], start=start, total=PER_WRITER),
        "stream": _tail(url, f"{categories[2]}-0", start=start, total=PER_WRITER // 2),
    }
    writers = [emmett.start(folder, url, "write", c, str(PER_WRITER)) for c in categories]
    written = [emmett.finish(w)["ids"] for w in writers]
    delivered = {name: _finish(tail) for name, tail in tails.items()}
    everything = [i for ids in written for i in ids]
    assert len(everything) == len(set(everything)) == WRITERS * PER_WRITER
    assert _lost_and_duplicated(everything, delivered["all"]) == (0, 0)
    assert len(delivered["all"]) == WRITERS * PER_WRITER
    assert _lost_and_duplicated(written[1], delivered["category"]) == (0, 0)
    assert {e["stream_id"] for e in delivered["category"]} == {
        f"{categories[1]}-0",
        f"{categories[1]}-1",
    }
    stream_ids = [e["event_id"] for e in delivered["stream"]]
    assert {e["stream_id"] for e in delivered["stream"]} == {f"{categories[2]}-0"}
    assert len(stream_ids) == len(set(stream_ids)) == PER_WRITER // 2
    assert set(stream_ids) <= set(written[2])
    # Each stream's messages come in version order.
    for name in ("all", "category"):
        versions: dict[object, list[object]] = {}
        for e in delivered[name]:
            versions.setdefault(e["stream_id"], []).append(e["version"])
        assert all(v == sorted(v) for v in versions.values()), name


def test_a_lower_position_committed_later_is_not_skipped(
    store: tuple[Path, str],
) -> None:
    folder, url = store
    start = _head(url) + 1
    slow, quick = (f"{c}{uuid.uuid4().hex[:6]}-1" for c in ("slow", "quick"))
    tail = _tail(url, "--all", start=start, total=2)
    held = emmett.start(folder, url, "slow", slow, "6000")
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(300):  # until the held transaction has drawn its global position
            if _sequence(conn) >= start:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the held Emmett append never drew a global position")
    quick_ids = emmett.run(folder, url, "write", quick.rsplit("-", 1)[0], "1")["ids"]
    assert held.poll() is None, "the held transaction ended before the quick one committed"
    slow_ids = emmett.finish(held)["ids"]
    events = _finish(tail, 60)
    assert [e["event_id"] for e in events] == slow_ids + quick_ids
    assert events[0]["global_position"] < events[1]["global_position"]


def _sequence(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM emt_global_message_position"
    ).fetchone()
    assert row is not None
    return int(row[0])
