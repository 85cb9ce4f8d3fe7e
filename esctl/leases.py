"""The lease a running consumer holds on its checkpoint: see esctl.checkpoints.leases (this module
keeps the names importable from here)."""

from __future__ import annotations

from esctl.checkpoints.leases import (
    HEARTBEAT,
    TTL,
    Holder,
    Lease,
    acquire,
    is_live,
    live_holder,
    live_holders,
    release,
    renew,
)

__all__ = [
    "HEARTBEAT",
    "TTL",
    "Holder",
    "Lease",
    "acquire",
    "is_live",
    "live_holder",
    "live_holders",
    "release",
    "renew",
]
