"""The contract catches broken stores: each guarantee is held by two independent checks.

A store that writes without its version check, or that commits its state and its ledger
entries in two steps, must fail the contract. Each broken store below is the reference
(or the SQLite store) with one such defect, and each must fail at least two checks that
do not share their scenario. The reference itself passes them all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mikoshi_progression.core.identity import check_id
from mikoshi_progression.core.state import ProgressState
from mikoshi_progression.stores import InMemoryStore, LedgerEntry, StaleVersionError, _sqlite_tx
from mikoshi_progression.stores import memory as memory_module
from mikoshi_progression.stores import sqlite as sqlite_module
from mikoshi_progression.stores.sqlite import SQLiteStore
from mikoshi_progression.testing import store_contract as contract
from mikoshi_progression.testing.store_contract import NotApplicable, StoreFactory

VERSION_CHECKS = ("stale_version_rejected", "every_write_is_version_checked")
ONE_TRANSACTION_CHECKS = ("transaction_rolls_back_on_error", "write_is_all_or_nothing")


def failing_checks(factory: StoreFactory, names: Sequence[str]) -> list[str]:
    """The named contract checks that ``factory``'s store fails."""
    failed = []
    for name in names:
        try:
            contract.CHECKS[name](factory)
        except NotApplicable:
            continue
        except AssertionError:
            failed.append(name)
    return failed


# --- broken reference stores ------------------------------------------------------------


class _IgnoresVersions(memory_module._MemoryTransaction):
    """Commits whatever version it was given: the platform's lost update."""

    def commit(self) -> None:
        if self._pending is not None:
            state, _, entries = self._pending
            record = self._users.get(self._user_id)
            self._pending = (state, None if record is None else record.version, entries)
        super().commit()


class _StateBeforeLedger(memory_module._MemoryTransaction):
    """Stores the state, then finds that an entry's key is taken: the state stays."""

    def commit(self) -> None:
        if self._pending is None:
            return
        state, version, entries = self._pending
        record = self._users.get(self._user_id)
        if (None if record is None else record.version) != version:
            raise StaleVersionError("changed since it was loaded")
        if record is None:
            record = self._users[self._user_id] = memory_module._UserRecord(state)
        record.state, record.version = state, record.version + 1
        self._pending = (state, record.version, entries)
        super().commit()


def _memory_store(transaction: type[memory_module._MemoryTransaction]) -> InMemoryStore:
    class Broken(InMemoryStore):
        @contextmanager
        def transaction(self, user_id: str) -> Iterator[Any]:
            user_id = check_id(user_id)
            with self._lock_for(user_id):
                tx = transaction(self._users, user_id)
                yield tx
                tx.commit()

    return Broken()


# --- broken SQLite stores ---------------------------------------------------------------


class _SQLiteIgnoresVersions(_sqlite_tx.SQLiteTransaction):
    """Writes at whatever version the row has now."""

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        row = self._conn.execute(
            f'SELECT version FROM "{self._sql.progress}" WHERE user_id = ?', (self._user_id,)
        ).fetchone()
        super().write(state, None if row is None else row[0], entries)


class _SQLiteTwoTransactions(_sqlite_tx.SQLiteTransaction):
    """Commits the state in one transaction and appends the entries in another."""

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        super().write(state, version, [])
        self._conn.execute("COMMIT")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(self._sql.insert_entry, map(_sqlite_tx.entry_values, entries))
        except sqlite3.IntegrityError as exc:
            raise StaleVersionError(str(exc)) from exc


@pytest.fixture
def sqlite_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[type[_sqlite_tx.SQLiteTransaction]], StoreFactory]]:
    opened: list[SQLiteStore] = []

    def build(transaction: type[_sqlite_tx.SQLiteTransaction]) -> StoreFactory:
        monkeypatch.setattr(sqlite_module, "SQLiteTransaction", transaction)

        def open_() -> SQLiteStore:
            # No snapshot cache: the broken writes commit behind its bookkeeping, and
            # the checks are to see what the broken transaction itself does.
            store = SQLiteStore(tmp_path / "broken.db", snapshot_cache=0)
            opened.append(store)
            return store

        return StoreFactory("broken-sqlite", open_)

    yield build
    for store in opened:
        store.close()


# --- the tests --------------------------------------------------------------------------


def test_the_reference_passes_every_check_named_here():
    """The in-memory reference passes the four checks, so their failures below are real."""
    store = InMemoryStore()
    assert failing_checks(StoreFactory("memory", lambda: store), VERSION_CHECKS) == []
    assert failing_checks(StoreFactory("memory", lambda: store), ONE_TRANSACTION_CHECKS) == []


def test_a_store_without_version_check_fails_two_checks():
    """Ignoring the version fails the direct check and the generated interleavings alike."""
    store = _memory_store(_IgnoresVersions)
    assert failing_checks(StoreFactory("broken", lambda: store), VERSION_CHECKS) == list(
        VERSION_CHECKS
    )


def test_a_sqlite_write_without_version_check_fails_two_checks(sqlite_factory):
    """The SQLite store, writing at the row's current version, fails both version checks."""
    factory = sqlite_factory(_SQLiteIgnoresVersions)
    assert failing_checks(factory, VERSION_CHECKS) == list(VERSION_CHECKS)


def test_a_sqlite_store_splitting_state_and_ledger_fails_two_checks(sqlite_factory):
    """State and ledger in two transactions fail the rollback check and the all-or-nothing
    check, each with its own scenario."""
    factory = sqlite_factory(_SQLiteTwoTransactions)
    assert failing_checks(factory, ONE_TRANSACTION_CHECKS) == list(ONE_TRANSACTION_CHECKS)


def test_a_store_keeping_the_state_of_a_refused_write_fails():
    """Storing the state before finding a taken key fails the all-or-nothing check."""
    store = _memory_store(_StateBeforeLedger)
    assert failing_checks(StoreFactory("broken", lambda: store), ONE_TRANSACTION_CHECKS) == [
        "write_is_all_or_nothing"
    ]
