"""ProgressionService: retries, fault handling and monitoring, over small fake stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from mikoshi_progression import (
    ConcurrencyError,
    InvalidArgumentError,
    SelfAwardError,
    StoreError,
    StoreUnavailableError,
)
from mikoshi_progression.core.state import ProgressState
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import (
    InMemoryStore,
    LedgerEntry,
    StaleSnapshotError,
    StaleVersionError,
    StateReader,
    StoreTransaction,
)
from mikoshi_progression.testing import FakeClock

START = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)


class FlakyStore(InMemoryStore):
    """An in-memory store whose first ``failures`` transactions raise ``error`` at commit."""

    def __init__(self, error: type[StoreError], failures: int) -> None:
        super().__init__()
        self.error = error
        self.failures = failures
        self.attempts = 0

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        self.attempts += 1
        with super().transaction(user_id) as tx:
            yield tx
            if self.attempts <= self.failures:
                raise self.error("injected")


def service(store: InMemoryStore, **options) -> ProgressionService:
    return ProgressionService(store, clock=FakeClock(START), **options)


def test_conflicts_are_retried_until_the_write_lands():
    """A few version conflicts are retried and the award lands exactly once."""
    store = FlakyStore(StaleVersionError, failures=3)
    result = service(store).award("u", "create_scene")
    assert result.exp_added == 15
    assert store.attempts == 4
    assert [e.kind.value for e in store.ledger("u")] == ["day", "award"]


def test_endless_conflicts_end_in_a_concurrency_error():
    """When conflicts outlast the retry budget the caller gets ConcurrencyError, not a guess."""
    store = FlakyStore(StaleVersionError, failures=10**6)
    with pytest.raises(ConcurrencyError, match="after 5 attempts: 5 conflicts"):
        service(store, max_attempts=5).award("u", "create_scene")
    assert store.ledger("u") == []


def test_a_stale_cached_snapshot_is_reloaded_at_once(monkeypatch):
    """A store's wrong guess costs no attempt and no back-off: nobody contends."""
    slept: list[float] = []
    monkeypatch.setattr("mikoshi_progression.service._sync.time.sleep", slept.append)
    store = FlakyStore(StaleSnapshotError, failures=1)
    result = service(store, max_attempts=1).award("u", "create_scene")
    assert result.exp_added == 15
    assert (store.attempts, slept) == (2, [])


def test_endless_stale_snapshots_end_in_a_concurrency_error(monkeypatch):
    """A store that keeps guessing wrong is bounded like any conflict."""
    monkeypatch.setattr("mikoshi_progression.service._sync.time.sleep", lambda seconds: None)
    store = FlakyStore(StaleSnapshotError, failures=10**6)
    with pytest.raises(ConcurrencyError, match="after 4 attempts: 4 conflicts"):
        service(store, max_attempts=4).award("u", "create_scene")
    assert store.attempts == 3 + 4  # three free reloads, then the attempts
    assert store.ledger("u") == []


def test_unkeyed_award_is_not_retried_after_a_fault():
    """Without a key a fault is raised at once: a blind retry could award twice."""
    store = FlakyStore(StoreUnavailableError, failures=1)
    with pytest.raises(StoreUnavailableError):
        service(store).award("u", "create_scene")
    assert store.attempts == 1


def test_keyed_award_is_retried_after_a_fault():
    """With a key the service retries a fault itself, and awards once."""
    store = FlakyStore(StoreUnavailableError, failures=2)
    result = service(store).award("u", "create_scene", key="k")
    assert result.exp_added == 15
    assert store.attempts == 3


def test_a_store_that_stays_down_raises_its_own_error_quickly():
    """Persistent faults surface as StoreUnavailableError after a few attempts."""
    store = FlakyStore(StoreUnavailableError, failures=10**6)
    with pytest.raises(StoreUnavailableError):
        service(store).award("u", "create_scene", key="k")
    assert store.attempts == 3


def test_creator_awards_need_an_actor_who_is_not_the_recipient():
    """character_liked without an actor, or by the creator, is refused before any write."""
    svc = service(InMemoryStore())
    with pytest.raises(SelfAwardError, match="pass actor_id"):
        svc.award("creator", "character_liked")
    with pytest.raises(SelfAwardError, match="own actor"):
        svc.award("creator", "character_liked", actor_id="creator")
    assert svc.ledger("creator") == []
    assert svc.award("creator", "character_liked", actor_id="fan").exp_added == 5


def test_monitoring_queries_through_the_service():
    """Users at their cap today and the most active users, as the guide's queries give them."""
    clock = FakeClock(START)
    svc = ProgressionService(InMemoryStore(), clock=clock)
    for _ in range(3):
        svc.award("whale", "paid_char_sold", actor_id="buyer")
    svc.award("casual", "daily_chat")
    assert [a.user_id for a in svc.users_at_daily_cap()] == ["whale"]
    assert [(a.user_id, a.daily_exp_gained) for a in svc.most_active_users()] == [
        ("whale", 150),
        ("casual", 20),
    ]
    clock.advance(timedelta(days=1))
    assert svc.users_at_daily_cap() == []


def test_monitoring_needs_a_store_that_offers_it():
    """A store without the optional queries gives a clear StoreError."""

    class Bare:
        def transaction(self, user_id):  # pragma: no cover - never called
            raise NotImplementedError

        def ledger(self, user_id):  # pragma: no cover - never called
            return []

        def create_schema(self):  # pragma: no cover - never called
            pass

        def close(self):  # pragma: no cover - never called
            pass

    with pytest.raises(StoreError, match="does not implement the monitoring queries"):
        ProgressionService(Bare()).most_active_users()


