"""The live port (esctl.ports.Live) on esctl's tables: commit-ordered reading for `tail` and
consumers, outside any caller's transaction. The filter becomes SQL here; the horizon (xid8 on
PostgreSQL, position order on SQLite) and the wake-up (LISTEN/NOTIFY, a short poll) are the
engine's primitives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esctl.ports import EventFilter
from esctl.store.esctl_layout.filters import filter_sql
from esctl.types import Cursor, LiveBatch, LiveLines

if TYPE_CHECKING:
    from esctl.store.base import Store


class EsctlLive:
    def __init__(self, store: Store) -> None:
        self.store = store

    def head(self) -> Cursor:
        return self.store.live_head()

    def batch(self, after: Cursor, where: EventFilter, limit: int) -> LiveBatch:
        # No time binding: the live condition never holds since/until (tail has none).
        hide = not self.store.settings.include_deleted
        condition, params = filter_sql(where, self.store.backend, hide_deleted=hide)
        return self.store.live_batch(after, condition, params, limit)

    def lines(self, after: Cursor, where: EventFilter, limit: int) -> LiveLines | None:
        hide = not self.store.settings.include_deleted
        condition, params = filter_sql(where, self.store.backend, hide_deleted=hide)
        return self.store.live_lines(after, condition, params, limit)

    def wait_for_change(self, timeout: float) -> None:
        self.store.wait_for_events(timeout)

    def stop(self) -> None:
        self.store.stop_listening()
