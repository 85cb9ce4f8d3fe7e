"""PostgreSQL's visibility horizon: the sessions with a transaction id (which live readers wait
behind: `pg_snapshot_xmin` is the oldest of them) or a snapshot (which holds back vacuum), from
`pg_stat_activity` and `pg_prepared_xacts`; and the gaps in the recent global positions (a
position the sequence gave out that no visible row holds). Without `pg_read_all_stats` another
role's sessions show no query text."""

from __future__ import annotations

from esctl.store.postgres_connection import PostgresConnections
from esctl.types import Row

QUERY_CHARS = 200

_SESSIONS = (
    "SELECT a.pid, a.usename::text AS user, a.application_name AS application, "
    "a.datname::text AS database, a.state, a.backend_xid::text AS xid, "
    "a.backend_xmin::text AS xmin, a.xact_start, a.query_start, "
    "EXTRACT(EPOCH FROM (clock_timestamp() - a.xact_start))::float8 AS transaction_age_seconds, "
    "left(a.query, %s) AS query, "
    "EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.pid = a.pid AND l.granted "
    "  AND l.mode = 'RowExclusiveLock' AND l.relation = ("
    "    SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "    ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'events') "
    "  AND l.database = (SELECT oid FROM pg_catalog.pg_database "
    "                    WHERE datname = current_database())) AS writes_events "
    "FROM pg_catalog.pg_stat_activity a "
    "WHERE a.pid <> pg_backend_pid() AND (a.backend_xid IS NOT NULL OR a.backend_xmin IS NOT NULL) "
    "UNION ALL "
    "SELECT NULL, p.owner::text, 'prepared transaction ' || p.gid, p.database::text, 'prepared', "
    "p.transaction::text, NULL, p.prepared, NULL, "
    "EXTRACT(EPOCH FROM (clock_timestamp() - p.prepared))::float8, NULL, false "
    "FROM pg_catalog.pg_prepared_xacts p "
    "ORDER BY xact_start NULLS LAST, pid"
)
_GAPS = (
    "SELECT prev + 1 AS first, global_position - 1 AS last, created_at AS next_created_at "
    "FROM (SELECT global_position, created_at, "
    "      coalesce(lag(global_position) OVER (ORDER BY global_position), %s) AS prev "
    "      FROM {events} WHERE global_position >= %s) s "
    "WHERE global_position > prev + 1 ORDER BY first"
)
_SEQUENCE_LAST = (
    "SELECT CASE WHEN has_sequence_privilege(s, 'SELECT') THEN pg_sequence_last_value(s) END "
    "FROM (SELECT CAST(pg_get_serial_sequence(%s, 'global_position') AS regclass) AS s) q "
    "WHERE s IS NOT NULL"
)


class PostgresHorizon:
    """The `esctl.store.horizon.Horizon` port of a PostgreSQL store."""

    def __init__(self, store: PostgresConnections) -> None:
        self.store = store

    def sessions(self) -> list[Row]:
        with self.store.reading() as session:
            rows: list[Row] = session.fetchall(_SESSIONS, [QUERY_CHARS, self.store.settings.schema])
        return rows

    def gaps(self, last: int) -> tuple[int, list[Row]]:
        schema = self.store.settings.schema
        with self.store.reading() as session:
            head = int(session.fetchval("SELECT max(global_position) FROM {events}") or 0)
            lower = max(1, head - last + 1)
            rows = session.fetchall(_GAPS, [lower - 1, lower]) if head else []
            quoted = '"' + schema.replace('"', '""') + '".events'
            top = session.fetchval(_SEQUENCE_LAST, [quoted])
        if top is not None and int(top) > head:
            rows.append({"first": head + 1, "last": int(top), "next_created_at": None})
        return head, rows
