"""The live follower behind `esctl tail`: reads the log in commit order and never loses an event.

It reads with the commit-order cursor (`esctl.types.Cursor`) through the store's live port
(`store.live`: `batch`, `head`, `wait_for_change`): on PostgreSQL only rows whose transaction is below
the snapshot's xmin horizon, woken by LISTEN/NOTIFY with a poll as the fallback; on SQLite by
polling. A lost connection is reopened with backoff and reading resumes at the same cursor, so
nothing is missed or repeated. With a checkpoint (`esctl.checkpoints.consumer.CheckpointOwner`), the cursor
is saved only after the events before it have been written out whole: an `emit` that raises (a
short write, a full disk, a closed pipe) leaves the checkpoint at the last event written, so
delivery is at least once. What can be delivered twice after a crash (SIGKILL, power loss) is what
was written since the last save: at most one batch (`BATCH_SIZE` events)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from esctl.errors import ConcurrencyError, StoreUnavailable
from esctl.ports import EventFilter
from esctl.store.base import Store
from esctl.types import START, Cursor, RecordedEvent

if TYPE_CHECKING:
    from esctl.checkpoints.consumer import CheckpointOwner

BATCH_SIZE = 500
POLL_INTERVAL = 1.0  # the fallback when no NOTIFY arrives (PostgreSQL)
PENDING_RECHECK = 0.02  # commits seen above the horizon: look again soon
RECONNECT_FOR = 120.0  # give up (exit 5) after this long without a working connection
HELD_BACK_AFTER = 5.0  # commits waiting behind the horizon this long: name who holds it, once


@dataclass(frozen=True)
class StartAt:
    """Where a tail without a saved checkpoint starts: the end (default), the start, a position,
    or the first event (in commit order) created at or after a time."""

    from_start: bool = False
    from_position: int | None = None
    since: datetime | None = None


class _Wakeup(Exception):
    """Raised by the signal handler to end a blocking wait early."""


def start_cursor(store: Store, start: StartAt) -> Cursor:
    """The cursor just before the first event to deliver."""
    if start.from_start:
        return START
    if start.from_position is not None:
        # Positions are not commit order: start before every event at or above the position
        # (the caller's filter keeps lower positions out).
        with store.reading() as tx:
            return tx.log.cursor_before(start.from_position - 1, live=True)
    if start.since is not None:
        with store.reading() as tx:
            first = tx.log.nth_after(0, created_from=start.since)
            if first is not None:  # just before it: it and everything after it is delivered
                return tx.log.nth_after(1, upto=first, descending=True) or START
    return store.live.head()


class Follower:
    """Follows the log from a cursor, handing each matching event to `emit`."""

    def __init__(
        self,
        store: Store,
        event_filter: EventFilter,
        cursor: Cursor,
        *,
        owner: CheckpointOwner | None = None,
        batch_size: int = BATCH_SIZE,
        poll_interval: float = POLL_INTERVAL,
        reconnect_for: float = RECONNECT_FOR,
        warn: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.store = store
        self.event_filter = event_filter
        self.cursor = cursor
        # Reads may come from a replica; the owner writes the checkpoint to the primary.
        self.owner = owner
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.reconnect_for = reconnect_for
        self.warn = warn
        self.delivered = 0
        self.reconnects = 0
        self._stopping = False
        self._waiting = False
        self._moved = False  # the checkpoint was moved under us: never save again
        self.held_back_after = HELD_BACK_AFTER
        self._held_since: float | None = None
        self._named_holder = False
        self.signal: int | None = None  # the signal that stopped the run, if one did

    def stop(self) -> None:
        """End the run at the next safe point (between events); the checkpoint is saved first."""
        self._stopping = True

    def run(
        self,
        emit: Callable[[RecordedEvent], None],
        *,
        max_events: int | None = None,
        idle_timeout: float | None = None,
    ) -> int:
        """Deliver events until `stop()`, `max_events` or `idle_timeout` seconds without one.
        Returns how many were delivered."""
        last_event = time.monotonic()
        wait = 0.0
        pending_wait = PENDING_RECHECK
        failing_since: float | None = None
        try:
            while not self._stopping:
                if max_events is not None and self.delivered >= max_events:
                    break
                try:
                    if wait:
                        self._wait(wait)
                    batch = self.store.live.batch(self.cursor, self.event_filter, self.batch_size)
                    failing_since = None
                except StoreUnavailable as error:
                    failing_since = self._reconnect(error, failing_since)
                    wait = 0.0
                    continue
                for row in batch.rows:
                    event = RecordedEvent.from_row(row)
                    if event.problems:  # a row that cannot go back through append as it is
                        self.warn(event.warning() or "")
                    emit(event)
                    self.cursor = Cursor.after(event)
                    self.delivered += 1
                    if self._stopping or (max_events is not None and self.delivered >= max_events):
                        break
                else:
                    self.cursor = max(self.cursor, batch.scanned_to)
                if batch.rows:
                    last_event = time.monotonic()
                    pending_wait = PENDING_RECHECK
                self._save()
                self._heartbeat()
                full = len(batch.rows) >= self.batch_size
                if full:
                    wait = 0.0
                elif batch.pending:
                    # Back off while a long transaction elsewhere holds the horizon.
                    self._held_back(batch.rows == [])
                    wait = pending_wait
                    pending_wait = min(pending_wait * 2, self.poll_interval)
                else:
                    wait = self.poll_interval
                if idle_timeout is not None and not full:  # drain what is there first
                    idle_left = idle_timeout - (time.monotonic() - last_event)
                    if idle_left <= 0:
                        break
                    wait = min(wait, idle_left)
        finally:
            self._save(final=True)
            self.store.live.stop()
        return self.delivered

    def _held_back(self, stuck: bool) -> None:
        """Once per run, when commits have waited behind the horizon for `held_back_after`
        seconds with nothing delivered, say which transaction holds it (its pid)."""
        if not stuck:
            self._held_since = None
            return
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        if self._named_holder or now - self._held_since < self.held_back_after:
            return
        self._named_holder = True
        from esctl.read.horizon import oldest_xid_session

        try:
            holder = oldest_xid_session(self.store)
        except StoreUnavailable:
            return
        if holder is not None:
            self.warn(
                f"waited {now - self._held_since:.0f}s behind an open transaction: "
                f"{holder}; `esctl horizon` shows more"
            )

    def _wait(self, seconds: float) -> None:
        self._waiting = True
        try:
            if not self._stopping:
                self.store.live.wait_for_change(seconds)
        except _Wakeup:
            pass
        finally:
            self._waiting = False

    def _save(self, *, final: bool = False) -> None:
        if self.owner is None or self._moved or self.cursor == self.owner.stored:
            return
        try:
            self.owner.save(self.cursor)
        except ConcurrencyError:
            self._moved = True
            raise
        except StoreUnavailable as error:
            if final:
                raise
            self.warn(f"could not save checkpoint {self.owner.name!r} yet: {error.message}")

    def _heartbeat(self) -> None:
        if self.owner is None or self._moved:
            return
        try:
            self.owner.heartbeat()
        except ConcurrencyError:
            self._moved = True
            raise
        except StoreUnavailable as error:
            self.warn(f"could not renew the lease on {self.owner.name!r} yet: {error.message}")

    def _reconnect(self, error: StoreUnavailable, failing_since: float | None) -> float:
        """Drop the connections and back off; raise once `reconnect_for` has passed."""
        now = time.monotonic()
        since = failing_since if failing_since is not None else now
        if now - since > self.reconnect_for:
            raise error
        self.store.close()
        self.store.live.stop()
        self.reconnects += 1
        delay = min(5.0, 0.1 * 2 ** min(self.reconnects, 6))
        self.warn(f"{error.message}; reconnecting in {delay:.1f}s (at {self.cursor})")
        self._waiting = True
        try:
            if not self._stopping:
                time.sleep(delay)
        except _Wakeup:
            pass
        finally:
            self._waiting = False
        return since


@contextmanager
def stop_on_signals(follower: Follower) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM end the follower cleanly instead of killing it mid-write."""

    def handler(signum: int, frame: FrameType | None) -> None:
        follower.signal = signum
        follower.stop()
        if follower._waiting:  # a blocking wait: end it now rather than at its timeout
            raise _Wakeup

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
