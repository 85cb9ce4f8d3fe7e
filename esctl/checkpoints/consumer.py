"""A consumer that owns its checkpoint while it runs (`tail --checkpoint NAME`).

`CheckpointOwner.claim` takes the subscription's lease (a second consumer is refused, exit 3),
then loads the checkpoint, or creates it at the starting position on the first run, before the
consumer waits for anything: a first run that ends (idle, Ctrl-C, SIGTERM, SIGKILL) before any
event still leaves a checkpoint, and the next run delivers what was appended in between.
Every save is a compare-and-set against the pair the consumer last saved, in the transaction that
renews the lease: a checkpoint moved or deleted under the consumer (`checkpoints set --force`, the
seed's subscriber) stops it with exit 3 instead of being overwritten."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

from esctl.checkpoints import leases, transaction
from esctl.checkpoints.names import check_subscription_name, find
from esctl.errors import ConcurrencyError, StoreUnavailable
from esctl.ports import Checkpoints
from esctl.store.base import Session, Store
from esctl.types import Cursor


def load_cursor(store: Store, name: str) -> Cursor | None:
    """The cursor saved under `name`, for a live reader (`tail`) to resume from; None when there
    is no such checkpoint."""
    with store.reading() as tx:
        stored = find(transaction.checkpoints(tx), name)
        if stored is None:
            return None
        return transaction.log(tx).checkpoint_cursor(stored, live=True)


def load_stored(store: Store, name: str) -> tuple[Cursor, Cursor] | None:
    """For the consumer that owns `name`: (the cursor to resume from, the pair stored in the row
    as it is, which its next save compares against); None when there is no such checkpoint."""
    with store.reading() as tx:
        stored = find(transaction.checkpoints(tx), name)
        if stored is None:
            return None
        return transaction.log(tx).checkpoint_cursor(stored, live=True), stored.stored


def create_cursor(store: Store, name: str, cursor: Cursor) -> bool:
    """Create the checkpoint at `cursor` (a consumer's first run); False if it exists already."""
    check_subscription_name(name)
    with store.writing() as tx:
        return transaction.checkpoints(tx).create_if_absent(name, cursor)


def save_owned(
    tx: Session, name: str, cursor: Cursor, stored: Cursor, uncertain: Sequence[Cursor] = ()
) -> None:
    """The consumer's save, in the transaction `tx`: a compare-and-set against the pair it last
    saved (`stored`), or against one of its own saves whose commit it never heard back about
    (`uncertain`: the connection died during COMMIT, so it may have landed). A checkpoint moved or
    deleted under it raises ConcurrencyError (exit 3); nothing is written."""
    checkpoints = transaction.checkpoints(tx)
    for expected in (stored, *uncertain):
        if checkpoints.compare_and_set(name, expected, cursor):
            return
    raise moved_under(checkpoints, name, stored)


def check_unmoved(
    tx: Session, name: str, stored: Cursor, uncertain: Sequence[Cursor] = ()
) -> Cursor:
    """The value the checkpoint holds, `stored` or one of the `uncertain` saves; ConcurrencyError
    (exit 3) if it holds neither."""
    checkpoints = transaction.checkpoints(tx)
    for expected in (stored, *uncertain):
        if checkpoints.holds(name, expected):
            return expected
    raise moved_under(checkpoints, name, stored)


def moved_under(checkpoints: Checkpoints, name: str, stored: Cursor) -> ConcurrencyError:
    current = checkpoints.get(name)
    found = "it was deleted" if current is None else f"it is now at position {current.position}"
    return ConcurrencyError(
        f"checkpoint {name!r} was moved while this consumer ran (it had saved position "
        f"{stored.global_position}; {found}): stopping without overwriting the move",
        hint=f"run `esctl tail --checkpoint {name}` again to resume from where it was moved to",
    )


class CheckpointOwner:
    """The lease on one checkpoint and the value last saved to it."""

    def __init__(self, store: Store, lease: leases.Lease, stored: Cursor) -> None:
        self.store = store
        self.lease = lease
        self.name = lease.subscription_id
        self.stored = stored
        # Saves whose COMMIT lost its connection: each may have landed, and is ours either way
        # (the lease keeps other consumers off), so the next compare-and-set accepts them too
        # instead of taking our own save for an operator's move.
        self.uncertain: list[Cursor] = []
        self._renewed = time.monotonic()

    @classmethod
    def claim(
        cls, store: Store, name: str, start: Callable[[], Cursor]
    ) -> tuple[CheckpointOwner, Cursor, bool]:
        """Take the lease and the checkpoint: (owner, cursor to start after, resumed?)."""
        lease = leases.acquire(store, name)
        try:
            loaded = load_stored(store, name)
            resumed = loaded is not None
            while loaded is None:
                cursor = start()
                if create_cursor(store, name, cursor):
                    loaded = cursor, cursor
                else:  # created meanwhile by an operator (`checkpoints set`): resume from it
                    loaded = load_stored(store, name)
                    resumed = loaded is not None
        except BaseException:
            _release_quietly(store, lease)
            raise
        resume_from, stored = loaded
        return cls(store, lease, stored), resume_from, resumed

    def save(self, cursor: Cursor) -> None:
        """Save `cursor` (compare-and-set), renewing the lease in the same transaction."""
        try:
            with self.store.writing() as tx:
                leases.renew(tx, self.lease)
                save_owned(tx, self.name, cursor, self.stored, self.uncertain)
        except StoreUnavailable:
            self.uncertain.append(cursor)
            raise
        self.stored = cursor
        self.uncertain.clear()
        self._renewed = time.monotonic()

    def heartbeat(self) -> None:
        """Renew the lease when due, and notice a checkpoint moved under an idle consumer."""
        if time.monotonic() - self._renewed < leases.HEARTBEAT:
            return
        with self.store.writing() as tx:
            leases.renew(tx, self.lease)
            held = check_unmoved(tx, self.name, self.stored, self.uncertain)
        if held != self.stored:  # one of the uncertain saves did land
            self.stored = held
            self.uncertain.clear()
        self._renewed = time.monotonic()

    def close(self) -> None:
        """Give the lease up; if the store is gone, the lease expires by itself."""
        _release_quietly(self.store, self.lease)


def _release_quietly(store: Store, lease: leases.Lease) -> None:
    with contextlib.suppress(StoreUnavailable):
        leases.release(store, lease)
