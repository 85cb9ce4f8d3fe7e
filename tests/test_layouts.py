"""The layout setting (SPEC "Other event stores"): which products' tables a store holds decides the
adapter esctl uses. A PostgreSQL product's layout named for a store that cannot hold it (SQLite)
is refused up front (exit 2, one line) and nothing is written. A command that needs a capability
the store's layout lacks is refused the same way (`esctl.ports.require`)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from esctl.capabilities import LACKS, Capabilities, require
from esctl.errors import UsageError
from esctl.store.detect import detect_layout
from tests.support.processes import run_cli
from tests.support.stores import Target

# Each on its real product: tests/test_message_db.py, tests/test_emmett.py, tests/test_eventsourcing.py
OTHER_LAYOUTS = ["emmett", "message-db"]


@pytest.mark.parametrize("layout", OTHER_LAYOUTS)
def test_a_layout_the_store_cannot_hold_is_refused_before_any_work(
    initialised: Target, layout: str
) -> None:
    """On SQLite: exit 2 (the layout is a PostgreSQL product's). On PostgreSQL, in esctl's own
    schema: exit 7 (the product's tables are not there), and doctor does not offer `esctl init`."""
    sqlite = initialised.backend == "sqlite"
    before = json.loads(run_cli("stats", "--exact", "-o", "json").stdout)
    appended = run_cli(
        "--layout", layout, "append", "-", input='{"stream_id": "A-1", "event_type": "X"}\n'
    )
    assert appended.exit_code == (2 if sqlite else 7) or (layout, appended.exit_code) == (
        "emmett",
        2,  # refused by its capabilities before the schema is looked at
    ), appended.stderr
    lines = appended.stderr.splitlines()
    if sqlite:
        assert lines[0].startswith(f"Error: the {layout} layout is a PostgreSQL database"), lines
    assert len([line for line in lines if line.startswith("Error:")]) == 1
    for command in (["read", "--all"], ["doctor"], ["checkpoints", "list"], ["tail", "--all"]):
        result = run_cli("--layout", layout, *command)
        assert result.exit_code == (2 if sqlite else 7), (command, result.stderr)
        assert command == ["doctor"] or result.stdout == "", command
        assert "esctl init" not in result.stdout + result.stderr, command
    after = json.loads(run_cli("stats", "--exact", "-o", "json").stdout)
    assert after["events"] == before["events"]


def test_the_layout_comes_from_the_environment_and_doctor_says_which_and_why(
    initialised: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    detected = json.loads(run_cli("doctor", "-o", "json").stdout)
    assert (detected["layout"], detected["layout_reason"]) == (
        "esctl",
        "auto: esctl's own (no other layout's tables found)",
    )
    monkeypatch.setenv("ESCTL_LAYOUT", "esctl")
    configured = json.loads(run_cli("doctor", "-o", "json").stdout)
    assert (configured["layout"], configured["layout_reason"]) == (
        "esctl",
        "layout esctl as configured",
    )
    monkeypatch.setenv("ESCTL_LAYOUT", "emmett")
    refused = run_cli("doctor", "-o", "json")
    if initialised.backend == "sqlite":
        assert refused.exit_code == 2
        assert "the emmett layout is a PostgreSQL database" in refused.stderr
    else:  # esctl's schema holds none of Emmett's tables
        assert refused.exit_code == 7, refused.stderr
        report = json.loads(refused.stdout)
        missing = f"table {initialised.schema}.emt_messages"
        assert report["layout"] == "emmett" and missing in report["missing"]


def test_init_with_another_layout_creates_nothing(tmp_path: Path) -> None:
    """esctl never creates or alters another product's schema (SPEC)."""
    path = tmp_path / "new.db"
    result = run_cli("--store", f"sqlite:///{path}", "--layout", "emmett", "init")
    assert result.exit_code == 2, result.stderr
    assert not path.exists()


class _Store:
    """What `require` reads of a store: its capabilities and its layout's name."""

    def __init__(self, capabilities: Capabilities, layout: str) -> None:
        self.capabilities = capabilities
        self.layout = type("L", (), {"name": layout})()


@pytest.mark.parametrize("capability", sorted(LACKS))
def test_a_missing_capability_refuses_the_command_in_one_line(capability: str) -> None:
    lacking = _Store(Capabilities(**{capability: False}), "eventsourcing")
    with pytest.raises(UsageError) as refused:
        require(lacking, capability, "snapshots rebuild")
    assert refused.value.exit_code == 2
    assert refused.value.message == (
        f"snapshots rebuild refused: the eventsourcing layout {LACKS[capability]}"
    )
    assert "\n" not in refused.value.message
    require(_Store(Capabilities(**{capability: True}), "esctl"), capability, "snapshots rebuild")


def test_every_capability_has_its_refusal_and_no_refusal_lacks_a_capability() -> None:
    assert {f.name for f in fields(Capabilities)} == set(LACKS)
    with pytest.raises(ValueError, match="no capability 'has_wings'"):
        require(_Store(Capabilities(), "esctl"), "has_wings", "fly")


def test_the_esctl_layout_declares_copy_only_on_postgresql(target: Target) -> None:
    with target.open() as store:
        layout, reason = detect_layout(store)
        assert layout.name == "esctl" and reason.startswith("auto")
        assert layout.capabilities.has_copy is (target.backend == "postgresql")
        assert layout.capabilities.can_append and layout.capabilities.live_cursor
