"""How `--help` reads: one pass over the Click tree Typer builds, run once when the root group is made.

It fixes the things Typer's defaults get wrong for esctl, at the source both `--help` and the
generated docs/cli.md read from (so the two cannot disagree):

- paragraphs are wrapped by the formatter, never by the line breaks of a docstring (a paragraph that
  starts with Click's `\\b` marker is kept as written);
- every option that takes a value has a metavar a user can read (`N`, `TIME`, `STREAM`…), not
  Typer's `<str>` / `<int range>`; a declaration's own `metavar=` always wins;
- an argument's metavar is the whole story: no `<str>` type column beside it, and a required one is
  `FILE...` in the usage line, not `{FILE...}`;
- commands are listed panel by panel in the order of `PANELS`.
"""

from __future__ import annotations

import re
from typing import Any

# Metavars by option name, for declarations that do not give one.
OPTION_METAVARS = {
    "--profile": "NAME",
    "--store": "URL",
    "--config": "PATH",
    "--path": "PATH",
    "--stream": "STREAM",
    "--after": "STREAM",
    "--category": "CATEGORY",
    "--type": "TYPE",
    "--stream-type": "TYPE",
    "--since": "TIME",
    "--until": "TIME",
    "--to-time": "TIME",
    "--checkpoint": "NAME",
    "--reducer": "REDUCER",
    "--idle-timeout": "DURATION",
    "--duration": "SECONDS",
    "--stall-after": "DURATION",
    "--by-duration": "DURATION",
    "--interval": "SECONDS",
    "--shift-by": "±N",
    "--tz": "ZONE",
    "--layout": "LAYOUT",
}
# …else by the value's type.
TYPE_METAVARS = {
    "str": "TEXT",
    "text": "TEXT",
    "int": "N",
    "integer": "N",
    "int range": "N",
    "integer range": "N",
    "float": "NUMBER",
    "float range": "NUMBER",
    "path": "PATH",
    "file": "FILE",
}

_REQUIRED_IN_USAGE = re.compile(r"\{([^{}\s]+)\}")


def rewrap(text: str | None) -> str | None:
    """Help text with each paragraph on one line, so the formatter wraps it to the terminal."""
    if not text:
        return text
    paragraphs = text.strip("\n").split("\n\n")
    return "\n\n".join(
        p if p.lstrip(" ").startswith("\b") else " ".join(p.split()) for p in paragraphs
    )


def usage_args(pieces: list[str]) -> str:
    """The usage line after the command name: `[OPTIONS] FILE...` (Typer writes `{FILE...}`)."""
    return _REQUIRED_IN_USAGE.sub(r"\1", " ".join(pieces))


def option_metavar(param: Any) -> str:
    """What an option's value is called in help."""
    if param.metavar:
        return str(param.metavar)
    choices = getattr(param.type, "choices", None)
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    for name in param.opts:
        if name in OPTION_METAVARS:
            return OPTION_METAVARS[name]
    type_name = str(getattr(param.type, "name", "") or "")
    return TYPE_METAVARS.get(type_name, type_name.upper() or "VALUE")


def polish(command: Any, panels: tuple[str, ...] = ()) -> None:
    """Apply the rules above to `command` and every command below it, in place."""
    command.help = rewrap(command.help)
    command.epilog = rewrap(command.epilog)
    if command.short_help:
        command.short_help = rewrap(command.short_help)
    command.context_class = _context_class()
    for param in command.params:
        if param.param_type_name == "option" and not (param.is_flag or param.count):
            param.metavar = option_metavar(param)
        elif param.param_type_name == "argument":
            param.metavar = param.metavar or (param.name or "").upper()
            if type(param.type).__name__ == "StringParamType":
                param.type = _plain_text()
    subcommands = getattr(command, "commands", None)
    if subcommands:
        order = {panel: index for index, panel in enumerate(panels)}
        ranked = sorted(
            subcommands.items(),
            key=lambda item: order.get(str(getattr(item[1], "rich_help_panel", "")), len(order)),
        )
        command.commands = dict(ranked)
        for sub in command.commands.values():
            polish(sub, panels)


_CACHE: dict[str, Any] = {}


def _plain_text() -> Any:
    """A string type that adds nothing to its argument's metavar (Typer shows `<str>` otherwise)."""
    if "type" not in _CACHE:
        from typer._click.types import StringParamType

        class PlainText(StringParamType):
            def get_metavar(self, param: Any, ctx: Any) -> str | None:
                return ""

        _CACHE["type"] = PlainText()
    return _CACHE["type"]


def _context_class() -> Any:
    """A Click context whose help formatter writes `FILE...` for a required argument."""
    if "context" not in _CACHE:
        from typer._click.core import Context
        from typer._click.formatting import HelpFormatter

        class Formatter(HelpFormatter):
            def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
                super().write_usage(prog, _REQUIRED_IN_USAGE.sub(r"\1", args), prefix)

        class EsctlContext(Context):
            formatter_class = Formatter

        _CACHE["context"] = EsctlContext
    return _CACHE["context"]


def quiet_ranges() -> None:
    """Leave Typer's `[x>=0]` range notes out of the option table: the metavar and the help say
    what a value may be, and an out-of-range value gets an error that names the bound."""
    from typer import rich_utils

    rich_utils.RANGE_STRING = ""
