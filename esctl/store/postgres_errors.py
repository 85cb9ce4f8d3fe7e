"""PostgreSQL errors as esctl errors: each psycopg error class becomes the esctl error (and exit
code) it means, once, here; no password libpq echoed survives in the text."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
from psycopg import errors as pgerrors

from esctl.errors import (
    Conflict,
    EsctlError,
    InvalidInput,
    PermissionDenied,
    ReadOnlyRefused,
    SchemaMissing,
    StoreUnavailable,
)
from esctl.urls import scrub

if TYPE_CHECKING:
    from esctl.store.postgres_connection import PostgresConnections

LOCK_TIMEOUT = "10s"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _secrets(store: PostgresConnections) -> tuple[str, ...]:
    """Passwords that may reach libpq by other ways than the URL (password_env, PGPASSWORD)."""
    names = [store.settings.password_env, "PGPASSWORD"]
    return tuple(v for n in names if n and len(v := os.environ.get(n) or "") >= 3)


def _scrubbed(store: PostgresConnections, error: EsctlError) -> EsctlError:
    """The error with any password libpq echoed (it quotes URIs and conninfo) replaced by ***."""
    secrets = _secrets(store)
    error.message = scrub(error.message, store.location.target, extra=secrets)
    if error.hint:
        error.hint = scrub(error.hint, store.location.target, extra=secrets)
    error.args = (error.message,)
    return error


@contextmanager
def translate_errors(store: PostgresConnections) -> Iterator[None]:
    """Turn psycopg errors into esctl errors, once, here; no password survives in the text."""
    try:
        with _translate(store):
            yield
    except EsctlError as error:
        _scrubbed(store, error)
        raise


@contextmanager
def _translate(store: PostgresConnections) -> Iterator[None]:
    try:
        yield
    except pgerrors.UniqueViolation as exc:
        raise Conflict(_first_line(exc)) from exc
    except (pgerrors.UndefinedTable, pgerrors.InvalidSchemaName, pgerrors.UndefinedColumn) as exc:
        raise SchemaMissing(
            f"store {store.display_url} is missing part of the esctl schema ({_first_line(exc)})",
            hint="run `esctl init` (schema: " + store.settings.schema + ")",
        ) from exc
    except pgerrors.QueryCanceled as exc:
        timeout = store.settings.statement_timeout_ms
        limit = f" (statement_timeout {timeout} ms)" if timeout else ""
        raise StoreUnavailable(
            f"the statement was cancelled{limit}: {_first_line(exc)}",
            hint="narrow the query (--limit, filters) or raise statement_timeout in the profile",
        ) from exc
    except pgerrors.LockNotAvailable as exc:
        raise StoreUnavailable(
            f"could not take a lock within {LOCK_TIMEOUT}: {_first_line(exc)}",
            hint="a long transaction holds the table; retry when it has finished",
        ) from exc
    except pgerrors.ReadOnlySqlTransaction as exc:
        if store.in_read_only_transaction():
            raise ReadOnlyRefused(
                f"a read-only transaction cannot write: {_first_line(exc)}"
            ) from exc
        raise StoreUnavailable(
            f"node {store.node_name()} accepts no writes (a standby?): {_first_line(exc)}",
            hint="point `store:` at the primary, or add target_session_attrs=read-write",
        ) from exc
    except pgerrors.FeatureNotSupported as exc:
        if "during recovery" not in str(exc):
            raise EsctlError(f"PostgreSQL error: {_first_line(exc)}") from exc
        raise StoreUnavailable(
            f"node {store.node_name()} accepts no writes (a standby?): {_first_line(exc)}",
            hint="point `store:` at the primary, or add target_session_attrs=read-write",
        ) from exc
    except pgerrors.InsufficientPrivilege as exc:
        # Not a read-only profile (exit 8): the role lacks a privilege, exit 1, naming the role.
        role = store.role_name()
        raise PermissionDenied(
            f"{_first_line(exc)} (role {role})",  # "permission denied for table events"
            hint=f"role {role} lacks a privilege on the store's schema or tables: GRANT it, "
            "or use a profile whose role has it",
        ) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise StoreUnavailable(
            f"store {store.display_url} unavailable: {_first_line(exc)}"
        ) from exc
    except psycopg.DataError as exc:
        # A value the column cannot hold (too long, a NUL byte, out of range): bad input, exit 6.
        raise InvalidInput(f"the store refused a value: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise EsctlError(f"PostgreSQL error: {_first_line(exc)}") from exc
