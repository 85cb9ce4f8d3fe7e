"""`esctl metrics` (the store's metrics once, for a textfile collector) and `esctl metrics serve`
(over HTTP at /metrics, for Prometheus to scrape)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esctl.cli.options import examples
from esctl.cli.state import AppState, state
from esctl.render import Column, Lines, Listing

COLLECTOR = "esctl_metrics_collector"
SAMPLE_COLUMNS = [Column("name"), Column("labels"), Column("value")]

METRICS_EXAMPLES = examples(
    "esctl -p prod metrics > /var/lib/node_exporter/textfile/esctl.prom.$$ && "
    "mv /var/lib/node_exporter/textfile/esctl.prom.$$ /var/lib/node_exporter/textfile/esctl.prom",
    "esctl metrics --openmetrics",
    "esctl -p prod metrics serve --listen 0.0.0.0:9464",
)
SERVE_EXAMPLES = examples(
    "esctl -p prod metrics serve",
    "esctl -p prod metrics serve --listen 0.0.0.0:9464 --timeout 5s",
    "curl -s http://127.0.0.1:9464/metrics | grep esctl_checkpoint_lag_seconds",
)

app = typer.Typer(
    help="The store's health as Prometheus metrics: once on stdout, or served over HTTP.",
    epilog=METRICS_EXAMPLES,
    invoke_without_command=True,
)

TimeoutOpt = Annotated[
    str,
    typer.Option(
        "--timeout",
        help="Bound each scrape's connection and statements (90, 10s, 1m); a scrape past it "
        "reports esctl_up 0.",
    ),
]
LagThresholdOpt = Annotated[
    int,
    typer.Option("--lag-threshold", min=0, help="Lag (events) over which a checkpoint is lagging."),
]
StallAfterOpt = Annotated[
    str,
    typer.Option(
        "--stall-after",
        help="No move for this long while events are pending is stalled (as checkpoints list).",
    ),
]


@app.callback()
def metrics(
    ctx: typer.Context,
    openmetrics: Annotated[
        bool, typer.Option("--openmetrics", help="OpenMetrics text (ends with # EOF).")
    ] = False,
    timeout: TimeoutOpt = "10s",
    lag_threshold: LagThresholdOpt = 1_000,
    stall_after: StallAfterOpt = "5m",
) -> None:
    """Print the store's metrics once as Prometheus text (for node_exporter's textfile collector).

    Metrics: esctl_up (0 when the scrape failed: server down, timeout, no schema; a warning says
    why, and the exit code is still 0 so the file says the store is down), esctl_head_position,
    esctl_events_total{category} (an estimate on a large PostgreSQL store, then
    esctl_events_estimated is 1), esctl_checkpoint_position, _lag_events, _lag_seconds,
    _age_seconds {subscription}, esctl_checkpoint_status{subscription,status} (1 for the current
    status), esctl_horizon_age_seconds (PostgreSQL), esctl_replica_lag_seconds (with a
    read_store), esctl_scrape_duration_seconds. -o json writes the same samples as JSON.
    """
    collector = _collector(state(ctx), timeout, lag_threshold, stall_after)
    if ctx.invoked_subcommand is not None:
        ctx.meta[COLLECTOR] = collector  # for `serve`
        return
    from esctl.metrics import exposition

    text = exposition(collector, openmetrics=openmetrics).decode("utf-8")
    samples = _samples(text)
    state(ctx).out.result(
        {"up": collector.last_error is None, "error": collector.last_error, "samples": samples},
        view=Lines(text),
        csv=Listing([{**s, "labels": _label_text(s["labels"])} for s in samples], SAMPLE_COLUMNS),
    )


@app.command("serve", epilog=SERVE_EXAMPLES)
def serve(
    ctx: typer.Context,
    listen: Annotated[
        str,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Where to listen ([::1]:9464 for IPv6, :9464 for every address; port 0 picks "
            "a free one).",
        ),
    ] = "127.0.0.1:9464",
) -> None:
    """Serve the metrics over HTTP at /metrics until Ctrl-C or SIGTERM (then exit 0).

    Every scrape reads the store afresh on its own connection, bounded by `esctl metrics
    --timeout` (give it before `serve`); a failed one answers 200 with esctl_up 0, and a warning
    on stderr says why (once until the store answers again). The URL is printed on stdout once
    listening. A port in use is an error (exit 2).
    """
    from esctl.metrics.serving import MetricsServer

    app_state = state(ctx)
    collector = ctx.meta[COLLECTOR]
    server = MetricsServer(collector, listen)
    app_state.out.ready_line({"url": server.url}, server.url + "\n")
    server.run()
    app_state.out.message("Stopped.")


def _collector(app_state: AppState, timeout: str, lag_threshold: int, stall_after: str) -> Any:
    from esctl.checkpoints import Thresholds
    from esctl.errors import UsageError
    from esctl.metrics import ScrapeSettings, StoreCollector
    from esctl.timeparse import parse_duration

    seconds = parse_duration(timeout, "--timeout")
    if seconds <= 0:
        raise UsageError("--timeout must be more than 0")
    settings = app_state.settings  # `store` is the primary; reads_for() the read_store
    scrape = ScrapeSettings(
        store=settings,
        replica=settings.for_reads() if settings.read_store else None,
        thresholds=Thresholds(
            lag=lag_threshold, stale_after=parse_duration(stall_after, "--stall-after")
        ),
        timeout_ms=max(1, int(seconds * 1000)),
    )
    return StoreCollector(
        scrape, on_failure=lambda message: app_state.out.warning(f"scrape failed: {message}")
    )


def _samples(text: str) -> list[dict[str, Any]]:
    from prometheus_client.parser import text_string_to_metric_families

    body = text.replace("# EOF\n", "")
    return [
        {"name": s.name, "labels": s.labels, "value": s.value}
        for family in text_string_to_metric_families(body)
        for s in family.samples
    ]


def _label_text(labels: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
