"""`esctl init` and `esctl doctor`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from esctl.cli.options import DryRunOpt, examples
from esctl.cli.state import state
from esctl.errors import EsctlError, StoreUnavailable, UsageError
from esctl.render import Column, Lines, Listing, Said

if TYPE_CHECKING:
    from esctl.admin.doctor import DoctorReport

INIT_EXAMPLES = examples(
    "esctl init",
    "esctl init --dry-run",
    "esctl -s postgresql://app@db/app init",
)
DOCTOR_EXAMPLES = examples("esctl doctor", "esctl -p prod doctor -o json")


ProtectOpt = Annotated[
    bool,
    typer.Option(
        "--protect",
        help="Also install triggers that refuse UPDATE and DELETE of events (and TRUNCATE on "
        "PostgreSQL) except by esctl's audited lifecycle commands. INSERTs are unaffected.",
    ),
]
UnprotectOpt = Annotated[
    bool, typer.Option("--unprotect", help="Remove the triggers --protect installed.")
]


def init(
    ctx: typer.Context,
    dry_run: DryRunOpt = False,
    protect: ProtectOpt = False,
    unprotect: UnprotectOpt = False,
) -> None:
    """Create or upgrade the store's schema. Idempotent: a current schema is left alone.

    On PostgreSQL an existing store made from the seed template is upgraded in place, without
    rewriting or long-locking `events`. --protect / --unprotect turn the protection of events
    on or off (audited; `esctl doctor` shows it).

    A current schema that lost a table or index (dropped by hand) gets it back; a lost `events`
    table is refused (exit 7): a new, empty log would restart positions under consumers.
    """
    from esctl.admin.init import init_store

    if protect and unprotect:
        raise UsageError("give --protect or --unprotect, not both")
    app = state(ctx)
    store = app.open_store(write=not dry_run, create=not dry_run, check=False)
    result = init_store(store, dry_run=dry_run)
    out = app.out
    guarding: list[str] = []
    if protect or unprotect:
        guarding = _protection(app, store, protect, dry_run)
    schema = store.settings.schema if store.backend == "postgresql" else None
    where = f" (schema {schema})" if schema else ""
    if dry_run:
        if not result.statements:
            out.message(
                f"Schema of {result.store}{where} is current (version {result.version_before})."
            )
        planned = result.statements + guarding
        record: dict[str, Any] = {
            "store": result.store,
            "schema": schema,
            "dry_run": True,
            "schema_version": result.version_before,
            "migrations": [m.version for m in result.applied],
            "statements": result.statements,
        }
        if protect or unprotect:
            record["protection_statements"] = guarding
        out.result(record, view=Lines("".join(f"{sql.rstrip(';')};\n\n" for sql in planned)))
        if planned:
            out.note("Dry run: nothing was changed. Run it without --dry-run to apply.")
        return
    told = [f"Applied migration {m.version}: {m.description}" for m in result.applied]
    told += [f"Repaired: {repair}." for repair in (result.repaired if not result.applied else [])]
    if result.applied or result.repaired:
        told.append(f"Store {result.store}{where} is at schema version {result.version_after}.")
    else:
        told.append(
            f"Store {result.store}{where} is already at schema version "
            f"{result.version_after}; "
            "nothing to do."
        )
    out.result(
        {
            "store": result.store,
            "schema": schema,
            "dry_run": False,
            "schema_version_before": result.version_before,
            "schema_version": result.version_after,
            "applied": [
                {"version": m.version, "description": m.description} for m in result.applied
            ],
            "repaired": result.repaired,
        },
        view=Said(told),  # a person is told what changed; stdout stays empty
    )


def _protection(app: Any, store: Any, on: bool, dry_run: bool) -> list[str]:
    """Turn protection on or off after the migrations; a dry run says what it would do and
    returns the SQL it would run (the triggers and their function)."""
    from esctl.lifecycle.protection import protection_plan, set_protection

    word = "on" if on else "off"
    if dry_run:
        planned = protection_plan(store, on)
        change = "would be turned" if planned else "stays"
        app.out.note(f"Protection of events {change} {word}.")
        return planned
    changed = set_protection(store, on, actor=app.actor())
    app.out.note(f"Protection of events {'turned' if changed else 'is already'} {word}.")
    return []


def doctor(ctx: typer.Context) -> None:
    """Check the connection, server version, schema version, objects and read-only state.

    Exit 5 when the store cannot be reached, 7 when the schema is missing, outdated or incomplete.
    With a `read_store` in the profile, each node's role and the replica's lag are shown too.
    """
    from esctl.admin.doctor import diagnose

    app = state(ctx)
    store = app.open_store(write=False, check=False, node="primary")
    replica = None
    if app.settings.read_store:
        replica = app.open_store(write=False, check=False, node="replica")
    report = diagnose(store, replica)
    out = app.out
    checks = [Column("check"), Column("status"), Column("detail", wrap=True)]
    out.result(report.to_dict(), view=Listing(_doctor_rows(report), checks))
    if not report.connected:
        raise StoreUnavailable(report.error or f"cannot reach {report.store}")
    if not report.ok:
        if report.error:  # a check that could not run: say why, with its own exit code
            failure = EsctlError(report.error)
            failure.exit_code = report.exit_code
            raise failure
        if report.layout == "esctl":
            out.table_note(f"Run `esctl init` to create or upgrade the schema{_in_schema(report)}.")
        else:  # esctl never creates or alters another product's schema
            out.table_note(
                f"The {report.layout} layout's objects are created by the product itself."
            )
        raise typer.Exit(report.exit_code)


def _in_schema(report: DoctorReport) -> str:
    return f" (schema {report.schema})" if report.schema else ""


def _doctor_rows(report: DoctorReport) -> list[dict[str, str]]:
    connection = (report.server_version or "") if report.connected else (report.error or "")
    if report.role:
        connection += f" as role {report.role} on database {report.database}"
    rows = [
        {"check": "store", "status": "ok", "detail": f"{report.store} ({report.backend})"},
        {
            "check": "connection",
            "status": "ok" if report.connected else "FAIL",
            "detail": connection,
        },
    ]
    rows.append(
        {"check": "layout", "status": "ok", "detail": f"{report.layout} ({report.layout_reason})"}
    )
    if report.schema:
        rows.append({"check": "schema", "status": "ok", "detail": report.schema})
    if report.connected and not report.checked:
        rows.append(
            {"check": "objects", "status": "FAIL", "detail": f"not checked: {report.error}"}
        )
    elif report.connected:
        version = report.schema_version
        # A layout with no esctl schema (expected version 0: another product's tables) has none.
        if report.expected_schema_version:
            rows.append(
                {
                    "check": "schema version",
                    "status": "ok" if version == report.expected_schema_version else "FAIL",
                    "detail": f"{version if version is not None else 'none'} "
                    f"(esctl needs {report.expected_schema_version})",
                }
            )
        rows.append(
            {
                "check": "objects",
                "status": "ok" if not report.missing else "FAIL",
                "detail": "all present"
                if not report.missing
                else "missing: " + ", ".join(report.missing),
            }
        )
        if report.extra:
            rows.append(
                {"check": "extra objects", "status": "note", "detail": ", ".join(report.extra)}
            )
        if report.error:
            rows.append({"check": "error", "status": "FAIL", "detail": report.error})
    rows += [
        {"check": f"size {_size_name(s)}", "status": "ok", "detail": _size(s)} for s in report.sizes
    ]
    rows += [
        {"check": f"--where index {i['name']}", "status": "ok", "detail": i["definition"]}
        for i in report.json_indexes
    ]
    if (
        report.layout == "esctl"
        and report.backend == "postgresql"
        and report.checked
        and not report.json_indexes
    ):
        rows.append(
            {
                "check": "--where index",
                "status": "note",
                "detail": "no GIN index on event_data or metadata: --where equality scans "
                "(esctl read --all --where … -v names the index to create)",
            }
        )
    if report.protected is not None:
        detail = (
            "on: UPDATE, DELETE and TRUNCATE of events are refused outside esctl's audited "
            "lifecycle commands (esctl init --unprotect removes it)"
            if report.protected
            else "off (esctl init --protect refuses UPDATE and DELETE of events by anything else)"
        )
        rows.append({"check": "protection", "status": "ok", "detail": detail})
    rows.append(
        {
            "check": "read-only",
            "status": "ok",
            "detail": "profile is read-only" if report.read_only_profile else "writes allowed",
        }
    )
    rows += [
        {"check": f"node {n['name']}", "status": "ok", "detail": _node(n)}
        for n in report.nodes
        if report.nodes and len(report.nodes) > 1
    ]
    rows += [{"check": "note", "status": "note", "detail": n} for n in report.notes]
    return rows


def _size_name(size: dict[str, Any]) -> str:
    return str(size.get("table") or ("WAL file" if str(size["file"]).endswith("-wal") else "file"))


def _size(size: dict[str, Any]) -> str:
    text = f"{size['bytes']:,} bytes"
    if "table" in size:
        rows = size.get("rows_estimate")
        estimate = f"about {rows:,} rows" if rows is not None else "rows unknown (not analysed yet)"
        return f"{estimate}, {text}"
    return f"{text} ({size['file']})"


def _node(node: dict[str, object]) -> str:
    text = f"{node['role']} {node['server_version']} at {node['address']}"
    if node["role"] == "standby":
        seconds = node.get("lag_seconds")
        lag_s = f"{seconds:.1f} s" if isinstance(seconds, float | int) else "unknown"
        text += f", replication lag {node.get('lag_bytes', '?')} bytes / {lag_s}"
    return text
