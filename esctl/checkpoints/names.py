"""Subscription names, and finding a checkpoint by one."""

from __future__ import annotations

from esctl.errors import InvalidInput, NotFound
from esctl.ports import Checkpoints
from esctl.types import StoredCheckpoint

# The seed's `subscription_id VARCHAR(255)`: the same rule on SQLite, so a name that works there
# also works on PostgreSQL, and an oversized one is invalid input (exit 6), not a driver error.
MAX_SUBSCRIPTION_NAME = 255


def check_subscription_name(name: str) -> None:
    """Refuse (exit 6) a subscription name that the seed's table cannot hold."""
    shown = repr(name) if len(name) <= 60 else repr(name[:40]) + f"… ({len(name)} characters)"
    if not name:
        raise InvalidInput("subscription name is empty")
    if len(name) > MAX_SUBSCRIPTION_NAME:
        raise InvalidInput(
            f"subscription name {shown} is longer than {MAX_SUBSCRIPTION_NAME} characters"
        )
    if "\x00" in name:
        raise InvalidInput(f"subscription name {shown} contains a NUL character")


def find(checkpoints: Checkpoints, name: str) -> StoredCheckpoint | None:
    """The checkpoint `name`, after checking the name (exit 6 for one no table can hold)."""
    check_subscription_name(name)
    return checkpoints.get(name)


def require(checkpoints: Checkpoints, name: str) -> StoredCheckpoint:
    """The checkpoint `name`; NotFound (exit 4) if there is none."""
    found = find(checkpoints, name)
    if found is None:
        raise NotFound(
            f"no checkpoint for subscription {name!r}",
            hint="`esctl checkpoints list` shows the subscriptions",
        )
    return found
