"""The `esctl` entry point (`main`), light to import: `esctl --version` loads no Typer, and a
command loads the root command (`esctl.cli.root`: `app`, its global options and the error
mapping) with only its own command group. `esctl.cli.app.app` and the root's other names are
the root's, loaded on first use."""

from __future__ import annotations

import os
import sys
from typing import Any


def main() -> None:
    """Console entry point."""
    args = sys.argv[1:]
    if args == ["--version"] and _print_version():
        return
    if "_ESCTL_COMPLETE" not in os.environ:
        from esctl.cli import globals as options

        options.running_command = _command_name(args)
    from esctl.cli.root import main as run

    run()


def _print_version() -> bool:
    """Print the version the cheap way; False when stdout fails (the root reports that)."""
    from esctl import __version__

    try:
        sys.stdout.write(f"esctl {__version__}\n")
        sys.stdout.flush()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _command_name(args: list[str]) -> str | None:
    """The command name on the command line, or None (none; or help asked before it)."""
    from esctl.cli.globals import GLOBAL_VALUE_OPTIONS, hoist_global_options

    args = hoist_global_options(args)
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-h", "--help", "--"):
            return None
        if not arg.startswith("-"):
            return arg
        index += 2 if arg in GLOBAL_VALUE_OPTIONS else 1
    return None


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # `from esctl.cli.app import main` asks for `__path__`
        raise AttributeError(name)
    from esctl.cli import root

    return getattr(root, name)
