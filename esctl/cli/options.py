"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        "-n",
        min=0,
        help="At most N rows (default: 100 for tables, no limit for json, jsonl and csv).",
    ),
]
ExecuteOpt = Annotated[
    bool,
    typer.Option("--execute", help="Really do it. Without this flag the command is a dry run."),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be done and change nothing.")
]


def examples(*lines: str) -> str:
    """The epilog of a command's --help: its examples, one per line."""
    body = "\n".join(f"  {line}" for line in lines)
    return f"Examples:\n\n\b\n{body}"


WhereOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        metavar="EXPR",
        help="Only events matching EXPR (repeatable, ANDed): data.PATH or metadata.PATH, then "
        "= != (typed: 42, true, null, text; quote for text: '42'), > < >= <= (numbers, ISO 8601 "
        "times) or ~ (substring), e.g. data.customer.id=C-42.",
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="TEMPLATE",
        help="One line per event from TEMPLATE instead of -o (kcat -f style): {global_position} "
        "{stream_id} {event_type} {data.PATH} {metadata.PATH} …; {{ }} are braces, \\n \\t escapes.",
    ),
]

IncludeDeletedOpt = Annotated[
    bool,
    typer.Option(
        "--include-deleted",
        help="Show soft-deleted streams too (`esctl streams delete`); hidden by default.",
    ),
]
