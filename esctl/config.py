"""Configuration: discovery of the YAML file, profiles, and the precedence of flags, environment,
profile and defaults (flags > environment > profile > defaults)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esctl.errors import ConfigError, EsctlError
from esctl.retention import LIFECYCLE_KEYS, LifecycleSettings, lifecycle_settings
from esctl.timeparse import parse_duration_ms, parse_seconds

DEFAULT_STORE = "sqlite:///events.db"
DEFAULT_SCHEMA = "public"
DEFAULT_CONNECT_TIMEOUT = 10
PROFILE_KEYS = {
    *("store", "read_store", "schema", "read_only", "statement_timeout", "connect_timeout"),
    *("password_env", "reducers", "tz", "layout", "trace_keys", "tables", "pooler"),
} | LIFECYCLE_KEYS
# `pooler:` what sits between esctl and PostgreSQL; without it a pooler is detected at connect.
POOLERS = ("pgbouncer", "none")
# The table layouts esctl knows (SPEC "Other event stores"); `auto` detects the one a store holds.
LAYOUTS = ("auto", "esctl", "message-db", "emmett", "eventsourcing")
TOP_LEVEL_KEYS = {"default_profile", "profiles"}


@dataclass(frozen=True)
class Settings:
    """The effective settings of one esctl invocation."""

    store: str = DEFAULT_STORE
    schema: str = DEFAULT_SCHEMA
    read_only: bool = False
    statement_timeout_ms: int | None = None
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT
    password_env: str | None = None
    reducers: Mapping[str, str] = field(default_factory=dict)
    read_store: str | None = None
    tz: str | None = None  # time zone of table times: local, UTC or an IANA name
    layout: str = "auto"  # one of LAYOUTS: which products' tables the store holds
    trace_keys: tuple[str, str] = ("correlation_id", "causation_id")  # what `trace` follows
    # `tables:` (eventsourcing layout): the events table, the tracking tables (empty: all).
    events_table: str | None = None
    tracking_tables: tuple[str, ...] = ()
    pooler: str | None = None  # one of POOLERS, or None: detect a transaction pooler
    include_deleted: bool = False  # `--include-deleted` (never from a profile)
    include_archived: bool = False  # `--include-archived` (emmett layout; never from a profile)
    lifecycle: LifecycleSettings = field(
        default_factory=LifecycleSettings
    )  # retention:, archive_dir:
    profile: str | None = None
    config_path: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    # Said once on stderr: an environment variable overriding a profile's store, a readable password.
    warnings: tuple[str, ...] = ()

    def for_reads(self) -> Settings:
        """These settings with `read_store` (a replica) as the store, for read-only commands."""
        from dataclasses import replace

        return replace(self, store=self.read_store or self.store)

    @property
    def password(self) -> str | None:
        """The password named by `password_env`, read when a connection needs it."""
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(
                f"password_env names ${self.password_env}, which is not set",
                hint=f"export {self.password_env}=… or remove password_env from the profile",
            )
        return value


def config_search_path(env: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where esctl looks for its configuration file, in order (after --config)."""
    paths: list[Path] = []
    if env.get("ESCTL_CONFIG"):
        paths.append(Path(env["ESCTL_CONFIG"]).expanduser())
    paths.append(cwd / "esctl.yaml")
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    paths.append(Path(xdg) / "esctl" / "config.yaml")
    return paths


