#!/usr/bin/env python3
"""How long a Tab takes in bash: esctl's generated script vs. Typer's stock one.

The generated script completes commands, options and choices in bash alone; Typer's stock script
(`esctl --show-completion bash`) starts Python for every Tab. Profiles (and, once wired, streams
and subscriptions) call back into esctl in both. Prints the median of N runs per case and the
ratios, measured in this one run.

    .venv/bin/python benchmarks/completion_latency.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "completions" / "esctl.bash"
CASES = {
    "subcommand": ["esctl", "con"],
    "option": ["esctl", "init", "--d"],
    "choice": ["esctl", "--output", "j"],
    "profile (dynamic)": ["esctl", "-p", ""],
}


def _stock_script(bin_dir: str) -> str:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["esctl", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        env={**env, "SHELL": "/bin/bash"},
        check=True,
    ).stdout


def _time_tab(
    script: Path, function: str, words: list[str], env: dict[str, str], cwd: str
) -> float:
    body = (
        f"source {script}\n"
        'COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()\n'
        f"start=$EPOCHREALTIME; {function} esctl; end=$EPOCHREALTIME\n"
        'echo "$start $end ${#COMPREPLY[@]}"\n'
    )
    out = subprocess.run(
        ["bash", "--norc", "-c", body, "bash", *words],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    ).stdout.split()
    return float(out[1]) - float(out[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "esctl.yaml").write_text("profiles:\n  local: {}\n  prod: {}\n")
        stock = Path(work) / "stock.bash"
        stock.write_text(_stock_script(bin_dir))
        print(f"{'case':20} {'generated ms':>13} {'typer stock ms':>15} {'ratio':>7}")
        for name, words in CASES.items():
            generated = [_time_tab(GENERATED, "_esctl", words, env, work) for _ in range(args.runs)]
            typer = [
                _time_tab(stock, "_esctl_completion", words, env, work) for _ in range(args.runs)
            ]
            g, t = statistics.median(generated) * 1000, statistics.median(typer) * 1000
            print(f"{name:20} {g:13.2f} {t:15.2f} {t / g:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
