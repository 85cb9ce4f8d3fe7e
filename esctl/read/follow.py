"""The live follower behind `esctl tail`: reads the log in commit order and never loses an event.

It reads with the commit-order cursor (`esctl.types.Cursor`) through the store's live port
(`store.live`: `batch`, `lines`, `head`, `wait_for_change`): on PostgreSQL only rows whose
transaction is below the snapshot's xmin horizon, woken by LISTEN/NOTIFY with a poll as the
fallback; on SQLite by polling. A lost connection is reopened with backoff and reading resumes at
the same cursor, so nothing is missed or repeated. Where the output is JSON lines, a batch is
written with one call: the lines the store rendered (`store.live.lines`, PostgreSQL: no row is
decoded in Python), or the same lines rendered here. With a checkpoint
(`esctl.checkpoints.consumer.CheckpointOwner`), the cursor is saved only after the events before
it have been written out whole: an `emit` that raises (a short write, a full disk, a closed pipe)
leaves the checkpoint at the last event written whole, so delivery is at least once. What can be
delivered twice after a crash (SIGKILL, power loss) is what was written since the last save: at
the head one batch (`BATCH_SIZE` events), behind it at most `SAVE_EVERY` events."""

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
from esctl.read.events import event_json_line
from esctl.store.base import Store
from esctl.types import START, Cursor, LiveBatch, LiveLines, RecordedEvent, Row

if TYPE_CHECKING:
    from esctl.checkpoints.consumer import CheckpointOwner

