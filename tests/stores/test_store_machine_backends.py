"""The test kit's store state machine, run over the real stores (as an integrator would)."""

from __future__ import annotations

import itertools
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from mikoshi_progression import DEFAULT_CONFIG
from mikoshi_progression.stores import (
    AsyncInMemoryStore,
    AsyncSQLiteStore,
    LedgerEntry,
    StoreTransaction,
    open_store,
)
from mikoshi_progression.stores.sqlite import SQLiteStore
from mikoshi_progression.testing.bridge import BlockingStore, open_blocking
from mikoshi_progression.testing.machine import run_store_machine
from mikoshi_progression.testing.store_contract import LEVERS

from .conftest import CITUS_OPTIONS, RUN_ID, _schema_numbers

QUICK = settings(max_examples=20, stateful_step_count=25, deadline=None)
LEVERED = settings(max_examples=8, stateful_step_count=25, deadline=None)
"""Runs with every designer lever on: fewer, the steps are the same."""
ON_CITUS = settings(max_examples=10, stateful_step_count=25, deadline=None)
"""Runs on Citus: fewer, as every run distributes a schema of its own (about 0.3 s) and
every write crosses the coordinator to a worker."""


@pytest.mark.sqlite
def test_sqlite_store_passes_the_store_machine(tmp_path: Path) -> None:
    """SQLite behaves as the in-memory reference, under the platform's and random configs."""
    numbers = itertools.count()
    for config, runs in ((DEFAULT_CONFIG, QUICK), (None, QUICK), (LEVERS, LEVERED)):
        run_store_machine(
            lambda: SQLiteStore(tmp_path / f"machine-{next(numbers)}.db"),
            config=config,
            settings=runs,
        )


def test_async_memory_store_passes_the_store_machine() -> None:
    """The async in-memory store, through the bridge, behaves as the sync reference."""
    for config in (DEFAULT_CONFIG, None):
        run_store_machine(lambda: BlockingStore(AsyncInMemoryStore), config=config, settings=QUICK)


@pytest.mark.sqlite
def test_async_sqlite_store_passes_the_store_machine(tmp_path: Path) -> None:
    """The async SQLite store (worker threads), through the bridge, behaves as the reference."""
    numbers = itertools.count()
    for config in (DEFAULT_CONFIG, None):
        run_store_machine(
            lambda: BlockingStore(
                lambda: AsyncSQLiteStore(tmp_path / f"async-machine-{next(numbers)}.db")
            ),
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

    for config, runs in ((DEFAULT_CONFIG, QUICK), (None, QUICK), (LEVERS, LEVERED)):
        run_store_machine(fresh_store, config=config, settings=runs)


@pytest.mark.postgres
def test_async_postgres_store_passes_the_store_machine(postgres_dsn: str) -> None:
    """AsyncPostgresStore, through the bridge, behaves as the in-memory reference."""

    def fresh_store():  # type: ignore[no-untyped-def]
        return open_blocking(postgres_dsn, schema=f"mikoshi_test_{RUN_ID}_{next(_schema_numbers)}")

    for config in (DEFAULT_CONFIG, None):
        run_store_machine(fresh_store, config=config, settings=QUICK)


class TakingTurns:
    """Two PostgreSQL stores on one schema, as two processes would be, serving by turns.

    Each keeps its own snapshot cache, so a snapshot one of them guesses from is
    stale whenever the other wrote since: the machine then proves that no guess
    ever changes an answer, a state or a ledger.
    """

    def __init__(self, dsn: str, schema: str, **options: Any) -> None:
        self.stores = [open_store(dsn, schema=schema, **options) for _ in range(2)]
        self._turns = itertools.count()

    def transaction(self, user_id: str) -> AbstractContextManager[StoreTransaction]:
        return self.stores[next(self._turns) % 2].transaction(user_id)

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        return self.stores[next(self._turns) % 2].ledger(user_id)

    def create_schema(self) -> None:
        self.stores[0].create_schema()

    def close(self) -> None:
        for store in self.stores:
            store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("version_token", ["xmin", "counter"])
def test_two_cached_postgres_stores_taking_turns_pass_the_store_machine(
    postgres_dsn: str, version_token: str
) -> None:
    """The snapshot cache (on by default) across processes: answers as if it were not there."""

    def fresh_pair() -> TakingTurns:
        schema = f"mikoshi_test_{RUN_ID}_{next(_schema_numbers)}"
        return TakingTurns(postgres_dsn, schema, version_token=version_token)

    run_store_machine(fresh_pair, settings=QUICK)


def _distributed_store(citus_dsn: str, **options: Any) -> Any:
    """A store on a fresh schema of the Citus cluster, its tables distributed."""
    store = open_store(
        citus_dsn, schema=f"mikoshi_test_{RUN_ID}_{next(_schema_numbers)}", **CITUS_OPTIONS
    )
    store.create_schema(distributed=True)
    return store


@pytest.mark.citus
def test_citus_store_passes_the_store_machine(citus_dsn: str) -> None:
    """On Citus (state and ledger distributed by user_id, co-located; the counter as the
    version), the store behaves as the in-memory reference: no lost update, no overshoot,
    each key once, the ledger's replay equal to the state."""
    for config in (DEFAULT_CONFIG, LEVERS):
        run_store_machine(lambda: _distributed_store(citus_dsn), config=config, settings=ON_CITUS)


@pytest.mark.citus
def test_two_cached_citus_stores_taking_turns_pass_the_store_machine(citus_dsn: str) -> None:
    """Two processes' snapshot caches over one distributed schema answer as if there were
    none."""

    def fresh_pair() -> TakingTurns:
        schema = f"mikoshi_test_{RUN_ID}_{next(_schema_numbers)}"
        pair = TakingTurns(citus_dsn, schema, **CITUS_OPTIONS)
        pair.stores[0].create_schema(distributed=True)
        return pair

    run_store_machine(fresh_pair, settings=ON_CITUS)
