"""The test kit's store state machine, run over the real stores (as an integrator would)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import settings

from mikoshi_progression import DEFAULT_CONFIG
from mikoshi_progression.stores import open_store
from mikoshi_progression.stores.sqlite import SQLiteStore
from mikoshi_progression.testing.machine import run_store_machine

from .conftest import RUN_ID, _schema_numbers

QUICK = settings(max_examples=20, stateful_step_count=25, deadline=None)


@pytest.mark.sqlite
def test_sqlite_store_passes_the_store_machine(tmp_path: Path) -> None:
    """SQLite behaves as the in-memory reference, under the platform's and random configs."""
    numbers = itertools.count()
    for config in (DEFAULT_CONFIG, None):
        run_store_machine(
            lambda: SQLiteStore(tmp_path / f"machine-{next(numbers)}.db"),
            config=config,
            settings=QUICK,
        )


@pytest.mark.postgres
def test_postgres_store_passes_the_store_machine(postgres_dsn: str) -> None:
    """PostgreSQL behaves as the in-memory reference; each run gets a schema of its own.

    The schemas are named after this test run, so the session's teardown drops them.
    """

    def fresh_store():  # type: ignore[no-untyped-def]
        return open_store(postgres_dsn, schema=f"mikoshi_test_{RUN_ID}_{next(_schema_numbers)}")

    for config in (DEFAULT_CONFIG, None):
        run_store_machine(fresh_store, config=config, settings=QUICK)
