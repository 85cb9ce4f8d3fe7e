"""`events redact EVENT_ID --path data.email …`: erase values from one event in place (GDPR),
planned first, executed only on request, audited in the same transaction.

Each value at a path becomes `{"$redacted": true}`; every other byte of the event stays (its id,
position, version, type, times, the rest of its data and metadata: redaction_text.py). The audit
row keeps, per path, the sha256 of the removed value, never the value.

The stream's snapshot may hold the removed values (a reducer folded them in). When it is at the
event's version or later, the audit row also records which snapshot that was (its version and
created_at): `snapshots verify` reports a snapshot still identical to a recorded one as
`redacted` (exit 1) and `snapshots rebuild` rewrites it (snapshots/redactions.py). No flag is
stored anywhere else: the audit trail is the record, and any rewrite of the snapshot ends it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from esctl.checkpoints import transaction
from esctl.conditions import parse_path
from esctl.errors import InvalidInput, NotFound, UsageError
from esctl.lifecycle.audit import Actor, record
from esctl.lifecycle.redaction_text import Status, redact_value
from esctl.store.base import Session, Store
from esctl.store.lifecycle import EventRedactor, event_redactor, stream_admin
from esctl.values import time_json

OPERATION = "events redact"


@dataclass(frozen=True)
class PathRedaction:
    """One `--path` of a plan: `redact` (found), `not-found`, or `already-redacted`."""

    path: str
    status: Status
    bytes: int = 0
    sha256: str | None = None  # of the removed value; shown once executed

    def to_dict(self, *, with_hash: bool = True) -> dict[str, Any]:
        shown = {"path": self.path, "status": self.status, "bytes": self.bytes}
        return {**shown, "sha256": self.sha256 if with_hash else None}


@dataclass(frozen=True)
class RedactionPlan:
    event_id: str
    stream_id: str
    stream_type: str
    event_type: str
    version: int
    global_position: int
    paths: tuple[PathRedaction, ...]
    snapshot: dict[str, Any] | None = None  # the stream's snapshot that holds the event, if any
    stream_deleted: bool = False
    executed: bool = False
    audit_id: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def redacting(self) -> tuple[PathRedaction, ...]:
        return tuple(p for p in self.paths if p.status == "redact")

    def counts(self) -> dict[str, Any]:
        """The audit row's counts (its target is the event id): where, how much, the sha256 of
        each removed value by path (never a value), the paths that were not there or already
        redacted, and the snapshot that held the event (snapshots/redactions.py reads it)."""
        counts: dict[str, Any] = {
            "stream_id": self.stream_id,
            "version": self.version,
            "values": len(self.redacting),
            "bytes": sum(p.bytes for p in self.redacting),
            "sha256": {p.path: p.sha256 for p in self.redacting},
        }
        for key, status in (("not_found", "not-found"), ("already_redacted", "already-redacted")):
            paths = [p.path for p in self.paths if p.status == status]
            if paths:
                counts[key] = paths
        if self.snapshot is not None:
            counts["snapshot"] = self.snapshot
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": "redact",
            "executed": self.executed,
            "audit_id": self.audit_id,
            "event_id": self.event_id,
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "event_type": self.event_type,
            "version": self.version,
            "global_position": self.global_position,
            "values": len(self.redacting),
            "bytes": sum(p.bytes for p in self.redacting),
            "paths": [p.to_dict(with_hash=self.executed) for p in self.paths],
            "snapshot_stale": self.snapshot,
            "stream_deleted": self.stream_deleted,
            "notes": list(self.notes),
        }


ParsedPath = tuple[str, str, tuple[str, ...]]  # as given, column, keys


def parse_paths(paths: Sequence[str]) -> list[ParsedPath]:
    """The `--path` options (duplicates dropped); exit 2 for none or a malformed one."""
    if not paths:
        raise UsageError("name at least one value: --path data.KEY or --path metadata.KEY")
    return [(text, *parse_path(text)) for text in dict.fromkeys(paths)]


def _event_key(event_id: str) -> str:
    try:
        return str(UUID(event_id))
    except ValueError:
        raise UsageError(
            f"{event_id!r} is not an event id (a UUID)",
            hint="event ids look like 5f1c0a7e-1b2c-4d3e-8f90-123456789abc",
        ) from None


def _redactor(tx: Session) -> EventRedactor:
    redactor = event_redactor(tx)
    if redactor is None:
        raise UsageError("events redact refused: only esctl's own layout has redaction")
    return redactor


def _plan(
    tx: Session, event_id: str, paths: list[ParsedPath], *, lock: bool = False
) -> tuple[RedactionPlan, dict[str, str | None]]:
    """The plan, and the event's data and metadata text once redacted."""
    redactor = _redactor(tx)  # a layout without redaction is refused before anything else
    key = _event_key(event_id)
    row = redactor.event(key, lock=lock)
    if row is None:
        raise NotFound(f"event {event_id!r} not found", hint="`esctl read` shows event ids")
    texts: dict[str, str | None] = {"data": row["data"], "metadata": row["metadata"]}
    results: list[PathRedaction] = []
    for text, column, keys in paths:
        document = texts[column]
        if document is None:  # a NULL metadata column
            results.append(PathRedaction(text, "not-found"))
            continue
        try:
            done = redact_value(document, keys)
        except ValueError as exc:
            raise InvalidInput(f"event {key}: its {column} is not valid JSON ({exc})") from None
        texts[column] = done.text
        results.append(PathRedaction(text, done.status, done.bytes, done.sha256))
    if all(r.status == "not-found" for r in results):
        shown = ", ".join(r.path for r in results)
        raise NotFound(
            f"none of the paths ({shown}) is in event {key}",
            hint=f"`esctl events show {key}` shows its data and metadata",
        )
    stream_id, version = str(row["stream_id"]), int(row["version"])
    snapshot = transaction.snapshots(tx).get(stream_id)
    holds = None
    if snapshot is not None and snapshot.version >= version:
        holds = {"version": snapshot.version, "created_at": time_json(snapshot.created_at)}
    admin = stream_admin(tx)
    deleted = admin is not None and admin.tombstone(stream_id) is not None
    plan = RedactionPlan(
        event_id=key,
        stream_id=stream_id,
        stream_type=str(row["stream_type"]),
        event_type=str(row["event_type"]),
        version=version,
        global_position=int(row["global_position"]),
        paths=tuple(results),
        snapshot=holds,
        stream_deleted=deleted,
    )
    return replace(plan, notes=_notes(plan)), texts


