"""Contract of the Leases port (`tx.leases`) on both engines, and of the lease feature over it:
take, take over by token, renew, release; a lease held by a live process refuses a second
consumer (exit 3), one whose pid is gone or whose time ran out is taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from esctl.checkpoints import leases as lease_feature
from esctl.errors import ConcurrencyError
from esctl.store.base import Store
from esctl.types import LeaseHolder
from tests.contracts.helpers import leases


def holder(
    name: str, token: str, *, pid: int | None = None, now: datetime, ttl: float = 30.0
) -> LeaseHolder:
    return LeaseHolder(
        host=socket.gethostname(),
        pid=os.getpid() if pid is None else pid,
        since=now,
        expires_at=now + timedelta(seconds=ttl),
        subscription_id=name,
        token=token,
    )


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a process that runs for the test."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child.pid
    child.kill()
    child.wait()


def test_acquire_where_there_is_none_and_read_it_back(store: Store) -> None:
    with store.writing() as tx:
        port = leases(tx)
        now = port.now()
        assert port.holder("c") is None
        assert port.acquire(holder("c", "t1", now=now)) is True
        assert port.acquire(holder("c", "t2", now=now)) is False  # one lease per subscription
    with store.reading() as tx:
        found = leases(tx).holder("c")
        listed = leases(tx).holders()
    assert found is not None
    assert (found.subscription_id, found.token, found.pid) == ("c", "t1", os.getpid())
    assert found.host == socket.gethostname()
    assert found.since.tzinfo is not None
    assert abs((found.since - now).total_seconds()) < 1
    assert abs((found.expires_at - found.since).total_seconds() - 30) < 1
    assert [h.subscription_id for h in listed] == ["c"]


def test_take_over_renew_and_release_go_by_token(store: Store) -> None:
    with store.writing() as tx:
        port = leases(tx)
        now = port.now()
        port.acquire(holder("c", "old", now=now))
        assert port.acquire(holder("c", "new", now=now), replacing="wrong") is False
        assert port.acquire(holder("c", "new", now=now), replacing="old") is True
        assert port.renew("c", "old", now + timedelta(minutes=5)) is False
        assert port.renew("c", "new", now + timedelta(minutes=5)) is True
        renewed = port.holder("c")
        assert renewed is not None and renewed.token == "new"
        assert renewed.expires_at - now > timedelta(minutes=4)
        assert port.release("c", "old") is False
        assert port.release("c", "new") is True
        assert port.holder("c") is None


def test_a_live_holder_refuses_a_second_consumer_with_exit_3(store: Store, live_pid: int) -> None:
    with store.writing() as tx:
        port = leases(tx)
        port.acquire(holder("c", "theirs", pid=live_pid, now=port.now()))
    with pytest.raises(ConcurrencyError) as raised:
        lease_feature.acquire(store, "c")
    assert raised.value.exit_code == 3
    assert f"pid {live_pid} on" in raised.value.message
    with store.reading() as tx:
        assert lease_feature.live_holder(leases(tx), "c") is not None
        assert set(lease_feature.live_holders(leases(tx))) == {"c"}


def test_a_dead_pid_on_this_host_is_taken_over(store: Store, dead_pid: int) -> None:
    with store.writing() as tx:
        port = leases(tx)
        port.acquire(holder("c", "dead", pid=dead_pid, now=port.now()))
    with store.reading() as tx:
        assert lease_feature.live_holder(leases(tx), "c") is None
        assert lease_feature.live_holders(leases(tx)) == {}
    mine = lease_feature.acquire(store, "c")
    with store.reading() as tx:
        found = leases(tx).holder("c")
    assert found is not None and (found.token, found.pid) == (mine.token, os.getpid())


def test_an_expired_lease_of_a_live_process_is_taken_over(store: Store, live_pid: int) -> None:
    with store.writing() as tx:
        port = leases(tx)
        port.acquire(holder("c", "late", pid=live_pid, now=port.now() - timedelta(minutes=5)))
    mine = lease_feature.acquire(store, "c")
    assert mine.token != "late"


def test_a_lease_lost_to_another_consumer_fails_renewal_with_exit_3(store: Store) -> None:
    mine = lease_feature.acquire(store, "c")
    with store.writing() as tx:  # it expired and another consumer took it
        port = leases(tx)
        port.acquire(holder("c", "other", now=port.now()), replacing=mine.token)
    with pytest.raises(ConcurrencyError) as raised, store.writing() as tx:
        lease_feature.renew(tx, mine)
    assert raised.value.exit_code == 3
    assert "lost the lease" in raised.value.message
    lease_feature.release(store, mine)  # not ours any more: the other consumer keeps it
    with store.reading() as tx:
        found = leases(tx).holder("c")
    assert found is not None and found.token == "other"


def test_a_holder_written_by_another_program_is_described_printably(store: Store) -> None:
    with store.writing() as tx:
        now = leases(tx).now()
        tx.execute(
            "INSERT INTO {leases} (subscription_id, holder_host, holder_pid, token, since, "
            "expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
            ["c", "evil\x1b[2Jhost", 0, "x", tx.time_param(now), tx.time_param(now)],
        )
    with store.reading() as tx:
        found = leases(tx).holder("c")
    assert found is not None
    assert found.describe() == "evil\\x1b[2Jhost:0"
    assert lease_feature.is_live(found, now) is False  # expired (and pid 0 is no process)
