"""Where a bench runs: a throwaway PostgreSQL schema, or a SQLite file in a temporary directory,
both created with `esctl init`'s own schema code and removed afterwards (unless kept)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from esctl.config import Settings
from esctl.errors import ReadOnlyRefused
from esctl.store import open_store
from esctl.store.base import Store
from esctl.urls import parse_store_url


@dataclass(frozen=True)
class BenchPlace:
    """The isolated store of one run: its settings, and a description for messages."""

    settings: Settings
    backend: str
    description: str

    def open(self, *, write: bool = True) -> Store:
        return open_store(self.settings, write=write)


def portable(settings: Settings) -> Settings:
    """Settings that pickle into a writer process (no config-file bookkeeping)."""
    return replace(settings, reducers={}, sources={}, config_path=None, read_store=None)


def refuse_read_only(settings: Settings) -> None:
    """Bench writes (to its own place): a read-only profile refuses it, before any connection."""
    if settings.read_only:
        who = f"profile {settings.profile!r}" if settings.profile else "the profile"
        raise ReadOnlyRefused(
            f"{who} is read-only: bench writes (to a throwaway schema or file), refusing to run",
            hint="run bench with a profile without read_only: true",
        )


@contextmanager
def isolated_place(settings: Settings, *, keep: bool = False) -> Iterator[BenchPlace]:
    """Create the isolated place next to the configured store, yield it, and remove it."""
    refuse_read_only(settings)
    location = parse_store_url(settings.store)
    if location.backend == "sqlite":
        yield from _sqlite_place(settings, Path(location.target), keep)
    else:
        yield from _postgres_place(settings, keep)


def _init(settings: Settings) -> None:
    from esctl.admin.init import init_store

    with open_store(settings, write=True, create=True) as store:
        init_store(store)


def _sqlite_place(settings: Settings, user_file: Path, keep: bool) -> Iterator[BenchPlace]:
    # Beside the user's store, so the bench measures the same disk (not a tmpfs /tmp).
    parent = user_file.parent if user_file.parent.is_dir() else Path(tempfile.gettempdir())
    directory = Path(tempfile.mkdtemp(prefix=".esctl-bench-", dir=parent))
    path = directory / "bench.db"
    bench = portable(replace(settings, store=f"sqlite:///{path}"))
    try:
        _init(bench)
        yield BenchPlace(bench, "sqlite", f"temporary file {path}")
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def _postgres_place(settings: Settings, keep: bool) -> Iterator[BenchPlace]:
    schema = f"esctl_bench_{uuid.uuid4().hex[:12]}"
    bench = portable(replace(settings, schema=schema))
    try:
        _init(bench)
        yield BenchPlace(bench, "postgresql", f"throwaway schema {schema}")
    finally:
        if not keep:
            drop_schema(bench)


def drop_schema(settings: Settings) -> None:
    """Drop the bench's own schema (its name is generated, and quoted by the backend)."""
    assert settings.schema.startswith("esctl_bench_")
    with open_store(settings, write=True) as store:
        store.admin.drop_schema()
