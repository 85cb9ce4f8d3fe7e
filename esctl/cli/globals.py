"""The global options' names, and moving them in front of the command name (the command line
and shell completion both need them; neither imports the other for them)."""

from __future__ import annotations

# Global options may come before or after the command name (`esctl -o json stats` and
# `esctl stats -o json` are the same), so they are moved to the front before parsing.
GLOBAL_VALUE_OPTIONS = {
    "--profile",
    "-p",
    "--store",
    "-s",
    "--config",
    "-c",
    "--output",
    "-o",
    "--tz",
    "--layout",
}
SHORT_VALUE = {"-p", "-s", "-c", "-o"}

# The command this process runs, as `esctl.cli.app.main` found it on the command line (None: not
# known, or every command is needed: help, completion, an import by a test or a script).
running_command: str | None = None
GLOBAL_FLAGS = {"--no-color", "--quiet", "-q", "--verbose", "-v", "--primary", "--include-archived"}


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options (wherever they are) in front of the command name: `--output json`,
    `--output=json`, `-o json`, `-ojson`, `-o=json`, flags, and `--version`."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name = arg.split("=", 1)[0]
        short_attached = arg[:2] in GLOBAL_VALUE_OPTIONS and len(arg) > 2 and arg[1] != "-"
        if (name in GLOBAL_VALUE_OPTIONS and "=" in arg) or short_attached:
            hoisted.append(arg[:2] + arg[3:] if arg[:3] in {f"{o}=" for o in SHORT_VALUE} else arg)
        elif arg in GLOBAL_VALUE_OPTIONS and index + 1 < len(args):
            hoisted.extend(args[index : index + 2])
            index += 1
        elif arg in GLOBAL_FLAGS or arg == "--version":
            hoisted.append(arg)
        else:
            rest.append(arg)
        index += 1
    return hoisted + rest
