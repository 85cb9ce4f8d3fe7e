"""A small application on the Python `eventsourcing` library (PyPI, pinned in the dev extras),
for tests/test_eventsourcing.py: two aggregates (`Account`, `Customer`), an upstream application
`Bank` and a ProcessApplication `Counters` that follows it with tracking, run by the library's
own System and SingleThreadedRunner against a throwaway PostgreSQL database, configured by the
library's environment variables (PERSISTENCE_MODULE, POSTGRES_*)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlparse

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.system import ProcessApplication, SingleThreadedRunner, System


class Account(Aggregate):
    @event("Opened")
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = 0

    @event("Credited")
    def credit(self, amount: int) -> None:
        self.balance += amount


class Customer(Aggregate):
    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class Bank(Application[uuid.UUID]):
    def open(self, owner: str, credits: int = 0) -> uuid.UUID:
        account = Account(owner)
        for amount in range(1, credits + 1):
            account.credit(amount)
        self.save(account)
        return account.id

    def register(self, name: str) -> uuid.UUID:
        customer = Customer(name)
        self.save(customer)
        return customer.id


class Counters(ProcessApplication[uuid.UUID]):
    """Counts each account opened: one Counter aggregate, saved with the tracking record."""

    def policy(self, domain_event: Any, processing_event: Any) -> None:
        if isinstance(domain_event, Account.Opened):
            processing_event.collect_events(Counter(str(domain_event.originator_id)))


def create_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parsed = urlparse(server_url)
    return parsed._replace(path=f"/{name}").geturl()


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def library_env(database_url: str, **extra: str) -> dict[str, str]:
    """The library's own settings for a database at `database_url`."""
    with psycopg.connect(database_url) as conn:  # the server may listen on a socket only
        info = conn.info
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": info.dbname,
            "POSTGRES_HOST": info.host,
            "POSTGRES_PORT": str(info.port),
            "POSTGRES_USER": info.user,
            "POSTGRES_PASSWORD": info.password or "",
            **extra,
        }


def run_system(env: dict[str, str]) -> SingleThreadedRunner[uuid.UUID]:
    """Bank -> Counters, started (the caller stops it)."""
    runner: SingleThreadedRunner[uuid.UUID] = SingleThreadedRunner(
        System(pipes=[[Bank, Counters]]), env=env
    )
    runner.start()
    return runner
