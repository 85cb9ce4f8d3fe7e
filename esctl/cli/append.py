"""`esctl append`: validate JSON events, then append them atomically and idempotently."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from esctl.cli.options import DryRunOpt, LimitOpt, examples
from esctl.cli.state import state
from esctl.render import Column, Renderer
from esctl.words import noun_for, number, plural

if TYPE_CHECKING:
    from esctl.append.sources import InputSource

APPEND_EXAMPLES = examples(
    "esctl append examples/orders.jsonl",
    "esctl append export.jsonl --stream Order-42 --expected-version 3",
    "cat events.json | esctl append - --expected-version no-stream",
    "esctl append huge.jsonl --commit-every 50000",
    "esctl -s postgresql://app@db/app read --all -o jsonl | esctl -s copy.db append -",
)

COLUMNS = [
    Column("stream_id", "stream"),
    Column("stream_type", "type", shrink=True, priority=4),  # narrow terminal: left out first
    Column("appended", "new", justify="right"),
    Column("duplicates", "dups", justify="right"),
    Column("first_version", "first ver", justify="right", priority=2),
    Column("last_version", "last ver", justify="right"),
    Column("first_position", "first pos", justify="right", priority=3),
    Column("last_position", "last pos", justify="right"),
]


def append(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            help="Input files: .json (object or array), .jsonl/.ndjson, or - for stdin.",
            metavar="FILE...",
        ),
    ],
    stream: Annotated[
        str | None, typer.Option("--stream", help="Put every event in this stream.")
    ] = None,
    expected_version: Annotated[
        str,
        typer.Option(
            "--expected-version",
            "-e",
            metavar="any|no-stream|exists|N",
            help="Version each stream must have before the first event of the input.",
        ),
    ] = "any",
    commit_every: Annotated[
        int | None,
        typer.Option(
            "--commit-every",
            min=1,
            metavar="N",
            help="Commit every N events instead of all at once (huge imports).",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="An input without events is not an error: append nothing, exit 0 (for "
            "incremental copies).",
        ),
    ] = False,
    limit: LimitOpt = None,
) -> None:
    """Validate events from JSON files, then append them: atomic, idempotent by event_id.

    Every input is checked first (exit 6 with file, line and field; nothing written). Versions
    continue each stream; --expected-version is checked atomically (exit 3 on a conflict). On a
    Message DB store every message goes through its write_message, and versions are Message
    DB's (0 is a stream's first message); on an Emmett store, through its emt_append_to_stream. Events
    already stored (same event_id and content) are reported as duplicates, not appended again.
    """
    from esctl.append.sources import open_sources
    from esctl.append.validation import EmptyInput
    from esctl.append.writing import ExpectedVersion, append_events
    from esctl.errors import ConcurrencyError

    app = state(ctx)
    expected = ExpectedVersion.parse(expected_version)
    store = app.open_store(write=not dry_run, needs=["can_append"], command="append")
    # Message DB numbers from 0 (a stream's first message is at 0, no stream is -1); the append
    # pipeline counts from 1 (0: no stream). Its numbers in and out are shifted here.
    shift = 1 - int(getattr(store.layout, "first_version", 1))
    if shift and expected.version is not None:
        expected = ExpectedVersion(expected.kind, expected.version + shift)
    out = app.out
    try:
        with open_sources(files) as sources, _progress(out, sources) as progress:
            result = append_events(
                store,
                sources,
                stream=stream,
                expected=expected,
                commit_every=commit_every,
                dry_run=dry_run,
                progress=progress,
            )
    except ConcurrencyError as error:
        if shift:
            error.message = _shifted(error.message, shift)
            error.hint = _shifted(error.hint, shift) if error.hint else error.hint
        raise
    except EmptyInput:
        if not allow_empty:
            raise
        out.table([], COLUMNS)  # an empty result: `[]`, or the CSV header
        out.note("The input holds no events: nothing was appended (--allow-empty).")
        return
    shown = out.default_limit(limit)
    streams = result.streams if shown is None else result.streams[: shown + 1]
    out.table(
        (_shifted_versions(s.to_dict(), shift) for s in streams),
        COLUMNS,
        limit=shown,
        more_hint="use --limit N to see more streams, or -o jsonl for all",
        as_message=True,  # -q: a table is a message, not data
    )
    verb = "Would append" if dry_run else "Appended"
    receiving = sum(1 for s in result.streams if s.appended)  # streams that get an event
    line = f"{verb} {plural(result.appended, 'event')} to {plural(receiving, 'stream')}"
    if result.duplicates:
        dups = result.duplicates
        line += (
            f"; {number(dups)} {noun_for(dups, 'was')} already stored (duplicates, not appended)"
        )
    out.message(line + ".")
    if dry_run:
        out.note("Dry run: nothing was written.")


ProgressFn = Callable[[str, int, int | None], None]


def _shifted(text: str, shift: int) -> str:
    """The versions named in an error, in the store's numbering (`version 5` -> `version 4`)."""
    import re

    return re.sub(r"(version )(\d+)", lambda m: m.group(1) + str(int(m.group(2)) - shift), text)


def _shifted_versions(row: dict[str, object], shift: int) -> dict[str, object]:
    for key in ("first_version", "last_version"):
        value = row.get(key)
        if shift and isinstance(value, int):
            row[key] = value - shift
    return row


@contextmanager
def _progress(out: Renderer, sources: Sequence[InputSource]) -> Iterator[ProgressFn | None]:
    """Append's bars (on a terminal only): bytes read of the input size while reading the input
    the first time (validation, the single pass), events of the exact total after validation, a
    plain counter for standard input."""
    # Bytes only for regular files: a pipe (`<(…)`, /dev/stdin) has no size and cannot tell().
    regular = all(source.live is None and source.path.is_file() for source in sources)
    size = sum(source.size or 0 for source in sources) if regular else None
    size = size or None
    with out.progress("events") as bars:
        if not bars.shown:  # no bar: the append need not report its progress at all
            yield None
            return
        counts: dict[str, int] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            first_read = not counts or phase == next(iter(counts))  # the input read the first time
            counts[phase] = counts.get(phase, 0) + done
            in_bytes = first_read and total is None and size is not None
            bars.update(
                phase,
                count=counts[phase],
                total=total,
                done_bytes=sum(s.position() for s in sources) if in_bytes else None,
                size=size if in_bytes else None,
            )

        yield update
