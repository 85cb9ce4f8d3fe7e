"""`--where`: the parser, and one table of expressions run through the store's SQL (both engines)
and through `EventFilter.matches` in Python, which must agree with each other and with the
expected events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from esctl.conditions import parse_condition, parse_conditions, time_key
from esctl.errors import UsageError
from esctl.ports import EventFilter
from esctl.read.events import read_all, read_stream
from esctl.store.base import Store
from tests.support.processes import run_cli
from tests.support.stores import Target

# Each document is the data of one event of stream Doc-<index>. None: the row is written raw below.
DOCUMENTS: list[Any] = [
    {
        "n": 42,
        "s": "42",
        "customer": {"id": "C-42", "name": "Zoë"},
        "tags": ["x", "y"],
        "flag": True,
        "nil": None,
        "at": "2024-05-01T10:00:00Z",
        "f": 1.5,
        "0": "zero",
    },
    {
        "n": 42.0,
        "s": "forty-two",
        "customer": {"id": "C-7"},
        "tags": "x",
        "flag": False,
        "at": "2024-05-01T12:00:00+02:00",
    },
    {"n": "42", "customer": "C-42", "at": "2024-05-02", "big": 9223372036854775807},
    {"n": -1e3, "ключ": "значение ☃", "at": "2024-02-30T00:00:00Z", "flag": 1, "f": 0.1},
    {"n": True, "nil": "null", "at": 1714557600, "s": "a%_b"},
    {},
    [{"n": 42}],  # not an object
    42,  # a scalar
    None,  # SQLite: text that is not JSON; PostgreSQL: the JSON string "not json {"
]
METADATA: list[Any] = [
    {"user": "alice@example.com", "tenant": "acme"},
    {"user": "bob", "tenant": "globex"},
    None,  # SQL NULL (the seed's column allows it)
]
ALL = set(range(len(DOCUMENTS)))

# expression -> the documents it selects
CASES: list[tuple[str, set[int]]] = [
    ("data.n=42", {0, 1}),
    ("data.n=42.0", {0, 1}),
    ("data.n=4.2e1", {0, 1}),
    ("data.n!=42", ALL - {0, 1}),
    ("data.n='42'", {2}),
    ('data.n="42"', {2}),
    ("data.n>41", {0, 1}),
    ("data.n>=42", {0, 1}),
    ("data.n<0", {3}),
    ("data.n<=-1000", {3}),
    ("data.n=true", {4}),
    ("data.s=42", set()),
    ("data.s~42", {0}),
    ("data.s~forty", {1}),
    ("data.s~%", {4}),
    ("data.s~_", {4}),
    ("data.s~FORTY", set()),
    ("data.customer.id=C-42", {0}),
    ("data.customer=C-42", {2}),
    ("data.customer.id~C-", {0, 1}),
    ("data.customer.name=Zoë", {0}),
    ("data.ключ=значение ☃", {3}),
    ("data.ключ~☃", {3}),
    ("data.tags=x", {1}),
    ("data.tags!=x", ALL - {1}),
    ("data.flag=true", {0}),
    ("data.flag=false", {1}),
    ("data.flag!=true", ALL - {0}),
    ("data.flag=1", {3}),
    ("data.nil=null", {0}),
    ("data.nil!=null", ALL - {0}),
    ("data.nil='null'", {4}),
    ("data.at>2024-05-01T09:00:00Z", {0, 1, 2}),
    ("data.at>=2024-05-01T10:00:00Z", {0, 1, 2}),
    ("data.at>2024-05-01T10:00:00Z", {2}),
    ("data.at>2024-05-01T11:00:00+01:00", {2}),
    ("data.at<2024-05-02", {0, 1}),
    ("data.at<=2024-05-02", {0, 1, 2}),
    ("data.at<='2024-05-02 00:00'", {0, 1, 2}),
    ("data.at>2024-01-01", {0, 1, 2}),
    ("data.at=2024-05-02", {2}),
    ("data.missing=1", set()),
    ("data.missing!=1", ALL),
    ("data.n.deeper=1", set()),
    ("data.customer.id.x~C", set()),
    ("data.0=zero", {0}),
    ("data.big=9223372036854775807", {2}),
    ("data.big>9223372036854775806", {2}),
    ("data.big<9223372036854775807", set()),
    ("data.f=1.5", {0}),
    ("data.f>1.4", {0}),
    ("data.f=0.1", {3}),
    ("data.f<1", {3}),
    ("metadata.user=alice@example.com", {0, 3, 6}),
    ("metadata.user~alice", {0, 3, 6}),
    ("metadata.tenant!=acme", ALL - {0, 3, 6}),
    ("metadata.tenant=globex", {1, 4, 7}),
]


def _write_documents(store: Store) -> None:
    """Doc-<i> with DOCUMENTS[i] as data and METADATA[i % 3] as metadata, written with plain SQL
    as another program could (arrays, scalars, text that is not JSON, NULL metadata)."""
    postgres = store.backend == "postgresql"
    cast = "CAST(%s AS jsonb)" if postgres else "%s"
    with store.writing() as session:
        for index, document in enumerate(DOCUMENTS):
            if document is None:
                data = json.dumps("not json {") if postgres else "not json {"
            else:
                data = json.dumps(document, ensure_ascii=False)
            metadata = METADATA[index % len(METADATA)]
            session.execute(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                f"metadata, version) VALUES (%s, %s, 'Doc', 'Written', {cast}, {cast}, 1)",
                [
                    str(uuid.uuid4()),
                    f"Doc-{index}",
                    data,
                    None if metadata is None else json.dumps(metadata),
                ],
            )


@pytest.fixture
def documents(store: Store) -> Store:
    _write_documents(store)
    return store


def _selected(events: Any) -> set[int]:
    return {int(event.stream_id.split("-")[1]) for event in events}


def test_sql_and_python_agree_with_the_table(documents: Store) -> None:
    everything = list(read_all(documents))
    assert len(everything) == len(DOCUMENTS)
    failures = []
    for expression, expected in CASES:
        where = EventFilter(conditions=(parse_condition(expression),))
        by_sql = _selected(read_all(documents, where))
        by_python = _selected(e for e in everything if where.matches(e))
        if not by_sql == by_python == expected:
            failures.append(f"{expression}: sql {by_sql}, python {by_python}, want {expected}")
    assert not failures, "\n".join(failures)


def test_the_live_reader_applies_the_conditions(documents: Store) -> None:
    from esctl.types import START

    for expression, expected in CASES:
        where = EventFilter(conditions=(parse_condition(expression),))
        batch = documents.live.batch(START, where, 100)
        assert _selected(_events(batch.rows)) == expected, expression


def _events(rows: list[dict[str, Any]]) -> list[Any]:
    from esctl.types import RecordedEvent

    return [RecordedEvent.from_row(row) for row in rows]


def test_conditions_are_anded_and_combine_with_the_other_filters(documents: Store) -> None:
    where = EventFilter(
        category="Doc", types=("Written",), conditions=parse_conditions(["data.n=42", "data.f=1.5"])
    )
    assert _selected(read_all(documents, where)) == {0}
    where = EventFilter(types=("Other",), conditions=parse_conditions(["data.n=42"]))
    assert _selected(read_all(documents, where)) == set()
    assert _selected(
        read_all(
            documents, EventFilter(conditions=parse_conditions(["data.n=42"])), from_position=2
        )
    ) == {1}


def test_a_stream_read_takes_conditions(documents: Store) -> None:
    assert _selected(
        read_stream(documents, "Doc-0", conditions=parse_conditions(["data.n=42"]))
    ) == {0}
    assert list(read_stream(documents, "Doc-0", conditions=parse_conditions(["data.n=41"]))) == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("data", "not an expression"),
        ("data=1", "give a path inside data"),
        ("data.=1", "'' is not a valid key"),
        ("data.a..b=1", "'' is not a valid key"),
        ("event.a=1", "not an expression"),
        ("data.a", "not an expression"),
        ("data.a'); DROP TABLE x;--=1", "not an expression"),
        ("data.a');DROP=1", "is not a valid key"),
        ('data.a"b=1', "is not a valid key"),
        ('data.a="x', "unbalanced or invalid double-quoted value"),
        ("data.a='x", "unbalanced single quote"),
        ("data.a=123456789012345678901234567890", "too large to compare exactly"),
        ("data.a>1e400", "out of range"),
        ("data.a>abc", "> compares numbers or times"),
        ("data.a>'42'", "> compares numbers or times"),
        ("data.a<=true", "<= compares numbers or times"),
        ("data.a>2024-02-30", "> compares numbers or times"),
        ("data.a>", "> compares numbers or times"),
        ("data.a=1e-400", "out of range"),
        ("data.a=x\x00y", "holds a NUL"),
        ("data.a=\udcff", "not UTF-8"),
        ("data.a\nb=1", "not an expression"),
    ],
)
def test_bad_expressions_are_usage_errors(expression: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as raised:
        parse_condition(expression)
    assert raised.value.exit_code == 2


def test_values_are_parsed_by_type() -> None:
    assert parse_condition("data.a=42").value == 42
    assert parse_condition("data.a=01234").value == "01234"  # not a JSON number: text
    assert parse_condition("data.a = C-42 ").value == "C-42"
    assert parse_condition("data.a=x=y").value == "x=y"
    assert parse_condition("data.a==42").op == "="
    assert parse_condition("data.a=0.0").value == 0
    assert parse_condition("data.a=line\nbreak").value == "line\nbreak"
    assert parse_condition("data.a~42").value == "42"
    assert parse_condition("data.a=").value == ""
    assert parse_condition('data.a="tab\\there"').value == "tab\there"
    assert parse_condition("metadata.a-b.@c.$d.e:f=1").path == ("a-b", "@c", "$d", "e:f")
    assert parse_condition("data.at>2024-05-01").kind == "time"
    assert parse_condition("data.at>'2024-05-01'").kind == "time"


def test_time_keys() -> None:
    assert time_key("2024-05-01T12:00:00+02:00") == time_key("2024-05-01T10:00:00Z")
    assert time_key("2024-05-01") == time_key("2024-05-01T00:00:00")
    assert time_key("2024-05-01T00:00:00.5Z") == time_key("2024-05-01T00:00:00Z") + 500_000  # type: ignore[operator]
    assert time_key("2024-02-29") is not None and time_key("2023-02-29") is None
    assert time_key("2000-02-29") is not None and time_key("1900-02-29") is None
    assert time_key("9999-12-31T23:59:59-14:00") is not None  # past year 9999 in UTC: no overflow
    for bad in (
        "2024-13-01",
        "2024-04-31",
        "2024-05-01T24:00",
        "2024-05-01T10:00:00+15:00",
        42,
        None,
    ):
        assert time_key(bad) is None


def test_hostile_paths_never_reach_the_store(initialised: Target) -> None:
    result = run_cli("read", "--all", "--where", "data.a'); DROP TABLE events;--=1")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --where ")
    assert run_cli("read", "--all").exit_code == 0  # the table is still there


def test_the_command_line_reads_with_where(initialised: Target, tmp_path: Any) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(
        "\n".join(
            json.dumps(e)
            for e in [
                {
                    "stream_id": "Order-1",
                    "type": "Placed",
                    "data": {"customer_id": "C-42", "total": 150},
                },
                {
                    "stream_id": "Order-2",
                    "type": "Placed",
                    "data": {"customer_id": "C-7", "total": 50},
                },
                {
                    "stream_id": "Order-1",
                    "type": "Paid",
                    "data": {"total": 150},
                    "metadata": {"user": "alice"},
                },
            ]
        )
        + "\n"
    )
    assert run_cli("append", str(source)).exit_code == 0
    if initialised.backend == "sqlite":
        result = run_cli("read", "--all", "--where", "data.total=150", "-v", "-o", "jsonl")
        assert "--where: this store shows no plan" in result.stderr
    for fmt in ("jsonl", "json", "table", "csv"):
        result = run_cli("read", "--all", "--where", "data.customer_id=C-42", "-o", fmt)
        assert result.exit_code == 0, result.stderr
        assert "C-42" in result.stdout and "C-7" not in result.stdout
    result = run_cli(
        "read", "--all", "-w", "data.total>=100", "-w", "metadata.user~ali", "-o", "jsonl"
    )
    assert [json.loads(line)["event_type"] for line in result.stdout.splitlines()] == ["Paid"]
    result = run_cli("read", "Order-1", "--where", "data.total=150", "--backwards", "-o", "jsonl")
    assert [json.loads(line)["version"] for line in result.stdout.splitlines()] == [2, 1]
    result = run_cli(
        "read", "--all", "--type", "Placed", "--where", "data.total<100", "-o", "jsonl"
    )
    assert [json.loads(line)["stream_id"] for line in result.stdout.splitlines()] == ["Order-2"]
    result = run_cli(
        "tail",
        "--all",
        "--from-start",
        "--idle-timeout",
        "0.3",
        "--where",
        "data.total>100",
        "-o",
        "jsonl",
    )
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["event_type"] for line in result.stdout.splitlines()] == [
        "Placed",
        "Paid",
    ]


@pytest.mark.postgres
def test_verbose_says_whether_an_index_serves_the_equality(
    pg_target: Target, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from esctl.admin.init import init_store
    from tests.support.data import write_config

    with pg_target.open() as store:
        init_store(store)
        with store.writing() as session:
            session.executemany(
                "INSERT INTO {events} (stream_id, stream_type, event_type, event_data, version) "
                "VALUES (%s, 'Order', 'Placed', CAST(%s AS jsonb), 1)",
                [
                    [f"Order-{i}", json.dumps({"customer_id": f"C-{i % 500}", "total": i})]
                    for i in range(5000)
                ],
            )
    config = write_config(
        tmp_path / "pg.yaml", {"t": {"store": pg_target.url, "schema": pg_target.schema}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "t")
    args = ("read", "--all", "--where", "data.customer_id=C-42", "-o", "jsonl", "-v")
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 10
    assert "--where: no index used" in result.stderr
    assert "no GIN index on event_data or metadata" in run_cli("doctor").stdout
    advice = next(
        line for line in result.stderr.splitlines() if "CREATE INDEX CONCURRENTLY" in line
    )
    statement = advice.split("an index would help: ", 1)[1]
    assert statement == (
        f'CREATE INDEX CONCURRENTLY events_event_data_gin ON "{pg_target.schema}".events '
        "USING gin (event_data jsonb_path_ops);"
    )
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]
        conn.execute(f'ANALYZE "{pg_target.schema}".events')  # type: ignore[arg-type]
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 10
    assert "--where: the plan uses index events_event_data_gin" in result.stderr
    assert "CREATE INDEX" not in result.stderr
    doctor = run_cli("doctor", "-o", "json")
    assert doctor.exit_code == 0, doctor.stderr
    assert [i["name"] for i in json.loads(doctor.stdout)["json_indexes"]] == [
        "events_event_data_gin"
    ]
    assert "--where index events_event_data_gin" in run_cli("doctor").stdout
    # Without -v nothing is said; metadata has no GIN index yet.
    assert "--where" not in run_cli(*args[:-1]).stderr
    result = run_cli("read", "--all", "--where", "metadata.user=alice", "-o", "jsonl", "-v")
    assert "USING gin (metadata jsonb_path_ops)" in result.stderr