def test_max_attempts_must_be_positive():
    """A retry budget below one is a usage error."""
    with pytest.raises(ValueError, match="max_attempts"):
        ProgressionService(InMemoryStore(), max_attempts=0)


def test_ledger_entries_round_trip_through_dicts_and_refuse_naive_moments():
    """A ledger export reads back equal; an entry whose moment has no zone is refused."""
    svc = service(InMemoryStore())
    svc.award("u", "create_scene", key="k")
    entries = svc.ledger("u")
    from mikoshi_progression.stores import LedgerEntry

    assert [LedgerEntry.from_dict(e.to_dict()) for e in entries] == entries
    naive = {**entries[-1].to_dict(), "at": "2026-04-01T10:00:00"}
    with pytest.raises(ValueError, match="timezone-aware"):
        LedgerEntry.from_dict(naive)


class FlakyReader(FlakyStore):
    """A store whose first ``failures`` reads of a state fail with StoreUnavailableError."""

    def __init__(self, failures: int) -> None:
        super().__init__(StoreUnavailableError, failures=0)
        self.read_failures = failures
        self.reads = 0

    def read_state(self, user_id: str) -> ProgressState:
        self.reads += 1
        if self.reads <= self.read_failures:
            raise StoreUnavailableError("injected")
        return super().read_state(user_id)


def test_state_is_read_outside_any_transaction():
    """A StateReader store answers state() and replay() without opening a transaction."""
    store = FlakyReader(failures=0)
    svc = service(store)
    svc.award("u", "create_scene")
    store.attempts = 0
    assert isinstance(store, StateReader)
    assert svc.state("u").exp == 15
    assert svc.state("nobody") == ProgressState()
    assert svc.replay("u").matches
    assert (store.attempts, store.reads) == (0, 3)


def test_state_reads_are_retried_through_faults(monkeypatch):
    """A state read that fails transiently is retried a few times, then the fault is raised."""
    monkeypatch.setattr("mikoshi_progression.service._sync.time.sleep", lambda seconds: None)
    store = FlakyReader(failures=2)
    assert service(store).state("u") == ProgressState()
    assert store.reads == 3
    down = FlakyReader(failures=10**6)
    with pytest.raises(StoreUnavailableError):
        service(down).state("u")
    assert down.reads == 3


def test_the_steps_build_ledger_entries_as_the_constructor_does():
    """The service builds its ledger entries without __init__ (``_frozen``): the entries
    equal, field for field, what the public constructor makes of the same values."""
    from dataclasses import fields

    from mikoshi_progression import EventKind, ProgressionEvent
    from mikoshi_progression.service._steps import _build_entry
    from mikoshi_progression.stores import EntryKind, LedgerEntry

    values = {
        "user_id": "u1",
        "kind": EntryKind.ADJUST,
        "action": "",
        "exp_delta": -5,
        "level_before": 2,
        "level_after": 2,
        "key": "k",
        "at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        "config_fingerprint": "f",
        "state_after": ProgressState(exp=120, level=2),
        "outcome": "adjusted",
        "actor": "op",
        "target": None,
        "reason": "why",
        "events": (ProgressionEvent(EventKind.LEVEL_UP, {"from_level": 1, "to_level": 2}),),
        "seq": None,
    }
    assert [f.name for f in fields(LedgerEntry)] == list(values)
    built = _build_entry(*values.values())
    made = LedgerEntry(**values)
    assert type(built) is LedgerEntry
    assert built == made
    assert all(getattr(built, name) == getattr(made, name) for name in values)


def test_events_checks_its_arguments_and_the_stores_capability():
    """A page size outside 1..1000 and a cursor the store never gave are refused by name;
    a store without a feed is a StoreError that says so."""
    service = ProgressionService(InMemoryStore())
    for limit in (0, 1001, True, "10"):
        with pytest.raises(InvalidArgumentError) as caught:
            service.events(limit=limit)  # type: ignore[arg-type]
        assert caught.value.field == "limit"
    for since in ("x", "-1", "12"):
        with pytest.raises(InvalidArgumentError) as caught:
            service.events(since=since)
        assert caught.value.field == "since"

    class NoFeed:
        def __init__(self) -> None:
            self._store = InMemoryStore()

        def transaction(self, user_id: str):  # type: ignore[no-untyped-def]
            return self._store.transaction(user_id)

        def ledger(self, user_id: str) -> list[LedgerEntry]:
            return self._store.ledger(user_id)

        def create_schema(self) -> None:
            pass

        def close(self) -> None:
            pass

    with pytest.raises(StoreError, match="does not hand out progression events"):
        ProgressionService(NoFeed()).events()


def test_set_timezone_refuses_what_is_no_zone_before_touching_the_store():
    """An unknown name, a directory of zones, a number: InvalidArgumentError naming
    "timezone", and nothing in the ledger."""
    service = ProgressionService(InMemoryStore(), clock=FakeClock(START))
    for zone in ("Mars/Olympus", "America", "", 9):
        with pytest.raises(InvalidArgumentError) as caught:
            service.set_timezone("u", zone)  # type: ignore[arg-type]
        assert caught.value.field == "timezone"
    assert service.ledger("u") == []
    assert service.set_timezone("u", "UTC").timezone == "UTC"
    assert [e.kind.value for e in service.ledger("u")] == ["day", "timezone"]
