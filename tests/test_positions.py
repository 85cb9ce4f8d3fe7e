"""Positions are not commit order on PostgreSQL. Starting from a position (`tail --from-position`,
a checkpoint the seed's subscriber wrote, `checkpoints set --position`) must not skip an event of
an older transaction that got a higher position."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from esctl.admin.init import init_store
from tests.support.data import write_config
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_tail_postgres import seed_insert

pytestmark = pytest.mark.postgres


@pytest.fixture
def initialised(pg_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    """The CLI pointed at a PostgreSQL schema (these cases cannot happen on SQLite)."""
    config = write_config(
        tmp_path / "pg.yaml", {"pg": {"store": pg_target.url, "schema": pg_target.schema}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "pg")
    return pg_target


@pytest.fixture
def inverted(initialised: Target) -> dict[str, Any]:
    """Transaction A writes `a1`, B writes `b` and commits, then A writes `a2` and commits:
    positions a1 < b < a2, but A's transaction id is the older one."""
    with initialised.open() as store:
        init_store(store)
    schema = initialised.schema
    ids: dict[str, Any] = {}
    with (
        psycopg.connect(initialised.url, autocommit=True) as a,
        psycopg.connect(initialised.url, autocommit=True) as b,
    ):
        with a.transaction():
            ids["a1"] = seed_insert(a, schema, "Inv-a", 1)
            with b.transaction():
                ids["b"] = seed_insert(b, schema, "Inv-b", 1)
            ids["a2"] = seed_insert(a, schema, "Inv-a", 2)
        rows = a.execute(
            psycopg.sql.SQL(
                "SELECT id::text, global_position, transaction_id::text::bigint FROM {} "
                "ORDER BY global_position"
            ).format(psycopg.sql.Identifier(schema, "events"))
        ).fetchall()
    position = {row[0]: row[1] for row in rows}
    xid = {row[0]: row[2] for row in rows}
    assert position[ids["a1"]] < position[ids["b"]] < position[ids["a2"]]
    assert xid[ids["a2"]] < xid[ids["b"]], "the setup must invert commit and position order"
    ids["position"] = {name: position[ids[name]] for name in ("a1", "b", "a2")}
    return ids


def _tailed(*args: str) -> list[str]:
    result = run_cli("tail", "--all", "--idle-timeout", "1", "-o", "jsonl", *args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line)["event_id"] for line in result.stdout.splitlines()]


def test_tail_from_position_does_not_skip_an_older_transaction(inverted: dict[str, Any]) -> None:
    delivered = _tailed("--from-position", str(inverted["position"]["b"]))
    assert sorted(delivered) == sorted([inverted["b"], inverted["a2"]])


def test_taking_over_a_seed_checkpoint_does_not_skip(
    inverted: dict[str, Any], initialised: Target
) -> None:
    with psycopg.connect(initialised.url, autocommit=True) as conn:
        conn.execute(  # the seed subscriber: position only
            psycopg.sql.SQL(
                "INSERT INTO {} (subscription_id, last_position) VALUES ('seedsub', %s)"
            ).format(psycopg.sql.Identifier(initialised.schema, "subscription_checkpoints")),
            [inverted["position"]["b"]],
        )
    listed = run_cli("checkpoints", "list", "-o", "json")
    assert json.loads(listed.stdout)[0]["lag"] >= 1, "a2 is pending: lag cannot be 0"
    delivered = _tailed("--checkpoint", "seedsub")
    assert inverted["a2"] in delivered, "the older transaction's later event was skipped"
    assert _tailed("--checkpoint", "seedsub") == [], "tail saved an exact cursor afterwards"


def test_set_position_does_not_skip(inverted: dict[str, Any]) -> None:
    moved = run_cli(
        "checkpoints", "set", "mover", "--position", str(inverted["position"]["b"]), "--execute"
    )
    assert moved.exit_code == 0, moved.stderr
    delivered = _tailed("--checkpoint", "mover")
    assert inverted["a2"] in delivered
