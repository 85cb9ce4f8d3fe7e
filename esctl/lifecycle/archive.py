"""`streams archive (STREAM… | --category C) [--before TIME] --to FILE [--delete]`: planned first
(`plan_archive`: the streams, their events, version and position ranges, bytes, snapshots, the
checkpoints that still had their events pending); `execute_archive` writes the archive and its
manifest (esctl.lifecycle.archive_files), reads them back, and only then, with `delete`, removes
exactly the archived events: read back from the verified file, by global position and event id,
in audited batches (each its own short transaction), so events appended meanwhile stay.

An archive FILE that exists is never overwritten. When it is the complete archive of the same
selection (an interrupted `--delete` run, or one already finished), it is verified again and its
events still in the store are deleted: a re-run of a killed command finishes it, and nothing is
lost (each event is in the store, or in the archive and deleted) or archived twice."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esctl import __version__
from esctl.checkpoints import transaction
from esctl.errors import EsctlError, UsageError
from esctl.lifecycle import archive_files as files
from esctl.lifecycle.audit import Actor, record
from esctl.lifecycle.streams import BATCH_SIZE, StreamFacts, changing_events
from esctl.lifecycle.visibility import stream_not_found
from esctl.store.base import Session, Store
from esctl.store.lifecycle import ArchiveAdmin, Selection, archive_admin
from esctl.values import time_json

Progress = Callable[[str, int], None]  # (phase, events) for "archiving" and "deleting"


@dataclass(frozen=True)
class ArchiveRequest:
    """What to archive, where to, and whether to delete it afterwards."""

    selection: Selection
    path: Path
    delete: bool = False
    before_as_given: str | None = None  # `--before` as typed (a relative `30d` is re-run as-is)
    operation: str = "streams archive"

    def selection_dict(self, include_deleted: bool) -> dict[str, Any]:
        s = self.selection
        return {
            "streams": sorted(s.stream_ids),
            "category": s.category,
            "before": time_json(s.before) if s.before is not None else None,
            "before_as_given": self.before_as_given,
            "keep_last": s.keep_last,
            "max_position": s.max_position,
            "include_deleted": include_deleted,
        }


def same_selection(ours: dict[str, Any], theirs: Any) -> bool:
    """Whether a manifest's selection is ours: the same streams or category and rules, and the
    same `--before` (as typed, or as a time)."""
    if not isinstance(theirs, dict):
        return False
    keys = ("streams", "category", "keep_last", "include_deleted")
    if any(ours.get(k) != theirs.get(k) for k in keys):
        return False
    given = ours["before_as_given"]
    return ours["before"] == theirs.get("before") or (
        given is not None and given == theirs.get("before_as_given")
    )


@dataclass(frozen=True)
class ArchivePlan:
    request: ArchiveRequest
    streams: tuple[StreamFacts, ...]
    checkpoints: tuple[str, ...] = ()
    existing: dict[str, Any] | None = None  # the manifest of the complete archive to go on with
    executed: bool = False
    audit_id: int | None = None
    manifest: dict[str, Any] | None = None
    events_deleted: int = 0
    remaining: int | None = None  # selected events still stored after the delete (newer ones)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def events(self) -> int:
        if self.manifest is not None:
            return int(self.manifest["events"])
        return sum(s.events for s in self.streams)

    def counts(self) -> dict[str, Any]:
        return {
            "streams": len(self.streams),
            "events": self.events,
            "bytes": sum(s.bytes for s in self.streams),
            "snapshots": sum(1 for s in self.streams if s.snapshot_version is not None),
            "file": str(self.request.path),
            "resumed": self.existing is not None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": "archive",
            "executed": self.executed,
            "delete": self.request.delete,
            "audit_id": self.audit_id,
            **self.counts(),
            "events_deleted": self.events_deleted,
            "remaining": self.remaining,
            "checkpoints_affected": list(self.checkpoints),
            "streams_planned": [s.to_dict() for s in self.streams],
            "manifest": self.manifest,
            "notes": list(self.notes),
        }


def admin_of(tx: Session, operation: str) -> ArchiveAdmin:
    admin = archive_admin(tx)
    if admin is None:
        raise UsageError(
            f"{operation} refused: only esctl's own layout can archive and remove events"
        )
    return admin


def facts_of(row: dict[str, Any], positions: list[tuple[str, int]]) -> StreamFacts:
    """A stream of a selection (an ArchiveAdmin.facts row), with the checkpoints (name,
    position) that still had its events pending."""
    last = row["last_position"]
    return StreamFacts(
        stream_id=str(row["stream_id"]),
        events=row["events"],
        first_version=row["first_version"],
        last_version=row["last_version"],
        first_position=row["first_position"],
        last_position=last,
        bytes=row["bytes"],
        snapshot_version=row["snapshot_version"],
        deleted_at=None,
        checkpoints=tuple(n for n, p in positions if last is not None and p < int(last)),
    )


def plan_archive(store: Store, request: ArchiveRequest) -> ArchivePlan:
    """The plan; exit 4 for a named stream without events, exit 2 for a FILE that exists and is
    not the complete archive of this selection."""
    selection = request.selection
    if not selection.stream_ids and selection.category is None:
        raise UsageError("name streams or --category")
    if not request.path.parent.is_dir():
        raise UsageError(f"--to {request.path}: directory {request.path.parent} does not exist")
    with store.reading() as tx:
        admin = admin_of(tx, request.operation)
        rows = admin.facts(selection)
        found = {str(r["stream_id"]) for r in rows}
        for stream_id in selection.stream_ids:
            if stream_id not in found and not tx.log.stream_exists(stream_id):
                raise stream_not_found(tx, stream_id)
        positions = [(c.name, c.position) for c in transaction.checkpoints(tx).all()]
    planned = [facts_of(row, positions) for row in rows]
    affected = tuple(dict.fromkeys(n for s in planned for n in s.checkpoints))
    existing = _existing_archive(store, request)
    notes = []
    if existing is not None:
        notes.append(
            f"{request.path} is already the complete archive of this selection "
            f"({existing['events']} events): it is verified again"
            + (" and its events still stored are deleted" if request.delete else "")
        )
    if affected and request.delete:
        notes.append(
            "checkpoints listed as affected have events of these streams pending: consumers "
            "will not receive the archived ones"
        )
    return ArchivePlan(request, tuple(planned), affected, existing, notes=tuple(notes))


def _existing_archive(store: Store, request: ArchiveRequest) -> dict[str, Any] | None:
    path = request.path
    if not path.exists():
        return None
    refused = f"refusing to overwrite {path}"
    manifest = files.read_manifest(path)
    if manifest is None:
        raise UsageError(
            f"{refused}: it exists and has no esctl manifest ({files.manifest_path(path).name})",
            hint="choose another --to, or move the file away",
        )
    ours = request.selection_dict(store.settings.include_deleted)
    if not same_selection(ours, manifest.get("selection")):
        raise UsageError(
            f"{refused}: it is the archive of another selection ({manifest.get('selection')})",
            hint="choose another --to",
        )
    problems = files.problems(path, manifest)
    if problems:
        raise UsageError(
            f"{refused}: it does not match its manifest: {'; '.join(problems)}; nothing was "
            "deleted",
            hint="move it away and archive again: the events are still in the store",
        )
    return manifest


def _manifest(
    store: Store, request: ArchiveRequest, written: files.Written, created: datetime
) -> dict[str, Any]:
    return {
        "format": files.FORMAT,
        "operation": request.operation,
        "file": request.path.name,
        "compression": "gzip" if files.is_gzip(request.path) else None,
        "sha256": written.sha256,
        "bytes": written.size,
        **written.contents.to_dict(),
        "selection": request.selection_dict(store.settings.include_deleted),
        "store": store.display_url,
        "schema": store.settings.schema,
        "created_at": time_json(created),
        "esctl_version": __version__,
    }


def write_archive(
    store: Store,
    request: ArchiveRequest,
    *,
    warn: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write, sync, read back and publish the archive of the selection; its manifest."""
    path = request.path
    with files.directory_lock(path.parent):
        if path.exists():
            raise UsageError(f"refusing to overwrite {path}: it appeared while this ran")
        try:
            with store.reading() as tx:
                chunks = admin_of(tx, request.operation).json_lines(request.selection, warn)
                written = files.write_partial(path, _counted(chunks, progress))
            manifest = _manifest(store, request, written, datetime.now(UTC))
            problems = files.problems(written.partial, manifest)
            if problems:
                files.discard(written)
                raise EsctlError(
                    f"the archive read back differs from what was written: "
                    f"{'; '.join(problems)}; nothing was deleted",
                    hint="check the disk; the events are still in the store",
                )
            files.publish(path, written, manifest)
        except OSError as error:  # a full disk, a read-only directory: nothing was deleted
            files.partial_path(path).unlink(missing_ok=True)
            raise EsctlError(
                f"cannot write the archive {path}: {error.strerror or error}; nothing was deleted"
            ) from None
    return manifest


