"""`esctl stats --by …` on a real Message DB prints exactly the tables of Message DB's own summary
views (`type_category_summary`, `category_type_summary`, `type_stream_summary`,
`stream_type_summary`, `type_summary`, `stream_summary`, which its mdb-print-*-summary tools
print): the same groups, counts, percentages and order. Messages written by message-db-py."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support import message_db as mdb
from tests.support.processes import run_cli

pytestmark = pytest.mark.postgres

# esctl's --by, Message DB's view, and the view's key columns as esctl names them.
VIEWS = [
    ("type-category", "type_category_summary", (("type", "event_type"), ("category", "category"))),
    ("category-type", "category_type_summary", (("category", "category"), ("type", "event_type"))),
    ("type-stream", "type_stream_summary", (("type", "event_type"), ("stream_name", "stream_id"))),
    ("stream-type", "stream_type_summary", (("stream_name", "stream_id"), ("type", "event_type"))),
    ("type", "type_summary", (("type", "event_type"),)),
    ("stream", "stream_summary", (("stream_name", "stream_id"),)),
]


def test_stats_by_prints_the_tables_of_message_dbs_summary_views(message_db_url: str) -> None:
    category = f"till{uuid.uuid4().hex[:6]}"
    client = mdb.client(message_db_url)
    try:
        for n in range(7):  # 7 of 3 types over 3 streams: percentages that need rounding
            client.write(f"{category}-{n % 3}", ("Opened", "Rang", "Closed")[n % 3], {"n": n})
        client.write(f"{category}:position-audit", "Recorded", {"position": 1})
    finally:
        client.connection_pool.closeall()
    for by, view, keys in VIEWS:
        result = run_cli("--store", message_db_url, "stats", "--by", by, "-o", "json")
        assert result.exit_code == 0, result.stderr
        stats = json.loads(result.stdout)
        assert stats["by"] == by
        own = mdb.function_rows(message_db_url, f"SELECT * FROM {view}", [])
        assert own, view
        expected = [
            {
                **{ours: row[theirs] for theirs, ours in keys},
                "events": int(row["message_count"]),
                "percent": float(row["percent"]),
            }
            for row in own
        ]
        assert stats["counts"] == expected, (by, view)
        total = mdb.function_rows(message_db_url, "SELECT count(*) AS n FROM messages", [])
        assert sum(c["events"] for c in stats["counts"]) == total[0]["n"] == stats["events"]
    shown = run_cli("--store", message_db_url, "stats", "--by", "type-stream", "--limit", "1")
    assert shown.exit_code == 0, shown.stderr
    assert "Events by type x stream" in shown.stdout
    assert "Showing the first 1 row of counts" in shown.stderr
