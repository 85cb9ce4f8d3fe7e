"""Store URLs: backend selection and password redaction."""

from __future__ import annotations

import pytest

from esctl.errors import ConfigError
from esctl.store.url import parse_store_url, redact


@pytest.mark.parametrize(
    ("url", "backend", "target"),
    [
        ("sqlite:///events.db", "sqlite", "events.db"),
        ("sqlite:////var/lib/events.db", "sqlite", "/var/lib/events.db"),
        ("data/events.db", "sqlite", "data/events.db"),
        ("postgresql://u@h/db", "postgresql", "postgresql://u@h/db"),
        ("postgres://u@h/db", "postgresql", "postgres://u@h/db"),
        ("host=db dbname=app user=esctl", "postgresql", "host=db dbname=app user=esctl"),
        ("service=events", "postgresql", "service=events"),
    ],
)
def test_backend_from_url(url: str, backend: str, target: str) -> None:
    location = parse_store_url(url)
    assert (location.backend, location.target) == (backend, target)


@pytest.mark.parametrize("url", ["", "mysql://x/y", "events.txt", "sqlite://"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_store_url(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:pw@h:5432/db", "postgresql://app:***@h:5432/db"),
        (
            "postgresql://app:p%40w@h1,h2/db?sslmode=require",
            "postgresql://app:***@h1,h2/db?sslmode=require",
        ),
        (
            "postgresql://app@h/db?password=pw&sslmode=require",
            "postgresql://app@h/db?password=***&sslmode=require",
        ),
        ("host=h password=pw dbname=x", "host=h password=*** dbname=x"),
        ("host=h password='p w' dbname=x", "host=h password=*** dbname=x"),
        ("sqlite:///events.db", "sqlite:///events.db"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown
