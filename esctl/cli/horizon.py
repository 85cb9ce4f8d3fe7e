"""`esctl horizon`: the sessions live readers wait behind, and the holes in recent positions."""

from __future__ import annotations

from typing import Annotated

import typer

from esctl.cli.options import examples
from esctl.cli.state import state
from esctl.render import Column, Detail, Listing, Said

HORIZON_EXAMPLES = examples(
    "esctl -p prod horizon",
    "esctl -p prod horizon --last 100000 -o json | jq '.holes[] | select(.status == \"in-flight\")'",
)

SESSION_COLUMNS = [
    Column("pid", "pid", justify="right", format=lambda v: "prepared" if v is None else str(v)),
    Column("user", "user"),
    Column("application", "application", shrink=True, max_width=24),
    Column("state", "state"),
    Column("holds_back", "holds back"),
    Column("transaction_age_seconds", "transaction age", justify="right", kind="age"),
    Column("query_start", "query start", priority=2),
    Column("writes_events", "writes events", priority=1),
    Column("query", "query", shrink=True, max_width=60, priority=3),
]
HOLE_COLUMNS = [
    Column("first", "first", justify="right"),
    Column("last", "last", justify="right"),
    Column("positions", "positions", justify="right"),
    Column("status", "status"),
    Column("next_event_at", "next event at", priority=1),
]


def horizon(
    ctx: typer.Context,
    last: Annotated[
        int,
        typer.Option(
            "--last",
            min=1,
            max=10_000_000,
            help="Look for holes in this many global positions up to the head.",
        ),
    ] = 1000,
) -> None:
    """Why live readers wait (PostgreSQL): who holds back the visibility horizon, and the holes.

    A live reader (tail, a consumer) reads only rows of transactions below the horizon, the
    oldest transaction id still running. Sessions are listed oldest first: "live readers" ones
    have a transaction id (they hold tail back), "vacuum" ones only a snapshot. A hole is a
    position the sequence gave out that no visible event holds: in-flight when a running
    writer of events began before the next event was stamped (it may still commit), else
    rolled-back. Seeing other roles' queries needs pg_read_all_stats. SQLite has no horizon
    (writers are serialised): the command says so and exits 0.
    """
    from esctl.read.horizon import horizon_report

    app = state(ctx)
    store = app.open_store(node="primary")
    report = horizon_report(store, last)
    out = app.out
    if not report.supported:
        out.result(
            report.to_dict(),
            view=Said(
                [
                    "SQLite has no visibility horizon: writers are serialised, so no "
                    "transaction is ever in flight behind a reader."
                ]
            ),
        )
        return
    record = report.to_dict()
    summary = {
        "head_position": report.head_position,
        "positions_checked": report.last,
        "horizon_age_seconds": record["horizon_age_seconds"],
        "sessions": len(report.sessions),
        "holes": len(report.holes),
        "in_flight_positions": record["in_flight_positions"],
    }
    sessions = Listing(
        report.sessions,
        SESSION_COLUMNS,
        title="Sessions holding the horizon",
        empty="No session holds the horizon back: live readers see every commit at once.",
    )
    holes = Listing(
        record["holes"],
        HOLE_COLUMNS,
        title=f"Holes in the last {report.last:,} positions",
        empty=f"No holes in the last {report.last:,} positions.",
    )
    out.result(
        record,
        view=Detail(summary, title="Visibility horizon", parts=[sessions, holes]),
        csv=Listing(record["holes"], HOLE_COLUMNS),
    )