def find_config_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The configuration file in use: `--config`, `$ESCTL_CONFIG`, `./esctl.yaml`, XDG; or None."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    if env.get("ESCTL_CONFIG"):
        path = Path(env["ESCTL_CONFIG"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} (from $ESCTL_CONFIG) does not exist")
        return path
    for path in config_search_path(env, cwd)[-2:]:
        if path.is_file():
            return path
    return None


def load_config_file(path: Path) -> dict[str, Any]:
    """Parse and check the YAML file; errors name the file and line."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"config file {path}{where}: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping")
    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key {sorted(unknown)[0]!r}",
            hint=f"top-level keys are: {', '.join(sorted(TOP_LEVEL_KEYS))}",
        )
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict):
        raise ConfigError(f"config file {path}: 'profiles' must be a mapping of name to profile")
    for name, profile in profiles.items():
        _check_profile(path, str(name), profile)
    return data


def _check_profile(path: Path, name: str, profile: Any) -> None:
    if not isinstance(profile, dict):
        raise ConfigError(f"config file {path}: profile {name!r} must be a mapping")
    unknown = set(profile) - PROFILE_KEYS
    if unknown:
        raise ConfigError(
            f"config file {path}: profile {name!r} has an unknown key {sorted(unknown)[0]!r}",
            hint=f"profile keys are: {', '.join(sorted(PROFILE_KEYS))}",
        )
    if profile.get("pooler", "none") not in POOLERS:
        raise ConfigError(f"config file {path}: profile {name!r}: pooler must be pgbouncer or none")
    for key in ("store", "read_store", "schema", "password_env", "tz"):
        if key in profile and not isinstance(profile[key], str):
            raise ConfigError(f"config file {path}: profile {name!r}: {key} must be a string")
    if "read_only" in profile and not isinstance(profile["read_only"], bool):
        raise ConfigError(f"config file {path}: profile {name!r}: read_only must be true or false")
    if isinstance(profile.get("tz"), str):  # an unknown zone fails here, before any command runs
        from esctl.display import resolve_zone

        resolve_zone(profile["tz"], what=f"config file {path}: profile {name!r}: tz")
    _check_trace_keys(path, name, profile.get("trace_keys"))
    lifecycle_settings(profile, f"config file {path}: profile {name!r}")
    _check_tables(path, name, profile.get("tables"))
    reducers = profile.get("reducers", {})
    if not isinstance(reducers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in reducers.items()
    ):
        raise ConfigError(
            f"config file {path}: profile {name!r}: reducers must map stream types to reducer names"
        )


def config_file_warning(path: Path, data: Mapping[str, Any]) -> str | None:
    """A warning when a config file holding a password (in a store URL or conninfo) can be read
    by other users, as ssh and libpq's .pgpass give."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & 0o077:
        return None
    from esctl.urls import has_password

    profiles = data.get("profiles") or {}
    for name, profile in profiles.items():
        for key in ("store", "read_store"):
            value = profile.get(key)
            if isinstance(value, str) and has_password(value):
                return (
                    f"config file {path} holds a password (profile {name!r}, {key}) and other "
                    f"users can read it (mode {mode & 0o777:o}); run `chmod 600 {path}`"
                )
    return None


def _check_tables(path: Path, name: str, tables: Any) -> None:
    """`tables:` is {events: NAME, tracking: [NAME, …]}: table names in the profile's schema."""
    where = f"config file {path}: profile {name!r}: tables"
    example = "tables: {events: orders_events, tracking: [invoices_tracking]}"
    keys = set(tables) if isinstance(tables, dict) else None
    if tables is not None and (keys is None or keys - {"events", "tracking"}):
        raise ConfigError(f"{where} must map events and tracking to table names", hint=example)
    events, tracking = (tables or {}).get("events"), (tables or {}).get("tracking")
    if events is not None and not isinstance(events, str):
        raise ConfigError(f"{where}: events must be one table name", hint=example)
    listed = isinstance(tracking, list) and all(isinstance(t, str) for t in tracking)
    if tracking is not None and not listed:
        raise ConfigError(f"{where}: tracking must be a list of table names", hint=example)
    for table in [*([events] if events is not None else []), *(tracking or [])]:
        check_identifier(table, f"{where}: {'events' if table == events else 'tracking'}")


def _check_trace_keys(path: Path, name: str, keys: Any) -> None:
    """`trace_keys:` is a mapping {correlation: KEY, causation: KEY} of dotted metadata paths."""
    if keys is None:
        return
    where = f"config file {path}: profile {name!r}: trace_keys"
    if not isinstance(keys, dict) or set(keys) - {"correlation", "causation"}:
        raise ConfigError(
            f"{where} must map correlation and causation to metadata keys",
            hint="trace_keys: {correlation: correlation_id, causation: causation_id}",
        )
    from esctl.conditions import parse_condition

    for role, key in keys.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}: {role} must be a metadata key such as {role}_id")
        try:
            parse_condition(f"metadata.{key}=x")
        except EsctlError as error:
            raise ConfigError(f"{where}: {role}: {error.message}") from None


def _trace_keys(keys: Any) -> tuple[str, str]:
    keys = keys or {}
    return (keys.get("correlation", "correlation_id"), keys.get("causation", "causation_id"))


