"""Where a bench runs: a throwaway PostgreSQL schema, or a SQLite file in a temporary directory,
both created with `esctl init`'s own schema code and removed afterwards (unless kept). On a
Message DB store, a throwaway database holding a copy of the store's own Message DB schema
(`esctl.store.message_db.bench_place`), so the bench measures Message DB's write_message and
reads, not esctl's tables. Other layouts are refused (exit 2): esctl's tables are not theirs."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from esctl.config import Settings
from esctl.errors import EsctlError, ReadOnlyRefused, UsageError
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
        return
    layout = _layout_of(settings)
    if layout == "message-db":
        yield from _message_db_place(settings, keep)
    elif layout == "esctl":
        yield from _postgres_place(settings, keep)
    else:
        raise UsageError(
            f"bench refused: the store has the {layout} layout, and bench measures esctl's own "
            "tables in a throwaway schema, which would say nothing of it",
            hint="point bench at an esctl store (or a Message DB, which it copies)",
        )


def _layout_of(settings: Settings) -> str:
    """The layout of the configured store: the profile's, or the one `auto` detects (a store that
    cannot be read yet is taken as esctl's, as detection does)."""
    if settings.layout != "auto":
        return settings.layout
    try:
        with open_store(settings, write=False) as store:
            return str(store.layout.name)
    except EsctlError:
        return "esctl"


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


def _message_db_place(settings: Settings, keep: bool) -> Iterator[BenchPlace]:
    from esctl.store.message_db import bench_place

    with open_store(settings, write=True) as source:
        name = bench_place.create_throwaway(source)
    bench = portable(
        replace(settings, store=bench_place.store_url(settings.store, name), layout="message-db")
    )
    try:
        yield BenchPlace(
            bench, "postgresql", f"throwaway Message DB database {name} (the store's schema copied)"
        )
    finally:
        if not keep:
            with open_store(settings, write=True) as source:
                bench_place.drop_throwaway(source, name)


def drop_schema(settings: Settings) -> None:
    """Drop the bench's own schema (its name is generated, and quoted by the backend)."""
    assert settings.schema.startswith("esctl_bench_")
    with open_store(settings, write=True) as store:
        store.admin.drop_schema()