def _notes(plan: RedactionPlan) -> tuple[str, ...]:
    notes = [f"{p.path} is not in the event" for p in plan.paths if p.status == "not-found"]
    notes += [
        f"{p.path} is already redacted: nothing to do there"
        for p in plan.paths
        if p.status == "already-redacted"
    ]
    if plan.snapshot is not None and plan.redacting:
        notes.append(
            f"the snapshot of {plan.stream_id} (version {plan.snapshot['version']}) holds this "
            f"event and may hold the values: `esctl snapshots verify {plan.stream_id}` reports "
            f"it stale; `esctl snapshots rebuild {plan.stream_id}` rewrites it"
        )
    if plan.stream_deleted:
        notes.append(f"stream {plan.stream_id} is soft-deleted; the event is redacted all the same")
    return tuple(notes)


def plan_redaction(store: Store, event_id: str, paths: Sequence[str]) -> RedactionPlan:
    """What `events redact` would do; nothing is written. Exit 4 for an unknown event or when
    no path is in it; exit 2 for a malformed path or id, or a layout without redaction."""
    parsed = parse_paths(paths)
    with store.reading() as tx:
        plan, _ = _plan(tx, event_id, parsed)
    return plan


def execute_redaction(
    store: Store, event_id: str, paths: Sequence[str], *, actor: Actor | None = None
) -> RedactionPlan:
    """Redact, planned again inside the write transaction (the event locked), audited in it; a
    plan with nothing to redact (every path already redacted) writes nothing, no audit row."""
    parsed = parse_paths(paths)
    with store.writing() as tx:
        plan, texts = _plan(tx, event_id, parsed, lock=True)
        if not plan.redacting:
            return plan
        audit_id = record(tx, actor, OPERATION, plan.event_id, plan.counts(), changes_events=True)
        data = texts["data"]
        assert data is not None  # event_data is NOT NULL
        _redactor(tx).rewrite(plan.global_position, data, texts["metadata"])
    return replace(plan, executed=True, audit_id=audit_id)
