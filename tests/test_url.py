"""Store URLs: backend selection and password redaction."""

from __future__ import annotations

import pytest

from esctl.errors import ConfigError
from esctl.urls import has_password, parse_store_url, redact, scrub


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


# --- passwords that libpq misreads or echoes (issue 13) -----------------------------------------


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        ("postgresql://usr:p@ssWord@db/app", "postgresql://***@db/app", ["usr", "p@ss", "ssWord"]),
        (
            "postgresql://usr:Secr@t-Pw@127.0.0.1:5432/app?sslmode=disable",
            "postgresql://***@127.0.0.1:5432/app?sslmode=disable",
            ["usr", "Secr", "t-Pw"],
        ),
        ("postgres://usr@bb1@cc2@db/app", "postgres://***@db/app", ["usr", "bb1", "cc2"]),
    ],
)
def test_an_unescaped_at_in_a_password_is_refused_without_showing_it(
    url: str, shown: str, secrets: list[str]
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_store_url(url)
    assert error.value.exit_code == 2
    assert error.value.message == (
        f"store URL {shown} has more than one @ before its host: escape @ in a password as %40"
    )
    text = error.value.message + (error.value.hint or "")
    for secret in secrets:
        assert secret not in text, (secret, text)


def test_an_escaped_at_is_accepted() -> None:
    assert parse_store_url("postgresql://app:p%40ss@db/app").backend == "postgresql"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:Secret9@[::1/db", "postgresql://app:***@[::1/db"),
        ("postgresql://app:Secret9@[::1]x:5432/db", "postgresql://app:***@[::1]x:5432/db"),
        ("postgresql://app:Sec/ret9@h/db", "postgresql://app:***@h/db"),
        ("postgresql://app:p@Secret9@h/db?password=x", "postgresql://***@h/db?password=***"),
    ],
)
def test_redact_malformed_urls(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_scrub_removes_passwords_libpq_echoes() -> None:
    url = "postgresql://app:Secret9@[::1]x:5432/db"
    libpq = f'unexpected character "x" at position 30 in URI (expected ":" or "/"): "{url}"'
    assert scrub(libpq, url) == (
        'unexpected character "x" at position 30 in URI (expected ":" or "/"): '
        '"postgresql://app:***@[::1]x:5432/db"'
    )
    conninfo = "host=h password='Se cret9' dbname=x"
    assert scrub("bad value 'Se cret9' for password", conninfo) == "bad value '***' for password"
    assert scrub("failed for Hunter22", "host=h", extra=("Hunter22",)) == "failed for ***"


def test_has_password() -> None:
    assert has_password("postgresql://a:b1@h/db")
    assert has_password("host=h password=x")
    assert has_password("postgresql://a@h/db?password=x")
    assert not has_password("postgresql://a@h/db")
    assert not has_password("host=h user=a")
