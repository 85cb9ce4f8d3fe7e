"""The starter configuration that `esctl config init` writes (a copy of sample-config.yaml)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from esctl.config import config_search_path
from esctl.errors import EsctlError, UsageError


def sample_config_text() -> str:
    """The sample configuration shipped inside the package."""
    from importlib.resources import files

    return (files("esctl") / "data" / "sample-config.yaml").read_text(encoding="utf-8")


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where a user's own configuration lives: `$XDG_CONFIG_HOME/esctl/config.yaml`."""
    env = os.environ if env is None else env
    return config_search_path({k: v for k, v in env.items() if k != "ESCTL_CONFIG"}, Path())[-1]


def write_sample_config(path: Path, *, force: bool = False) -> bool:
    """Write the sample configuration to `path`; True if it replaced a file (only with `force`)."""
    existed = path.exists()
    if existed and not force:  # a usage error (exit 2): the file is there, --force replaces it
        raise UsageError(
            f"{path} already exists; not overwriting it",
            hint="esctl config init --force replaces it; --path writes somewhere else",
        )
    if existed and not path.is_file():
        raise EsctlError(f"{path} exists and is not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed, so a crash never leaves half a config; 0600
        # because users add store URLs, which may hold credentials, to this file.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(sample_config_text())
        os.replace(temporary, path)
    except OSError as exc:
        raise EsctlError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return existed