def _counted(chunks: Iterator[bytes], progress: Progress | None) -> Iterator[bytes]:
    for chunk in chunks:
        if progress is not None:
            progress("archiving", chunk.count(b"\n"))
        yield chunk


def execute_archive(
    store: Store,
    plan: ArchivePlan,
    *,
    actor: Actor | None = None,
    batch_size: int = BATCH_SIZE,
    warn: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> ArchivePlan:
    """Carry out a plan: write (or re-verify) the archive, audit it, and with `delete` remove
    its events in batches of `batch_size`."""
    if batch_size < 1:
        raise UsageError("--batch-size must be 1 or more")
    request = plan.request
    if plan.existing is not None:
        manifest = _existing_archive(store, request)  # verified again, just before any delete
        assert manifest is not None
    elif plan.events == 0:
        return replace(plan, executed=True, notes=(*plan.notes, "nothing to archive"))
    else:
        manifest = write_archive(store, request, warn=warn, progress=progress)
    plan = replace(plan, manifest=manifest)
    operation = request.operation + (" --delete" if request.delete else "")
    counts = {**plan.counts(), "events_deleted": 0}
    with store.writing() as tx:
        audit_id = record(
            tx, actor, operation, str(request.path), counts, manifest_sha256=manifest["sha256"]
        )
    assert audit_id is not None  # esctl's layout always has the audit trail
    deleted = 0
    if request.delete:
        deleted = delete_archived(store, request, audit_id, counts, batch_size, progress)
        with store.reading() as tx:
            left = sum(r["events"] for r in admin_of(tx, operation).facts(request.selection))
        plan = replace(plan, remaining=left)
        if left:
            plan = replace(
                plan,
                notes=(
                    *plan.notes,
                    f"{left} events of the selection are not in {request.path.name} (appended "
                    "after it was written) and stay in the store",
                ),
            )
    return replace(plan, executed=True, audit_id=audit_id, events_deleted=deleted)


def delete_archived(
    store: Store,
    request: ArchiveRequest,
    audit_id: int,
    counts: dict[str, Any],
    batch_size: int,
    progress: Progress | None = None,
) -> int:
    """Delete the events of a verified archive that are still stored, in audited batches (each
    one transaction); how many were deleted."""
    deleted = 0
    batch: list[tuple[int, str]] = []

    def flush() -> None:
        nonlocal deleted
        with store.writing() as tx:
            streams = changing_events(tx, audit_id, {**counts, "events_deleted": deleted})
            removed = admin_of(tx, request.operation).delete_exactly(batch)
            streams.touch_audit(audit_id, {**counts, "events_deleted": deleted + removed})
        deleted += removed
        if progress is not None:
            progress("deleting", len(batch))
        batch.clear()

    for line in files.read_lines(request.path):
        event = json.loads(line)
        batch.append((int(event["global_position"]), str(event["event_id"])))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return deleted
