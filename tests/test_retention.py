"""`retention:` rules and `esctl retention plan | apply` (SPEC "Lifecycle"), on both backends:
the plan (max_age, max_count per stream) changes nothing; `apply --execute` archives first when
`archive_dir:` is set (one verified file per category, audited with its sha256) and removes
exactly the plan; an archive a killed run left undeleted is finished first, not archived twice;
without `archive_dir:` the events are removed, audited; malformed rules are exit 2."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esctl.lifecycle.archive import ArchiveRequest, execute_archive, plan_archive
from esctl.lifecycle.retention import OPERATION
from esctl.store.lifecycle import Selection
from tests.support.data import write_config, write_jsonl
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_stream_delete import as_json, fingerprint, ok

OLD = "2020-01-01T00:00:00Z"


def _use(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **profile: object
) -> None:
    config = write_config(
        tmp_path / "ret.yaml", {"ret": {"store": target.url, "schema": target.schema, **profile}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "ret")


def _stored() -> list[tuple[str, int]]:
    return [(e["stream_id"], e["version"]) for e in as_json("read", "--all")]


def _archived(path: Path) -> list[str]:
    with gzip.open(path, "rt") as lines:
        return [json.loads(line)["event_id"] for line in lines]


def test_retention_plan_and_apply(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_environment: Path
) -> None:
    archive_dir = tmp_path / "archive"
    archive_dir.mkdir()
    rules = {"Session": {"max_age": "30d"}, "Order": {"max_count": 2}}
    _use(target, tmp_path, monkeypatch, retention=rules, archive_dir=str(archive_dir))
    ok("init")
    events = [
        *(
            {"stream_id": "Session-1", "type": "Seen", "data": {"n": n}, "created_at": OLD}
            for n in range(3)
        ),
        {"stream_id": "Session-1", "type": "Seen", "data": {"n": 3}},
        {"stream_id": "Session-2", "type": "Seen", "data": {}, "created_at": OLD},
        *({"stream_id": "Order-1", "type": "Placed", "data": {"n": n}} for n in range(4)),
        *({"stream_id": "Order-2", "type": "Placed", "data": {"n": n}} for n in range(2)),
        {"stream_id": "Customer-1", "type": "Joined", "data": {}, "created_at": OLD},
    ]
    ok("append", str(write_jsonl(isolated_environment / "in.jsonl", events)))
    original = {e["event_id"] for e in as_json("read", "--all")}
    before = fingerprint(target)
    plan = as_json("retention", "plan")
    by_category = {c["category"]: c for c in plan["categories"]}
    assert (by_category["Session"]["events"], by_category["Session"]["streams"]) == (4, 2)
    assert (by_category["Order"]["events"], by_category["Order"]["streams"]) == (2, 1)
    assert by_category["Order"]["archive"].startswith(str(archive_dir / "Order-"))
    assert "Would remove 6 events in 2 categories" in ok("retention", "apply").stdout
    assert fingerprint(target) == before and not list(archive_dir.iterdir())

    # A run killed after archiving Session's events but before deleting them left this archive.
    with target.open() as store:
        cutoff = datetime.now(UTC) - timedelta(days=30)
        request = ArchiveRequest(
            Selection(category="Session", before=cutoff),
            archive_dir / "Session-earlier.jsonl.gz",
            operation=OPERATION,
        )
        execute_archive(store, plan_archive(store, request))
    assert as_json("retention", "plan")["unfinished_archives"] == [str(request.path)]

    done = as_json("retention", "apply", "--execute")
    assert done["executed"] is True and done["events_deleted"] == 6  # 4 finished, 2 of Order
    assert _stored() == [("Session-1", 4), ("Order-1", 3), ("Order-1", 4), ("Order-2", 1),
                         ("Order-2", 2), ("Customer-1", 1)]  # fmt: skip
    files = sorted(p.name for p in archive_dir.glob("*.jsonl.gz"))
    assert len(files) == 2 and files[1] == "Session-earlier.jsonl.gz"  # no second Session file
    archived = [i for name in files for i in _archived(archive_dir / name)]
    stored = {e["event_id"] for e in as_json("read", "--all")}
    assert len(archived) == 6 and set(archived) | stored == original and not set(archived) & stored
    audits = [a for a in as_json("audit") if a["operation"] == "retention apply --delete"]
    assert len(audits) == 2 and all(a["manifest_sha256"] for a in audits)
    order = json.loads((archive_dir / f"{files[0]}.manifest.json").read_text())
    assert {a["manifest_sha256"] for a in audits} >= {order["sha256"]}
    assert as_json("retention", "plan")["events"] == 0

    # Without archive_dir: removed, audited.
    _use(target, tmp_path, monkeypatch, retention={"Customer": {"max_age": "1d"}})
    gone = as_json("retention", "apply", "--execute")
    assert gone["events_deleted"] == 1 and ("Customer-1", 1) not in _stored()
    (audit, *_) = as_json("audit")
    assert audit["operation"] == "retention apply" and audit["counts"]["events_deleted"] == 1


def test_retention_rules_are_checked(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(target, tmp_path, monkeypatch)
    ok("init")
    none = run_cli("retention", "plan")
    assert none.exit_code == 2 and "the profile has no retention: rules" in none.stderr
    _use(target, tmp_path, monkeypatch, retention={"Order": {"max_age": "soon"}})
    bad = run_cli("retention", "plan")
    assert bad.exit_code == 2 and "retention: Order: max_age" in bad.stderr
    _use(target, tmp_path, monkeypatch, retention={"Order": {"max_count": 0}})
    assert "max_count must be a whole number" in run_cli("retention", "plan").stderr
    _use(target, tmp_path, monkeypatch, retention={"Order": {"keep": 1}})
    assert "must have max_age and/or max_count" in run_cli("retention", "plan").stderr
