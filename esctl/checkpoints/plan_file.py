"""Plan files: `checkpoints set … --export FILE` writes a plan, `--from-file FILE` reads one back.

CSV or JSON, by the file's extension (`.csv`, `.json`); JSON is an array of objects with the
same keys as the CSV's columns (`FIELDS`), one a checkpoint. `stored_position` and
`stored_transaction_id` are the checkpoint's row as read when the plan was made (empty / null:
there was none, the move creates it); applying the plan is a compare-and-set on exactly them.
`current_*` is where that row is in commit order, `new_*` the row the move writes; the counts and
`target` are for the reader. A file is checked whole before anything is read from the store:
anything malformed is a usage error (exit 2) naming the file, the row and the field."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esctl.checkpoints.moves import MovePlan
from esctl.checkpoints.names import MAX_SUBSCRIPTION_NAME
from esctl.errors import UsageError
from esctl.values import time_json

FIELDS = (
    "subscription_id",
    "action",
    "target",
    "current_position",
    "current_transaction_id",
    "new_position",
    "new_transaction_id",
    "stored_position",
    "stored_transaction_id",
    "events_redelivered",
    "events_skipped",
    "estimated",
    "planned_at",
)
REQUIRED = (
    "subscription_id",
    "action",
    "new_position",
    "new_transaction_id",
    "stored_position",
    "stored_transaction_id",
    "planned_at",
)
MAX_BYTES = 16 * 1024 * 1024  # a plan of every checkpoint is far smaller; more is not a plan
BIGINT = 2**63


def plan_format(path: str, option: str) -> str:
    """`csv` or `json`, from the file's extension; exit 2 for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise UsageError(f"{option}: {path!r} must end in .csv or .json (the plan's format)")
    return suffix[1:]


def plan_rows(plans: Sequence[MovePlan]) -> list[dict[str, Any]]:
    """The plan as the file's rows."""
    rows = []
    for plan in plans:
        current = plan.current
        rows.append(
            {
                "subscription_id": plan.subscription_id,
                "action": plan.action,
                "target": plan.target,
                "current_position": None if current is None else current.global_position,
                "current_transaction_id": (current.transaction_id or None) if current else None,
                "new_position": plan.new_position,
                "new_transaction_id": plan.new_transaction_id,
                "stored_position": plan.old_position,
                "stored_transaction_id": plan.old_transaction_id,
                "events_redelivered": plan.redelivered,
                "events_skipped": plan.skipped,
                "estimated": plan.estimated,
                "planned_at": time_json(plan.planned_at),
            }
        )
    return rows


def write_plan(path: str, plans: Sequence[MovePlan]) -> None:
    """Write the plan to `path` whole or not at all (a temporary file beside it, synced, renamed)."""
    text = _ENCODERS[plan_format(path, "--export")](plan_rows(plans))
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".esctl-plan-")
    except OSError as error:
        raise UsageError(f"--export: cannot write {path!r}: {error.strerror}") from error
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(f"--export: cannot write {path!r}: {error.strerror}") from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _json_text(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_plan(path: str) -> list[MovePlan]:
    """The plan in `path`, checked whole; UsageError (exit 2) naming file, row and field."""
    decode = _DECODERS[plan_format(path, "--from-file")]
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise UsageError(f"--from-file: cannot read {path!r}: {error.strerror}") from error
    if len(raw) > MAX_BYTES:
        raise UsageError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB: not a plan")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not UTF-8 text (byte {error.start})") from error
    rows = decode(path, text)
    if not rows:
        raise UsageError(f"{path}: the plan is empty")
    plans: list[MovePlan] = []
    seen: set[str] = set()
    for where, row in rows:
        plan = _plan_of(f"{path}: {where}", row)
        if plan.subscription_id in seen:
            raise UsageError(f"{path}: {where}: checkpoint {plan.subscription_id!r} twice")
        seen.add(plan.subscription_id)
        plans.append(plan)
    return plans


def _json_rows(path: str, text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})",
            hint="a plan is what `checkpoints set … --export FILE.json` writes",
        ) from error
    if not isinstance(document, list):
        raise UsageError(f"{path}: a JSON plan is an array of objects, one a checkpoint")
    rows = []
    for index, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            raise UsageError(f"{path}: item {index}: not an object")
        rows.append((f"item {index}", item))
    return rows


def _csv_rows(path: str, text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = reader.fieldnames or []
        missing = [f for f in REQUIRED if f not in header]
        if missing:
            raise UsageError(
                f"{path}: line 1: the header lacks {', '.join(missing)}",
                hint="a plan is what `checkpoints set … --export FILE.csv` writes",
            )
        rows = []
        for row in reader:
            if None in row:
                raise UsageError(f"{path}: line {reader.line_num}: more cells than the header")
            cells: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items()}
            rows.append((f"line {reader.line_num}", cells))
    except csv.Error as error:
        raise UsageError(f"{path}: not valid CSV: {error}") from error
    return rows


_ENCODERS = {"json": _json_text, "csv": _csv_text}
_DECODERS = {"json": _json_rows, "csv": _csv_rows}


def _integer(where: str, row: dict[str, Any], field: str, *, minimum: int) -> int | None:
    value = row.get(field)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value < BIGINT:
        raise UsageError(f"{where}: field {field}: {value!r} is not an integer ≥ {minimum}")
    return value


def _plan_of(where: str, row: dict[str, Any]) -> MovePlan:
    missing = [f for f in REQUIRED if f not in row]
    if missing:
        raise UsageError(f"{where}: missing field {', '.join(missing)}")
    name = row["subscription_id"]
    if not isinstance(name, str) or not name or len(name) > MAX_SUBSCRIPTION_NAME:
        raise UsageError(f"{where}: field subscription_id: not a subscription name")
    if not name.isprintable():
        raise UsageError(f"{where}: field subscription_id: {name!r} holds control characters")
    action = row["action"]
    if action not in ("set", "create"):
        raise UsageError(f"{where}: field action: {action!r} is neither set nor create")
    stored_position = _integer(where, row, "stored_position", minimum=0)
    stored_transaction = _integer(where, row, "stored_transaction_id", minimum=1)
    if action == "set" and stored_position is None:
        raise UsageError(f"{where}: field stored_position: a set needs the position it moves from")
    if action == "create" and (stored_position, stored_transaction) != (None, None):
        raise UsageError(f"{where}: field stored_position: a create moves from no checkpoint")
    new_position = _integer(where, row, "new_position", minimum=0)
    if new_position is None:
        raise UsageError(f"{where}: field new_position: missing")
    planned = row["planned_at"]
    try:
        planned_at = datetime.fromisoformat(planned) if isinstance(planned, str) else None
    except ValueError:
        planned_at = None
    if planned_at is None:
        raise UsageError(f"{where}: field planned_at: {planned!r} is not an ISO 8601 time")
    target = row.get("target")
    shown = target if isinstance(target, str) and target.isprintable() else "from a plan file"
    return MovePlan(
        subscription_id=name,
        action=action,
        target=shown[:200],
        old_position=stored_position,
        old_transaction_id=stored_transaction,
        new_position=new_position,
        new_transaction_id=_integer(where, row, "new_transaction_id", minimum=1),
        planned_at=planned_at if planned_at.tzinfo else planned_at.replace(tzinfo=UTC),
    )
