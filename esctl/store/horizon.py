"""The age of the visibility horizon on PostgreSQL, for `esctl top`: how long the oldest
transaction that holds back the horizon (a `backend_xmin` or `backend_xid` in
pg_stat_activity, other than this session) has been open. SQLite serialises writers: none."""

from __future__ import annotations

from esctl.store.base import Store


def horizon_age(store: Store) -> float | None:
    """Seconds (0.0 when nothing holds it back); None on a store without a horizon."""
    if store.backend != "postgresql":
        return None
    with store.reading() as session:
        age = session.fetchval(
            "SELECT extract(epoch FROM now() - min(xact_start)) FROM pg_stat_activity "
            "WHERE (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) "
            "AND pid <> pg_backend_pid()"
        )
    return 0.0 if age is None else max(0.0, float(age))
