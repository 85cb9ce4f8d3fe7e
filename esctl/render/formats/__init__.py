"""The output formats of `-o`, registered in one place.

A new format (`-o prometheus`, Parquet) is one module with a `Format` subclass plus one line in
`REGISTRY`; the `-o` choices, their help and the renderer all read the registry."""

from __future__ import annotations

from esctl.render.formats.base import Format
from esctl.render.formats.csv import CsvFormat
from esctl.render.formats.json import JsonFormat
from esctl.render.formats.jsonl import JsonlFormat
from esctl.render.formats.table import TableFormat
from esctl.render.formats.wide import WideFormat

# In the order `-o` lists them.
REGISTRY: dict[str, type[Format]] = {
    TableFormat.name: TableFormat,
    JsonFormat.name: JsonFormat,
    JsonlFormat.name: JsonlFormat,
    CsvFormat.name: CsvFormat,
    WideFormat.name: WideFormat,
}


def register(fmt: type[Format]) -> type[Format]:
    """Add a format (usable as a class decorator); a name already taken is an error."""
    if fmt.name in REGISTRY:
        raise ValueError(f"output format {fmt.name!r} is already registered")
    REGISTRY[fmt.name] = fmt
    return fmt


def format_names() -> tuple[str, ...]:
    """The `-o` choices, in registry order."""
    return tuple(REGISTRY)


def format_class(name: str) -> type[Format]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown output format {name!r} (known: {', '.join(REGISTRY)})") from None
