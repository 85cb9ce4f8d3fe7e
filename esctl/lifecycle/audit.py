"""The audit trail: who ran what (`Actor`: OS user, host, the command line with secrets
redacted), written by every executed change in the change's own transaction (`record`), and
listed by `esctl audit` (`list_audit`)."""

from __future__ import annotations

import getpass
import os
import shlex
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from esctl.config import Settings
from esctl.store.base import Session, Store
from esctl.store.lifecycle import AuditEntry, audit_trail
from esctl.types import Row
from esctl.urls import redact, scrub
from esctl.values import stored_time, time_json


def redact_command(
    args: Sequence[str], *, secrets_from: Iterable[str] = (), extra: Iterable[str] = ()
) -> str:
    """The command line as one shell-quoted string, with every password in it replaced by `***`:
    passwords in URLs and conninfo strings (`--store host=… password=…`), and the passwords of
    `secrets_from` (the store URLs in use) and `extra` wherever they appear."""
    urls = [u for u in secrets_from if u]
    secrets = tuple(s for s in extra if s)
    shown = []
    for arg in args:
        # scrub redacts URLs inside any text; a conninfo's `password=…` is redact's.
        shown.append(scrub(arg if "://" in arg else redact(arg), *urls, extra=secrets))
    return shlex.join(shown)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class Actor:
    """Who makes a change: OS user, host, and the command line (already redacted)."""

    os_user: str
    host: str
    command: str

    @classmethod
    def current(cls, args: Sequence[str] | None = None, settings: Settings | None = None) -> Actor:
        """This process: `args` is the command line (default: sys.argv), redacted with the
        passwords of `settings` (store, read_store, password_env) and $PGPASSWORD."""
        words = list(sys.argv if args is None else args)
        urls: list[str] = []
        extra = [os.environ.get("PGPASSWORD", "")]
        if settings is not None:
            urls = [settings.store, settings.read_store or ""]
            if settings.password_env:
                extra.append(os.environ.get(settings.password_env, ""))
        return cls(
            _os_user(), socket.gethostname(), redact_command(words, secrets_from=urls, extra=extra)
        )


def record(
    tx: Session,
    actor: Actor | None,
    operation: str,
    target: str,
    counts: dict[str, Any],
    *,
    manifest_sha256: str | None = None,
    changes_events: bool = False,
) -> int | None:
    """Write the audit row of a change in its transaction `tx`; with `changes_events`, also let
    this transaction change `events` under `init --protect`. None when the layout has no audit."""
    trail = audit_trail(tx)
    if trail is None:
        return None
    who = actor or Actor.current()
    audit_id = trail.record(
        AuditEntry(who.os_user, who.host, who.command, operation, target, counts, manifest_sha256)
    )
    if changes_events:
        trail.allow_event_changes(audit_id)
    return audit_id


def list_audit(
    store: Store, *, since: datetime | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The audit trail, newest first (`esctl audit`)."""
    with store.reading() as tx:
        trail = audit_trail(tx)
        if trail is None:
            return []
        return [_entry(row) for row in trail.entries(since=since, limit=limit)]


def _entry(row: Row) -> dict[str, Any]:
    return {**row, "id": int(row["id"]), "at": time_json(stored_time(row["at"]))}
