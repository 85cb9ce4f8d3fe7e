"""What the global options decide, shared by every command through `ctx.obj`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import typer

from esctl.config import Settings, resolve_settings
from esctl.errors import EsctlError
from esctl.render import Renderer
from esctl.store.base import Store


@dataclass
class AppState:
    """The global options of one invocation."""

    profile: str | None = None
    store: str | None = None
    config: str | None = None
    output: str = "table"  # a name in esctl.render.formats.REGISTRY
    color: bool = True
    quiet: bool = False
    verbose: bool = False
    primary: bool = False
    tz: str | None = None
    layout: str | None = None
    include_deleted: bool = False  # `--include-deleted`: reads show soft-deleted streams
    include_archived: bool = False  # `--include-archived`: Emmett's archived messages too
    _stores: list[Store] = field(default_factory=list)

    @cached_property
    def settings(self) -> Settings:
        settings = resolve_settings(
            config=self.config, profile=self.profile, store=self.store, layout=self.layout
        )
        for warning in settings.warnings:  # once per invocation: this property is cached
            self.out.warning(warning)
        return settings

    @cached_property
    def out(self) -> Renderer:
        return Renderer(
            self.output,
            color=self.color,
            quiet=self.quiet,
            tz=lambda: self.tz or self.settings.tz,
        )

    def open_store(
        self,
        *,
        write: bool = False,
        create: bool = False,
        check: bool = True,
        node: Literal["auto", "primary", "replica"] = "auto",
        needs: Sequence[str] = (),
        command: str = "this command",
    ) -> Store:
        """Open the store; write commands are refused (exit 8) on a read-only profile before any
        connection, and with `check` the schema must be esctl's current one (exit 7). Reads go
        to the profile's `read_store` (a replica) when it has one, unless `--primary`. `needs`
        names the capabilities (esctl.ports.Capabilities) `command` cannot do without: a layout
        that lacks one is refused here (exit 2), before any work."""
        from esctl.ports import require
        from esctl.store import open_store

        settings = self.settings
        use_replica = node == "replica" or (node == "auto" and not self.primary)
        if not write and settings.read_store and use_replica:
            settings = settings.for_reads()
        if self.include_deleted or self.include_archived:
            from dataclasses import replace

            settings = replace(
                settings,
                include_deleted=settings.include_deleted or self.include_deleted,
                include_archived=self.include_archived,
            )
        store = open_store(settings, write=write, create=create)
        self._stores.append(store)
        for capability in needs:
            require(store, capability, command)
        if write:
            store.check_writable()
        if check:
            store.require_schema()
        return store

    def replica_lag_note(self) -> str | None:
        """When reads come from a replica that is behind the primary, a note saying so."""
        from esctl.errors import EsctlError

        if not self.settings.read_store or self.primary:
            return None
        try:
            primary = self.open_store(check=False, node="primary").node_status()
            replica = self.open_store(check=False, node="replica").node_status(primary.wal_lsn)
        except EsctlError as error:
            return f"could not compare the replica with the primary: {error.message}"
        if not replica.lag_bytes:
            return None
        seconds = f", {replica.lag_seconds:.1f} s" if replica.lag_seconds is not None else ""
        return (
            f"read from a replica {replica.lag_bytes} bytes{seconds} behind the primary: "
            "the head and lags shown may be behind (--primary reads the primary)"
        )

    def actor(self) -> Any:
        """Who runs this command, for the audit trail: OS user, host, and this invocation's
        command line with the passwords of its settings (and any URL's) redacted."""
        from typer._click.globals import get_current_context

        from esctl.lifecycle.audit import Actor

        ctx = get_current_context(silent=True)
        words = ctx.find_root().meta.get("esctl.command_line") if ctx is not None else None
        return Actor.current(words, self.settings)

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self._stores.clear()


def error_renderer() -> Renderer:
    """The renderer `main()` reports errors with: this invocation's, or (before the global
    options are parsed) one that honours only $NO_COLOR."""
    import os

    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, AppState):
        return obj.out
    return Renderer(color=not os.environ.get("NO_COLOR"))


def state(ctx: typer.Context) -> AppState:
    """The AppState of this invocation (the root context holds it)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppState):
        obj = AppState()
        ctx.find_root().obj = obj
    return obj


def report_error(error: EsctlError) -> None:
    """`Error: …`, the problems found, and an optional hint, on stderr."""
    error_renderer().error(error.message, getattr(error, "problems", []), error.hint)
