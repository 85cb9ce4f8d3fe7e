"""Which streams a snapshot rebuild or verify covers, and the checks on a selection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from esctl.errors import NotFound, UsageError
from esctl.ports import Snapshots
from esctl.types import StreamSelection

if TYPE_CHECKING:
    from esctl.store.base import Session, TransactionPorts


def snapshots_of(tx: Session) -> Snapshots:
    """The Snapshots port of the transaction `tx` (`with store.reading() as tx`)."""
    return cast("TransactionPorts", tx).snapshots


@dataclass(frozen=True)
class Selection(StreamSelection):
    """Given stream ids (duplicates dropped), one stream type, or all: exactly one of them."""

    def __post_init__(self) -> None:
        given = sum([bool(self.stream_ids), self.stream_type is not None, self.all_streams])
        if given != 1:
            raise UsageError(
                "choose the streams: give stream ids, --stream-type T, or --all (one of them)"
            )
        object.__setattr__(self, "stream_ids", tuple(dict.fromkeys(self.stream_ids)))


def check_streams_exist(tx: Session, selection: StreamSelection) -> None:
    """Raise NotFound (exit 4) for stream ids given by name that have no events."""
    if not selection.stream_ids:
        return
    found = snapshots_of(tx).streams_with_events(selection)
    missing = [s for s in selection.stream_ids if s not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise NotFound(
            f"no events in stream{'s' if len(missing) > 1 else ''} {shown}",
            hint="esctl streams list shows the streams there are",
        )


def count_streams(tx: Session, selection: StreamSelection) -> int:
    """How many streams the selection covers (for a progress bar's ETA)."""
    if selection.stream_ids:
        return len(selection.stream_ids)
    return snapshots_of(tx).count_streams(selection)
