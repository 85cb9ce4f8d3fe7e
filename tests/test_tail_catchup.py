"""tail's catch-up path: batches written as JSON lines with one call (PostgreSQL renders them), the
same bytes, cursor and warnings as event-by-event output, and checkpoints saved every SAVE_EVERY
events behind the head, never past a line that was not written whole. Both backends."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from esctl.checkpoints import load_cursor
from esctl.checkpoints.consumer import CheckpointOwner
from esctl.conditions import parse_conditions
from esctl.ports import EventFilter
from esctl.read import follow
from esctl.read.events import event_json_line
from esctl.read.follow import Follower
from esctl.render.sink import OutputFailed
from esctl.store.base import Store
from esctl.types import START, Cursor, LiveLines
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_tail_postgres import seed_insert

NORMAL = [
    ("Order-1", "OrderPlaced", {"n": 1, "text": 'quote " backslash \\ slash /'}),
    ("Order-2", "OrderPlaced", {"n": 2, "lines": "a\nb\r\tc\u0001", "uni": "ש\U0001f389e\u0301"}),
    ("Customer-1", "CustomerRegistered", {"n": 3, "nested": {"list": [1, 2.5, None, True]}}),
    ("Order-1", "OrderPaid", {"n": 4, "big": 12345678901234567890, "float": 1.5e300}),
    ("Order-né-1", "OrderPaid", {"n": 5, "empty": {}, "zero": 0}),
]


def insert_raw(store: Store, stream_id: str, data: str, metadata: str | None, at: str) -> None:
    """One row by plain SQL with its columns' text as given (the odd rows other programs write)."""
    json_cast, time_cast = (
        ("CAST(%s AS jsonb)", "CAST(%s AS timestamptz)")
        if store.backend == "postgresql"
        else ("%s", "%s")
    )
    with store.writing() as session:
        session.execute(
            "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, metadata, "
            f"version, created_at) VALUES (%s, %s, %s, 'Odd', {json_cast}, {json_cast}, 1, "
            f"{time_cast})",
            [str(uuid.uuid4()), stream_id, stream_id.split("-")[0], data, metadata, at],
        )


def fill(store: Store) -> None:
    """Normal events in several transactions, with odd rows between them."""
    seed_events(store, NORMAL[:2])
    insert_raw(store, "NullMeta-1", '{"n": 6}', None, "2026-01-01 00:00:00.5+00")
    insert_raw(store, "ArrayData-1", "[1, 2]", "{}", "2026-01-01 00:00:00+00")  # warns
    seed_events(store, NORMAL[2:4])
    insert_raw(store, "JsonNullMeta-1", '{"n": 7}', "null", "0001-01-01 00:00:00+00")  # warns
    if store.backend == "postgresql":
        insert_raw(store, "Infinity-1", '{"n": 8}', "{}", "infinity")  # warns
    else:
        insert_raw(store, "Pretty-1", '{\n  "n": 8\n}', "{}", "2026-12-01 21:12:44")
    seed_events(store, NORMAL[4:] + [(f"Bulk-{n % 3}", "Happened", {"n": n}) for n in range(9, 40)])


def follow_both_ways(
    store: Store, event_filter: EventFilter, *, batch_size: int = 3
) -> tuple[tuple[bytes, list[str], Cursor, int], tuple[bytes, list[str], Cursor, int], int]:
    """(output, warnings, cursor, delivered) event by event and as lines, and how many batches
    the store rendered itself."""
    texts: list[str] = []
    old_warnings: list[str] = []
    old = Follower(store, event_filter, START, batch_size=batch_size, warn=old_warnings.append)
    old.run(lambda event: texts.append(event_json_line(event) + "\n"), idle_timeout=0)
    chunks: list[bytes] = []
    warnings: list[str] = []
    rendered = []
    lines = store.live.lines

    def counted(after: Cursor, where: EventFilter, limit: int) -> LiveLines | None:
        got = lines(after, where, limit)
        rendered.append(got is not None)
        return got

    store.live.lines = counted  # type: ignore[method-assign]
    try:
        new = Follower(store, event_filter, START, batch_size=batch_size, warn=warnings.append)

        def never(event: object) -> None:
            raise AssertionError("with emit_lines, no event is emitted one by one")

        new.run(never, idle_timeout=0, emit_lines=chunks.append)
    finally:
        del store.live.lines
    return (
        ("".join(texts).encode(), old_warnings, old.cursor, old.delivered),
        (b"".join(chunks), warnings, new.cursor, new.delivered),
        sum(rendered),
    )


