"""Store URLs: which backend a URL names, and how to print it without its password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

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
        """For messages: a PostgreSQL URL without its password; a SQLite store by its resolved
        absolute path (`sqlite:////abs/events.db`), so a message read in another directory says
        which file it means."""
        if self.backend == "postgresql":
            return redact(self.target)
        return f"sqlite:///{Path(self.target).resolve()}"


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
        if _authority(url).count("@") > 1:
            raise ConfigError(
                f"store URL {redact(url)} has more than one @ before its host: "
                "escape @ in a password as %40",
                hint="postgresql://user:p%40ss@host/db (or use password_env / PGPASSWORD)",
            )
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


def _authority(url: str) -> str:
    """The `user:password@host:port` part of a URL, as libpq could read it: up to the first `/`
    after the last `@` (a password may hold `/` or `:`), never past the query."""
    rest = url.split("://", 1)[1] if "://" in url else url
    before_query = rest.split("?", 1)[0]
    last_at = before_query.rfind("@")
    end = before_query.find("/", last_at + 1)
    return before_query if end < 0 else before_query[:end]


def has_password(url: str) -> bool:
    """Whether a store URL or conninfo holds a password itself."""
    return bool(secrets_of(url))


def secrets_of(url: str) -> list[str]:
    """The passwords a URL or conninfo holds (as written and percent-decoded), and their pieces
    around `@`, `/` and `:` (what libpq may print when it misreads an unescaped password)."""
    found: list[str] = []
    if "://" in url:
        authority = _authority(url)
        if "@" in authority:
            userinfo = authority.rpartition("@")[0]
            found.append(userinfo.partition(":")[2] if ":" in userinfo else "")
            if authority.count("@") > 1:  # misread: everything before the last @ is secret
                found.append(userinfo)
        found += [m.group(1) for m in re.finditer(r"[?&]password=([^&]*)", url, re.IGNORECASE)]
    else:
        for match in _CONNINFO_PASSWORD.finditer(url):
            value = match.group(2)
            if value.startswith("'") and value.endswith("'"):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            found.append(value)
    pieces = [p for s in found for p in re.split(r"[@/:]", s) if len(p) >= 4]
    result = {v for s in [*found, *pieces] for v in (s, unquote(s)) if v}
    return sorted(result, key=len, reverse=True)


_URI_IN_TEXT = re.compile(r"postgres(?:ql)?://[^\s\"']*", re.IGNORECASE)


def scrub(text: str, *secrets_from: str, extra: tuple[str, ...] = ()) -> str:
    """A driver message safe to print: any URI in it redacted, and every password of the given
    URLs/conninfos (and `extra` secrets) replaced by `***` (libpq error texts echo conninfo)."""
    text = _URI_IN_TEXT.sub(lambda m: redact(m.group(0)), text)
    secrets = {s for url in secrets_from for s in secrets_of(url)} | set(extra)
    # A secret of one or two characters would garble the message and is shown nowhere else.
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def redact(url: str) -> str:
    """The URL or conninfo with any password replaced by `***`; when the authority holds more
    than one `@` (an unescaped `@` in a password), nothing before the last `@` is shown.

    Split by hand, not with urllib: a malformed IPv6 host or a password holding `/` must not
    make the password part of the "path"."""
    if "://" not in url:
        return _CONNINFO_PASSWORD.sub(r"\1***", url)
    scheme, _, rest = url.partition("://")
    authority = _authority(url)
    tail = _QUERY_PASSWORD.sub(r"\1***", rest[len(authority) :])
    if "@" not in authority:
        return f"{scheme}://{authority}{tail}"
    userinfo, _, hosts = authority.rpartition("@")
    if authority.count("@") > 1:
        return f"{scheme}://***@{hosts}{tail}"
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}://{userinfo}@{hosts}{tail}"
