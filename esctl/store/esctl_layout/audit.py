"""The audit trail (esctl.store.lifecycle.AuditTrail) on `esctl_audit` (schema migration 5), and
the permission an audited lifecycle transaction takes to change `events` under `init --protect`:
on PostgreSQL the transaction-local setting `esctl.lifecycle` (set_config(…, true): it ends with
the transaction), which the protection trigger checks against an audit row of this very
transaction; on SQLite the value of the function `esctl_lifecycle()`, registered on esctl's own
connections only and reset at the end of every transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from esctl.types import Row

if TYPE_CHECKING:
    from esctl.store.base import Session
    from esctl.store.lifecycle import AuditEntry

COLUMNS = "id, at, db_user, os_user, host, command, operation, target, counts, manifest_sha256"


class EsctlAuditTrail:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, entry: AuditEntry) -> int:
        values = [
            entry.os_user,
            entry.host,
            entry.command,
            entry.operation,
            entry.target,
            self.session.json_param(entry.counts),
            entry.manifest_sha256,
        ]
        insert = (
            "INSERT INTO {audit} (os_user, host, command, operation, target, counts, "
            "manifest_sha256) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id"
        )
        return int(self.session.fetchval(insert, values))

    def allow_event_changes(self, audit_id: int) -> None:
        if self.session.backend == "postgresql":
            self.session.fetchval("SELECT set_config('esctl.lifecycle', %s, true)", [str(audit_id)])
        else:
            store: Any = getattr(self.session, "_store")  # noqa: B009 - the engine's own
            store.lifecycle_audit_id = audit_id

    def entries(
        self,
        *,
        since: datetime | None = None,
        limit: int | None = None,
        operation: str | None = None,
    ) -> Iterator[Row]:
        query = "SELECT " + COLUMNS + ", CAST(counts AS TEXT) AS counts_text FROM {audit}"  # noqa: S608
        conditions: list[str] = []
        params: list[Any] = []
        if since is not None:
            conditions.append("at >= %s")
            params.append(self.session.time_param(since))
        if operation is not None:
            conditions.append("operation = %s")
            params.append(operation)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        for row in self.session.stream(query, params):
            counts = json.loads(row.pop("counts_text") or "{}")
            yield {**row, "counts": counts}