def test_lines_are_the_bytes_cursor_and_warnings_of_event_by_event_output(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store)
    monkeypatch.setattr(follow, "CATCH_UP_BATCH", 4)  # many small batches, odd rows among them
    filters = [
        EventFilter(),
        EventFilter(category="Order"),
        EventFilter(types=("OrderPaid", "Odd")),
        EventFilter(stream_id="Bulk-1"),
        EventFilter(conditions=parse_conditions(["data.n>=3", "data.n<30"])),
        EventFilter(types=("Nothing",)),
    ]
    rendered_by: dict[EventFilter, int] = {}
    for event_filter in filters:
        old, new, rendered = follow_both_ways(store, event_filter)
        assert new == old, event_filter
        if event_filter.types == ("Nothing",):
            assert old[3] == 0 and old[2] != START  # nothing matched; the cursor moved past it
        else:
            assert old[3] > 0 and old[0].count(b"\n") == old[3]
        # PostgreSQL renders the batches (not those holding a row that needs a warning: here
        # every batch of the OrderPaid/Odd filter); SQLite leaves it to the follower.
        rendered_by[event_filter] = rendered
    if store.backend == "postgresql":
        assert rendered_by[filters[0]] > 0 and rendered_by[filters[3]] > 0, rendered_by
    else:
        assert set(rendered_by.values()) == {0}
    _, (data, warnings, _, delivered), _ = follow_both_ways(store, EventFilter())
    positions = [json.loads(line)["global_position"] for line in data.splitlines()]
    assert positions == sorted(positions) and len(positions) == delivered == 40
    assert len(warnings) == (3 if store.backend == "postgresql" else 2)
    assert all(w.startswith("event at global position ") for w in warnings)


def test_cli_tail_writes_what_read_all_writes(initialised: Target) -> None:
    with initialised.open() as store:
        fill(store)
    read = run_cli("read", "--all", "-o", "jsonl")
    assert read.exit_code == 0, read.stderr
    for fmt in ("jsonl", "json"):
        tail = run_cli("tail", "--all", "--from-start", "--idle-timeout", "0", "-o", fmt)
        assert tail.exit_code == 0, tail.stderr
        assert tail.stdout == read.stdout
        warned = [line for line in tail.stderr.splitlines() if line.startswith("Warning:")]
        assert warned == [line for line in read.stderr.splitlines() if line.startswith("Warning:")]
    first = run_cli(
        "tail", "--checkpoint", "c", "--from-start", "--idle-timeout", "0", "-o", "jsonl"
    )
    assert first.exit_code == 0 and first.stdout == read.stdout
    last = json.loads(read.stdout.splitlines()[-1])["global_position"]
    with initialised.open() as store:
        saved = load_cursor(store, "c")
        assert saved is not None and saved.global_position == last
        seed_events(store, [("Order-9", "OrderPlaced", {"n": 99})])
    again = run_cli("tail", "--checkpoint", "c", "--idle-timeout", "0", "-o", "jsonl")
    assert again.exit_code == 0, again.stderr
    assert [json.loads(line)["data"] for line in again.stdout.splitlines()] == [{"n": 99}]


