"""Cursors of the commit-ordered log. The Cursor type lives in esctl.types; what a position or a
stored checkpoint stands for is the commit-ordered log's to say (`tx.log.cursor_before`,
`tx.log.checkpoint_cursor`: esctl.ports.CommitOrder). This module keeps the names readers
imported from here."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from esctl.types import START, Cursor

if TYPE_CHECKING:
    from esctl.store.base import Session, TransactionPorts

__all__ = ["START", "Cursor", "cursor_before_position"]


def cursor_before_position(session: Session, position: int, *, live: bool = False) -> Cursor:
    """The highest cursor that every event at a position above `position` still sorts after, in
    the transaction `session` (see `esctl.ports.CommitOrder.cursor_before`)."""
    return cast("TransactionPorts", session).log.cursor_before(position, live=live)
