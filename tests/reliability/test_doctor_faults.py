"""`doctor` on stores that cannot be read: a corrupt or truncated SQLite file, a file that is not a
database, a statement timeout. Each is a failure with a message (exit 5), never "objects ok"."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.data import write_config
from tests.support.processes import run_cli
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

PAGE = 4096


def _good_store(tmp_path: Path) -> Path:
    path = tmp_path / "good.db"
    assert run_cli("-s", f"sqlite:///{path}", "init").exit_code == 0
    events = tmp_path / "e.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {"stream_id": f"Order-{n}", "event_type": "Placed", "data": {"n": "x" * 200}}
            )
            + "\n"
            for n in range(200)
        )
    )
    assert run_cli("-s", f"sqlite:///{path}", "append", str(events)).exit_code == 0
    # Fold the WAL into the file, so the damage below hits the only copy of the pages.
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _random_bytes(good: Path, bad: Path) -> None:
    bad.write_bytes(os.urandom(16 * PAGE))


def _text_file(good: Path, bad: Path) -> None:
    bad.write_text("this is not a database\n")


def _truncated_header(good: Path, bad: Path) -> None:
    bad.write_bytes(good.read_bytes()[:5000])


def _truncated_middle(good: Path, bad: Path) -> None:
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) // 2])


def _overwritten_data_page(good: Path, bad: Path) -> None:
    shutil.copy(good, bad)
    with bad.open("r+b") as handle:
        handle.seek(3 * PAGE)
        handle.write(b"\xff" * PAGE)


DAMAGE = [_random_bytes, _text_file, _truncated_header, _truncated_middle, _overwritten_data_page]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_doctor_on_a_damaged_sqlite_file_fails_with_a_message(
    tmp_path: Path, damage: object, fmt: str
) -> None:
    good = _good_store(tmp_path)
    bad = tmp_path / "bad.db"
    damage(good, bad)  # type: ignore[operator]
    before = bad.read_bytes()
    result = run_cli("-s", f"sqlite:///{bad}", "doctor", "-o", fmt)
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"Error: store sqlite:///{bad}"), result.stderr
    assert any(
        words in result.stderr
        for words in ("is corrupt", "not a database", "malformed", "disk image")
    ), result.stderr
    assert "all present" not in result.stdout
    assert "Run `esctl init`" not in result.stderr
    if fmt == "json":
        report = json.loads(result.stdout)
        assert (report["ok"], report["connected"], report["schema_checked"]) == (
            False,
            False,
            False,
        )
        assert report["error"] in result.stderr
    else:
        assert "FAIL" in result.stdout
    assert bad.read_bytes() == before, "doctor must not write to a damaged store"


def test_doctor_on_a_healthy_sqlite_file_shows_its_path_and_size(tmp_path: Path) -> None:
    good = _good_store(tmp_path)
    result = run_cli("-s", f"sqlite:///{good}", "doctor", "-o", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["schema_checked"] is True
    assert report["path"] == str(good.resolve())
    assert {"file": str(good.resolve()), "bytes": good.stat().st_size} in report["sizes"]
    table = run_cli("-s", f"sqlite:///{good}", "doctor")
    assert table.exit_code == 0
    assert f"{good.stat().st_size:,} bytes" in table.stdout


@pytest.mark.postgres
def test_doctor_after_a_statement_timeout_is_a_failure(
    pg_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    with pg_target.open() as store:
        from esctl.admin.init import init_store

        init_store(store)
    config = write_config(
        tmp_path / "t.yaml",
        {"t": {"store": pg_target.url, "schema": pg_target.schema, "statement_timeout": "50ms"}},
    )
    # Hold a lock that doctor's catalogue reads would wait for: the timeout cancels them.
    with psycopg.connect(pg_target.url) as blocker:
        blocker.execute(f'LOCK TABLE "{pg_target.schema}".esctl_schema IN ACCESS EXCLUSIVE MODE')
        result = run_cli("-c", str(config), "-p", "t", "doctor", "-o", "json")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert "statement was cancelled (statement_timeout 50 ms)" in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["schema_checked"] is False
