"""Secrets: a sentinel password given in a URL, a conninfo string, `PGPASSWORD` or `password_env`
never appears in the stdout or stderr of any command, in any format, with or without --verbose,
against an unreachable server and against a real one."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from esctl.admin.init import init_store
from esctl.cli.introspect import command_tree
from tests.support.data import seed_events, write_config, write_jsonl
from tests.support.figures import record
from tests.support.processes import run_cli, run_process
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

SENTINEL = "Sentinel-Pa55word-q7Zx"


def every_command(tmp_path: Path) -> list[list[str]]:
    """One invocation of every leaf command (writes included: a refused or failed write must not
    leak either)."""
    events = write_jsonl(
        tmp_path / "secret-events.jsonl",
        [{"stream_id": "Order-1", "event_type": "Placed", "data": {"n": 1}}],
    )
    return [
        ["init"],
        ["init", "--dry-run"],
        ["doctor"],
        ["config", "show"],
        ["config", "profiles"],
        ["config", "path"],
        ["config", "init", "--path", str(tmp_path / f"starter-{uuid.uuid4().hex[:6]}.yaml")],
        ["append", str(events)],
        ["read", "Order-1"],
        ["read", "--all"],
        ["events", "show", str(uuid.uuid4())],
        ["events", "redact", str(uuid.uuid4()), "--path", "data.n", "--execute"],
        ["tail", "--all", "--from-start", "--max", "1", "--idle-timeout", "0.2"],
        ["streams", "list"],
        ["streams", "show", "Order-1"],
        ["streams", "state", "Order-1"],
        ["streams", "delete", "Order-1"],
        ["streams", "undelete", "Order-1"],
        ["streams", "truncate", "Order-1", "--before-version", "1", "--force"],
        # executed: the manifest it prints (-o json) and writes names the store
        [
            "streams",
            "archive",
            "Order-1",
            "--to",
            str(tmp_path / f"a-{uuid.uuid4().hex[:6]}.jsonl.gz"),
            "--execute",
        ],
        ["retention", "plan"],  # refused: the profiles have no retention: rules
        ["retention", "apply", "--execute"],
        ["stats"],
        ["stats", "--by-size"],
        ["stats", "--watch", "--interval", "0.1", "--max-frames", "1"],
        ["top", "--once"],
        ["trace", str(uuid.uuid4())],
        ["checkpoints", "list"],
        ["checkpoints", "show", "sub"],
        ["checkpoints", "set", "sub", "--to-start", "--execute"],
        ["checkpoints", "delete", "sub", "--execute"],
        ["audit"],
        ["snapshots", "list"],
        ["snapshots", "show", "Order-1"],
        ["snapshots", "rebuild", "--all"],
        ["snapshots", "verify", "--all"],
        ["bench", "append", "--events", "20", "--batch-size", "10", "--warmup", "0"],
        ["sandbox", "--seed", str(tmp_path / "missing.jsonl")],  # refused: starts no server
        ["horizon"],
        ["metrics"],
        ["metrics", "serve", "--listen", "nowhere"],  # refused: serves nothing
    ]


def test_the_walk_covers_every_command(tmp_path: Path) -> None:
    leaves = {c.name for c in command_tree().walk() if not c.subcommands and c.path}
    walked = set()
    for args in every_command(tmp_path):
        words = [a for a in args if not a.startswith("-")]
        for size in (2, 1):
            if "esctl " + " ".join(words[:size]) in leaves:
                walked.add("esctl " + " ".join(words[:size]))
                break
    assert walked == leaves, f"not walked: {sorted(leaves - walked)}"


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or ""
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _profiles(
    url_without_password: str, conninfo_host: str, port: int | None
) -> dict[str, dict[str, str]]:
    port_part = f" port={port}" if port else ""
    user = urlsplit(url_without_password).username or "postgres"
    return {
        "in-url": {"store": _with_password(url_without_password, SENTINEL)},
        "in-conninfo": {
            "store": f"host={conninfo_host}{port_part} user={user} password={SENTINEL} "
            "dbname=postgres"
        },
        "password-env": {"store": url_without_password, "password_env": "ESCTL_REL_SECRET"},
        "pgpassword": {"store": url_without_password},
    }


# What each command must show when it really ran, by its first words: (exit codes allowed against
# the real server, text one of which stdout+stderr must hold on success). Against an unreachable
# server every store command must exit 5 with "Error: store … unavailable"; config commands work.
EXPECTED: dict[str, tuple[set[int], tuple[str, ...]]] = {
    "init": ({0}, ("schema version", '"schema_version": ')),
    "init --dry-run": ({0}, ("is current (version", '"dry_run": true')),
    "doctor": ({0}, ("all present", '"ok": true')),
    "config show": ({0}, ("store",)),
    "config profiles": ({0}, ("in-url",)),
    "config path": ({0}, ("secrets.yaml",)),
    "config init": ({0}, ("starter-",)),
    "append": ({0}, ("Order-1",)),
    "read Order-1": ({0}, ("Order-1",)),
    "read --all": ({0}, ("Order-1",)),
    "events show": ({4}, ()),
    "events redact": ({4}, ()),
    "tail": ({0}, ("Order-1",)),
    "streams list": ({0}, ("Order-1",)),
    "streams show": ({0}, ("Order-1",)),
    "streams delete": ({0}, ("Order-1",)),
    "streams undelete": ({4}, ()),
    "streams truncate": ({0}, ("Order-1",)),
    "streams archive": ({0}, ("Order-1",)),
    "retention plan": ({2}, ()),
    "retention apply": ({2}, ()),
    "streams state": ({0}, ('"n": 1', "n  1")),  # JSON, or the narrow table's row
    "stats": ({0}, ("head_position",)),
    "trace": ({4}, ()),
    "top": ({0}, ("head",)),
    "checkpoints list": ({0}, ("checkpoint", "[]")),
    "checkpoints show": ({4}, ()),
    "checkpoints set": ({0}, ("sub",)),
    "checkpoints delete": ({0}, ("sub",)),
    "audit": ({0}, ("checkpoints set", "No audited")),
    "snapshots list": ({0}, ("Order-1", "snapshot", "[]")),
    "snapshots show": ({0, 4}, ("Order-1",)),  # 4 until the walk's first rebuild
    "snapshots rebuild": ({0}, ("rebuilt", "Order-1")),
    "snapshots verify": ({0}, ("Verified", "[]")),
    "bench": ({0}, ("append",)),
    # sandbox uses no configured store; the walk runs only its refusal (it starts no server).
    "sandbox": ({2}, ()),
    "horizon": ({0}, ("Visibility horizon", '"holes": ')),
    "metrics": ({0}, ("esctl_up 1", '"up": true')),
    "metrics serve": ({2}, ()),
}
# Commands that report an unreachable store as data (`esctl_up 0`, exit 0) or refuse first.
DOWN_AS_DATA = {
    "metrics": ({0}, ("esctl_up 0", '"up": false')),
    "metrics serve": ({2}, ()),
}

# Commands that never open the configured store: they behave the same against any server.
STORELESS = {"config", "sandbox"}


def _expected(args: list[str]) -> tuple[set[int], tuple[str, ...]]:
    for size in (2, 1):
        key = " ".join(args[:size])
        if key in EXPECTED:
            return EXPECTED[key]
    raise AssertionError(f"no expectation for {args}")


def _walk(
    config: Path,
    profiles: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    verbose: list[bool],
    *,
    reachable: bool,
    shown: dict[str, str],
) -> int:
    """Every command, for every profile, format and verbosity: the sentinel never shows, and each
    run did what it should (exit code and output), so an esctl that dies early cannot pass."""
    monkeypatch.setenv("ESCTL_REL_SECRET", SENTINEL)
    monkeypatch.setenv("PGPASSWORD", SENTINEL)
    config.chmod(0o600)  # the permission warning has its own test
    runs = 0
    for profile in profiles:
        for loud in verbose:
            for fmt in ("table", "json"):
                for args in every_command(tmp_path):
                    flags = ["-c", str(config), "-p", profile, "-o", fmt] + (["-v"] if loud else [])
                    result = run_cli(*flags, *args)
                    runs += 1
                    seen = result.stdout + result.stderr
                    where = (profile, loud, fmt, args, result.exit_code, seen[-3000:])
                    assert SENTINEL not in seen, where
                    assert "Pa55word" not in seen, where
                    codes, markers = _expected(args)
                    down = DOWN_AS_DATA.get(" ".join(args[:2]), DOWN_AS_DATA.get(args[0]))
                    if not reachable and down is not None:
                        codes, markers = down
                    elif not reachable and args[0] not in STORELESS:
                        assert result.exit_code == 5, where
                        assert f"Error: store {shown[profile]} unavailable: " in result.stderr, (
                            where
                        )
                        continue
                    assert result.exit_code in codes, where
                    if result.exit_code == 0:
                        assert any(m in seen for m in markers), where
                    else:
                        assert result.stderr.startswith("Error: "), where
    return runs


def test_no_secret_in_any_output_against_an_unreachable_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profiles = _profiles(f"postgresql://app@127.0.0.1:{port}/postgres", "127.0.0.1", port)
    for profile in profiles.values():
        profile["connect_timeout"] = "1"  # type: ignore[assignment]
    config = write_config(tmp_path / "secrets.yaml", profiles)
    shown = {
        "in-url": f"postgresql://app:***@127.0.0.1:{port}/postgres",
        "in-conninfo": f"host=127.0.0.1 port={port} user=app password=*** dbname=postgres",
        "password-env": f"postgresql://app@127.0.0.1:{port}/postgres",
        "pgpassword": f"postgresql://app@127.0.0.1:{port}/postgres",
    }
    runs = _walk(
        config,
        list(profiles),
        tmp_path,
        monkeypatch,
        verbose=[False, True],
        reachable=False,
        shown=shown,
    )
    record("secrets: every command vs an unreachable server", runs=runs, leaks=0)


@pytest.mark.postgres
def test_no_secret_in_any_output_against_a_real_server(
    pg_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pg_target.open() as store:
        init_store(store)
        seed_events(store, [("Order-1", "Placed", {"n": 0})])
    parts = urlsplit(pg_target.url)
    base = _with_password(pg_target.url, "").replace(":@", "@", 1)
    host = parts.hostname or dict(
        p.split("=", 1) for p in parts.query.split("&") if p.startswith("host=")
    ).get("host", "")
    profiles = _profiles(base, host, parts.port)
    for profile in profiles.values():
        profile["schema"] = pg_target.schema
    config = write_config(tmp_path / "secrets.yaml", profiles)
    runs = _walk(
        config, list(profiles), tmp_path, monkeypatch, verbose=[True], reachable=True, shown={}
    )
    ok = run_cli("-c", str(config), "-p", "in-url", "read", "Order-1", "-o", "jsonl")
    assert ok.exit_code == 0, ok.stderr  # the walk really reached the server
    record("secrets: every command vs the real server (-v)", runs=runs, leaks=0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


HOSTILE_URLS = [
    # (store, exit code, what stderr says, how config show prints the store)
    (
        "postgresql://app:{S}@[::1/postgres",
        2,
        "Error: bad store URL postgresql://app:***@[::1/postgres: end of string reached when "
        'looking for matching "]" in IPv6 host address in URI: "postgresql://app:***@[::1/postgres"',
        "postgresql://app:***@[::1/postgres",
    ),
    (
        "postgresql://app:x@{S}@127.0.0.1:{port}/postgres",
        2,
        "Error: store URL postgresql://***@127.0.0.1:{port}/postgres has more than one @ before "
        "its host: escape @ in a password as %40",
        "postgresql://***@127.0.0.1:{port}/postgres",
    ),
    (  # libpq reads `password=…` as the value of the empty host and echoes it
        "host= password={S} dbname=postgres",
        5,
        "Error: store host= password=*** dbname=postgres unavailable: failed to resolve host "
        "'password=***'",
        "host= password=*** dbname=postgres",
    ),
    (  # a `/` in an unescaped password: urllib would call the password part of the path
        "postgresql://app:ab/{S}@127.0.0.1:{port}/postgres",
        5,
        "Error: store postgresql://app:***@127.0.0.1:{port}/postgres unavailable: ",
        "postgresql://app:***@127.0.0.1:{port}/postgres",
    ),
    (
        "postgresql://app@127.0.0.1:{port}/postgres?password={S}&sslmode=bogus",
        2,  # a value libpq rejects is the URL's fault (exit 2), not an unavailable store
        "Error: bad store URL postgresql://app@127.0.0.1:{port}/postgres?password=***&sslmode=bogus"
        ': invalid sslmode value: "bogus"',
        "postgresql://app@127.0.0.1:{port}/postgres?password=***&sslmode=bogus",
    ),
]


@pytest.mark.parametrize(("store", "code", "error", "shown"), HOSTILE_URLS)
def test_hostile_store_urls_never_show_the_password(
    tmp_path: Path, store: str, code: int, error: str, shown: str
) -> None:
    port = _closed_port()
    values = {"S": SENTINEL, "port": port}
    config = write_config(
        tmp_path / "hostile.yaml",
        {"h": {"store": store.format(**values), "connect_timeout": 1}},
    )
    config.chmod(0o600)
    for args in (["doctor"], ["-v", "init"], ["read", "--all", "-o", "json"], ["-v", "stats"]):
        result = run_process("-c", str(config), "-p", "h", *args)
        seen = result.stdout + result.stderr
        assert SENTINEL not in seen and "Pa55word" not in seen, (args, seen)
        assert result.returncode == code, (args, seen)
        assert error.format(**values) in result.stderr, (args, result.stderr)
    show = run_process("-c", str(config), "-p", "h", "config", "show", "-o", "json")
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout)["store"] == shown.format(**values)
    assert SENTINEL not in show.stdout + show.stderr


def test_a_world_readable_config_with_a_password_is_warned_about_by_every_command(
    tmp_path: Path,
) -> None:
    port = _closed_port()
    config = write_config(
        tmp_path / "open.yaml",
        {"p": {"store": f"postgresql://app:{SENTINEL}@127.0.0.1:{port}/db", "connect_timeout": 1}},
    )
    config.chmod(0o644)
    warning = (
        f"Warning: config file {config} holds a password (profile 'p', store) and other users can "
        f"read it (mode 644); run `chmod 600 {config}`\n"
    )
    for args, code in ((["config", "show"], 0), (["doctor"], 5), (["-q", "stats"], 5)):
        result = run_process("-c", str(config), "-p", "p", *args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stderr.startswith(warning), (args, result.stderr)
        assert result.stderr.count("Warning: config file") == 1, result.stderr
        assert SENTINEL not in result.stdout + result.stderr
    config.chmod(0o600)
    quiet = run_process("-c", str(config), "-p", "p", "config", "show")
    assert quiet.returncode == 0 and "Warning" not in quiet.stderr, quiet.stderr
