"""The command groups of `esctl` and the help panels they are listed in, joined to the root
command (`esctl.cli.root.app`) in `esctl --help` order, or only the one a process runs: a one-shot
command (`esctl read S --limit 5`) then neither imports the other command modules nor has Typer
build their options."""

from __future__ import annotations

import typer

PANEL_SETUP = "Set up"
PANEL_WRITE = "Write"
PANEL_READ = "Read"
PANEL_OPERATE = "Operate"
PANEL_MEASURE = "Measure"
# The order `esctl --help` lists its panels in (the overview in the help text follows it too).
PANELS = (PANEL_SETUP, PANEL_WRITE, PANEL_READ, PANEL_OPERATE, PANEL_MEASURE)


def register(app: typer.Typer, command: str | None = None) -> None:
    """Join the command groups, in the order `esctl --help` lists them (by task); with
    `command`, only the one that runs, so a one-shot command neither imports nor builds the
    others."""
    for names, join in _COMMANDS:
        if command is None or command in names:
            join(app)


def _setup(app: typer.Typer) -> None:
    from esctl.cli import config as config_cli
    from esctl.cli import sandbox as sandbox_cli
    from esctl.cli import schema as schema_cli

    command = app.command
    command("init", rich_help_panel=PANEL_SETUP, epilog=schema_cli.INIT_EXAMPLES)(schema_cli.init)
    command("doctor", rich_help_panel=PANEL_SETUP, epilog=schema_cli.DOCTOR_EXAMPLES)(
        schema_cli.doctor
    )
    app.add_typer(config_cli.app, name="config", rich_help_panel=PANEL_SETUP)
    command("sandbox", rich_help_panel=PANEL_SETUP, epilog=sandbox_cli.SANDBOX_EXAMPLES)(sandbox_cli.sandbox)  # fmt: skip


def _append(app: typer.Typer) -> None:
    from esctl.cli import append as append_cli

    app.command("append", rich_help_panel=PANEL_WRITE, epilog=append_cli.APPEND_EXAMPLES)(
        append_cli.append
    )


def _read(app: typer.Typer) -> None:
    from esctl.cli import read as read_cli
    from esctl.cli import redact as redact_cli

    app.command("read", rich_help_panel=PANEL_READ, epilog=read_cli.READ_EXAMPLES)(read_cli.read)
    read_cli.events_app.command("redact", epilog=redact_cli.REDACT_EXAMPLES)(redact_cli.redact)
    app.add_typer(read_cli.events_app, name="events", rich_help_panel=PANEL_READ)


def _tail(app: typer.Typer) -> None:
    from esctl.cli import tail as tail_cli

    app.command("tail", rich_help_panel=PANEL_READ, epilog=tail_cli.TAIL_EXAMPLES)(tail_cli.tail)


def _streams(app: typer.Typer) -> None:
    from esctl.cli import stream_archive as stream_archive_cli
    from esctl.cli import stream_delete as stream_delete_cli
    from esctl.cli import stream_state as stream_state_cli
    from esctl.cli import streams as streams_cli

    streams_cli.streams_app.command("state", epilog=stream_state_cli.STATE_EXAMPLES)(
        stream_state_cli.state_
    )
    streams_cli.streams_app.command("delete", epilog=stream_delete_cli.DELETE_EXAMPLES)(
        stream_delete_cli.delete
    )
    streams_cli.streams_app.command("undelete", epilog=stream_delete_cli.UNDELETE_EXAMPLES)(
        stream_delete_cli.undelete
    )
    streams_cli.streams_app.command("archive", epilog=stream_archive_cli.ARCHIVE_EXAMPLES)(
        stream_archive_cli.archive
    )
    streams_cli.streams_app.command("truncate", epilog=stream_delete_cli.TRUNCATE_EXAMPLES)(
        stream_delete_cli.truncate
    )
    app.add_typer(streams_cli.streams_app, name="streams", rich_help_panel=PANEL_READ)


def _trace_and_stats(app: typer.Typer) -> None:
    from esctl.cli import streams as streams_cli
    from esctl.cli import trace as trace_cli

    command = app.command
    command("trace", rich_help_panel=PANEL_READ, epilog=trace_cli.TRACE_EXAMPLES)(trace_cli.trace)
    command("stats", rich_help_panel=PANEL_READ, epilog=streams_cli.STATS_EXAMPLES)(
        streams_cli.stats
    )


def _operate(app: typer.Typer) -> None:
    from esctl.cli import audit as audit_cli
    from esctl.cli import checkpoints as checkpoints_cli
    from esctl.cli import horizon as horizon_cli
    from esctl.cli import metrics as metrics_cli
    from esctl.cli import retention as retention_cli
    from esctl.cli import snapshots as snapshots_cli
    from esctl.cli import top as top_cli

    command = app.command
    app.add_typer(checkpoints_cli.app, name="checkpoints", rich_help_panel=PANEL_OPERATE)
    app.add_typer(snapshots_cli.app, name="snapshots", rich_help_panel=PANEL_OPERATE)
    app.add_typer(metrics_cli.app, name="metrics", rich_help_panel=PANEL_OPERATE)
    command("horizon", rich_help_panel=PANEL_OPERATE, epilog=horizon_cli.HORIZON_EXAMPLES)(
        horizon_cli.horizon
    )
    app.add_typer(retention_cli.app, name="retention", rich_help_panel=PANEL_OPERATE)
    command("audit", rich_help_panel=PANEL_OPERATE, epilog=audit_cli.AUDIT_EXAMPLES)(
        audit_cli.audit
    )
    command("top", rich_help_panel=PANEL_OPERATE, epilog=top_cli.TOP_EXAMPLES)(top_cli.top)


def _measure(app: typer.Typer) -> None:
    from esctl.cli import bench as bench_cli

    app.command("bench", rich_help_panel=PANEL_MEASURE, epilog=bench_cli.BENCH_EXAMPLES)(
        bench_cli.bench
    )


# (the command names a group answers to, how to join it), in `esctl --help` order.
_COMMANDS = [
    (("init", "doctor", "config", "sandbox"), _setup),
    (("append",), _append),
    (("read", "events"), _read),
    (("tail",), _tail),
    (("streams",), _streams),
    (("trace", "stats"), _trace_and_stats),
    (("checkpoints", "snapshots", "metrics", "horizon", "retention", "audit", "top"), _operate),
    (("bench",), _measure),
]


def running() -> str | None:
    """The command this process runs (`esctl.cli.app.main` said), if it is one of ours."""
    from esctl.cli.globals import running_command

    names = {name for group, _ in _COMMANDS for name in group}
    return running_command if running_command in names else None
