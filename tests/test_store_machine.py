"""The store machine of the test kit: it passes the reference store and catches broken ones."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, settings

from mikoshi_progression import ProgressState
from mikoshi_progression.errors import StoreError
from mikoshi_progression.stores import (
    EntryKind,
    InMemoryStore,
    LedgerEntry,
    Snapshot,
    StoreTransaction,
)
from mikoshi_progression.testing.machine import FakeClock, run_store_machine, store_machine
from mikoshi_progression.testing.store_contract import LEVERS

QUICK = settings(max_examples=25, stateful_step_count=25, deadline=None, database=None)
"""Enough to exercise every rule of the machine a few times, in well under a second or two."""

HUNT = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    database=None,
    derandomize=True,
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.generate],
)
"""Settings for proving a broken store fails: reproducible, stops at the first bug, no shrinking."""


class _AlteringTransaction:
    """Passes loads through and lets its store tamper with each write."""

    def __init__(self, inner: StoreTransaction, store: _BrokenStore) -> None:
        self._inner = inner
        self._store = store
        self._loaded: object = None

    def load(self, key: str | None = None) -> Snapshot:
        snap = self._inner.load(key)
        self._loaded = snap.version
        return snap

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        state, version, entries = self._store.alter(state, version, self._loaded, entries)
        self._inner.write(state, version, entries)


class _BrokenStore(InMemoryStore):
    """An in-memory store with one deliberate bug in ``alter``."""

    def alter(
        self,
        state: ProgressState,
        version: object,
        loaded: object,
        entries: Sequence[LedgerEntry],
    ) -> tuple[ProgressState, object, Sequence[LedgerEntry]]:
        raise NotImplementedError

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        with super().transaction(user_id) as tx:
            yield _AlteringTransaction(tx, self)


class ForgetsActionCounts(_BrokenStore):
    """The platform's bug: ``daily_action_counts`` changed in place, never saved."""

    def alter(self, state, version, loaded, entries):
        return replace(state, daily_action_counts={}), version, entries


class DropsDayEntries(_BrokenStore):
    """Appends award and revoke entries but loses the day-opening ones."""

    def alter(self, state, version, loaded, entries):
        return state, version, [e for e in entries if e.kind is not EntryKind.DAY]


class IgnoresVersion(_BrokenStore):
    """Writes whatever version it is given over the current one (last writer wins)."""

    def alter(self, state, version, loaded, entries):
        return state, loaded, entries


class TruncatesMicroseconds(_BrokenStore):
    """Keeps moments to the second, like a ``TIMESTAMP(0)`` column."""

    def alter(self, state, version, loaded, entries):
        return (
            _truncated(state),
            version,
            [
                replace(e, at=e.at.replace(microsecond=0), state_after=_truncated(e.state_after))
                for e in entries
            ],
        )


def _truncated(state: ProgressState) -> ProgressState:
    def cut(moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.replace(microsecond=0)

    return replace(
        state,
        last_exp_reset_date=cut(state.last_exp_reset_date),
        last_chat_date=cut(state.last_chat_date),
    )


TestInMemoryStoreMachine = store_machine(InMemoryStore).TestCase
TestInMemoryStoreMachine.settings = QUICK


def test_in_memory_store_passes_with_random_configs():
    """The reference passes the machine under configs drawn anew for each run."""
    run_store_machine(InMemoryStore, config=None, settings=QUICK)


def test_in_memory_store_passes_with_every_lever_on():
    """The reference against itself with boosts, streaks, milestones and time-zone moves:
    the machine's steps and checks hold under the levers' rules too."""
    run_store_machine(InMemoryStore, config=LEVERS, settings=QUICK)


def test_in_memory_store_passes_with_one_user():
    """A single user is enough: creator awards then come from a visitor."""
    run_store_machine(InMemoryStore, users=["solo"], settings=QUICK)


@pytest.mark.parametrize(
    ("store", "caught"),
    [
        (ForgetsActionCounts, "stored state of .* differs|award.* differs"),
        (DropsDayEntries, "ledger"),
        (IgnoresVersion, "stale version .* was accepted"),
        (TruncatesMicroseconds, "differs"),
    ],
)
def test_machine_catches_a_broken_store(store, caught):
    """Each deliberately broken store makes the machine fail, naming what differed."""
    with pytest.raises(AssertionError, match=caught):
        run_store_machine(store, settings=HUNT)


def test_machine_closes_every_store_it_made():
    """Every store the factory made is closed when its run ends."""
    made: list[InMemoryStore] = []

    def factory() -> InMemoryStore:
        made.append(InMemoryStore())
        return made[-1]

    run_store_machine(factory, settings=settings(QUICK, max_examples=5))
    assert made
    for store in made:
        with pytest.raises(StoreError, match="closed"):
            store.ledger("alice")


def test_machine_refuses_a_store_that_is_not_empty():
    """A factory that hands back a used store is told to give an empty one."""

    def used_store() -> InMemoryStore:
        store = InMemoryStore()
        store.put_state("bob", ProgressState(exp=5))
        return store

    with pytest.raises(ValueError, match="empty store"):
        run_store_machine(used_store, settings=settings(QUICK, max_examples=1))


@pytest.mark.parametrize("users", [(), ("alice", "alice")])
def test_store_machine_needs_distinct_users(users):
    """The user ids must be at least one and distinct."""
    with pytest.raises(ValueError, match="distinct"):
        store_machine(InMemoryStore, users=users)


def test_store_machine_names_the_class_after_the_factory():
    """A class or function factory names the machine; a lambda gets a generic name."""
    assert store_machine(InMemoryStore).__name__ == "InMemoryStoreMachine"
    assert store_machine(lambda: InMemoryStore()).__name__ == "StoreMachine"


def test_fake_clock_moves_only_when_told():
    """The fake clock returns the same moment until set or advanced, backwards too."""
    clock = FakeClock()
    start = clock()
    assert clock() == start
    assert clock.advance(timedelta(seconds=-3)) == start - timedelta(seconds=3)
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 1, 1))
