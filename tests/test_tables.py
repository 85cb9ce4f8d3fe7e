"""How tables look: identities never cut at 60/80/120 columns, `-o wide`, one time, age and number
format, `--tz`, colour only on a colour terminal, and notes after the table."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from esctl.admin.init import init_store
from esctl.display import ColumnFit, age, fit_columns, resolve_zone, table_time
from esctl.errors import UsageError
from esctl.render import Column, Renderer
from tests.support.data import seed_events, write_config
from tests.support.processes import run_cli
from tests.support.stores import Target

WIDTHS = [60, 80, 120]
SGR = re.compile(r"\x1b\[[0-9;]*m")
STREAMS = ["Order-1001", "Order-1002", "Customer-7"]


def cells(text: str) -> list[list[str]]:
    """The header (its lines joined per column) and then the cells of each row line of a
    rendered table, box characters removed, stripped."""
    header: list[str] = []
    rows = []
    for line in SGR.sub("", text).splitlines():
        if "┃" in line:
            parts = [cell.strip() for cell in line.strip().strip("┃").split("┃")]
            joined = zip(header, parts, strict=True) if header else ((p, "") for p in parts)
            header = [f"{a} {b}".strip() for a, b in joined]
        elif "│" in line:
            rows.append([cell.strip() for cell in line.strip().strip("│").split("│")])
    return ([header] if header else []) + rows


def all_cells(text: str) -> set[str]:
    return {cell for row in cells(text) for cell in row}


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """A SQLite store with three streams, two checkpoints and two snapshots, all written by
    plain SQL, and the CLI pointed at it."""
    target = Target("sqlite", f"sqlite:///{tmp_path / 'tables.db'}")
    with target.open() as store:
        init_store(store)
        seed_events(
            store,
            [
                (
                    "Order-1001",
                    "OrderPlaced",
                    {"customer": "Customer-7", "total": 18.5, "n": "x" * 80},
                ),
                ("Order-1001", "PaymentReceived", {"amount": 18.5}),
                ("Order-1002", "OrderPlaced", {"customer": "Customer-9", "total": 12}),
                ("Customer-7", "CustomerRegistered", {"name": "Ada", "email": "ada@example.com"}),
                ("Order-1002", "OrderCancelled", {"reason": "out of stock"}),
            ],
        )
        with store.writing() as session:
            for name, position in (("orders-projection", 2), ("billing-projector-long", 5)):
                session.execute(
                    "INSERT INTO {checkpoints} (subscription_id, last_position) VALUES (%s, %s)",
                    [name, position],
                )
            for stream, version in (("Order-1001", 2), ("Order-1002", 1)):
                session.execute(
                    "INSERT INTO {snapshots} (stream_id, stream_type, snapshot_data, version) "
                    "VALUES (%s, %s, %s, %s)",
                    [
                        stream,
                        "Order",
                        session.json_param({"status": "open", "pad": "y" * 60}),
                        version,
                    ],
                )
    config = write_config(tmp_path / "tables.yaml", {"t": {"store": target.url}})
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "t")
    return target


def _at(width: int, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    for line in result.stdout.splitlines():
        assert len(line) <= width, f"wider than {width}: {line!r}"
    return result.stdout


# --- identities stay whole ------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_read_all_keeps_positions_streams_and_versions_whole(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    text = _at(width, monkeypatch, "read", "--all")
    body = cells(text)[1:]
    assert [r[0] for r in body] == ["1", "2", "3", "4", "5"]
    assert [r[1] for r in body] == [
        "Order-1001",
        "Order-1001",
        "Order-1002",
        "Customer-7",
        "Order-1002",
    ]
    assert [r[2] for r in body] == ["1", "2", "1", "1", "2"]
    assert "…" not in "".join(r[0] + r[1] + r[2] for r in body)


@pytest.mark.parametrize("width", WIDTHS)
def test_read_stream_keeps_ids_whole_and_shows_as_much_data_as_fits(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    text = _at(width, monkeypatch, "read", "Order-1001")
    body = cells(text)[1:]
    assert [(r[0], r[1], r[2]) for r in body] == [
        ("1", "Order-1001", "1"),
        ("2", "Order-1001", "2"),
    ]
    data = body[0][-1]
    assert data.startswith('{"custo') and data.endswith("…")  # cut to the room left, not to 40
    if width == 120:
        assert len(data) > 40


def test_read_at_120_columns_shows_time_and_type(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _at(120, monkeypatch, "read", "--all")
    assert "time (UTC)" in text and "CustomerRegistered" in all_cells(text)


def test_read_at_60_columns_says_which_columns_it_left_out(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = run_cli("read", "--all")
    assert result.exit_code == 0
    assert "time (UTC)" not in result.stdout
    assert "Not shown at 60 columns: time (UTC) (-o wide shows every column)." in result.stderr


@pytest.mark.parametrize("width", WIDTHS)
def test_streams_list_keeps_ids_versions_and_counts_whole(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    table = cells(_at(width, monkeypatch, "streams", "list"))
    header, body = table[0], table[1:]
    assert [r[0] for r in body] == sorted(STREAMS)
    version, events = header.index("version"), header.index("events")
    assert {r[0]: (r[version], r[events]) for r in body} == {
        "Customer-7": ("1", "1"),
        "Order-1001": ("2", "2"),
        "Order-1002": ("2", "2"),
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_checkpoints_list_keeps_name_position_lag_and_status(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    text = _at(width, monkeypatch, "checkpoints", "list")
    header = cells(text)[0]
    assert header[:2] == ["subscription", "position"] and "status" in header
    status = header.index("status")
    body = {r[0]: r for r in cells(text)[1:]}
    assert set(body) == {"orders-projection", "billing-projector-long"}
    assert body["orders-projection"][1] == "2" and body["orders-projection"][status] == "ok"
    assert body["billing-projector-long"][1] == "5"
    lag = header.index("lag")
    assert body["orders-projection"][lag] == "3" and body["billing-projector-long"][lag] == "0"


@pytest.mark.parametrize("width", WIDTHS)
def test_snapshots_list_keeps_stream_version_and_behind_whole(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    text = _at(width, monkeypatch, "snapshots", "list")
    header = cells(text)[0]
    body = {r[0]: r for r in cells(text)[1:]}
    assert set(body) == {"Order-1001", "Order-1002"}
    version, behind = header.index("version"), header.index("behind")
    assert (body["Order-1001"][version], body["Order-1001"][behind]) == ("2", "0")
    assert (body["Order-1002"][version], body["Order-1002"][behind]) == ("1", "1")


@pytest.mark.parametrize("width", WIDTHS)
def test_stats_keeps_categories_types_and_counts_whole(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    text = _at(width, monkeypatch, "stats")
    found = {(r[0], r[1]): r[2] for r in cells(text)[1:]}
    assert found == {
        ("Customer", "CustomerRegistered"): "1",
        ("Order", "OrderCancelled"): "1",
        ("Order", "OrderPlaced"): "2",
        ("Order", "PaymentReceived"): "1",
    }
    assert "head_position" in text and "oldest_event_at (UTC)" in text


# --- -o wide ----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 120])
def test_wide_never_cuts_a_value(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    text = _at(width, monkeypatch, "-o", "wide", "read", "Order-1001")
    assert "…" not in text
    body = cells(text)
    assert ["1", "Order-1001", "1"] in [r[:3] for r in body]
    assert ["2", "Order-1001", "2"] in [r[:3] for r in body]
    # The whole data, folded over lines: joining the data cells gives it back.
    data_lines = "".join(r[-1] for r in body[1:] if r[-1])
    assert '"n":"' + "x" * 80 + '"' in data_lines.replace(" ", "")
    assert "PaymentReceived" in "".join(r[3] for r in body)


def test_wide_is_a_table_in_every_command(sqlite_store: Target) -> None:
    result = run_cli("-o", "wide", "checkpoints", "list")
    assert result.exit_code == 0 and "updated (UTC)" in result.stdout and "┃" in result.stdout


# --- layout, in isolation -----------------------------------------------------------------------


def test_fit_cuts_flexible_columns_then_drops_by_priority() -> None:
    columns = [
        ColumnFit(need=10, minimum=10, priority=0),
        ColumnFit(need=19, minimum=19, priority=2),
        ColumnFit(need=50, minimum=8, priority=1, flexible=True),
    ]
    assert fit_columns(columns, 200) == ([0, 1, 2], {0: 10, 1: 19, 2: 50})
    assert fit_columns(columns, 50) == ([0, 1, 2], {0: 10, 1: 19, 2: 11})
    assert fit_columns(columns, 30) == ([0, 2], {0: 10, 2: 13})
    assert fit_columns(columns, 20) == ([0], {0: 10})
    # Nothing left to drop: a flexible column folds narrower still, the id keeps its width.
    kept = [columns[0], ColumnFit(need=50, minimum=8, priority=0, flexible=True)]
    assert fit_columns(kept, 20) == ([0, 1], {0: 10, 1: 3})
    assert fit_columns(kept, 10) == ([0, 1], {0: 10, 1: 1})


# --- times, ages, numbers -------------------------------------------------------------------------


def test_one_time_format_in_the_chosen_zone() -> None:
    assert table_time("2026-12-01T21:12:44.201000Z") == "2026-12-01 21:12:44"
    assert table_time("2026-12-01T21:12:44Z", resolve_zone("Europe/Paris")) == "2026-12-01 22:12:44"
    assert (
        table_time("0001-01-01T00:00:00Z", resolve_zone("America/New_York"))
        == "0001-01-01 00:00:00"
    )
    assert table_time("infinity") == "infinity"
    with pytest.raises(UsageError, match="unknown time zone 'Mars/Olympus'"):
        resolve_zone("Mars/Olympus")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (17.4, "17s"),
        (102, "1m42s"),
        (3600 * 3 + 300, "3h05m"),
        (86400 * 2 + 4 * 3600, "2d04h"),
        (-5, "-5s"),
        (None, ""),
    ],
)
def test_one_age_format(seconds: float | None, shown: str) -> None:
    assert age(seconds) == shown


def test_counts_get_separators_positions_and_versions_never() -> None:
    out = io.StringIO()
    Renderer(stdout=out, stderr=io.StringIO(), color=False).rows(
        [{"global_position": 1234567, "version": 12345, "events": 1234567, "lag": 300006}],
        [Column("global_position"), Column("version"), Column("events"), Column("lag")],
    )
    assert cells(out.getvalue())[1] == ["1234567", "12345", "1,234,567", "300,006"]


def test_tz_option_converts_times_and_names_the_zone(sqlite_store: Target) -> None:
    utc = run_cli("read", "Order-1001")
    paris = run_cli("--tz", "Asia/Kolkata", "read", "Order-1001")
    assert utc.exit_code == 0 and paris.exit_code == 0
    assert "time (UTC)" in utc.stdout and "time (Asia/Kolkata)" in paris.stdout
    utc_time = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", utc.stdout)
    kolkata_time = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", paris.stdout)
    assert utc_time and kolkata_time
    from datetime import datetime, timedelta

    shift = datetime.fromisoformat(kolkata_time.group()) - datetime.fromisoformat(utc_time.group())
    assert abs(shift - timedelta(hours=5, minutes=30)) <= timedelta(seconds=1)
    as_json = run_cli("--tz", "Asia/Kolkata", "read", "Order-1001", "-o", "jsonl")
    assert as_json.stdout.count('Z"') >= 2 and "+05:30" not in as_json.stdout  # JSON stays UTC


def test_every_table_uses_the_same_time_format(sqlite_store: Target) -> None:
    for args in (("read", "--all"), ("streams", "list"), ("stats",), ("checkpoints", "list")):
        result = run_cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", result.stdout), args
        assert not re.search(r"\d\dT\d\d:\d\d", result.stdout), args
        assert "(UTC)" in result.stdout, args
    event_id = run_cli("read", "Order-1001", "-o", "jsonl").stdout.split('"event_id": "')[1][:36]
    shown = run_cli("events", "show", event_id)
    assert shown.exit_code == 0, shown.stderr
    assert re.search(r"created_at \(UTC\)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s", shown.stdout)


def test_tz_and_wide_work_after_the_command_name(sqlite_store: Target) -> None:
    result = run_cli("read", "Order-1001", "--tz", "Europe/Paris", "-o", "wide")
    assert result.exit_code == 0, result.stderr
    assert "time (Europe/Paris)" in result.stdout and "…" not in result.stdout


def test_tz_in_a_profile_and_a_bad_zone(
    sqlite_store: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "tz.yaml", {"t": {"store": sqlite_store.url, "tz": "Asia/Tokyo"}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    assert "time (Asia/Tokyo)" in run_cli("read", "--all").stdout
    assert "time (UTC)" in run_cli("--tz", "UTC", "read", "--all").stdout  # the flag wins
    bad = run_cli("--tz", "Nowhere/City", "read", "--all")
    assert bad.exit_code == 2 and bad.stdout == ""
    assert "Error: --tz: unknown time zone 'Nowhere/City'" in bad.stderr
    config = write_config(
        tmp_path / "tz.yaml", {"t": {"store": sqlite_store.url, "tz": "Bad/Zone"}}
    )
    bad_profile = run_cli("read", "--all")
    assert bad_profile.exit_code == 2 and bad_profile.stdout == ""
    assert "profile 't': tz: unknown time zone 'Bad/Zone'" in bad_profile.stderr


def test_local_zone_follows_the_machine(sqlite_store: Target) -> None:
    import os

    env = {**os.environ, "TZ": "Asia/Tokyo", "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "esctl", "--tz", "local", "read", "Order-1001"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    utc = run_cli("read", "Order-1001").stdout
    assert done.returncode == 0, done.stderr
    assert "time (local)" in done.stdout
    first_utc = re.search(r"\d{4}-\d\d-\d\d (\d\d):", utc)
    first_local = re.search(r"\d{4}-\d\d-\d\d (\d\d):", done.stdout)
    assert first_utc and first_local
    assert (int(first_utc.group(1)) + 9) % 24 == int(first_local.group(1))


# --- colour -------------------------------------------------------------------------------------


STATUS_ROWS = [{"status": s} for s in ("FAIL", "lagging", "stalled", "ahead-of-head", "ok")]


def _statuses(**kwargs: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    renderer = Renderer(stdout=out, stderr=err, width=80, **kwargs)  # type: ignore[arg-type]
    renderer.rows(STATUS_ROWS, [Column("status")])
    renderer.warning("replica behind")
    renderer.error("stream 'x' not found", hint="esctl streams list")
    return out.getvalue(), err.getvalue()


def test_statuses_errors_and_warnings_are_coloured_on_a_colour_terminal() -> None:
    table, messages = _statuses(terminal=True, color=True)
    for status in ("FAIL", "lagging", "stalled", "ahead-of-head", "ok"):
        assert re.search(r"\x1b\[[0-9;]+m" + re.escape(status), table), status
    assert "\x1b[1;31mFAIL" in table and "\x1b[32mok" in table and "\x1b[33mlagging" in table
    assert "\x1b[1;31mError:" in messages and "\x1b[1;33mWarning:" in messages
    assert SGR.sub("", messages).splitlines() == [
        "Warning: replica behind",
        "Error: stream 'x' not found",
        "Hint: esctl streams list",
    ]


@pytest.mark.parametrize("kwargs", [{"terminal": True, "color": False}, {"color": True}])
def test_no_colour_with_no_color_or_off_a_terminal(kwargs: dict[str, bool]) -> None:
    table, messages = _statuses(**kwargs)
    assert "\x1b" not in table + messages
    assert "FAIL" in table and "Error: stream 'x' not found" in messages


def test_no_color_environment_and_flag_reach_the_renderer(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal as far as rich can tell
    coloured = run_cli("checkpoints", "list")
    assert coloured.exit_code == 0 and "\x1b[32mok" in coloured.stdout
    plain_flag = run_cli("--no-color", "checkpoints", "list")
    assert (
        plain_flag.exit_code == 0 and "\x1b" not in plain_flag.stdout and "ok" in plain_flag.stdout
    )
    monkeypatch.setenv("NO_COLOR", "1")
    plain_env = run_cli("checkpoints", "list")
    assert plain_env.exit_code == 0 and "\x1b" not in plain_env.stdout and "ok" in plain_env.stdout
    missing = run_cli("read", "Nope-1")
    assert missing.exit_code == 4 and missing.stderr.startswith("Error: ")


def test_error_is_red_on_a_real_terminal(sqlite_store: Target) -> None:
    """Through a pseudo-terminal, as a user sees it: `Error:` coloured, the status too."""
    import os
    import pty

    def on_tty(*args: str, extra: dict[str, str] | None = None, columns: int = 100) -> str:
        import fcntl
        import struct
        import termios

        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "esctl", *args],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env={**env, **(extra or {})},
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
        os.close(leader)
        return b"".join(chunks).decode()

    assert "\x1b[1;31mError:" in on_tty("read", "Nope-1")
    assert "\x1b[32mok" in on_tty("checkpoints", "list")
    assert "\x1b" not in on_tty("read", "Nope-1", extra={"NO_COLOR": "1"})
    assert "\x1b" not in on_tty("--no-color", "checkpoints", "list")
    # A real 60-column terminal: the table fits it and the ids are whole.
    narrow = SGR.sub("", on_tty("read", "--all", columns=60))
    rows = cells(narrow)
    assert [r[1] for r in rows[1:]] == [
        "Order-1001",
        "Order-1001",
        "Order-1002",
        "Customer-7",
        "Order-1002",
    ]
    assert max(len(line) for line in narrow.splitlines() if "│" in line) <= 60


def test_the_audit_trail_is_one_line_a_change_in_a_wide_terminal(
    sqlite_store: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counts and command lines are cut (ellipsis), not folded a few characters a line (a redact
    # row was 15 lines tall at 200 columns); the time reads as other tables' times do.
    for args in (
        ("checkpoints", "set", "orders-projection", "--to-end", "--execute"),
        ("streams", "delete", "Order-1002", "--execute"),
    ):
        assert run_cli(*args).exit_code == 0
    body = cells(_at(200, monkeypatch, "audit"))[1:]
    assert [(r[0], r[2], r[3]) for r in body] == [
        ("2", "streams delete", "Order-1002"),
        ("1", "checkpoints set", "orders-projection"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r[1]) for r in body), body
    assert all(r[-1].startswith("esctl ") for r in body), body


# --- notes after the table --------------------------------------------------------------------


def test_the_cut_note_comes_after_the_table_on_a_shared_screen(sqlite_store: Target) -> None:
    import os

    done = subprocess.run(
        [sys.executable, "-m", "esctl", "read", "--all", "--limit", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "60"},
    )
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    note = next(i for i, line in enumerate(lines) if line.startswith("Showing the first 2 rows"))
    bottom = max(i for i, line in enumerate(lines) if line.startswith("└"))
    assert note > bottom, done.stdout
    left_out = next(i for i, line in enumerate(lines) if line.startswith("Not shown at 60"))
    assert left_out > bottom
