"""Documentation that cannot drift: docs/cli.md is the app's own help, every command has an example,
the --help overview is grouped by task, and the README's quick start runs as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from esctl.cli.app import DOCS_URL, PANELS, app
from esctl.cli.introspect import command_tree
from tests.support.processes import run_cli
from tests.test_completion import load_script

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE_EVENTS = [
    json.loads(line) for line in (ROOT / "examples" / "orders.jsonl").read_text().splitlines()
]
# The install steps of the quick start: replaced by the esctl this test session runs.
INSTALL_STEP = re.compile(
    r"^(python3? -m venv\b|\S*pip3? install\b|\. \S*activate$|source \S*activate$)"
)


def test_cli_reference_is_current() -> None:
    generator = load_script("generate_docs")
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == generator.render(command_tree()), "docs/cli.md is stale: run `make docs`"


def test_cli_reference_documents_every_command_and_option_with_an_example() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    sections = {s.split("\n", 1)[0]: s for s in text.split("\n## ")[1:]}
    for command in command_tree().walk()[1:]:
        section = sections.get(command.name)
        assert section is not None, f"docs/cli.md has no section for {command.name}"
        assert "**Examples**\n\n```sh\nesctl" in section, f"{command.name} has no example"
        for option in command.options:
            if "--help" not in option.names:
                assert f"`{option.names[0]}`" in section


def test_every_group_has_an_example_too() -> None:
    for command in command_tree().walk():
        assert "Example" in command.epilog, f"{command.name} --help has no example"


def test_help_overview_is_grouped_by_task() -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    overview = result.stdout.split("Options")[0]
    positions = [overview.find(task) for task in ("Set up", "Write", "Read", "Operate", "Measure")]
    assert -1 not in positions and positions == sorted(positions)
    assert "Exit codes" in result.stdout
    # A pip user has no docs/cli.md: the help points at the guide's URL instead.
    assert DOCS_URL in result.stdout and "docs/cli.md" not in result.stdout
    # The panels come in the overview's order too.
    panels = [result.stdout.find(f"─ {task} ─") for task in PANELS]
    assert -1 not in panels and panels == sorted(panels)


def _all_help_pages() -> dict[str, str]:
    pages = {}
    for command in command_tree().walk():
        result = CliRunner().invoke(app, [*command.path, "--help"], env={"COLUMNS": "250"})
        assert result.exit_code == 0, command.name
        pages[command.name] = result.stdout
    return pages


def test_live_help_uses_the_metavars_of_the_reference() -> None:
    pages = _all_help_pages()
    for name, page in pages.items():
        for raw in ("<str>", "<int", "<float", "INT RANGE", "x>=", "{FILE", "{STREAM", "{NAME"):
            assert raw not in page, f"{name} --help shows {raw!r}"
    for command in command_tree().walk():
        page = " ".join(pages[command.name].split())
        usage = command.usage.split(" ", 1 + len(command.path))[-1]
        assert usage in page, f"{command.name}: {usage!r} not in --help"
        for option in command.options:
            if option.metavar:
                assert f"{option.names[0]} " in page and f" {option.metavar} " in page
    tail = " ".join(pages["esctl tail"].split())
    assert "--idle-timeout DURATION" in tail and "--max N" in tail
    assert "Usage: esctl append [OPTIONS] FILE..." in " ".join(pages["esctl append"].split())
    read = next(c for c in command_tree().walk() if c.name == "esctl read")
    assert {o.names[0]: o.metavar for o in read.options}["--since"] == "TIME"


def test_help_paragraphs_are_wrapped_by_the_formatter_not_the_docstring() -> None:
    # At 200 columns a paragraph of under 200 characters is one line: no break mid-sentence.
    result = CliRunner().invoke(app, ["tail", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert any(
        line.startswith("No event is skipped") and "--checkpoint, tail resumes" in line
        for line in lines
    ), result.stdout
    assert "With" not in [line.split()[-1] for line in lines if line.split()]


# --- the README's quick start, run literally --------------------------------------------------


def quick_start_blocks() -> list[str]:
    """The fenced shell blocks under the README's "Quick start" heading, in order."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^(#+) Quick start\b.*$", text, flags=re.MULTILINE)
    assert match, "README.md has no Quick start heading"
    level = len(match.group(1))
    section = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", section, flags=re.MULTILINE)
    section = section[: end.start()] if end else section
    return re.findall(r"^```(?:sh|bash|shell|console)?\n(.*?)^```", section, re.DOTALL | re.M)


def esctl_commands(block: str) -> list[str]:
    """Each esctl command of a block, literally, without the install steps and comments."""
    commands = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for step in (s.strip() for s in line.split("&&")):
            if INSTALL_STEP.match(step):
                continue
            assert step.startswith("esctl "), f"unexpected quick-start step: {step!r}"
            commands.append(step)
    return commands


def _require_registered(commands: list[str]) -> None:
    """Every command the quick start uses must exist: a renamed or removed one fails here."""
    registered = {c.path[0] for c in command_tree().subcommands}
    missing = sorted({shlex.split(c)[1] for c in commands} - registered)
    assert not missing, f"the README quick start uses unknown commands: {', '.join(missing)}"


def _sandbox(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A fresh directory holding what a clone has (examples/), and the installed esctl on PATH."""
    work = tmp_path / "clone"
    shutil.copytree(ROOT / "examples", work / "examples")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    return work, env


def _run(command: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; {command}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_quick_start_extracts_as_expected() -> None:
    blocks = quick_start_blocks()
    assert len(blocks) >= 2
    first = esctl_commands(blocks[0])
    assert first[0] == "esctl init"
    assert any(c.startswith("esctl append") for c in first)


def test_readme_quick_start_runs_as_written(tmp_path: Path) -> None:
    commands = esctl_commands(quick_start_blocks()[0])
    _require_registered(commands)
    work, env = _sandbox(tmp_path)
    result = _run(" && ".join(commands), work, env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (work / "events.db").is_file()
    for event in EXAMPLE_EVENTS:
        assert event["stream_id"] in result.stdout
        assert event["event_type"] in result.stdout


def test_readme_then_try_commands_run_as_written(tmp_path: Path) -> None:
    blocks = quick_start_blocks()
    setup, then_try = esctl_commands(blocks[0]), esctl_commands(blocks[1])
    _require_registered(setup + then_try)
    work, env = _sandbox(tmp_path)
    assert _run(" && ".join(setup), work, env).returncode == 0
    for command in then_try:
        if command.startswith("esctl tail"):
            _check_tail_stops_cleanly_on_ctrl_c(command, work, env)
            continue
        result = _run(command, work, env)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert "Traceback" not in result.stderr
        if command.startswith("esctl read Order-1001"):
            assert "PaymentReceived" in result.stdout and "Order-1002" not in result.stdout
        if "backup.jsonl" in command:
            lines = (work / "backup.jsonl").read_text().splitlines()
            assert [json.loads(line)["event_id"] for line in lines] == [
                e["event_id"] for e in EXAMPLE_EVENTS
            ]
        if command.startswith("esctl streams list"):
            assert {"Order-1001", "Order-1002", "Customer-7"} <= set(result.stdout.split())


def _check_tail_stops_cleanly_on_ctrl_c(command: str, work: Path, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        shlex.split(command),
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # long enough to be following; not a timing assertion
        assert process.poll() is None, "tail exited on its own"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
