"""The `esctl` command: global options, command groups, and the one place errors become exit codes.

Loaded by `esctl.cli.app.main` when a command runs (its import is the start-up of every command,
so it joins only the command group that runs: see `_register`)."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer._types import TyperChoice
from typer.core import TyperGroup

from esctl import __version__
from esctl.cli.commands import PANELS, register, running
from esctl.cli.completion import complete_profile
from esctl.cli.globals import hoist_global_options
from esctl.cli.state import report_error
from esctl.errors import EsctlError

# Where a user who installed with pip finds the guide (the README is the package's long description).
DOCS_URL = "https://pypi.org/project/esctl/"


class EsctlGroup(TyperGroup):
    """The root command: hoists global options and maps errors to exit codes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from esctl.cli.helpformat import polish

        super().__init__(*args, **kwargs)
        polish(self, PANELS)
        from esctl.cli.bounds import bound_integer_options

        bound_integer_options(self)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["esctl.command_line"] = ["esctl", *args]  # for the audit trail (redacted there)
        args = hoist_global_options(list(args))
        if "--help" in args or "-h" in args:
            from esctl.cli.helpformat import quiet_ranges

            quiet_ranges()
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        from esctl.cli.state import AppState

        try:
            return super().invoke(ctx)
        except EsctlError as error:
            report_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt as interrupt:
            # A command that committed part of its work says how far it got.
            detail = str(interrupt)
            sys.stderr.write(f"{detail}\n" if detail else "Interrupted.\n")
            raise typer.Exit(getattr(interrupt, "exit_code", 130)) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as error:
            if isinstance(error, _usage_errors()):
                raise
            _stop_on_write_failure(error)
            verbose = isinstance(ctx.obj, AppState) and ctx.obj.verbose
            if verbose:
                import traceback

                traceback.print_exc()
            sys.stderr.write(f"Error: unexpected {type(error).__name__}: {error}\n")
            if not verbose:
                sys.stderr.write("Hint: run again with --verbose to see the traceback\n")
            raise typer.Exit(1) from None
        finally:
            if isinstance(ctx.obj, AppState):
                ctx.obj.close()


def _stop_on_write_failure(error: BaseException) -> None:
    """Standard output failed: a closed pipe ends quietly (141), any other failure is one line
    (`Error: cannot write output: …`, exit 1). Anything else is left to the caller."""
    from esctl.cli.stdio import EXIT_BROKEN_PIPE, silence_stdout, write_failure

    reason = write_failure(error)
    if reason is None:
        return
    silence_stdout()
    if reason == "":
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    sys.stderr.write(f"Error: cannot write output: {reason}\n")
    raise typer.Exit(1) from None


def _usage_errors() -> tuple[type[BaseException], ...]:
    from typer._click.exceptions import ClickException

    return (ClickException,)


