"""Reducers: how a stream's events fold into the state a snapshot stores.

A reducer is a plain function `reduce(state: dict | None, event: RecordedEvent) -> dict`. It is called
once per event in version order; `state` is None for the stream's first event, and otherwise what the
reducer returned for the previous event. `event` is an `esctl.types.RecordedEvent` (`stream_id`,
`stream_type`, `version`, `event_type`, `event_id`, `data`, `metadata`, `created_at`,
`global_position`). The returned dict must be JSON-serialisable; it is what `snapshot_data` holds.
A reducer may return a new dict or change `state` in place and return it.

Reducers are named in one of three ways:

- a built-in name: `merge` (see `merge`);
- `module:function`, imported like `python -c "import module"` (the current directory is on the path);
- `path/to/file.py:function`, loaded from that file (relative to the current directory on the
  command line, to the config file's directory in a profile's `reducers:`).

The reducer for a stream is `--reducer` when given, else the profile's `reducers:` entry for the
stream's type, else `merge`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esctl.errors import UsageError
from esctl.types import RecordedEvent

State = dict[str, Any]
Reducer = Callable[[State | None, RecordedEvent], State]

DEFAULT_REDUCER = "merge"


def merge(state: State | None, event: RecordedEvent) -> State:
    """The built-in reducer: deep-merge the event's `data` into the state.

    Rules, for each key of `data`:
    - `null` deletes the key from the state (a missing key stays missing);
    - an object merged onto an object merges key by key, by these same rules, at any depth;
    - any other value replaces what the state held: lists are replaced whole (never concatenated),
      scalars replace, and an object replacing a non-object is taken with its `null` keys dropped.
    Keys that `data` does not mention keep their values. The first event merges into `{}`.
    Neither `state` nor the event is changed: the result is a new dict.
    """
    data = event.data
    if not isinstance(data, dict):
        raise TypeError(f"merge needs event data to be a JSON object, not {type(data).__name__}")
    return deep_merge(state or {}, data)


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> State:
    """`patch` merged onto `base` by the rules of `merge`; a new dict, the inputs unchanged."""
    result = dict(base)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = deep_merge(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = value
    return result


BUILTIN_REDUCERS: dict[str, Reducer] = {"merge": merge}


@dataclass(frozen=True)
class NamedReducer:
    """A reducer and the name it was given by (for messages)."""

    name: str
    function: Reducer


def load_reducer(spec: str, *, base_dir: Path | None = None, source: str = "--reducer") -> Reducer:
    """The reducer named by `spec`: a built-in name, `module:function` or `file.py:function`.

    `base_dir` resolves relative file paths; `source` says where the name came from, for errors.
    """
    spec = spec.strip()
    if spec in BUILTIN_REDUCERS:
        return BUILTIN_REDUCERS[spec]
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise UsageError(
            f"reducer {spec!r} (from {source}) is not a built-in reducer, module:function "
            "or path/to/file.py:function",
            hint=f"built-in reducers: {', '.join(sorted(BUILTIN_REDUCERS))}",
        )
    if target.endswith(".py") or "/" in target or "\\" in target:
        module = _load_file(Path(target), base_dir, spec, source)
    else:
        module = _import_module(target, spec, source)
    function = getattr(module, name, None)
    if function is None:
        raise UsageError(f"reducer {spec!r} (from {source}): {target} has no attribute {name!r}")
    if not callable(function):
        raise UsageError(f"reducer {spec!r} (from {source}): {target}.{name} is not callable")
    reducer: Reducer = function
    return reducer


def _import_module(target: str, spec: str, source: str) -> Any:
    # As `python -m` and uvicorn do: modules next to where the command runs are importable.
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"reducer {spec!r} (from {source}): module {exc.name or target!r} not found",
            hint="install the module, run esctl from its directory, or use path/to/file.py:function",
        ) from exc
    except Exception as exc:
        raise UsageError(
            f"reducer {spec!r} (from {source}): importing {target} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _load_file(path: Path, base_dir: Path | None, spec: str, source: str) -> Any:
    path = path.expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.is_file():
        raise UsageError(f"reducer {spec!r} (from {source}): file {path} does not exist")
    module_name = (
        "esctl_reducer_" + hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:12]
    )
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise UsageError(f"reducer {spec!r} (from {source}): cannot load {path} as Python")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise UsageError(
            f"reducer {spec!r} (from {source}): loading {path} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return module


@dataclass
class ReducerChoice:
    """Which reducer each stream type gets: `--reducer` for all, else the profile's `reducers:`
    entry for the type, else `merge`. Reducers are loaded once, when first needed."""

    override: str | None = None
    configured: Mapping[str, str] = field(default_factory=dict)
    base_dir: Path | None = None
    profile: str | None = None
    _loaded: dict[str, NamedReducer] = field(default_factory=dict)

    def for_stream_type(self, stream_type: str) -> NamedReducer:
        """The reducer for streams of `stream_type` (raises UsageError if it cannot be loaded)."""
        if self.override is not None:
            spec, source, base = self.override, "--reducer", None
        elif stream_type in self.configured:
            spec = self.configured[stream_type]
            who = f"profile {self.profile!r}" if self.profile else "the profile"
            source, base = f"{who}, reducers.{stream_type}", self.base_dir
        else:
            spec, source, base = DEFAULT_REDUCER, "the default", None
        key = f"{source}\0{spec}"
        named = self._loaded.get(key)
        if named is None:
            named = NamedReducer(spec, load_reducer(spec, base_dir=base, source=source))
            self._loaded[key] = named
        return named
