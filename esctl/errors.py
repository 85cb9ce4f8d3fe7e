"""esctl's exceptions, each carrying the exit code that SPEC.md gives it.

Driver errors are translated into these once, at the backend boundary; the CLI catches them once, in
`esctl.cli.app`, and prints `Error: <message>` (plus a hint) on stderr.
"""

from __future__ import annotations


class EsctlError(Exception):
    """Base of every error esctl reports to the user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class CheckFailed(EsctlError):
    """A check found a problem (drift, lag over a threshold): exit 1."""

    exit_code = 1


class UsageError(EsctlError):
    """Bad flags or arguments: exit 2."""

    exit_code = 2


class ConfigError(UsageError):
    """Bad configuration: a missing profile, an unreadable YAML file, a bad store URL."""


class PermissionDenied(EsctlError):
    """The connecting role lacks a privilege (not a read-only profile, which is exit 8): exit 1.
    The message names the role and, where esctl can tell, the privilege."""

    exit_code = 1


class ConcurrencyError(EsctlError):
    """A wrong expected version, or a concurrent change that won a compare-and-set: exit 3."""

    exit_code = 3


class NotFound(EsctlError):
    """A stream, event or subscription that does not exist: exit 4."""

    exit_code = 4


class StoreUnavailable(EsctlError):
    """Cannot connect, connection lost, or a timeout: exit 5."""

    exit_code = 5


class InvalidInput(EsctlError):
    """Input that esctl refuses before writing anything: exit 6.

    `problems` lists every problem found, each already naming file, line and field.
    """

    exit_code = 6

    def __init__(
        self, message: str, *, problems: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or []


class SchemaMissing(EsctlError):
    """The store has no esctl schema, or an outdated one: exit 7."""

    exit_code = 7


class ReadOnlyRefused(EsctlError):
    """A write refused because the profile (or the connection) is read-only: exit 8."""

    exit_code = 8


class Conflict(EsctlError):
    """A unique constraint fired at the backend; callers that know the context diagnose it."""

    exit_code = 3
