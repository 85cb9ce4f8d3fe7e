"""The consumer that owns its checkpoint while it runs: see esctl.checkpoints.consumer (this
module keeps the name importable from here, where `esctl.tailing` and `esctl tail` find it)."""

from __future__ import annotations

from esctl.checkpoints.consumer import CheckpointOwner

__all__ = ["CheckpointOwner"]
