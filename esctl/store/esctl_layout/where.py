"""`--where` conditions (`esctl.conditions.Condition`) compiled to SQL on `{events}`, one dialect
per engine, with the semantics of `Condition.matches` (the tests run both and compare).

Values and keys are always bound parameters; keys were validated by the parser as well.

- PostgreSQL: equality is jsonb containment (`event_data @> '{"customer": {"id": "C-42"}}'`), which
  a GIN index on the column serves (`jsonb_ops` or `jsonb_path_ops`); the other operators walk
  the path with `->` (a text key never indexes an array, as in Python) and compare jsonb numbers,
  times cast to timestamptz behind a pattern that guarantees the cast succeeds, or `strpos`.
- SQLite: `json_type`/`json_extract` on the column when it holds valid JSON (text another
  program wrote that is not JSON matches nothing instead of failing the read); times through
  `esctl_time_key`, the Python function `esctl.conditions.time_key` registered on the connection.
"""

from __future__ import annotations

import json
from typing import Any

from esctl.conditions import OFFSET_PATTERN, TIME_PATTERN, Condition

COLUMNS = {"data": "event_data", "metadata": "metadata"}
SQL_OPERATORS = {">": ">", "<": "<", ">=": ">=", "<=": "<="}


def condition_sql(condition: Condition, backend: str) -> tuple[str, list[Any]]:
    """One condition as SQL and its parameters."""
    if backend == "postgresql":
        return _postgres(condition)
    return _sqlite(condition)


def _negated(sql: str, params: list[Any], condition: Condition) -> tuple[str, list[Any]]:
    """`!=` is the negation of `=`; a NULL (metadata NULL, a missing path) is "not equal"."""
    if condition.op == "!=":
        return "NOT COALESCE((" + sql + "), FALSE)", params
    return sql, params


# --- PostgreSQL ---------------------------------------------------------------------------------


def _postgres(condition: Condition) -> tuple[str, list[Any]]:
    column = COLUMNS[condition.column]
    if condition.op in ("=", "!="):
        sql = column + " @> CAST(%s AS jsonb)"
        params: list[Any] = [json.dumps(condition.nested(), ensure_ascii=False)]
        if condition.kind in ("string", "number", "boolean"):
            # Containment lets an array hold the primitive (`{"tags": ["x"]} @> {"tags": "x"}`);
            # `=` means the value itself, as in Python. The containment test stays first for
            # the index.
            value, value_params = _walk(column, condition.path)
            sql += " AND jsonb_typeof(" + value + ") <> 'array'"
            params += value_params
        return _negated(sql, params, condition)
    value, params = _walk(column, condition.path)
    if condition.op == "~":
        return (
            "(jsonb_typeof(" + value + ") = 'string' AND strpos(" + value + " #>> '{{}}', %s) > 0)",
            [*params, *params, condition.value],
        )
    op = SQL_OPERATORS[condition.op]
    if condition.kind == "number":
        return (
            "(jsonb_typeof("
            + value
            + ") = 'number' AND "
            + value
            + " "
            + op
            + " CAST(%s AS jsonb))",
            [*params, *params, json.dumps(condition.value)],
        )
    text = value + " #>> '{{}}'"
    normal = (
        "CASE WHEN length(" + text + ") = 10 THEN " + text + " || 'T00:00:00+00:00' "
        "WHEN " + text + " ~ %s THEN " + text + " ELSE " + text + " || '+00:00' END"
    )
    sql = (
        "(CASE WHEN jsonb_typeof(" + value + ") = 'string' AND " + text + " ~ %s "
        "THEN CAST(" + normal + " AS timestamptz) " + op + " CAST(%s AS timestamptz) "
        "ELSE FALSE END)"
    )
    literal = _time_literal(condition)
    # In the order of the placeholders: the path of jsonb_typeof's value, of the pattern test's
    # text, the pattern; in `normal` the paths of length(), THEN, WHEN, the offset pattern, the
    # paths of THEN and ELSE; the literal.
    return sql, [
        *params,
        *params,
        TIME_PATTERN,
        *params,
        *params,
        *params,
        OFFSET_PATTERN,
        *params,
        *params,
        literal,
    ]


def _walk(column: str, path: tuple[str, ...]) -> tuple[str, list[Any]]:
    """`column -> 'a' -> 'b'`: text keys, so an array is never indexed (NULL instead)."""
    return column + " -> CAST(%s AS text)" * len(path), list(path)


def _time_literal(condition: Condition) -> str:
    from esctl.conditions import time_text

    normal = time_text(condition.value)
    assert normal is not None  # the parser made it a time
    return normal


# --- SQLite -------------------------------------------------------------------------------------


def _sqlite(condition: Condition) -> tuple[str, list[Any]]:
    column = COLUMNS[condition.column]
    document = "(CASE WHEN json_valid(" + column + ") THEN " + column + " END)"
    path = "$" + "".join('."' + key + '"' for key in condition.path)
    kind = "json_type(" + document + ", %s)"
    value = "json_extract(" + document + ", %s)"
    if condition.op in ("=", "!="):
        if condition.kind == "number":
            sql = kind + " IN ('integer', 'real') AND " + value + " = %s"
            params: list[Any] = [path, path, condition.value]
        elif condition.kind == "string":
            sql = kind + " = 'text' AND " + value + " = %s"
            params = [path, path, condition.value]
        elif condition.kind == "boolean":
            sql = kind + " = %s"
            params = [path, "true" if condition.value else "false"]
        else:
            sql = kind + " = 'null'"
            params = [path]
        return _negated("(" + sql + ")", params, condition)
    if condition.op == "~":
        return (
            "(" + kind + " = 'text' AND instr(" + value + ", %s) > 0)",
            [path, path, condition.value],
        )
    op = SQL_OPERATORS[condition.op]
    if condition.kind == "number":
        return (
            "(" + kind + " IN ('integer', 'real') AND " + value + " " + op + " %s)",
            [path, path, condition.value],
        )
    return (
        "(" + kind + " = 'text' AND esctl_time_key(" + value + ") " + op + " %s)",
        [path, path, condition.time],
    )
