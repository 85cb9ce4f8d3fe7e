"""Every `esctl …` command in README.md runs, in order, against the quick-start store (exit 0).

The README is read top to bottom as a new user would: the quick start first (its install steps are
replaced by the esctl of this test session), then each shell block in a directory that holds what a
clone has (examples/). A block's `export VAR=…` holds for that block only. Commands that cannot run
here are in SKIPPED, commands that would not end or would take minutes are rewritten by ADAPTED:
both say why, and a README command that matches neither runs as written.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE_STORE = "postgresql://esctl@db.example.com/app"  # the PostgreSQL section's placeholder
INSTALL_STEP = re.compile(
    r"^(python3? -m venv\b|\S*pip3? install\b|\. \S*activate$|source \S*activate$)"
)

# Commands that are not run, each with the reason.
SKIPPED = {
    "esctl -p staging bench append --events 100000 --writers 4 --batch-size 500": (
        "names the sample config's staging server (staging-db), which does not exist here; "
        "bench on a real server is tests/test_bench.py"
    ),
    "esctl metrics serve --listen 127.0.0.1:9464": (
        "serves until Ctrl-C; covered by tests/test_metrics.py on a free port"
    ),
    "esctl sandbox --seed examples/orders.jsonl": (
        "serves a PostgreSQL until Ctrl-C; covered by tests/test_sandbox.py"
    ),
}
# Rewrites that keep a command's meaning but let it end (quickly): (pattern, replacement, why).
ADAPTED = [
    (
        r"^esctl tail (?!.*--idle-timeout)",
        "esctl tail --idle-timeout 1 ",
        "tail follows forever; --idle-timeout ends it once it is caught up",
    ),
    (
        r"^(esctl (?:-p \S+ )?bench(?! --compare)[^>|]*?)(\s*[>|].*)?$",
        r"\1 --events 200 --rate 2000 --duration 0.1\2",
        "bench's defaults run for tens of seconds (the tail phase at 1,000 events/s)",
    ),
]


def fenced_blocks() -> list[tuple[str, str]]:
    """Every fenced block of the README as (language tag, text), in order."""
    blocks: list[tuple[str, str]] = []
    tag: str | None = None
    lines: list[str] = []
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if tag is None:
                tag, lines = line[3:].strip(), []
            else:
                blocks.append((tag, "\n".join(lines) + "\n"))
                tag = None
        elif tag is not None:
            lines.append(line)
    assert tag is None, "README.md has an unclosed code block"
    return blocks


def readme_blocks() -> list[str]:
    """Every fenced shell block of the README, in order."""
    return [text for tag, text in fenced_blocks() if tag in ("sh", "bash", "shell", "console")]


def commands(block: str) -> Iterator[str]:
    """The steps of a block: `esctl …` commands (pipelines and redirections kept whole) and
    `export` lines; comments, install steps and other tools (cp, mkdir, make) left out."""
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for step in (s.strip() for s in line.split("&&")):
            if INSTALL_STEP.match(step):
                continue
            if step.startswith("export ") or re.search(r"(^|\| )esctl ", step):
                yield step


def adapted(command: str) -> str:
    for pattern, replacement, _why in ADAPTED:
        command = re.sub(pattern, replacement, command)
    return command


def test_every_command_block_is_tagged_as_shell() -> None:
    # An untagged block would be left out of the run below without anyone noticing.
    for tag, block in fenced_blocks():
        if tag not in ("sh", "bash", "shell", "console"):
            assert not re.search(r"^esctl ", block, re.M), f"untagged block with commands: {block}"


def test_the_readme_uses_no_stream_the_quick_start_does_not_create() -> None:
    text = README.read_text(encoding="utf-8")
    assert "Order-5f1c" not in text and "orders-projection" not in text
    assert "esctl read --all -o jsonl | esctl -s sqlite:///copy.db append -" in text


def test_skips_and_rewrites_are_still_needed() -> None:
    # A skip or rewrite that matches no README command any more must go.
    everything = [c for block in readme_blocks() for c in commands(block)]
    for command in SKIPPED:
        assert command in everything, f"SKIPPED entry not in README: {command}"
    for pattern, _replacement, _why in ADAPTED:
        assert any(re.search(pattern, c) for c in everything), f"ADAPTED {pattern} matches nothing"


@pytest.fixture
def readme_database(pg_server_url: str) -> Iterator[str]:
    """A database of its own on the test server, for the PostgreSQL section's commands."""
    import psycopg

    name = f"esctl_readme_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(pg_server_url, dbname=name)
    yield url
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    from tests.test_docs import _sandbox

    work, env = _sandbox(tmp_path)
    env.pop("ESCTL_STORE", None)
    env.pop("ESCTL_PROFILE", None)
    env.pop("ESCTL_CONFIG", None)
    return work, env


def test_every_readme_command_runs_against_the_quick_start_store(
    tmp_path: Path, readme_database: str
) -> None:
    work, base_env = _clone(tmp_path)
    ran: list[str] = []
    for block in readme_blocks():
        env = dict(base_env)  # an export holds for its block only
        for command in commands(block):
            if command.startswith("export "):
                name, _, value = command[len("export ") :].partition("=")
                env[name] = readme_database if value == EXAMPLE_STORE else value
                continue
            if command in SKIPPED:
                continue
            shell = adapted(command)
            result = subprocess.run(
                ["bash", "-c", f"set -euo pipefail; {shell}"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert result.returncode == 0, f"{shell}\nexit {result.returncode}\n{result.stderr}"
            assert "Traceback" not in result.stderr, shell
            ran.append(shell)
    assert ran[0] == "esctl init" and len(ran) > 40
    # The copy-a-store pipeline copied every event.
    copy = subprocess.run(
        ["esctl", "-s", "sqlite:///copy.db", "read", "--all", "-o", "jsonl"],
        cwd=work,
        env=base_env,
        capture_output=True,
        text=True,
    )
    original = subprocess.run(
        ["esctl", "read", "--all", "-o", "jsonl"],
        cwd=work,
        env=base_env,
        capture_output=True,
        text=True,
    )
    assert copy.returncode == 0 and original.returncode == 0
    assert len(copy.stdout.splitlines()) >= 6
    copied_ids = [json.loads(line)["event_id"] for line in copy.stdout.splitlines()]
    original_ids = [json.loads(line)["event_id"] for line in original.stdout.splitlines()]
    assert copied_ids == original_ids[: len(copied_ids)]  # the copy was made midway through
    # Whatever the README's commands left in the clone is ignored by git.
    made = [p.name for p in work.iterdir() if p.name != "examples"]
    assert "backup.jsonl" in made and "events.db" in made
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *made], cwd=ROOT, capture_output=True, text=True
    )
    assert sorted(ignored.stdout.split()) == sorted(made), f"not ignored: {made}"


def test_adapted_commands_keep_their_meaning() -> None:
    assert adapted("esctl tail --all -o jsonl") == "esctl tail --idle-timeout 1 --all -o jsonl"
    assert adapted("esctl tail --all --max 3 --idle-timeout 5") == (
        "esctl tail --all --max 3 --idle-timeout 5"
    )
    assert adapted("esctl bench all -o json > before.json") == (
        "esctl bench all -o json --events 200 --rate 2000 --duration 0.1 > before.json"
    )
    assert adapted("esctl bench --compare a.json b.json") == "esctl bench --compare a.json b.json"
    assert shlex.split(adapted("esctl bench"))[2:4] == ["--events", "200"]
    assert adapted("esctl bench tail --rate 2000 --duration 10").endswith("--duration 0.1")
