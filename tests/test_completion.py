"""Shell completion: the committed scripts are current, bash really completes, and the dynamic
completers (profiles, streams, subscriptions) are bounded and silent on failure."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from esctl.cli.completion import (
    MAX_CANDIDATES,
    complete_profile,
    complete_stream,
    complete_subscription,
    completion_args,
    profile_names,
    stream_ids,
    subscription_names,
)
from esctl.store.base import Store
from tests.support.data import seed_events, write_config
from tests.support.stores import Target

ROOT = Path(__file__).resolve().parent.parent
BASH_SCRIPT = ROOT / "completions" / "esctl.bash"


def load_script(name: str) -> ModuleType:
    """A generator from scripts/ as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_completion_scripts_are_current() -> None:
    generator = load_script("generate_completions")
    for relative, content in generator.rendered().items():
        committed = (ROOT / relative).read_text(encoding="utf-8")
        assert committed == content, f"{relative} is stale: run `make completions`"


def test_completion_scripts_know_every_command() -> None:
    from esctl.cli.introspect import command_tree

    bash = BASH_SCRIPT.read_text(encoding="utf-8")
    fish = (ROOT / "completions" / "esctl.fish").read_text(encoding="utf-8")
    for command in command_tree().walk()[1:]:
        assert f"'{' '.join(command.path)}')" in bash
        assert f"'{' '.join(command.path)}'" in fish


# --- bash, for real: source the script and call the function as bash does on Tab --------------


