"""The ports of an event store, in the domain's verbs: what features (append, read, tail,
checkpoints, snapshots, admin) may ask of a store. A layout (esctl's own tables, Message DB, …) is
one adapter package under `esctl/store/` that implements them; features hold no SQL.

A store is transactions plus ports plus capability flags:

    with store.reading() as tx:          # a read-only transaction
        tx.log.read_stream("Order-1")    # EventLog
        tx.checkpoints.get("projector")  # Checkpoints
    store.live.batch(after, filter, 500) # Live: outside a transaction (its own horizon)
    store.admin.inspect()                # SchemaAdmin

A layout that lacks something says so in `Capabilities`; commands check it up front and refuse with
exit 2 and one line (`require(store, "has_snapshots", "snapshots rebuild")`).

The package imports only the ground floor (`esctl.types`, `esctl.values`, `esctl.capabilities`,
`esctl.conditions`).
"""

from esctl.capabilities import Capabilities as Capabilities
from esctl.capabilities import require as require
from esctl.ports.events import (
    CommitOrder,
    EventFilter,
    EventLog,
    EventReads,
    EventWrites,
    GroupedCounts,
    Live,
)
from esctl.ports.records import Checkpoints, Leases, SchemaAdmin, Snapshots
from esctl.types import SchemaReport as SchemaReport

__all__ = [
    "Capabilities",
    "Checkpoints",
    "CommitOrder",
    "EventFilter",
    "EventLog",
    "EventReads",
    "EventWrites",
    "GroupedCounts",
    "Leases",
    "Live",
    "SchemaAdmin",
    "Snapshots",
    "require",
]
