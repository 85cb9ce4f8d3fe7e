"""CLI robustness: nothing on stdout for a listing that fails before its first row, and every
integer option refuses a number beyond 64 bits as a usage error naming it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest

from esctl.cli.bounds import INT64_MAX
from esctl.errors import NotFound
from esctl.render import Column, Renderer
from tests.support.processes import run_cli
from tests.support.stores import Target


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
@pytest.mark.parametrize(
    "args", [["read", "Missing-1"], ["read", "Missing-1", "--backwards"]], ids=" ".join
)
def test_read_missing_stream_writes_nothing_on_stdout(
    initialised: Target, fmt: str, args: list[str]
) -> None:
    result = run_cli(*args, "-o", fmt)
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith("Error: stream 'Missing-1' not found\n")


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_a_listing_failing_before_its_first_row_writes_nothing(fmt: str) -> None:
    """Every listing goes through Renderer.rows: no `[` and no CSV header before an error."""

    def failing() -> Iterator[dict[str, Any]]:
        raise NotFound("gone")
        yield {}

    out = StringIO()
    renderer = Renderer(fmt, stdout=out, stderr=StringIO())  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        renderer.rows(failing(), [Column("a")])
    assert out.getvalue() == ""


@pytest.mark.parametrize(("fmt", "expected"), [("json", "[]\n"), ("csv", "a\n"), ("jsonl", "")])
def test_an_empty_listing_still_has_its_frame(fmt: str, expected: str) -> None:
    out = StringIO()
    renderer = Renderer(fmt, stdout=out, stderr=StringIO())  # type: ignore[arg-type]
    assert renderer.rows(iter([]), [Column("a")]) == 0
    assert out.getvalue() == expected


def _integer_options() -> list[tuple[tuple[str, ...], str, list[str]]]:
    """(command path, option, the arguments it needs) for every integer option of every command."""
    from typer._click import types
    from typer.main import get_command

    from esctl.cli.app import app

    found: list[tuple[tuple[str, ...], str, list[str]]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        required = ["x" for p in command.params if p.param_type_name == "argument" and p.required]
        for param in command.params:
            if param.param_type_name == "option" and isinstance(param.type, types.IntParamType):
                found.append((path, param.opts[0], required))
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, (*path, name))

    walk(get_command(app), ())
    return found


INTEGER_OPTIONS = _integer_options()


def test_the_walk_finds_the_known_integer_options() -> None:
    names = {(" ".join(path), option) for path, option, _ in INTEGER_OPTIONS}
    assert ("read", "--limit") in names
    assert ("read", "--from-position") in names
    assert ("append", "--commit-every") in names
    assert ("bench", "--events") in names


@pytest.mark.parametrize("value", ["99999999999999999999", str(INT64_MAX + 1), "-" + "9" * 30])
@pytest.mark.parametrize(
    ("path", "option", "needs"),
    INTEGER_OPTIONS,
    ids=[f"{' '.join(p)} {o}" for p, o, _ in INTEGER_OPTIONS],
)
def test_every_integer_option_refuses_a_huge_number(
    path: tuple[str, ...], option: str, needs: list[str], value: str
) -> None:
    result = run_cli(*path, *needs, f"{option}={value}")
    assert result.exit_code == 2, result.output
    text = re.sub(r"[\s│╭╮╰╯─]+", " ", result.stderr)
    assert f"Invalid value for '{option}'" in text
    assert re.search(
        r"(out of range \(allowed: -?\d+ to 9223372036854775806\)|not in the range)", text
    ), text