def bash_complete(*words: str, cwd: Path | None = None) -> list[str]:
    """What Tab offers after `words` (the last one is the word being completed)."""
    bin_dir = str(Path(sys.executable).parent)  # the installed `esctl` for dynamic callbacks
    script = (
        f"source {BASH_SCRIPT}\n"
        'COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()\n'
        "_esctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script, "bash", *words],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


def test_bash_registers_the_completion_function() -> None:
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f"source {BASH_SCRIPT}; complete -p esctl"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.strip() == "complete -o default -F _esctl esctl"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("esctl", "d"), ["doctor"]),
        (("esctl", "config", "p"), ["profiles", "path"]),
        (("esctl", "-o", "json", "config", "sh"), ["show"]),
        (("esctl", "--output", "j"), ["json", "jsonl"]),
        (("esctl", "init", "--output", "c"), ["csv"]),
        (("esctl", "--output", "=", "t"), ["table"]),
        (("esctl", "--output", "="), ["=table", "=json", "=jsonl", "=csv", "=wide"]),
        (("esctl", "init", "--d"), ["--dry-run"]),
        (("esctl", "config", "init", "--f"), ["--force"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_bash_completes_commands_options_and_choices(
    words: tuple[str, ...], expected: list[str]
) -> None:
    assert bash_complete(*words) == expected


def test_bash_offers_every_top_level_command() -> None:
    from esctl.cli.introspect import command_tree

    assert bash_complete("esctl", "") == [c.path[0] for c in command_tree().subcommands]


def test_bash_offers_global_options_after_the_command_name() -> None:
    offered = bash_complete("esctl", "doctor", "--")
    assert "--output" in offered and "--profile" in offered and "--store" in offered
    assert offered.count("--help") == 1


def test_bash_completes_profile_names_from_the_config_file(isolated_environment: Path) -> None:
    write_config(
        isolated_environment / "esctl.yaml",
        {"local": {"store": "sqlite:///a.db"}, "prod": {}, "staging": {}},
    )
    assert bash_complete("esctl", "-p", "", cwd=isolated_environment) == [
        "local",
        "prod",
        "staging",
    ]
    # Global options are hoisted, as esctl's parser does, wherever they are typed.
    assert bash_complete("esctl", "config", "show", "-p", "st", cwd=isolated_environment) == [
        "staging"
    ]
    assert bash_complete("esctl", "--profile", "=", "p", cwd=isolated_environment) == ["prod"]


def test_bash_profile_completion_is_silent_on_a_broken_config(isolated_environment: Path) -> None:
    (isolated_environment / "esctl.yaml").write_text("profiles: [unclosed\n")
    assert bash_complete("esctl", "-p", "", cwd=isolated_environment) == []


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_and_profiles(isolated_environment: Path) -> None:
    write_config(isolated_environment / "esctl.yaml", {"local": {}, "prod": {}})
    script = ROOT / "completions" / "esctl.fish"
    bin_dir = str(Path(sys.executable).parent)
    result = subprocess.run(
        [
            "fish",
            "--no-config",
            "-c",
            f"source {script}; complete -C 'esctl config '; complete -C 'esctl init -p p'",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=isolated_environment,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    offered = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert {"show", "profiles", "path", "init"} <= set(offered)
    assert "prod" in offered and "local" not in offered


@pytest.mark.parametrize(("shell", "script"), [("zsh", "_esctl"), ("fish", "esctl.fish")])
def test_zsh_and_fish_scripts_parse(shell: str, script: str) -> None:
    if shutil.which(shell) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{shell} is not installed (.ci/run installs zsh and fish)")
        pytest.skip(f"{shell} is not installed")
    result = subprocess.run(
        [shell, "-n", str(ROOT / "completions" / script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- the protocol's word handling -------------------------------------------------------------


def test_completion_args_hoists_global_options_and_glues_equals() -> None:
    assert completion_args(["esctl", "config", "show", "-p", "st"], 4) == (["-p"], "st")
    assert completion_args(["esctl", "-c", "x.yaml", "read", ""], 4) == (
        ["-c", "x.yaml", "read"],
        "",
    )
    assert completion_args(["esctl", "--profile", "=", "pr"], 3) == ([], "--profile=pr")
    assert completion_args(["esctl", "tail", "--checkpoint", "=", ""], 4) == (
        ["tail"],
        "--checkpoint=",
    )
    assert completion_args(["esctl", "read", "-q", "Or"], 3) == (["-q", "read"], "Or")


# --- the completers themselves -----------------------------------------------------------------


def _context(*global_args: str) -> Any:
    """The root context that Click resolves for a line with these global options."""
    from typer.main import get_command

    from esctl.cli.app import app

    return get_command(app).make_context("esctl", list(global_args), resilient_parsing=True)


def test_profile_completer_reads_the_file_named_by_config(tmp_path: Path) -> None:
    config = write_config(tmp_path / "other.yaml", {"alpha": {}, "beta": {}})
    assert profile_names(str(config)) == ["alpha", "beta"]
    assert complete_profile(_context("-c", str(config)), "b") == ["beta"]
    assert complete_profile(_context("-c", str(tmp_path / "missing.yaml")), "") == []


def _seed_checkpoints(store: Store, names: list[str]) -> None:
    with store.writing() as session:
        for name in names:
            session.execute(
                "INSERT INTO {checkpoints} (subscription_id, last_position) VALUES (%s, %s)",
                [name, 0],
            )


def test_stream_and_subscription_completers_on_each_backend(
    store: Store, target: Target, tmp_path: Path
) -> None:
    seed_events(
        store,
        [
            ("Order-1", "Placed", {}),
            ("Order-1", "Paid", {}),
            ("Order-2", "Placed", {}),
            ("Customer-9", "Joined", {}),
            ("Order%x", "Placed", {}),
        ],
    )
    _seed_checkpoints(store, ["billing", "projector", "projector-v2"])
    assert stream_ids(target.settings(), "Order-") == ["Order-1", "Order-2"]
    assert stream_ids(target.settings(), "Order%") == ["Order%x"]
    assert stream_ids(target.settings(), "Nope") == []
    assert subscription_names(target.settings(), "proj") == ["projector", "projector-v2"]
    # Through the CLI's context, as the completion protocol calls them (schema from a profile).
    config = write_config(
        tmp_path / "c.yaml", {"t": {"store": target.url, "schema": target.schema}}
    )
    context = _context("-c", str(config), "-p", "t")
    assert complete_stream(context, "C") == ["Customer-9"]
    assert complete_subscription(context, "b") == ["billing"]


def test_stream_completer_is_bounded(store: Store, target: Target) -> None:
    seed_events(store, [(f"Load-{i:03d}", "Created", {}) for i in range(MAX_CANDIDATES + 10)])
    found = stream_ids(target.settings(), "Load-")
    assert len(found) == MAX_CANDIDATES
    assert found[0] == "Load-000"


def test_completers_are_silent_when_the_store_is_unreachable(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nothing-here.db'}"
    assert complete_stream(_context("-s", missing), "") == []
    refused = "postgresql://esctl@127.0.0.1:1/none"
    assert complete_subscription(_context("-s", refused), "") == []
    assert complete_stream(_context("-p", "no-such-profile"), "") == []