def test_a_short_write_saves_the_checkpoint_at_the_last_line_written_whole(
    store: Store,
) -> None:
    seed_events(store, NORMAL)
    with store.reading() as tx:
        cursors = [Cursor.after(e) for e in tx.log.events_after(START, 10)]
    for cut, error in [
        (2, OutputFailed("cannot write output: No space left")),
        (0, BrokenPipeError()),
    ]:
        name = f"short-{cut}"
        owner, cursor, _ = CheckpointOwner.claim(store, name, lambda: START)

        def short_write(data: bytes, cut: int = cut, error: Any = error) -> None:
            end = 0
            for _ in range(cut):
                end = data.index(b"\n", end) + 1
            error.written_bytes = end + 5  # and 5 bytes of the next line
            raise error

        follower = Follower(store, EventFilter(), cursor, owner=owner)
        with pytest.raises(type(error)):
            follower.run(lambda event: None, idle_timeout=0, emit_lines=short_write)
        owner.close()
        assert follower.delivered == cut
        assert load_cursor(store, name) == (cursors[cut - 1] if cut else START)


def test_behind_the_head_the_checkpoint_is_saved_every_save_every_events(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_events(store, [(f"S-{n % 4}", "Happened", {"n": n}) for n in range(30)])
    monkeypatch.setattr(follow, "SAVE_EVERY", 7)
    monkeypatch.setattr(follow, "SAVE_INTERVAL", 3600.0)
    with store.reading() as tx:
        order = [Cursor.after(e) for e in tx.log.events_after(START, 100)]
    for lines in (False, True):
        name = f"every-{lines}"
        owner, cursor, _ = CheckpointOwner.claim(store, name, lambda: START)
        saved: list[int] = []
        save = owner.save

        def recorded(at: Cursor, save: Any = save, saved: list[int] = saved) -> None:
            save(at)
            saved.append(order.index(at) + 1)  # events delivered up to this save

        owner.save = recorded  # type: ignore[method-assign]
        chunks: list[bytes] = []
        Follower(store, EventFilter(), cursor, owner=owner, batch_size=2).run(
            lambda event: None, idle_timeout=0, emit_lines=chunks.append if lines else None
        )
        owner.close()
        assert saved[-1] == 30 and load_cursor(store, name) == order[-1]
        steps = [b - a for a, b in zip([0, *saved], saved, strict=False)]
        assert max(steps) <= 7 and len(saved) <= 30 // 2 - 1, (lines, saved)


def test_lines_keep_commit_order_under_the_horizon(pg_target: Target) -> None:
    from esctl.admin.init import init_store

    store = pg_target.open()
    init_store(store)
    url, schema = store.location.target, store.settings.schema
    with psycopg.connect(url) as a, psycopg.connect(url) as b, psycopg.connect(url) as c:
        a.execute("SELECT pg_current_xact_id()")
        b.execute("SELECT pg_current_xact_id()")  # b's transaction id is above a's
        event_b = seed_insert(b, schema, "Inv-b", 1)  # the lower position
        event_a = seed_insert(a, schema, "Inv-a", 1)  # the higher position, lower xid
        a.commit()
        got, cursor = lines_until(store, START, 1)
        assert got == [event_a]
        event_c = seed_insert(c, schema, "Inv-c", 1)
        c.commit()  # committed, but b (older) is still open: the horizon holds it back
        held = store.live_lines(cursor, "1 = 1", [], 100)
        assert held is not None and held.events == 0 and held.pending and held.data == b""
        b.commit()
        got, _ = lines_until(store, cursor, 2)
        assert got == [event_b, event_c]
    store.close()


def lines_until(store: Store, cursor: Cursor, count: int) -> tuple[list[str], Cursor]:
    """Live batches as lines until `count` events came (another session of the shared server
    may hold the horizon a moment); their ids and the cursor after them."""
    import time

    got: list[str] = []
    deadline = time.monotonic() + 30
    while len(got) < count:
        assert time.monotonic() < deadline, got
        batch = store.live_lines(cursor, "1 = 1", [], 100)
        assert batch is not None
        got += [json.loads(line)["event_id"] for line in batch.data.splitlines()]
        cursor = batch.last if batch.events else cursor
        time.sleep(0.02)
    return got, cursor
