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
from collections.abc import Callable

from esctl import leases
from esctl.checkpoints import check_unmoved, create_cursor, load_stored, save_owned
from esctl.cursor import Cursor
from esctl.errors import StoreUnavailable
from esctl.store.base import Store


class CheckpointOwner:
    """The lease on one checkpoint and the value last saved to it."""

    def __init__(self, store: Store, lease: leases.Lease, stored: Cursor) -> None:
        self.store = store
        self.lease = lease
        self.name = lease.subscription_id
        self.stored = stored
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
        with self.store.writing() as session:
            leases.renew(session, self.lease)
            save_owned(self.store, session, self.name, cursor, self.stored)
        self.stored = cursor
        self._renewed = time.monotonic()

    def heartbeat(self) -> None:
        """Renew the lease when due, and notice a checkpoint moved under an idle consumer."""
        if time.monotonic() - self._renewed < leases.HEARTBEAT:
            return
        with self.store.writing() as session:
            leases.renew(session, self.lease)
            check_unmoved(self.store, session, self.name, self.stored)
        self._renewed = time.monotonic()

    def close(self) -> None:
        """Give the lease up; if the store is gone, the lease expires by itself."""
        _release_quietly(self.store, self.lease)


def _release_quietly(store: Store, lease: leases.Lease) -> None:
    with contextlib.suppress(StoreUnavailable):
        leases.release(store, lease)
