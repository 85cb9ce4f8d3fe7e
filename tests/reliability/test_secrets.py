"""Secrets: a sentinel password given in a URL, a conninfo string, `PGPASSWORD` or `password_env`
never appears in the stdout or stderr of any command, in any format, with or without --verbose,
against an unreachable server and against a real one."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from esctl.cli.introspect import command_tree
from esctl.schema import init_store
from tests.conftest import Target, run_cli, seed_events, write_config
from tests.reliability.conftest import record, write_jsonl

pytestmark = pytest.mark.reliability

SENTINEL = "Sentinel-Pa55word-q7Zx"


def every_command(tmp_path: Path) -> list[list[str]]:
    """One invocation of every leaf command (writes included: a refused or failed write must not
    leak either)."""
    events = write_jsonl(
        tmp_path / "secret-events.jsonl",
        [{"stream_id": "Order-1", "event_type": "Placed", "data": {"n": 1}}],
    )
    return [
        ["init"],
        ["init", "--dry-run"],
        ["doctor"],
        ["config", "show"],
        ["config", "profiles"],
        ["config", "path"],
        ["config", "init", "--path", str(tmp_path / f"starter-{uuid.uuid4().hex[:6]}.yaml")],
        ["append", str(events)],
        ["read", "Order-1"],
        ["read", "--all"],
        ["events", "show", str(uuid.uuid4())],
        ["tail", "--all", "--from-start", "--max", "1", "--idle-timeout", "0.2"],
        ["streams", "list"],
        ["streams", "show", "Order-1"],
        ["stats"],
        ["checkpoints", "list"],
        ["checkpoints", "show", "sub"],
        ["checkpoints", "set", "sub", "--to-start", "--execute"],
        ["checkpoints", "delete", "sub", "--execute"],
        ["snapshots", "list"],
        ["snapshots", "show", "Order-1"],
        ["snapshots", "rebuild", "--all"],
        ["snapshots", "verify", "--all"],
        ["bench", "append", "--events", "20", "--batch-size", "10", "--warmup", "0"],
        ["sandbox", "--seed", str(tmp_path / "missing.jsonl")],  # refused: starts no server
    ]


def test_the_walk_covers_every_command(tmp_path: Path) -> None:
    leaves = {c.name for c in command_tree().walk() if not c.subcommands and c.path}
    walked = set()
    for args in every_command(tmp_path):
        words = [a for a in args if not a.startswith("-")]
        for size in (2, 1):
            if "esctl " + " ".join(words[:size]) in leaves:
                walked.add("esctl " + " ".join(words[:size]))
                break
    assert walked == leaves, f"not walked: {sorted(leaves - walked)}"


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or ""
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _profiles(
    url_without_password: str, conninfo_host: str, port: int | None
) -> dict[str, dict[str, str]]:
    port_part = f" port={port}" if port else ""
    return {
        "in-url": {"store": _with_password(url_without_password, SENTINEL)},
        "in-conninfo": {
            "store": f"host={conninfo_host}{port_part} password={SENTINEL} dbname=postgres"
        },
        "password-env": {"store": url_without_password, "password_env": "ESCTL_REL_SECRET"},
        "pgpassword": {"store": url_without_password},
    }


def _walk(
    config: Path,
    profiles: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    verbose: list[bool],
) -> int:
    monkeypatch.setenv("ESCTL_REL_SECRET", SENTINEL)
    monkeypatch.setenv("PGPASSWORD", SENTINEL)
    runs = 0
    for profile in profiles:
        for loud in verbose:
            for fmt in ("table", "json"):
                for args in every_command(tmp_path):
                    flags = ["-c", str(config), "-p", profile, "-o", fmt] + (["-v"] if loud else [])
                    result = run_cli(*flags, *args)
                    runs += 1
                    seen = result.stdout + result.stderr
                    assert SENTINEL not in seen, (profile, loud, fmt, args, seen[-3000:])
                    assert "Pa55word" not in seen, (profile, args)
    return runs


def test_no_secret_in_any_output_against_an_unreachable_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profiles = _profiles(f"postgresql://app@127.0.0.1:{port}/postgres", "127.0.0.1", port)
    for profile in profiles.values():
        profile["connect_timeout"] = "1"  # type: ignore[assignment]
    config = write_config(tmp_path / "secrets.yaml", profiles)
    runs = _walk(config, list(profiles), tmp_path, monkeypatch, verbose=[False, True])
    record("secrets: every command vs an unreachable server", runs=runs, leaks=0)


@pytest.mark.postgres
def test_no_secret_in_any_output_against_a_real_server(
    pg_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pg_target.open() as store:
        init_store(store)
        seed_events(store, [("Order-1", "Placed", {"n": 0})])
    parts = urlsplit(pg_target.url)
    base = _with_password(pg_target.url, "").replace(":@", "@", 1)
    host = parts.hostname or dict(
        p.split("=", 1) for p in parts.query.split("&") if p.startswith("host=")
    ).get("host", "")
    profiles = _profiles(base, host, parts.port)
    for profile in profiles.values():
        profile["schema"] = pg_target.schema
    config = write_config(tmp_path / "secrets.yaml", profiles)
    runs = _walk(config, list(profiles), tmp_path, monkeypatch, verbose=[True])
    ok = run_cli("-c", str(config), "-p", "in-url", "read", "Order-1", "-o", "jsonl")
    assert ok.exit_code == 0, ok.stderr  # the walk really reached the server
    record("secrets: every command vs the real server (-v)", runs=runs, leaks=0)
