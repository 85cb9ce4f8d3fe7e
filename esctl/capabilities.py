"""What a store's layout can do (`Capabilities`), and the up-front refusal of a command that needs
what it lacks (`require`: exit 2, one line, before any work). Part of the ports
(`esctl.ports` re-exports both); on the ground floor so that settings and errors stay below it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from esctl.errors import UsageError


@dataclass(frozen=True)
class Capabilities:
    """What a layout can do. A command that needs a missing one is refused before it starts."""

    can_append: bool = True
    has_snapshots: bool = True
    has_checkpoints: bool = True
    has_copy: bool = False  # a bulk path (PostgreSQL COPY) for append and export
    live_cursor: bool = True  # commit-ordered live reading that never skips (tail)
    can_move_checkpoints: bool = True  # checkpoints set/delete, tail --checkpoint


class _HasCapabilities(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...


# What a layout without the capability cannot do, for the refusal.
LACKS = {
    "can_append": "cannot be appended to by esctl",
    "has_snapshots": "has no snapshots esctl can manage",
    "has_checkpoints": "has no subscription checkpoints esctl can manage",
    "has_copy": "has no bulk (COPY) path",
    "live_cursor": "has no commit-ordered live cursor esctl can tail without loss",
    "can_move_checkpoints": "keeps checkpoints that only their own consumers move",
}


def require(store: _HasCapabilities, capability: str, command: str) -> None:
    """Refuse `command` up front (UsageError, exit 2, one line) when the store's layout lacks
    `capability` (a field of Capabilities), instead of failing halfway through."""
    if capability not in LACKS:
        raise ValueError(f"no capability {capability!r}")
    if not getattr(store.capabilities, capability):
        layout = getattr(getattr(store, "layout", None), "name", None)
        which = f"the {layout} layout" if layout else "this store's layout"
        raise UsageError(
            f"{command} refused: {which} {LACKS[capability]}",
            hint="`esctl doctor` shows the store's layout",
        )
