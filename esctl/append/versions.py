"""Stream versions in an append: `--expected-version`, what each stream got, and the errors (exit
3) that name a stream, the version expected and the version stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esctl.errors import ConcurrencyError, UsageError


@dataclass(frozen=True)
class ExpectedVersion:
    """`any`, `no-stream` (version 0), `exists` (version > 0), or an exact version N."""

    kind: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> ExpectedVersion:
        text = text.strip().lower()
        if text in ("any", "no-stream", "exists"):
            return cls(text)
        if text.isdigit():
            return cls("exact", int(text))
        raise UsageError(
            f"--expected-version {text!r}: use any, no-stream, exists or a version number"
        )

    def accepts(self, version: int) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "no-stream":
            return version == 0
        if self.kind == "exists":
            return version > 0
        return version == self.version

    def __str__(self) -> str:
        return str(self.version) if self.kind == "exact" else self.kind


ANY = ExpectedVersion("any")


@dataclass
class StreamResult:
    """What one invocation did to one stream (also its running state while appending)."""

    stream_id: str
    stream_type: str
    appended: int = 0
    duplicates: int = 0
    first_version: int | None = None
    last_version: int | None = None
    first_position: int | None = None
    last_position: int | None = None
    # running state: the stream's version as this invocation knows it, and the duplicate prefix
    current: int | None = None
    checked: bool = False
    next_duplicate: int | None = None
    seen_new: bool = False
    read_version: int | None = None  # the stored version the current unit started from

    def versions(self, first: int, last: int) -> None:
        self.first_version = first if self.first_version is None else self.first_version
        self.last_version = last

    def positions(self, first: int, last: int) -> None:
        self.first_position = (
            first if self.first_position is None else min(self.first_position, first)
        )
        self.last_position = last if self.last_position is None else max(self.last_position, last)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "appended": self.appended,
            "duplicates": self.duplicates,
            "first_version": self.first_version,
            "last_version": self.last_version,
            "first_position": self.first_position,
            "last_position": self.last_position,
        }


@dataclass
class AppendResult:
    """The outcome of one `append`: per stream, in input order."""

    streams: list[StreamResult]
    events: int
    dry_run: bool = False

    @property
    def appended(self) -> int:
        return sum(s.appended for s in self.streams)

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.streams)


def version_error(
    stream_id: str, expected: str, actual: int, where: str | None = None
) -> ConcurrencyError:
    at = f" ({where})" if where else ""
    return ConcurrencyError(
        f"stream {stream_id!r}: expected version {expected}, actual version {actual}{at}",
        hint="another writer appended to the stream; read it and retry with the new version",
    )


def expected_hint(expected: ExpectedVersion, stream_id: str, actual: int) -> str:
    """Why a stream's version refused --expected-version, as the store shows it now."""
    if expected.kind == "no-stream":
        return (
            f"the stream already exists (version {actual}): use --expected-version {actual} "
            "to append after it, or any"
        )
    if expected.kind == "exists":
        return "the stream has no events yet: use --expected-version no-stream, or any"
    return (
        f"the stream is at version {actual}: read it (esctl read {stream_id}) and retry with "
        f"--expected-version {actual}; if you last saw version {expected}, another writer has "
        "appended since"
    )
