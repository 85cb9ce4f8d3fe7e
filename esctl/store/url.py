"""Store URLs: which backend a URL names, and how to print it without its password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from esctl.errors import ConfigError

Backend = Literal["sqlite", "postgresql"]
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: a SQLite file path, or a libpq connection string."""

    backend: Backend
    target: str  # a file path for SQLite, a URL or conninfo for PostgreSQL

    @property
    def display(self) -> str:
        return redact(self.target) if self.backend == "postgresql" else f"sqlite:///{self.target}"


def parse_store_url(url: str) -> StoreLocation:
    """Pick the backend from the URL scheme, in this one place."""
    url = url.strip()
    if not url:
        raise ConfigError(
            "the store URL is empty", hint="use sqlite:///events.db or postgresql://…"
        )
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if not path.startswith("/") or len(path) < 2:
            raise ConfigError(
                f"bad SQLite URL {url!r}",
                hint="sqlite:///events.db (relative) or sqlite:////var/lib/events.db (absolute)",
            )
        return StoreLocation("sqlite", path[1:])
    if url.startswith(("postgresql://", "postgres://")):
        return StoreLocation("postgresql", url)
    if url.lower().endswith(SQLITE_SUFFIXES) and "=" not in url:
        return StoreLocation("sqlite", str(Path(url)))
    if re.match(r"^\s*[A-Za-z_]+\s*=", url):  # libpq key=value conninfo
        return StoreLocation("postgresql", url)
    raise ConfigError(
        f"cannot tell which backend store {redact(url)!r} is",
        hint="use sqlite:///events.db, a path ending in .db, postgresql://… or a libpq conninfo",
    )


_CONNINFO_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL or conninfo with any password replaced by `***`."""
    if "://" not in url:
        return _CONNINFO_PASSWORD.sub(r"\1***", url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//([^/@:]*):[^@/]*@", r"//\1:***@", url)
    netloc = parts.netloc
    if "@" not in netloc and "password" not in parts.query.lower():
        return url
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{hosts}"
    query = _QUERY_PASSWORD.sub(r"\1***", "?" + parts.query)[1:] if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