def resolve_settings(
    *,
    config: str | None = None,
    profile: str | None = None,
    store: str | None = None,
    layout: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Combine flags, environment, profile and defaults into the effective settings."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    path = find_config_file(config, env, cwd)
    data = load_config_file(path) if path else {}
    profiles: dict[str, dict[str, Any]] = data.get("profiles") or {}

    sources: dict[str, str] = {}
    warnings: list[str] = []
    if path:
        unsafe = config_file_warning(path, data)
        if unsafe:
            warnings.append(unsafe)
    name = profile or env.get("ESCTL_PROFILE") or data.get("default_profile")
    name_source = (
        "--profile" if profile else "$ESCTL_PROFILE" if env.get("ESCTL_PROFILE") else "config"
    )
    chosen: dict[str, Any] = {}
    if name:
        if name not in profiles:
            where = f"in {path}" if path else "(no configuration file found)"
            known = f" (profiles: {', '.join(sorted(profiles))})" if profiles else ""
            raise ConfigError(
                f"profile {name!r} (from {name_source}) not found {where}{known}",
                hint="esctl config profiles lists them; esctl config path shows the file in use",
            )
        chosen = profiles[name]
    elif "default" in profiles:
        name, chosen = "default", profiles["default"]
        name_source = "its name, default"

    def pick(key: str, flag: str | None, env_var: str | None, default: Any) -> Any:
        if flag is not None:
            sources[key] = "flag"
            return flag
        if env_var and env.get(env_var):
            sources[key] = f"${env_var}"
            return env[env_var]
        if key in chosen:
            sources[key] = f"profile {name}"
            return chosen[key]
        sources[key] = "default"
        return default

    store_url = _pick_store(store, env, chosen, name, name_source, sources, warnings)
    schema = pick("schema", None, None, DEFAULT_SCHEMA)
    chosen_layout = str(pick("layout", layout, "ESCTL_LAYOUT", "auto"))
    if chosen_layout not in LAYOUTS:
        raise ConfigError(
            f"layout {chosen_layout!r} (from {sources['layout']}) is not one of "
            f"{', '.join(LAYOUTS)}",
            hint="auto detects the layout from the tables in the store's schema",
        )
    timeout = chosen.get("statement_timeout")
    return Settings(
        store=store_url,
        schema=schema,
        read_only=bool(pick("read_only", None, None, False)),
        statement_timeout_ms=(
            parse_duration_ms(timeout, "statement_timeout") if timeout is not None else None
        ),
        connect_timeout=parse_seconds(
            chosen.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT), "connect_timeout"
        ),
        password_env=chosen.get("password_env"),
        reducers=dict(chosen.get("reducers") or {}),
        # A replica belongs to the profile's store: a store given by flag or environment is read
        # from directly.
        read_store=chosen.get("read_store") if sources["store"].startswith("profile") else None,
        tz=chosen.get("tz"),
        layout=chosen_layout,
        trace_keys=_trace_keys(chosen.get("trace_keys")),
        events_table=(chosen.get("tables") or {}).get("events"),
        tracking_tables=tuple((chosen.get("tables") or {}).get("tracking") or ()),
        pooler=chosen.get("pooler"),
        lifecycle=lifecycle_settings(chosen, f"config file {path}: profile {name!r}"),
        profile=name,
        config_path=path,
        sources=sources,
        warnings=tuple(warnings),
    )


def _pick_store(
    flag: str | None,
    env: Mapping[str, str],
    chosen: Mapping[str, Any],
    name: str | None,
    name_source: str,
    sources: dict[str, str],
    warnings: list[str],
) -> str:
    """The store, by SPEC's precedence: `--store` beats everything; a profile named with
    `--profile` is used whole (its store beats $ESCTL_STORE); $ESCTL_STORE beats the store of a
    profile chosen by $ESCTL_PROFILE or default_profile, and says so."""
    from esctl.urls import redact

    env_store = env.get("ESCTL_STORE")
    if flag is not None:
        sources["store"] = "flag"
        return flag
    if "store" in chosen and (name_source == "--profile" or not env_store):
        sources["store"] = f"profile {name}"
        return str(chosen["store"])
    if env_store:
        sources["store"] = "$ESCTL_STORE"
        if "store" in chosen:
            warnings.append(
                f"$ESCTL_STORE ({redact(env_store)}) overrides the store of profile {name!r} "
                f"(chosen by {'default_profile' if name_source == 'config' else name_source}); "
                f"name it with -p {name} to use the profile's own store"
            )
        return env_store
    sources["store"] = "default"
    return DEFAULT_STORE


PG_IDENTIFIER_BYTES = 63


def check_identifier(value: str, what: str) -> None:
    """Refuse an identifier PostgreSQL would silently truncate (over 63 bytes) or cannot hold."""
    if not value:
        raise ConfigError(f"{what} is empty")
    if "\x00" in value:
        raise ConfigError(f"{what} contains a NUL character")
    size = len(value.encode("utf-8"))
    if size > PG_IDENTIFIER_BYTES:
        raise ConfigError(
            f"{what} {value[:20]!r}… is {size} bytes; PostgreSQL identifiers are at most "
            f"{PG_IDENTIFIER_BYTES} bytes (a longer one is silently truncated, so two profiles "
            "could share a schema)",
            hint="choose a shorter schema name",
        )