class OutputFormats(TyperChoice[str]):
    """The `-o` choices, read from `esctl.render.formats.REGISTRY` whenever they are needed (a
    format registered after this module was imported is a choice too)."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=True)

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        from esctl.render.formats import format_names

        return format_names()

    @choices.setter
    def choices(self, value: object) -> None:
        """The registry is the list: nothing to store."""


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"esctl {__version__}\n")
        raise typer.Exit()


app = typer.Typer(
    cls=EsctlGroup,
    name="esctl",
    help="Administer event stores on PostgreSQL and SQLite: the psql/kcat of event-sourced "
    "systems.\n\n"
    "Commands by task (each has --help with examples):\n\n"
    "\b\n"
    "  Set up   init, doctor, config  create or upgrade the schema; check it\n"
    "  Write    append                events from JSON files or stdin, atomically\n"
    "  Read     read, events,         a stream or the global log, one event,\n"
    "           streams, stats, tail, listings, counts; follow live, none skipped;\n"
    "           trace                 what one request caused, as a tree\n"
    "  Operate  checkpoints,          move subscriptions (dry runs unless told),\n"
    "           snapshots, audit      rebuild and verify snapshots; executed changes\n"
    "           metrics, horizon      Prometheus metrics; why live readers wait\n"
    "  Measure  bench                 append, read and tail throughput, latency\n\n"
    "With no configuration the store is sqlite:///events.db in the current directory.",
    epilog="[bold]Store[/bold]: --store URL, $ESCTL_STORE, or a profile (--profile, "
    "$ESCTL_PROFILE) from --config, $ESCTL_CONFIG, ./esctl.yaml or "
    "$XDG_CONFIG_HOME/esctl/config.yaml ([bold]esctl config init[/bold] writes a starter). "
    "Global options work before or after the command name; data goes to stdout, messages "
    "to stderr.\n\n"
    "[bold]Exit codes[/bold]: 0 ok, 1 error or drift, 2 usage, 3 conflict, 4 not found, "
    "5 store unavailable, 6 invalid input, 7 schema missing, 8 read-only.\n\n"
    "[bold]Examples[/bold]: esctl init && esctl append examples/orders.jsonl && esctl read --all"
    "\n\n"
    f"[bold]See also[/bold]: esctl COMMAND --help (every option, with examples); the guide: "
    f"{DOCS_URL}",
    no_args_is_help=True,
    add_completion=False,  # completions/ ships faster scripts than Typer's own (see README)
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="Profile from the config file ($ESCTL_PROFILE).",
            autocompletion=complete_profile,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", "-s", help="Store URL: sqlite:///events.db, postgresql://… ($ESCTL_STORE)."
        ),
    ] = None,
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="Config file ($ESCTL_CONFIG).")
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            click_type=OutputFormats(),
            help="Output format (wide: tables that fold, never cut, a value).",
        ),
    ] = "table",
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="Time zone of times in tables: local, UTC (default) or an IANA name (profile tz:).",
        ),
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            "--layout",
            metavar="LAYOUT",
            help="Whose tables the store holds: auto (default: detected), esctl, message-db, "
            "emmett, eventsourcing ($ESCTL_LAYOUT, profile layout:).",
        ),
    ] = None,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (also when $NO_COLOR is set).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only data and errors.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More detail; tracebacks on errors.")
    ] = False,
    primary: Annotated[
        bool,
        typer.Option(
            "--primary", help="Send reads to the primary even if the profile has a read_store."
        ),
    ] = False,
    include_archived: Annotated[
        bool,
        typer.Option(
            "--include-archived",
            help="Show archived messages too (emmett layout: is_archived); hidden by default.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    from esctl.cli.state import AppState
    from esctl.display import resolve_zone

    if tz is not None:
        resolve_zone(tz)  # an unknown zone is a usage error before anything runs
    ctx.obj = AppState(
        profile=profile,
        store=store,
        config=config,
        output=output,
        tz=tz,
        layout=layout,
        color=not no_color and not os.environ.get("NO_COLOR"),  # no-color.org: set and non-empty
        quiet=quiet,
        verbose=verbose,
        primary=primary,
        include_archived=include_archived,
    )


register(app, running())


def main() -> None:
    """Console entry point."""
    from esctl.cli.stdio import guard_stdout, quiet_broken_pipes

    guard_stdout()
    quiet_broken_pipes()
    code: int | str | None = 0
    try:
        try:
            app()
        except (OSError, ValueError) as error:  # outside a command: --version, --help
            _stop_on_write_failure(error)
            raise
    except typer.Exit as stop:
        code = stop.exit_code
        raise SystemExit(code) from None
    except SystemExit as exit_:
        code = exit_.code
        raise
    finally:
        _flush_stdout(code)


def _flush_stdout(code: int | str | None) -> None:
    """The last buffered output is written at exit: its failure is mapped like any other, except
    that an exit code already decided (an error) is kept."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as error:
        try:
            _stop_on_write_failure(error)
        except typer.Exit as stop:
            raise SystemExit(code or stop.exit_code) from None
        raise