BATCH_SIZE = 500
# Behind the head, a tail writing JSON lines reads larger batches (about CATCH_UP_BYTES each, at
# most CATCH_UP_BATCH events) and saves its checkpoint every SAVE_EVERY events or SAVE_INTERVAL
# seconds, whichever comes first, rather than after every batch: a save is a commit the server
# syncs to disk, which would cost more than the reading. At the head every batch is saved.
CATCH_UP_BATCH = 5000
CATCH_UP_BYTES = 4 << 20
SAVE_EVERY = 10_000  # what a crash may deliver again: the events written since the last save
SAVE_INTERVAL = 1.0
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
        self._saved_delivered = 0  # `delivered` at the last save
        self._saved_at = time.monotonic()

    def stop(self) -> None:
        """End the run at the next safe point (between events); the checkpoint is saved first."""
        self._stopping = True

    def run(
        self,
        emit: Callable[[RecordedEvent], None],
        *,
        max_events: int | None = None,
        idle_timeout: float | None = None,
        emit_lines: Callable[[bytes], None] | None = None,
    ) -> int:
        """Deliver events until `stop()`, `max_events` or `idle_timeout` seconds without one.
        With `emit_lines` (the output writes events as their JSON lines), a batch is written
        with one call: the lines the store rendered, or, where it renders none, `emit`'s
        lines rendered here. Returns how many were delivered."""
        last_event = time.monotonic()
        wait = 0.0
        pending_wait = PENDING_RECHECK
        failing_since: float | None = None
        limit = self.batch_size
        try:
            while not self._stopping:
                if max_events is not None:
                    if self.delivered >= max_events:
                        break
                    limit = min(limit, max_events - self.delivered)
                try:
                    if wait:
                        self._wait(wait)
                    batch = self._fetch(limit, lines=emit_lines is not None)
                    failing_since = None
                except StoreUnavailable as error:
                    failing_since = self._reconnect(error, failing_since)
                    wait = 0.0
                    continue
                if isinstance(batch, LiveLines):
                    got = batch.events
                elif emit_lines is not None:
                    got = len(batch.rows)
                    batch = self._render(batch)
                else:
                    got = len(batch.rows)
                    self._emit_each(emit, batch, max_events)
                if isinstance(batch, LiveLines) and emit_lines is not None:
                    self._write_lines(emit_lines, batch)
                if got:
                    last_event = time.monotonic()
                    pending_wait = PENDING_RECHECK
                full = got >= limit
                ended = max_events is not None and self.delivered >= max_events
                self._save(due=not full or ended)
                self._heartbeat()
                limit = self._next_limit(batch, full, emit_lines is not None)
                if full:
                    wait = 0.0
                elif batch.pending:
                    # Back off while a long transaction elsewhere holds the horizon.
                    self._held_back(got == 0)
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

    def _fetch(self, limit: int, *, lines: bool) -> LiveBatch | LiveLines:
        """The next batch after the cursor: as the store's JSON lines where asked and given."""
        if lines:
            rendered = self.store.live.lines(self.cursor, self.event_filter, limit)
            if rendered is not None:
                return rendered
        return self.store.live.batch(self.cursor, self.event_filter, limit)

    def _emit_each(
        self, emit: Callable[[RecordedEvent], None], batch: LiveBatch, max_events: int | None
    ) -> None:
        """Hand the events to `emit` one by one, the cursor moving past each once it returns."""
        for row in batch.rows:
            event = self._event(row)
            emit(event)
            self.cursor = Cursor.after(event)
            self.delivered += 1
            if self._stopping or (max_events is not None and self.delivered >= max_events):
                return
        self.cursor = max(self.cursor, batch.scanned_to)

    def _event(self, row: Row) -> RecordedEvent:
        event = RecordedEvent.from_row(row)
        if event.problems:  # a row that cannot go back through append as it is
            self.warn(event.warning() or "")
        return event

    def _render(self, batch: LiveBatch) -> LiveLines:
        """A batch the store did not render, as the same JSON lines (`event_json_line`)."""
        events = [self._event(row) for row in batch.rows]
        text = "".join([event_json_line(event) + "\n" for event in events])
        cursors = [Cursor.after(event) for event in events]
        return LiveLines(
            text.encode(), len(events), cursors.__getitem__, batch.scanned_to, batch.pending
        )

    def _write_lines(self, emit_lines: Callable[[bytes], None], batch: LiveLines) -> None:
        """Write a batch's lines with one call; on a failure, the cursor moves past the lines
        that were written whole (`written_bytes` of the error), never further."""
        try:
            if batch.events:
                emit_lines(batch.data)
        except BaseException as error:
            whole = batch.data.count(b"\n", 0, getattr(error, "written_bytes", 0))
            if whole:
                self.cursor = batch.cursor_after(whole - 1)
                self.delivered += whole
            raise
        if batch.events:
            self.cursor = batch.last
            self.delivered += batch.events
        self.cursor = max(self.cursor, batch.scanned_to)

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

    def _next_limit(self, batch: LiveBatch | LiveLines, full: bool, lines: bool) -> int:
        """How many events to ask for next: a full batch of lines says the tail is behind the
        head, so the next one is larger (about CATCH_UP_BYTES, at most CATCH_UP_BATCH events,
        never past the next save); otherwise `batch_size`."""
        limit = self.batch_size
        if full and lines and isinstance(batch, LiveLines) and batch.events:
            per_event = max(1, len(batch.data) // batch.events)
            limit = max(limit, min(CATCH_UP_BATCH, CATCH_UP_BYTES // per_event))
        if self.owner is not None:
            room = SAVE_EVERY - (self.delivered - self._saved_delivered)
            # (No room: the last saves failed and are retried; batches stay at `batch_size`.)
            limit = min(limit, room if room > 0 else self.batch_size)
        return limit

    def _save(self, *, due: bool = True, final: bool = False, retry: bool = False) -> None:
        """Save the cursor: when `due` (a batch that reached the head), at the end, and while
        catching up every SAVE_EVERY events or SAVE_INTERVAL seconds."""
        if self.owner is None or self._moved or self.cursor == self.owner.stored:
            return
        if not (
            due
            or final
            or self.delivered - self._saved_delivered >= SAVE_EVERY
            or time.monotonic() - self._saved_at >= SAVE_INTERVAL
        ):
            return
        try:
            self.owner.save(self.cursor)
            self._saved_delivered = self.delivered
            self._saved_at = time.monotonic()
        except ConcurrencyError:
            self._moved = True
            raise
        except StoreUnavailable as error:
            if final and retry:
                raise
            self.warn(f"could not save checkpoint {self.owner.name!r} yet: {error.message}")
            if final:  # the failed connection is gone: once more on a new one, then give up
                self._save(final=True, retry=True)

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
