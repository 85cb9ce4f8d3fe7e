"""Subscription names for shell completion: a bounded walk of the `subscription_checkpoints`
primary key from a prefix. (The checkpoints port's `names` lists them all; a Tab must stay cheap
on a store with many.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from esctl.store.base import Session


def subscription_ids(session: Session, prefix: str, limit: int) -> list[str]:
    """Up to `limit` subscription ids from `prefix` on, in order."""
    rows = session.fetchall(
        "SELECT subscription_id FROM {checkpoints} WHERE subscription_id >= %s "
        "ORDER BY subscription_id LIMIT %s",
        [prefix, limit],
    )
    return [str(r["subscription_id"]) for r in rows]
