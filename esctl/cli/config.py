"""`esctl config show | profiles | path`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from esctl.cli.options import examples
from esctl.cli.state import state
from esctl.render import Column, Lines, Listing

app = typer.Typer(
    help="Show the effective configuration, the profiles, and the file in use; write a starter.",
    epilog=examples("esctl config init", "esctl config show", "esctl config profiles"),
    no_args_is_help=True,
)


@app.command(epilog=examples("esctl config show", "esctl -p prod config show -o json"))
def show(ctx: typer.Context) -> None:
    """The effective settings (passwords redacted) and where each came from."""
    from esctl.urls import redact

    app_state = state(ctx)
    settings = app_state.settings
    values = {
        "profile": settings.profile,
        "config_file": str(settings.config_path) if settings.config_path else None,
        "store": redact(settings.store),
        "read_store": redact(settings.read_store) if settings.read_store else None,
        "schema": settings.schema,
        "read_only": settings.read_only,
        "statement_timeout_ms": settings.statement_timeout_ms,
        "connect_timeout": settings.connect_timeout,
        "password_env": settings.password_env,
        "reducers": dict(settings.reducers),
    }
    rows = [
        {"setting": k, "value": v, "source": settings.sources.get(k, "")} for k, v in values.items()
    ]
    app_state.out.result(
        values,
        view=Listing(rows, [Column("setting"), Column("value", wrap=True), Column("source")]),
    )


@app.command(epilog=examples("esctl config profiles", "esctl config profiles -o json"))
def profiles(ctx: typer.Context) -> None:
    """The profiles in the config file (stores redacted); * marks the one in use."""
    from esctl.config import load_config_file
    from esctl.urls import redact

    app_state = state(ctx)
    settings = app_state.settings
    data = load_config_file(settings.config_path) if settings.config_path else {}
    rows = [
        {
            "current": name == settings.profile,
            "name": name,
            "store": redact(str(profile.get("store", ""))),
            "schema": profile.get("schema", "public"),
            "read_only": bool(profile.get("read_only", False)),
        }
        for name, profile in (data.get("profiles") or {}).items()
    ]
    app_state.out.table(
        rows,
        [
            Column("current", "", format=lambda v: "*" if v else ""),
            Column("name"),
            Column("store"),
            Column("schema"),
            Column("read_only"),
        ],
        empty="No profiles: see sample-config.yaml, or `esctl config path` for where to put one.",
    )


@app.command(epilog=examples("esctl config path"))
def path(ctx: typer.Context) -> None:
    """The config file in use, and the places esctl looks for one."""
    from esctl.config import config_search_path

    app_state = state(ctx)
    settings = app_state.settings
    out = app_state.out
    searched = [str(p) for p in config_search_path(os.environ, Path.cwd())]
    if app_state.config:
        searched.insert(0, app_state.config)
    used = str(settings.config_path) if settings.config_path else None
    out.result(
        {"config_file": used, "searched": searched},
        view=Lines(
            f"{used or '(none: using defaults)'}\n", note="Searched: " + ", ".join(searched)
        ),
    )


@app.command(
    epilog=examples(
        "esctl config init",
        "esctl config init --path ./esctl.yaml",
        "esctl config init --force",
    )
)
def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            dir_okay=False,
            help="Write here instead of $XDG_CONFIG_HOME/esctl/config.yaml.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a starter config file with commented example profiles; never overwrites without --force."""
    from esctl.sample_config import default_config_path, write_sample_config

    target = (path or default_config_path()).expanduser()
    replaced = write_sample_config(target, force=force)
    out = state(ctx).out
    out.result(
        {"config_file": str(target), "replaced": replaced},
        view=Lines(
            f"{target}\n",
            message=f"{'Replaced' if replaced else 'Wrote'} {target}: edit its profiles, then "
            "`esctl config profiles`.",
        ),
    )
