"""`esctl retention plan | apply`: the profile's `retention:` rules (esctl.retention) turned into
a plan per category (the events older than `max_age`, or beyond each stream's newest
`max_count`, up to the head the plan saw), and applied: with `archive_dir:` each category's
events are archived first (`streams archive --delete`'s machinery: one file per category per
run, named with the time, verified before anything is removed), else removed in audited batches.

Re-runnable: a run killed while deleting leaves an archive whose last event is still stored;
`apply` finishes those first (verified again, deleted exactly), so nothing is archived twice.
Without an archive, a re-run simply plans and removes what is left."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from esctl.checkpoints import transaction
from esctl.errors import EsctlError, UsageError
from esctl.lifecycle import archive_files as files
from esctl.lifecycle.archive import (
    ArchiveRequest,
    Progress,
    admin_of,
    delete_archived,
    execute_archive,
    facts_of,
    plan_archive,
)
from esctl.lifecycle.audit import Actor, record
from esctl.lifecycle.streams import BATCH_SIZE, StreamFacts, changing_events
from esctl.retention import EXAMPLE, RetentionRule
from esctl.store.base import Store
from esctl.store.lifecycle import Selection
from esctl.values import time_json

OPERATION = "retention apply"


@dataclass(frozen=True)
class CategoryPlan:
    rule: RetentionRule
    selection: Selection
    streams: tuple[StreamFacts, ...]
    checkpoints: tuple[str, ...]
    archive: Path | None
    deleted: int = 0
    audit_id: int | None = None
    manifest_sha256: str | None = None

    @property
    def events(self) -> int:
        return sum(s.events for s in self.streams)

    def to_dict(self) -> dict[str, Any]:
        s = self.selection
        return {
            **self.rule.to_dict(),
            "before": time_json(s.before) if s.before is not None else None,
            "up_to_position": s.max_position,
            "streams": len(self.streams),
            "events": self.events,
            "bytes": sum(f.bytes for f in self.streams),
            "first_position": min((f.first_position or 0 for f in self.streams), default=None),
            "last_position": s.max_position if self.streams else None,
            "snapshots": sum(1 for f in self.streams if f.snapshot_version is not None),
            "checkpoints_affected": list(self.checkpoints),
            "archive": str(self.archive) if self.archive else None,
            "events_deleted": self.deleted,
            "audit_id": self.audit_id,
            "manifest_sha256": self.manifest_sha256,
        }


@dataclass(frozen=True)
class RetentionPlan:
    at: datetime
    categories: tuple[CategoryPlan, ...]
    archive_dir: Path | None
    unfinished: tuple[Path, ...] = ()  # archives of a killed run, finished first by apply
    executed: bool = False
    finished_deleted: int = 0  # events of the unfinished archives deleted by apply

    @property
    def events(self) -> int:
        return sum(c.events for c in self.categories)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": "retention",
            "executed": self.executed,
            "at": time_json(self.at),
            "archive_dir": str(self.archive_dir) if self.archive_dir else None,
            "events": self.events,
            "events_deleted": self.finished_deleted + sum(c.deleted for c in self.categories),
            "unfinished_archives": [str(p) for p in self.unfinished],
            "categories": [c.to_dict() for c in self.categories],
        }


def _file_name(category: str, at: datetime) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", category) or "_"
    return f"{safe}-{at:%Y%m%dT%H%M%SZ}.jsonl.gz"


def _archive_dir(store: Store) -> Path | None:
    given = store.settings.lifecycle.archive_dir
    if given is None:
        return None
    directory = Path(given).expanduser()
    if not directory.is_dir():
        raise UsageError(f"archive_dir {directory} is not a directory", hint="create it first")
    return directory


def plan_retention(store: Store, *, now: datetime | None = None) -> RetentionPlan:
    """What the rules would remove now (and archive, with `archive_dir:`)."""
    rules = store.settings.lifecycle.retention
    if not rules:
        raise UsageError("the profile has no retention: rules", hint=EXAMPLE)
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    directory = _archive_dir(store)
    planned = []
    with store.reading() as tx:
        admin = admin_of(tx, "retention")
        positions = [(c.name, c.position) for c in transaction.checkpoints(tx).all()]
        for rule in rules:
            before = None
            if rule.max_age_seconds is not None:
                before = at - timedelta(seconds=rule.max_age_seconds)
            selection = Selection(category=rule.category, before=before, keep_last=rule.max_count)
            streams = tuple(facts_of(row, positions) for row in admin.facts(selection))
            head = max((int(s.last_position or 0) for s in streams), default=0)
            affected = tuple(dict.fromkeys(n for s in streams for n in s.checkpoints))
            archive = directory / _file_name(rule.category, at) if directory and streams else None
            planned.append(
                CategoryPlan(
                    rule, replace(selection, max_position=head), streams, affected, archive
                )
            )
    unfinished = _unfinished(store, directory) if directory is not None else ()
    return RetentionPlan(at, tuple(planned), directory, unfinished)


def _unfinished(store: Store, directory: Path) -> tuple[Path, ...]:
    """Archives `retention apply` wrote whose last event is still stored (a killed delete)."""
    found = []
    for manifest_file in sorted(directory.glob("*" + files.MANIFEST_SUFFIX)):
        archive = manifest_file.with_name(manifest_file.name[: -len(files.MANIFEST_SUFFIX)])
        manifest = files.read_manifest(archive)
        if manifest is None or manifest.get("operation") != OPERATION or not archive.exists():
            continue
        last = (manifest.get("last_position"), manifest.get("last_event_id"))
        if last[0] is None or last[1] is None:
            continue
        with store.reading() as tx:
            if admin_of(tx, "retention").stored([(int(last[0]), str(last[1]))]):
                found.append(archive)
    return tuple(found)


def apply_retention(
    store: Store,
    plan: RetentionPlan,
    *,
    actor: Actor | None = None,
    batch_size: int = BATCH_SIZE,
    warn: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> RetentionPlan:
    """Finish the unfinished archives, then archive (with `archive_dir:`) and remove each
    category's planned events; every step audited."""
    finished = sum(_finish(store, a, actor, batch_size, progress) for a in plan.unfinished)
    if plan.unfinished:  # their events were in the plan too: plan again without them
        plan = replace(
            plan_retention(store, now=plan.at),
            unfinished=plan.unfinished,
            finished_deleted=finished,
        )
    if plan.archive_dir is not None:
        with files.directory_lock(plan.archive_dir):
            for stale in plan.archive_dir.glob("*.partial"):  # a killed writer's (the lock is ours)
                stale.unlink(missing_ok=True)
    done = []
    for category in plan.categories:
        if not category.events:
            done.append(category)
        elif category.archive is not None:
            done.append(_archive(store, category, actor, batch_size, warn, progress))
        else:
            done.append(_remove(store, category, actor, batch_size, progress))
    return replace(plan, categories=tuple(done), executed=True)


