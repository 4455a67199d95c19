"""award_many and combined awards: arguments, refusals, what a failed batch says, the
fallback for stores without batches, and the combiner's hand-off.

The stores' side (every backend, under concurrency) is the store contract's
(``tests/stores``) and the store machine's; this file covers the service's own behaviour.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mikoshi_progression import Outcome
from mikoshi_progression.errors import (
    BatchError,
    IdempotencyError,
    InvalidArgumentError,
    InvalidIdError,
    InvalidMomentError,
    SelfAwardError,
    StoreUnavailableError,
)
from mikoshi_progression.service import AwardRequest, BatchResult, ProgressionService
from mikoshi_progression.service._batch import Planned
from mikoshi_progression.service._combining import Combiner
from mikoshi_progression.stores import BatchTransaction, InMemoryStore, StaleVersionError
from mikoshi_progression.testing.clock import FakeClock

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class FlakyBatches(InMemoryStore):
    """The in-memory store, failing the commits of chosen batch transactions."""

    def __init__(self, failures: dict[int, Exception]) -> None:
        super().__init__()
        self.failures = failures
        self.batches_opened = 0

    @contextmanager
    def batch_transaction(self, user_ids: Any) -> Iterator[BatchTransaction]:
        number = self.batches_opened
        self.batches_opened += 1
        with super().batch_transaction(user_ids) as tx:
            yield tx
            error = self.failures.pop(number, None)
            if error is not None:  # raised inside: the batch rolls back
                raise error


class NoBatches:
    """A store with only the basic protocol (no ``batch_transaction``)."""

    def __init__(self) -> None:
        self._inner = InMemoryStore()
        self.transaction = self._inner.transaction
        self.ledger = self._inner.ledger
        self.create_schema = self._inner.create_schema
        self.close = self._inner.close


def likes(users: int, count: int, *, keyed: bool = True) -> list[AwardRequest]:
    return [
        AwardRequest(
            f"u{n % users}", "character_liked", key=f"like-{n}" if keyed else None, actor_id="fan"
        )
        for n in range(count)
    ]


def test_a_batch_returns_a_result_per_request_in_order():
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    requests = [
        AwardRequest("u1", "create_character", key="c1"),
        AwardRequest("u2", "daily_chat"),
        AwardRequest("u1", "daily_chat"),
        AwardRequest("u1", "daily_chat"),  # the daily limit: refused
        AwardRequest("u2", "no_such_action"),
    ]
    batch = service.award_many(requests)
    assert isinstance(batch, BatchResult)
    assert len(batch) == 5
    outcomes = [r.outcome for r in batch.results if r is not None]
    assert outcomes == [
        Outcome.AWARDED,
        Outcome.AWARDED,
        Outcome.AWARDED,
        Outcome.ACTION_LIMIT,
        Outcome.INVALID_ACTION,
    ]
    assert batch.exp_added == service.state("u1").exp + service.state("u2").exp
    assert batch.repeated == (False,) * 5
    assert not batch.errors


def test_a_reused_key_is_refused_alone_and_a_repeated_one_repeats():
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    service.award("u1", "create_character", key="k")
    batch = service.award_many(
        [
            AwardRequest("u1", "create_character", key="k"),
            AwardRequest("u1", "create_scene", key="k"),
            AwardRequest("u1", "create_scene", key="s"),
            AwardRequest("u1", "create_scene", key="s"),
        ]
    )
    assert batch.repeated == (True, False, False, True)
    assert batch.results[1] is None
    assert isinstance(batch.errors[1], IdempotencyError)
    assert batch.results[3] == batch.results[2]
    assert [e.key for e in service.ledger("u1") if e.key] == ["k", "s"]


@pytest.mark.parametrize(
    ("request_", "error", "field"),
    [
        ("not a request", InvalidArgumentError, "requests[1]"),
        (AwardRequest(42, "daily_chat"), InvalidIdError, "requests[1].user_id"),  # type: ignore[arg-type]
        (AwardRequest("u", "daily_chat", key=""), InvalidIdError, "requests[1].key"),
        (AwardRequest("u", "daily_chat", target=7), InvalidIdError, "requests[1].target"),  # type: ignore[arg-type]
        (
            AwardRequest("u", "daily_chat", at=datetime(2026, 3, 1)),
            InvalidMomentError,
            "requests[1].at",
        ),
        (AwardRequest("u", 5), InvalidArgumentError, "requests[1].action"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_request_refuses_the_batch_before_anything_is_stored(request_, error, field):
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    with pytest.raises(error, match=re.escape(field)):
        service.award_many([AwardRequest("first", "daily_chat"), request_])
    assert service.ledger("first") == []


def test_a_creator_award_to_its_actor_refuses_the_batch_naming_it():
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    with pytest.raises(SelfAwardError, match=r"requests\[0\]"):
        service.award_many([AwardRequest("u", "character_liked", actor_id="u")])


@pytest.mark.parametrize("size", [0, -1, True, 1.5, 100_001])
def test_chunk_size_is_checked(size):
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    with pytest.raises(InvalidArgumentError, match="chunk_size"):
        service.award_many([], chunk_size=size)


def test_a_failed_chunk_says_what_landed_what_may_have_and_what_was_never_sent():
    store = FlakyBatches({1: StoreUnavailableError("connection lost at commit")})
    service = ProgressionService(store, clock=lambda: NOW)
    requests = likes(3, 10, keyed=False)  # unkeyed: a fault is not retried
    with pytest.raises(BatchError) as caught:
        service.award_many(requests, chunk_size=4)
    error = caught.value
    assert error.landed == (0, 1, 2, 3)
    assert error.unknown == (4, 5, 6, 7)
    assert error.not_sent == (8, 9)
    assert set(error.results) == {0, 1, 2, 3}
    assert all(r.exp_added == 5 for r in error.results.values())
    assert isinstance(error.__cause__, StoreUnavailableError)
    assert sum(service.state(f"u{n}").exp for n in range(3)) == 20  # the first chunk only


def test_a_keyed_chunk_is_retried_through_a_fault_and_lands_once():
    store = FlakyBatches({1: StoreUnavailableError("connection lost at commit")})
    service = ProgressionService(store, clock=lambda: NOW)
    batch = service.award_many(likes(3, 10), chunk_size=4)
    assert batch.exp_added == 50
    assert sum(len(service.ledger(f"u{n}")) for n in range(3)) == 10 + 3  # + the day entries


def test_a_lost_race_retries_the_chunk():
    store = FlakyBatches({0: StaleVersionError("another writer"), 1: StaleVersionError("again")})
    service = ProgressionService(store, clock=lambda: NOW)
    batch = service.award_many(likes(2, 4, keyed=False))
    assert batch.exp_added == 20
    assert store.batches_opened == 3


def test_a_batch_resent_after_a_failure_lands_the_rest_exactly_once():
    store = FlakyBatches({1: StoreUnavailableError("down"), 2: StoreUnavailableError("down")})
    clock = FakeClock(NOW)
    service = ProgressionService(store, clock=clock, max_attempts=2)
    requests = likes(3, 12)
    with pytest.raises(BatchError):
        service.award_many(requests, chunk_size=4)
    again = service.award_many(requests, chunk_size=4)
    assert again.repeated[:4] == (True,) * 4
    assert not any(again.repeated[4:])
    keys = [e.key for n in range(3) for e in service.ledger(f"u{n}") if e.key]
    assert sorted(keys) == sorted(r.key for r in requests)


def test_backfilled_moments_decide_each_request_at_its_moment():
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    yesterday = NOW - timedelta(days=1)
    batch = service.award_many(
        [
            AwardRequest("u", "daily_chat", at=yesterday),
            AwardRequest("u", "daily_chat", at=yesterday + timedelta(hours=1)),  # limit
            AwardRequest("u", "daily_chat"),  # now: a new day
        ]
    )
    assert [r.outcome for r in batch.results if r] == [
        Outcome.AWARDED,
        Outcome.ACTION_LIMIT,
        Outcome.AWARDED,
    ]
    assert [e.at for e in service.ledger("u") if e.action] == [yesterday, NOW]


def test_a_store_without_batches_runs_each_request_alone():
    store = NoBatches()
    service = ProgressionService(store, clock=lambda: NOW)  # type: ignore[arg-type]
    requests = [*likes(2, 6), AwardRequest("u0", "create_scene", key="like-0")]
    batch = service.award_many(requests)
    assert batch.exp_added == 30
    assert isinstance(batch.errors[6], IdempotencyError)
    assert service._combiner is None


def test_the_combiner_hands_what_queued_to_one_caller_and_each_gets_its_own_result():
    """While one award is being written, those that arrive queue; the first of them writes
    them all as one batch."""
    started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def alone(request: Planned) -> tuple[Any, bool]:
        started.set()
        release.wait(5)
        return f"alone-{request.key}", False

    def together(requests: Any) -> list[Any]:
        batches.append([int(r.key) for r in requests])
        return [(r.position, f"together-{r.key}", False, None) for r in requests]

    combiner = Combiner(alone, together)
    answers: dict[int, Any] = {}

    def award(n: int) -> None:
        answers[n] = combiner.award(Planned(0, "hot", "tick", None, str(n), None, None))

    first = threading.Thread(target=award, args=(0,))
    first.start()
    started.wait(5)
    others = [threading.Thread(target=award, args=(n,)) for n in (1, 2, 3)]
    for thread in others:
        thread.start()
    while len(combiner._lanes.queues["hot"]) < 3:
        threading.Event().wait(0.01)
    release.set()
    for thread in (first, *others):
        thread.join(5)
    assert answers[0] == ("alone-0", False)
    assert sorted(batches[0]) == [1, 2, 3]
    assert {answers[n][0] for n in (1, 2, 3)} == {"together-1", "together-2", "together-3"}
    assert combiner._lanes.queues == {}


def test_a_failed_combined_batch_fails_every_caller_in_it():
    release = threading.Event()

    def alone(request: Planned) -> tuple[Any, bool]:
        release.wait(5)
        return "alone", False

    def together(requests: Any) -> list[Any]:
        raise StoreUnavailableError("down")

    combiner = Combiner(alone, together)
    errors: list[BaseException] = []

    def award(n: int) -> None:
        try:
            combiner.award(Planned(0, "hot", "tick", None, str(n), None, None))
        except StoreUnavailableError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=award, args=(n,)) for n in range(4)]
    threads[0].start()
    while "hot" not in combiner._lanes.queues:
        threading.Event().wait(0.01)
    for thread in threads[1:]:
        thread.start()
    while len(combiner._lanes.queues["hot"]) < 3:
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(errors) == 3
    assert combiner._lanes.queues == {}


def test_combining_can_be_turned_off():
    assert ProgressionService(InMemoryStore())._combiner is not None
    assert ProgressionService(InMemoryStore(), combine=False)._combiner is None
