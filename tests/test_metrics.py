"""`esctl metrics` and `esctl metrics serve` on both backends: the samples parsed with
prometheus_client's own parser and compared with `checkpoints list -o json` and the events
written; hostile labels escaped; a failed scrape is `esctl_up 0` (HTTP 200); a busy port is a
clear error; SIGTERM ends `serve` with exit 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from esctl.metrics import METRIC_NAMES
from tests.support.processes import esctl_command, profile_env, run_cli
from tests.support.stores import Target
from tests.test_checkpoints import seed, set_updated_at, subscriber_saves

HOSTILE = 'evil"name\\with\nnewline'


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def seeded(initialised: Target) -> Target:
    """20 events in three Order streams and 2 Customer ones; checkpoints caught up, behind,
    stalled, ahead of the head, and one with a hostile name."""
    from tests.support.data import seed_events

    with initialised.open() as store:
        seed(store, 20, transactions=False)
        seed_events(store, [("Customer-1", "Joined", {}), ("Customer-2", "Joined", {})])
        subscriber_saves(store, "caught-up", 22)
        subscriber_saves(store, "behind", 2)
        subscriber_saves(store, "stuck", 17)
        subscriber_saves(store, "restored", 30)
        subscriber_saves(store, HOSTILE, 21)
        set_updated_at(store, "stuck", datetime.now(UTC) - timedelta(hours=2))
    return initialised


def test_metrics_match_checkpoints_list(seeded: Target) -> None:
    result = run_cli("metrics", "--lag-threshold", "10")
    assert result.exit_code == 0, result.stderr
    found = samples(result.stdout)
    assert value(found, "esctl_up") == 1
    assert value(found, "esctl_head_position") == 22
    assert value(found, "esctl_events_total", category="Order") == 20
    assert value(found, "esctl_events_total", category="Customer") == 2
    assert value(found, "esctl_events_estimated") == 0
    listed = json.loads(
        run_cli("checkpoints", "list", "-o", "json", "--lag-threshold", "10").stdout
    )
    assert {c["subscription_id"] for c in listed} == {
        "caught-up",
        "behind",
        "stuck",
        "restored",
        HOSTILE,
    }
    for checkpoint in listed:
        name = checkpoint["subscription_id"]
        assert (
            value(found, "esctl_checkpoint_position", subscription=name)
            == checkpoint["last_position"]
        )
        assert value(found, "esctl_checkpoint_lag_events", subscription=name) == checkpoint["lag"]
        for status in ("ok", "lagging", "stalled", "rewound", "ahead-of-head"):
            expected = 1 if checkpoint["status"] == status else 0
            assert (
                value(found, "esctl_checkpoint_status", subscription=name, status=status)
                == expected
            ), (name, status)
        if checkpoint["lag_seconds"] is None:
            assert ("esctl_checkpoint_lag_seconds", (("subscription", name),)) not in found
        else:
            lag_seconds = value(found, "esctl_checkpoint_lag_seconds", subscription=name)
            assert (lag_seconds > 0) == (checkpoint["lag_seconds"] > 0), name
    statuses = {c["subscription_id"]: c["status"] for c in listed}
    assert statuses["stuck"] == "stalled" and statuses["restored"] == "ahead-of-head"
    # The hostile name is escaped in the text and comes back whole through the parser.
    assert 'subscription="evil\\"name\\\\with\\nnewline"' in result.stdout
    names = {name for name, _ in found}
    assert names <= METRIC_NAMES
    if seeded.backend == "postgresql":
        assert value(found, "esctl_horizon_age_seconds") >= 0
    else:
        assert "esctl_horizon_age_seconds" not in names


def test_metrics_as_json_and_openmetrics(seeded: Target) -> None:
    result = run_cli("-o", "json", "metrics")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["up"] is True
    heads = [s["value"] for s in document["samples"] if s["name"] == "esctl_head_position"]
    assert heads == [22]
    open_metrics = run_cli("metrics", "--openmetrics")
    assert open_metrics.stdout.endswith("# EOF\n")


def test_a_scrape_of_a_store_that_is_down_is_up_0(tmp_path: Path, monkeypatch) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ESCTL_STORE", f"postgresql://nobody@127.0.0.1:{port}/none")
    result = run_cli("metrics", "--timeout", "2s")
    assert result.exit_code == 0, result.stderr
    found = samples(result.stdout)
    assert value(found, "esctl_up") == 0
    assert "esctl_head_position" not in {name for name, _ in found}
    assert "Warning: scrape failed:" in result.stderr


@pytest.mark.postgres
def test_a_scrape_past_its_timeout_is_up_0(pg_target: Target, tmp_path: Path, monkeypatch) -> None:
    """A table lock held elsewhere: the scrape's statements wait, the timeout ends them."""
    with pg_target.open() as store:
        from esctl.admin.init import init_store

        init_store(store)
    import psycopg

    with psycopg.connect(pg_target.url) as locker:
        locker.execute(f'LOCK TABLE "{pg_target.schema}".events IN ACCESS EXCLUSIVE MODE')
        config = tmp_path / "p.yaml"
        config.write_text(
            f"profiles:\n  p:\n    store: {pg_target.url}\n    schema: {pg_target.schema}\n"
        )
        result = run_cli("-c", str(config), "-p", "p", "metrics", "--timeout", "1s")
        locker.rollback()
    assert result.exit_code == 0, result.stderr
    assert value(samples(result.stdout), "esctl_up") == 0
    assert "statement_timeout" in result.stderr or "timeout" in result.stderr.lower()


def _serve(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        esctl_command("metrics", *args, "serve", "--listen", "127.0.0.1:0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics"), (
        url,
        process.stderr.read() if process.poll() is not None else "",
    )
    return process, url


def _scrape(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, samples(response.read().decode("utf-8"))


def test_serve_scrapes_then_reports_a_lost_store_and_stops_on_sigterm(
    seeded: Target, tmp_path: Path
) -> None:
    env = profile_env(seeded, tmp_path)
    process, url = _serve(env)
    try:
        status, found = _scrape(url)
        assert status == 200
        assert value(found, "esctl_up") == 1
        assert value(found, "esctl_checkpoint_lag_events", subscription="behind") == 20
        with seeded.open() as store:  # fresh figures on every scrape: nothing cached
            subscriber_saves(store, "behind", 12)
        assert value(_scrape(url)[1], "esctl_checkpoint_lag_events", subscription="behind") == 10
        # The store goes away mid-way: the scrape still answers 200, with esctl_up 0.
        _make_store_vanish(seeded)
        status, found = _scrape(url)
        assert status == 200
        assert value(found, "esctl_up") == 0
        assert "esctl_head_position" not in {name for name, _ in found}
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert stderr.count("Warning: scrape failed:") == 1, stderr


def _make_store_vanish(target: Target) -> None:
    if target.backend == "sqlite":
        Path(target.url.removeprefix("sqlite:///")).unlink()
        return
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{target.schema}" CASCADE')


def test_serve_on_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            esctl_command("metrics", "serve", "--listen", f"127.0.0.1:{port}"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"Error: cannot listen on 127.0.0.1:{port}: the port is in use" in result.stderr


@pytest.mark.parametrize("listen", ["9464", "host:port", "127.0.0.1:70000"])
def test_serve_refuses_a_bad_listen_address(listen: str) -> None:
    result = run_cli("metrics", "serve", "--listen", listen)
    assert result.exit_code == 2
    assert f"Error: --listen {listen!r} is not HOST:PORT" in result.stderr
