"""`tail` on Message DB without loss: writers in four categories race (Message DB locks per
category, so global positions become visible out of order) while esctl tails; the complete output,
read after the process ended, holds every message exactly once. Writers are real clients:
message-db-py's write_batch and plain `SELECT message_store.write_message(…)` transactions that
stay open a moment after writing."""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

from tests.support import message_db as mdb
from tests.support.processes import esctl_command, run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.reliability]

WRITERS = 4
BATCHES = 40
PER_BATCH = 3


def _head(url: str) -> int:
    rows = mdb.function_rows(url, "SELECT coalesce(max(global_position), 0) AS h FROM messages", [])
    return int(rows[0]["h"])


def _sql_writer(url: str, category: str, ids: list[str], seed: int) -> None:
    pause = random.Random(seed)
    with psycopg.connect(url, options="-c search_path=message_store,public") as conn:
        for batch in range(BATCHES):
            with conn.transaction():
                for n in range(PER_BATCH):
                    message_id = str(uuid.uuid4())
                    conn.execute(
                        "SELECT message_store.write_message(%s, %s, 'Happened', %s::jsonb)",
                        [message_id, f"{category}-{batch % 5}", json.dumps({"n": n})],
                    )
                    ids.append(message_id)
                conn.execute("SELECT pg_sleep(%s)", [pause.random() * 0.02])


def _client_writer(url: str, category: str, ids: list[str], seed: int) -> None:
    client = mdb.client(url)
    try:
        for batch in range(BATCHES):
            before = {
                r["id"]
                for r in client.read(f"{category}-{batch % 5}", position=0, no_of_messages=10**6)
            }
            client.write_batch(
                f"{category}-{batch % 5}", [("Happened", {"n": n}) for n in range(PER_BATCH)]
            )
            after = client.read(f"{category}-{batch % 5}", position=0, no_of_messages=10**6)
            ids += [r["id"] for r in after if r["id"] not in before]
            time.sleep(random.Random(seed + batch).random() * 0.01)
    finally:
        client.connection_pool.closeall()


def _race(url: str) -> tuple[list[str], list[str]]:
    """Four writers in four categories at once; every id written, and the categories."""
    categories = [f"race{uuid.uuid4().hex[:6]}" for _ in range(WRITERS)]
    written: list[list[str]] = [[] for _ in range(WRITERS)]
    writers = [
        threading.Thread(
            target=_sql_writer if i % 2 == 0 else _client_writer,
            args=(url, categories[i], written[i], i),
        )
        for i in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    return [i for ids in written for i in ids], categories


def _tail(url: str, *args: str, total: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        esctl_command("--store", url, "tail", "--all", "--max", str(total), "-o", "jsonl", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(tail: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    """The tail's whole output once it ended (killed if it did not end in `timeout`)."""
    try:
        return tail.communicate(timeout=timeout)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.communicate()


def _ids(output: str) -> list[str]:
    return [json.loads(line)["event_id"] for line in output.splitlines() if line.strip()]


def test_tail_all_delivers_every_message_once_under_racing_categories(message_db_url: str) -> None:
    start = _head(message_db_url) + 1
    total = WRITERS * BATCHES * PER_BATCH
    tail = _tail(message_db_url, "--from-position", str(start), total=total)
    written, _ = _race(message_db_url)
    out, err = _finish(tail, 120)
    assert tail.returncode == 0, err
    delivered = _ids(out)
    assert len(written) == total
    lost = set(written) - set(delivered)
    duplicated = len(delivered) - len(set(delivered))
    assert (len(lost), duplicated) == (0, 0), (sorted(lost)[:5], duplicated)
    assert set(delivered) == set(written)


def test_tail_with_a_checkpoint_resumes_without_loss_and_records_its_position(
    message_db_url: str,
) -> None:
    name = f"esctl:position-tail{uuid.uuid4().hex[:6]}"
    start = _head(message_db_url) + 1
    total = WRITERS * BATCHES * PER_BATCH
    half = total // 2
    first = _tail(message_db_url, "--checkpoint", name, "--from-position", str(start), total=half)
    written, _ = _race(message_db_url)
    out1, err1 = _finish(first, 120)
    assert first.returncode == 0, err1
    second = _tail(message_db_url, "--checkpoint", name, total=total - half)
    out2, err2 = _finish(second, 120)
    assert second.returncode == 0, err2
    delivered = _ids(out1) + _ids(out2)
    lost = set(written) - set(delivered)
    duplicated = len(delivered) - len(set(delivered))
    assert (len(lost), duplicated) == (0, 0), (sorted(lost)[:5], duplicated)
    # The position is a Recorded message in the consumer's position stream, as Eventide's are.
    recorded: list[dict[str, Any]] = mdb.function_rows(
        message_db_url, "SELECT * FROM get_last_stream_message(%s)", [name]
    )
    assert recorded and recorded[0]["type"] == "Recorded"
    assert json.loads(recorded[0]["data"])["position"] >= start
    listed = json.loads(
        run_cli("--store", message_db_url, "checkpoints", "list", "-o", "json").stdout
    )
    assert name in [c.get("subscription_id", c.get("name")) for c in listed]


def test_a_message_visible_first_at_a_higher_position_waits_for_the_older_open_one(
    message_db_url: str,
) -> None:
    """Category X's transaction draws a position and stays open; category Y's message, at a higher
    position, commits first. A reader by global position would print Y's and then never go
    back; tail holds Y's back until X's transaction ends, then prints both, in commit order."""
    start = _head(message_db_url) + 1
    x, y = (f"{c}{uuid.uuid4().hex[:6]}-1" for c in ("x", "y"))
    tail = _tail(message_db_url, "--from-position", str(start), total=2)
    older = psycopg.connect(message_db_url, options="-c search_path=message_store,public")
    try:
        older.execute(
            "SELECT message_store.write_message(%s, %s, 'Held', '{}')", [str(uuid.uuid4()), x]
        )
        mdb.write_sql(message_db_url, (uuid.uuid4(), y, "Quick", {}))
        time.sleep(1.0)  # room for a wrong tail to print Y's message alone
        older.commit()
    finally:
        older.close()
    out, err = _finish(tail, 60)
    assert tail.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["stream_id"] for e in events] == [x, y]
    assert events[0]["global_position"] < events[1]["global_position"]
