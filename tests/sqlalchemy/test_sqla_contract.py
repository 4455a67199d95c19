"""The store contract and the store state machine, run over ``SQLAlchemyStore`` on SQLite
and PostgreSQL (threads and processes too, as for the other stores)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings
from sqla_support import (  # noqa: F401 (fixtures)
    fresh_schema,
    pg_url,
    sqla_backend,
    sqla_factory,
)
from sqlalchemy import create_engine, text

from mikoshi_progression import DEFAULT_CONFIG
from mikoshi_progression.sqlalchemy import SQLAlchemyStore
from mikoshi_progression.testing import store_contract as contract
from mikoshi_progression.testing.machine import run_store_machine
from mikoshi_progression.testing.store_contract import NotApplicable, StoreFactory

QUICK = settings(max_examples=10, stateful_step_count=25, deadline=None)
"""Fewer runs than the other stores' machines: each SQLAlchemy run costs more."""


@pytest.mark.parametrize("check", contract.CHECKS.values(), ids=list(contract.CHECKS))
def test_contract(check: Callable[[StoreFactory], None], sqla_factory: StoreFactory) -> None:
    """Every check of the store contract (a backend it does not apply to skips it)."""
    try:
        check(sqla_factory)
    except NotApplicable as exc:
        pytest.skip(str(exc))


@pytest.mark.sqlite
def test_sqlite_passes_the_store_machine(tmp_path: Path) -> None:
    """On SQLite, SQLAlchemyStore behaves as the in-memory reference."""
    numbers = itertools.count()
    for config in (DEFAULT_CONFIG, None):
        run_store_machine(
            lambda: SQLAlchemyStore(f"sqlite:///{tmp_path / f'machine-{next(numbers)}.db'}"),
            config=config,
            settings=QUICK,
        )


@pytest.mark.postgres
def test_postgres_passes_the_store_machine(pg_url: str) -> None:
    """On PostgreSQL, SQLAlchemyStore behaves as the in-memory reference.

    One schema and one engine for every run; each run starts from emptied tables.
    """
    engine = create_engine(pg_url)
    schema = fresh_schema()
    SQLAlchemyStore(engine, schema=schema).close()

    def emptied() -> SQLAlchemyStore:
        store = SQLAlchemyStore(engine, schema=schema, create=False)
        names = ", ".join(f'"{schema}"."{t.name}"' for t in store.tables.own)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names}"))
        return store

    try:
        for config in (DEFAULT_CONFIG, None):
            run_store_machine(emptied, config=config, settings=QUICK)
    finally:
        engine.dispose()
