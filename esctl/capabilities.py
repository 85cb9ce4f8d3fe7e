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


class _HasCapabilities(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...


def require(store: _HasCapabilities, capability: str, command: str) -> None:
    """Refuse `command` up front (UsageError, exit 2) when the store's layout lacks `capability`
    (a field of Capabilities), instead of failing halfway through."""
    if not hasattr(Capabilities, capability):
        raise ValueError(f"no capability {capability!r}")
    if not getattr(store.capabilities, capability):
        what = capability.removeprefix("has_").removeprefix("can_").replace("_", " ")
        raise UsageError(
            f"{command} needs {what}, which this store's layout does not provide",
            hint="`esctl doctor` shows the store's layout",
        )
