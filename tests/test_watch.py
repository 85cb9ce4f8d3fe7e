"""`checkpoints list --watch` and `stats --watch` on both backends: the frames' data (rates
against known events and checkpoints), JSON lines, refusals, and Ctrl-C in a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path

from esctl.checkpoints import Thresholds
from esctl.operate.watch import sample_checkpoints, sample_stats
from esctl.store.base import Store
from tests.support.processes import profile_env, run_cli
from tests.support.stores import Target
from tests.test_checkpoints import seed, subscriber_saves


def test_frames_count_what_each_checkpoint_consumed(store: Store) -> None:
    seed(store, 10, transactions=False)
    subscriber_saves(store, "reader", 2)
    first = sample_checkpoints(store, Thresholds(), None)
    assert first.rates == {} and first.appended == 0
    seed(store, 5, transactions=False)
    subscriber_saves(store, "reader", 12)  # consumed 10 of the 13 pending: lag 8 -> 3
    second = sample_checkpoints(store, Thresholds(), first)
    assert second.appended == 5
    (state,) = second.states
    assert state.lag == 3
    seconds = (second.sampled_at - first.sampled_at).total_seconds()
    assert second.rates["reader"] == (8 + 5 - 3) / seconds
    assert second.rows()[0]["consumed_per_second"] == round(10 / seconds, 3)


def test_stats_frames_give_appended_per_category(store: Store) -> None:
    seed(store, 6, transactions=False)  # category Order
    first = sample_stats(store, None)
    from tests.support.data import seed_events

    seed_events(store, [("Invoice-1", "Sent", {}), ("Order-9", "Placed", {})])
    second = sample_stats(store, first)
    seconds = (second.sampled_at - first.sampled_at).total_seconds()
    assert second.by_category() == {"Order": 7, "Invoice": 1}
    assert second.rates == {"Order": 1 / seconds, "Invoice": 1 / seconds}


def test_watch_as_json_lines_one_document_a_frame(initialised: Target) -> None:
    with initialised.open() as store:
        seed(store, 4, transactions=False)
        subscriber_saves(store, "reader", 1)
    result = run_cli(
        "checkpoints", "list", "--watch", "--interval", "0.05", "--max-frames", "2", "-o", "json"
    )
    assert result.exit_code == 0, result.stderr
    frames = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(frames) == 2
    assert [c["subscription_id"] for c in frames[0]["checkpoints"]] == ["reader"]
    assert frames[0]["checkpoints"][0]["consumed_per_second"] is None
    assert frames[1]["checkpoints"][0]["consumed_per_second"] == 0.0
    result = run_cli("stats", "--watch", "--interval", "0.05", "--max-frames", "2", "-o", "jsonl")
    assert result.exit_code == 0, result.stderr
    frames = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["categories"] for f in frames] == [
        [{"category": "Order", "events": 4, "appended_per_second": None}],
        [{"category": "Order", "events": 4, "appended_per_second": 0.0}],
    ]


def test_watch_to_a_pipe_prints_each_frame_after_a_time_line(initialised: Target) -> None:
    with initialised.open() as store:
        seed(store, 2, transactions=False)
    result = run_cli("stats", "--watch", "--interval", "0.05", "--max-frames", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("--- ") == 2
    assert result.stdout.count("By category") == 2


def test_watch_refusals(initialised: Target) -> None:
    result = run_cli("stats", "--watch", "-o", "csv")
    assert result.exit_code == 2
    assert "Error: --watch writes table, wide, json or jsonl frames, not -o csv" in result.stderr
    result = run_cli("checkpoints", "list", "--max-frames", "2")
    assert result.exit_code == 2
    assert "--max-frames needs --watch" in result.stderr
    result = run_cli("checkpoints", "list", "--watch", "--fail-on", "lagging")
    assert result.exit_code == 2


def _read_until(fd: int, wanted: bytes, limit: float = 60.0) -> bytes:
    """Read the pty until `wanted` appears (select with a generous limit: not a timing test)."""
    seen = b""
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], limit)
        assert ready, f"no {wanted!r} in {seen[-500:]!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_ctrl_c_ends_a_live_watch_in_a_terminal_with_exit_0(
    initialised: Target, tmp_path: Path
) -> None:
    with initialised.open() as store:
        seed(store, 3, transactions=False)
        subscriber_saves(store, "reader", 1)
    env = {**os.environ, **profile_env(initialised, tmp_path), "COLUMNS": "100", "LINES": "30"}
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "esctl", "checkpoints", "list", "--watch", "--interval", "0.2"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    try:
        seen = _read_until(leader, b"reader")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        seen += _read_until(leader, b"\x1b[?25h")  # the cursor shown again: terminal restored
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    assert b"consumed/s" in seen


def test_sigterm_ends_a_watch_with_exit_0(initialised: Target, tmp_path: Path) -> None:
    env = {**os.environ, **profile_env(initialised, tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "esctl", "stats", "--watch", "--interval", "0.2", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())  # waits for the first frame
        assert "categories" in first
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_lost_connection_is_shown_in_the_frame_and_retried() -> None:
    """The watch loop itself: a sample that fails with StoreUnavailable (exit 5 elsewhere) is
    written as a frame with `error`, and the next frame samples again."""
    import io

    from esctl.cli.watch import run_watch
    from esctl.errors import StoreUnavailable
    from esctl.render import Renderer
    from esctl.render.views import Lines

    stdout = io.StringIO()
    out = Renderer("json", stdout=stdout, stderr=io.StringIO())
    calls: list[object] = []

    def sample(previous: object) -> dict[str, int]:
        calls.append(previous)
        if len(calls) == 2:
            raise StoreUnavailable("store x unavailable: connection lost")
        return {"n": len(calls)}

    run_watch(
        out,
        sample,
        lambda frame: ({"sampled_at": "t", **frame}, Lines("")),
        interval=0.01,
        max_frames=3,
    )
    frames = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [f.get("n") for f in frames] == [1, None, 3]
    assert frames[1]["error"] == "store x unavailable: connection lost"
    assert calls == [None, {"n": 1}, None]  # rates restart after the failure
