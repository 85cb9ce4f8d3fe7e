"""Packaging: the wheel carries the sample config, and `esctl config init` writes it."""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from esctl.config import load_config_file
from esctl.sample_config import sample_config_text
from tests.support.processes import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_packaged_sample_config_is_the_top_level_one() -> None:
    top_level = (ROOT / "sample-config.yaml").read_text(encoding="utf-8")
    packaged = (ROOT / "esctl" / "data" / "sample-config.yaml").read_text(encoding="utf-8")
    assert packaged == top_level, "keep esctl/data/sample-config.yaml identical to the top level"
    assert sample_config_text() == top_level


def test_sample_config_is_a_valid_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(sample_config_text())
    data = load_config_file(path)
    assert data["default_profile"] in data["profiles"]
    assert data["profiles"]["prod"]["read_only"] is True


def test_config_init_writes_the_starter_to_the_xdg_path(isolated_environment: Path) -> None:
    target = Path(os.environ["XDG_CONFIG_HOME"]) / "esctl" / "config.yaml"
    result = run_cli("config", "init")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(target)
    assert target.read_text() == sample_config_text()
    assert target.stat().st_mode & 0o777 == 0o600
    # esctl now finds and uses it.
    profiles = run_cli("-o", "json", "config", "profiles")
    assert [p["name"] for p in json.loads(profiles.stdout)] == ["local", "staging", "prod"]


def test_config_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("profiles: {}\n")
    result = run_cli("config", "init", "--path", str(target))
    assert result.exit_code == 2  # usage: the file exists (--force replaces it)
    assert result.stderr.splitlines() == [
        f"Error: {target} already exists; not overwriting it",
        "Hint: esctl config init --force replaces it; --path writes somewhere else",
    ]
    assert target.read_text() == "profiles: {}\n"
    forced = run_cli("-o", "json", "config", "init", "--path", str(target), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert json.loads(forced.stdout) == {"config_file": str(target), "replaced": True}
    assert target.read_text() == sample_config_text()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_config_init_works_even_when_the_current_config_is_broken(
    isolated_environment: Path,
) -> None:
    (isolated_environment / "esctl.yaml").write_text("profiles: [broken\n")
    result = run_cli("config", "init", "--path", "new.yaml")
    assert result.exit_code == 0, result.stderr
    assert (isolated_environment / "new.yaml").read_text() == sample_config_text()


def _source_tree(destination: Path) -> Path:
    """The files a clean clone would have (tracked and new, not ignored): no venv, no builds."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for relative in listed:
        source = ROOT / relative
        if source.is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / relative)
    return destination


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the source files")
def test_wheel_contains_the_package_data_and_the_console_script(tmp_path: Path) -> None:
    clone = _source_tree(tmp_path / "clone")
    # As `pip install .` does it: an isolated build with the backend pyproject.toml names.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(clone),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("esctl-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "esctl/data/sample-config.yaml" in names
        assert "esctl/py.typed" in names
        assert archive.read("esctl/data/sample-config.yaml").decode() == sample_config_text()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
        metadata = email.message_from_string(archive.read(f"{dist_info}/METADATA").decode())
    assert "esctl = esctl.cli.app:main" in entry_points
    assert metadata["Name"] == "esctl"
    assert not any(n.startswith(("tests/", "scripts/", "benchmarks/")) for n in names)