def _finish(
    store: Store, archive: Path, actor: Actor | None, batch_size: int, progress: Progress | None
) -> int:
    manifest = files.read_manifest(archive)
    assert manifest is not None
    problems = files.problems(archive, manifest)
    if problems:
        raise EsctlError(
            f"the unfinished archive {archive} does not match its manifest: "
            f"{'; '.join(problems)}; nothing was deleted",
            hint="move it away: its events are still in the store and the next run archives them",
        )
    request = ArchiveRequest(Selection(), archive, delete=True, operation=OPERATION)
    counts = {"events": manifest["events"], "file": str(archive), "resumed": True}
    with store.writing() as tx:
        audit_id = record(
            tx,
            actor,
            OPERATION + " --delete",
            str(archive),
            counts,
            manifest_sha256=manifest["sha256"],
        )
    assert audit_id is not None
    return delete_archived(store, request, audit_id, counts, batch_size, progress)


def _archive(
    store: Store,
    category: CategoryPlan,
    actor: Actor | None,
    batch_size: int,
    warn: Callable[[str], None] | None,
    progress: Progress | None,
) -> CategoryPlan:
    assert category.archive is not None
    request = ArchiveRequest(category.selection, category.archive, delete=True, operation=OPERATION)
    result = execute_archive(
        store,
        plan_archive(store, request),
        actor=actor,
        batch_size=batch_size,
        warn=warn,
        progress=progress,
    )
    sha = result.manifest["sha256"] if result.manifest else None
    return replace(
        category, deleted=result.events_deleted, audit_id=result.audit_id, manifest_sha256=sha
    )


def _remove(
    store: Store,
    category: CategoryPlan,
    actor: Actor | None,
    batch_size: int,
    progress: Progress | None,
) -> CategoryPlan:
    counts = {**category.rule.to_dict(), "events": category.events, "events_deleted": 0}
    with store.writing() as tx:
        audit_id = record(tx, actor, OPERATION, category.rule.category, counts)
    assert audit_id is not None
    deleted = 0
    while True:
        with store.writing() as tx:
            streams = changing_events(tx, audit_id, {**counts, "events_deleted": deleted})
            removed = admin_of(tx, OPERATION).delete_selected(category.selection, batch_size)
            streams.touch_audit(audit_id, {**counts, "events_deleted": deleted + removed})
        deleted += removed
        if progress is not None and removed:
            progress("deleting", removed)
        if removed < batch_size:
            break
    return replace(category, deleted=deleted, audit_id=audit_id)
