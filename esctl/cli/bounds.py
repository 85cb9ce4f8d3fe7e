"""Every integer option fits a 64-bit signed integer (SQLite INTEGER, PostgreSQL bigint).

A bigger number is a usage error (exit 2) naming the option and the allowed range, found while the
command line is parsed, instead of an OverflowError from the driver. The option's help (`[x>=0]`)
is unchanged: only its conversion gains the check."""

from __future__ import annotations

import copy
from typing import Any

from typer._click import types

# One below the 64-bit limits: commands fetch `--limit`+1 rows, or look one position back.
INT64_MIN = -(2**63) + 1
INT64_MAX = 2**63 - 2


_BOUNDED: dict[type[Any], type[Any]] = {}


def _bounded(cls: type[Any]) -> type[Any]:
    if cls in _BOUNDED:
        return _BOUNDED[cls]

    class Bounded(cls):  # type: ignore[valid-type,misc]
        def convert(self, value: Any, param: Any, ctx: Any) -> Any:
            result = super().convert(value, param, ctx)
            if isinstance(result, int) and not INT64_MIN <= result <= INT64_MAX:
                low = getattr(self, "min", None)
                low = INT64_MIN if low is None else low
                self.fail(f"{value} is out of range (allowed: {low} to {INT64_MAX})", param, ctx)
            return result

    Bounded.__name__ = Bounded.__qualname__ = f"Bounded{cls.__name__}"
    _BOUNDED[cls] = Bounded
    return Bounded


def bound_integer_options(command: Any) -> None:
    """Give every integer parameter of `command` and its subcommands the 64-bit check."""
    for param in getattr(command, "params", []):
        kind = param.type
        if isinstance(kind, types.IntParamType) and not type(kind).__name__.startswith("Bounded"):
            bounded = copy.copy(kind)
            bounded.__class__ = _bounded(type(kind))
            param.type = bounded
    for sub in (getattr(command, "commands", None) or {}).values():
        bound_integer_options(sub)
