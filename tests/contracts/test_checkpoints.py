"""Contract of the Checkpoints port (`tx.checkpoints`) on both engines: every method, rows the
seed's subscriber (or any other program) wrote, two transactions racing a compare-and-set, and
the esctl errors a lost compare-and-set turns into (exit 3, the CLI's today)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from esctl.checkpoints import MoveTarget, execute, plan_move, save_owned
from esctl.errors import ConcurrencyError
from esctl.store.base import Store
from esctl.types import Cursor, StoredCheckpoint
from tests.conftest import Target
from tests.contracts.helpers import checkpoints, cursors, seed


def written_by_another_program(store: Store, name: str, position: int) -> None:
    """Another program: position only, no transaction id, and a NULL updated_at."""
    with store.writing() as tx:
        tx.execute(
            "INSERT INTO {checkpoints} (subscription_id, last_position, updated_at) "
            "VALUES (%s, %s, NULL)",
            [name, position],
        )


def test_create_if_absent_get_and_the_store_clock(store: Store) -> None:
    with store.writing() as tx:
        port = checkpoints(tx)
        assert port.get("projector") is None
        now = port.now()
        assert now.tzinfo is not None
        assert port.create_if_absent("projector", Cursor(0, 5)) is True
        assert port.create_if_absent("projector", Cursor(0, 9)) is False
    with store.reading() as tx:
        found = checkpoints(tx).get("projector")
    assert found is not None
    assert (found.name, found.position, found.transaction_id) == ("projector", 5, None)
    assert found.stored == Cursor(0, 5)
    assert isinstance(found.updated_at, datetime)
    assert abs((found.updated_at - now).total_seconds()) < 60


def test_all_and_names_are_ordered_bounded_and_prefixed(store: Store) -> None:
    with store.writing() as tx:
        for name in ("b-two", "a-one", "b-one", "c"):
            checkpoints(tx).save(name, Cursor(0, 1))
    with store.reading() as tx:
        port = checkpoints(tx)
        assert [c.name for c in port.all()] == ["a-one", "b-one", "b-two", "c"]
        assert port.names("b-") == ["b-one", "b-two"]
        assert port.names("b-", limit=1) == ["b-one"]
        assert port.names() == ["a-one", "b-one", "b-two", "c"]
        assert port.names("z") == []


def test_save_creates_then_overwrites_with_a_transaction_id(store: Store, target: Target) -> None:
    seed(store, 2)
    last = cursors(store)[-1]
    with store.writing() as tx:
        checkpoints(tx).save("c", Cursor(0, 1))
        checkpoints(tx).save("c", last)
    with store.reading() as tx:
        found = checkpoints(tx).get("c")
    assert found is not None and found.stored == last
    if target.backend == "postgresql":
        assert found.transaction_id == last.transaction_id and last.transaction_id > 0


def test_compare_and_set_moves_only_from_the_expected_pair(store: Store) -> None:
    seed(store, 3)
    first, _, third = cursors(store)
    with store.writing() as tx:
        port = checkpoints(tx)
        port.save("c", first)
        assert port.holds("c", first)
        assert port.compare_and_set("c", third, first) is False  # it is not at `third`
        assert port.compare_and_set("c", first, third) is True
        assert not port.holds("c", first) and port.holds("c", third)
        assert port.compare_and_set("gone", first, third) is False
    with store.reading() as tx:
        found = checkpoints(tx).get("c")
    assert found is not None and found.stored == third


def test_a_position_only_row_is_the_pair_with_no_transaction_id(store: Store) -> None:
    written_by_another_program(store, "seeded", 2)
    with store.writing() as tx:
        port = checkpoints(tx)
        found = port.get("seeded")
        assert found is not None
        assert (found.transaction_id, found.updated_at) == (None, None)
        assert port.holds("seeded", Cursor(0, 2))
        assert port.compare_and_set("seeded", Cursor(0, 2), Cursor(0, 3)) is True


def test_an_odd_updated_at_from_another_program_reads_without_failing(store: Store) -> None:
    odd = "infinity" if store.backend == "postgresql" else "last tuesday"
    written_by_another_program(store, "odd", 1)
    with store.writing() as tx:
        tx.execute("UPDATE {checkpoints} SET updated_at = %s", [odd])
    with store.reading() as tx:
        found = checkpoints(tx).get("odd")
        listed = checkpoints(tx).all()
    assert found is not None and found.updated_at is not None
    assert not isinstance(found.updated_at, datetime)  # an odd time, kept as such
    assert [c.name for c in listed] == ["odd"]


def test_delete_with_and_without_an_expected_pair(store: Store) -> None:
    with store.writing() as tx:
        port = checkpoints(tx)
        port.save("a", Cursor(0, 4))
        port.save("b", Cursor(0, 4))
        assert port.delete("a", Cursor(0, 5)) is False
        assert port.delete("a", Cursor(0, 4)) is True
        assert port.delete("b") is True
        assert port.delete("b") is False
        assert port.all() == []


def test_two_transactions_racing_one_compare_and_set_exactly_one_wins(
    store: Store, target: Target
) -> None:
    with store.writing() as tx:
        checkpoints(tx).save("race", Cursor(0, 1))
    barrier = threading.Barrier(2)
    won: dict[int, bool] = {}

    def move(to: int) -> None:
        with target.open() as own:
            barrier.wait()
            with own.writing() as tx:
                won[to] = checkpoints(tx).compare_and_set("race", Cursor(0, 1), Cursor(0, to))

    threads = [threading.Thread(target=move, args=(to,)) for to in (10, 20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(won.values()) == [False, True]
    winner = next(to for to, ok in won.items() if ok)
    with store.reading() as tx:
        found = checkpoints(tx).get("race")
    assert found == StoredCheckpoint("race", winner, None, found.updated_at if found else None)


def test_a_lost_compare_and_set_is_exit_3_and_writes_nothing(store: Store) -> None:
    seed(store, 5)
    with store.writing() as tx:
        checkpoints(tx).save("c", Cursor(0, 0))
    plan = plan_move(store, "c", MoveTarget("end"))
    with store.writing() as tx:  # another operator moves it after the plan was made
        checkpoints(tx).save("c", Cursor(0, 2))
    with pytest.raises(ConcurrencyError) as raised:
        execute(store, plan)
    assert raised.value.exit_code == 3
    assert "changed concurrently" in raised.value.message
    with store.reading() as tx:
        found = checkpoints(tx).get("c")
    assert found is not None and found.position == 2


def test_a_consumer_save_over_a_moved_checkpoint_is_exit_3(store: Store) -> None:
    with store.writing() as tx:
        checkpoints(tx).save("owned", Cursor(0, 1))
        checkpoints(tx).save("owned", Cursor(0, 7))  # moved under the consumer
    with pytest.raises(ConcurrencyError) as raised, store.writing() as tx:
        save_owned(tx, "owned", Cursor(0, 3), Cursor(0, 1))
    assert raised.value.exit_code == 3
    assert "now at position 7" in raised.value.message


def test_a_consumer_save_whose_commit_went_unanswered_is_taken_as_its_own(store: Store) -> None:
    """Found by the Patroni failover test: a save's COMMIT landed but its connection died before
    the answer; the next save must not take that value for an operator's move."""
    with store.writing() as tx:
        checkpoints(tx).save("owned", Cursor(0, 1))
        checkpoints(tx).save("owned", Cursor(0, 5))  # the unanswered save of Cursor(0, 5) landed
    with store.writing() as tx:
        save_owned(tx, "owned", Cursor(0, 9), Cursor(0, 1), uncertain=[Cursor(0, 4), Cursor(0, 5)])
    with store.reading() as tx:
        found = checkpoints(tx).get("owned")
    assert found is not None and found.position == 9
    with pytest.raises(ConcurrencyError), store.writing() as tx:  # a real move is still one
        save_owned(tx, "owned", Cursor(0, 10), Cursor(0, 1), uncertain=[Cursor(0, 5)])


def test_updated_at_moves_with_every_write(store: Store) -> None:
    written_by_another_program(store, "c", 1)
    with store.writing() as tx:
        tx.execute(
            "UPDATE {checkpoints} SET updated_at = %s",
            [tx.time_param(datetime(2020, 1, 1, tzinfo=UTC))],
        )
    with store.writing() as tx:
        assert checkpoints(tx).compare_and_set("c", Cursor(0, 1), Cursor(0, 2))
    with store.reading() as tx:
        found = checkpoints(tx).get("c")
        now = checkpoints(tx).now()
    assert found is not None and isinstance(found.updated_at, datetime)
    assert now - found.updated_at < timedelta(minutes=1)
