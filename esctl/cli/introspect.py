"""The command tree of the app as plain data, for the completion and documentation generators.

Both generators work from whatever commands are registered when they run (they walk the Click tree
Typer builds), so `make completions docs` after adding a command is all it takes to keep the shell
scripts and `docs/cli.md` in step with `--help`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from esctl.cli.helpformat import option_metavar, usage_args

# What a shell should offer for a value: nothing special, a fixed list, a path, or a call back into
# esctl (a parameter with an `autocompletion=` function: profiles, streams, subscriptions).
ValueKind = Literal["any", "choice", "file", "dir", "dynamic"]

# Options that Typer adds to install its own (slower, Python-on-every-Tab) completion; esctl ships
# generated scripts instead, so they are left out of the completions but kept in the docs.
TYPER_COMPLETION_OPTIONS = frozenset({"--install-completion", "--show-completion"})


@dataclass(frozen=True)
class OptionSpec:
    """One option of a command, as `--help` shows it."""

    names: tuple[str, ...]
    help: str
    takes_value: bool
    kind: ValueKind
    choices: tuple[str, ...]
    metavar: str
    default: str | None
    required: bool
    multiple: bool


@dataclass(frozen=True)
class ArgumentSpec:
    """One positional argument of a command."""

    name: str
    metavar: str
    help: str
    kind: ValueKind
    choices: tuple[str, ...]
    required: bool
    variadic: bool


@dataclass(frozen=True)
class CommandSpec:
    """A command or group: `path` is `()` for `esctl` itself, `("config", "show")` for a leaf."""

    path: tuple[str, ...]
    summary: str
    help: str
    epilog: str
    usage: str
    panel: str | None
    options: tuple[OptionSpec, ...]
    arguments: tuple[ArgumentSpec, ...]
    subcommands: tuple[CommandSpec, ...]

    @property
    def name(self) -> str:
        return " ".join(("esctl", *self.path))

    def walk(self) -> list[CommandSpec]:
        """This command and every command below it, depth first, in registration order."""
        found = [self]
        for sub in self.subcommands:
            found.extend(sub.walk())
        return found


def command_tree(app: Any = None) -> CommandSpec:
    """The app's commands, options and arguments (hidden ones left out)."""
    from typer.main import get_command

    if app is None:
        from esctl.cli.app import app as esctl_app

        app = esctl_app
    root = get_command(app)
    context = root.make_context("esctl", [], resilient_parsing=True)
    return _spec(root, context, ())


def plain(text: str | None) -> str:
    """Help text without rich markup or Click's `\\b` no-rewrap markers."""
    if not text:
        return ""
    text = text.replace("\b\n", "").replace("\b", "")
    return re.sub(r"\[/?(?:bold|italic|dim|red|green|yellow|blue|cyan|magenta|b|i|u)\]", "", text)


def _spec(command: Any, context: Any, path: tuple[str, ...]) -> CommandSpec:
    subcommands: list[CommandSpec] = []
    for name in getattr(command, "commands", {}) or {}:
        sub = command.commands[name]
        if getattr(sub, "hidden", False):
            continue
        sub_context = sub.make_context(name, [], parent=context, resilient_parsing=True)
        subcommands.append(_spec(sub, sub_context, (*path, name)))
    help_text = plain(command.help).strip()
    summary = plain(command.short_help) or help_text.split("\n\n")[0].replace("\n", " ")
    options: list[OptionSpec] = []
    arguments: list[ArgumentSpec] = []
    for param in command.get_params(context):
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            arguments.append(_argument(param, context))
        else:
            options.append(_option(param, context))
    usage = usage_args(command.collect_usage_pieces(context))
    return CommandSpec(
        path=path,
        summary=summary.strip(),
        help=help_text,
        epilog=plain(command.epilog).strip(),
        usage=f"{' '.join(('esctl', *path))} {usage}".strip(),
        panel=panel
        if isinstance(panel := getattr(command, "rich_help_panel", None), str)
        else None,
        options=tuple(options),
        arguments=tuple(arguments),
        subcommands=tuple(subcommands),
    )


def _kind(param: Any) -> tuple[ValueKind, tuple[str, ...]]:
    if getattr(param, "_custom_shell_complete", None) is not None:
        return "dynamic", ()
    param_type = param.type  # a Click parameter type (Choice, Path, File, …)
    choices = getattr(param_type, "choices", None)
    if choices:
        return "choice", tuple(str(getattr(c, "value", c)) for c in choices)
    kind = type(param_type).__name__
    if kind == "Path":
        only_dirs = getattr(param_type, "dir_okay", True) and not getattr(
            param_type, "file_okay", True
        )
        return ("dir" if only_dirs else "file"), ()
    if kind == "File":
        return "file", ()
    return "any", ()


def _help_record(param: Any, context: Any) -> str:
    record = param.get_help_record(context)
    return plain(record[1] if record else "").strip()


def _option(param: Any, context: Any) -> OptionSpec:
    kind, choices = _kind(param)
    takes_value = not (param.is_flag or param.count)
    default = None
    if takes_value and param.show_default is not False and param.default not in (None, (), []):
        value = param.default
        default = str(getattr(value, "value", value))
    return OptionSpec(
        # Long names first; Click keeps the help option's names in a set, so fix their order.
        names=tuple(
            sorted(param.opts + param.secondary_opts, key=lambda n: not n.startswith("--"))
        ),
        help=_help_record(param, context),
        takes_value=takes_value,
        kind=kind if takes_value else "any",
        choices=choices,
        metavar=_option_metavar(param, context) if takes_value else "",
        default=default,
        required=bool(param.required),
        multiple=bool(param.multiple),
    )


def _option_metavar(param: Any, context: Any) -> str:
    """What an option's value is called in help (the same rule `--help` follows)."""
    return option_metavar(param)


def _argument(param: Any, context: Any) -> ArgumentSpec:
    kind, choices = _kind(param)
    return ArgumentSpec(
        name=param.name or "",
        metavar=param.metavar or (param.name or "").upper(),
        help=plain(getattr(param, "help", None)).strip(),
        kind=kind,
        choices=choices,
        required=bool(param.required),
        variadic=param.nargs == -1,
    )
