"""Checks of many awards at once: ``award_many`` and the combined awards of a hot user.

Both must be what the same requests sent one by one would have made: every request
decided on its own, keyed exactly once, ledgered, no update lost, no cap passed, under
concurrency too.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from ...core.results import AwardResult
from ...errors import IdempotencyError
from ...service import AwardRequest
from ...stores import EntryKind, LedgerEntry
from ..clock import FakeClock
from ._support import START, StoreFactory, _run_threads, _service, _user


def _requests(users: list[str]) -> list[AwardRequest]:
    """A backfill across a day boundary: keyed and unkeyed, limits and the cap biting, a
    key repeated, a key reused for another request, an unknown action."""
    late = START.replace(hour=23, minute=50)
    requests = []
    for n in range(36):
        user = users[n % len(users)]
        at = late + timedelta(minutes=n)  # from 23:50 to 00:25: two days
        action = ("create_character", "character_liked", "daily_chat", "paid_char_sold")[n % 4]
        creator = action in ("character_liked", "paid_char_sold")
        requests.append(
            AwardRequest(
                user,
                action,
                at=at,
                key=f"k{n}" if n % 3 else None,
                actor_id="a-fan" if creator else None,
                target=f"character:{n}",
            )
        )
    first = requests[1]
    requests.append(first)  # the same request again: its first result
    requests.append(AwardRequest(first.user_id, "create_scene", at=first.at, key=first.key))
    requests.append(AwardRequest(users[0], "no_such_action", at=late))
    return requests


def _entry_shape(entry: LedgerEntry) -> tuple[object, ...]:
    return (
        entry.kind,
        entry.action,
        entry.exp_delta,
        entry.level_before,
        entry.level_after,
        entry.key,
        entry.at,
        entry.state_after,
        entry.outcome,
        entry.actor,
        entry.target,
        entry.events,
    )


def check_award_many_matches_one_by_one(factory: StoreFactory) -> None:
    """A batch stores and returns exactly what its requests sent one by one would have."""
    clock = FakeClock(START)
    service = _service(factory(), clock)
    batch_users = [_user("batch") for _ in range(3)]
    single_users = [_user("single") for _ in range(3)]
    renamed = dict(zip(batch_users, single_users, strict=True))
    requests = _requests(batch_users)
    clock.set(START + timedelta(days=1, hours=1))
    batch = service.award_many(requests, chunk_size=7)
    assert len(batch) == len(requests)
    for position, request in enumerate(requests):
        assert request.at is not None
        clock.set(request.at)
        try:
            alone: AwardResult | None = service.award(
                renamed[request.user_id],
                request.action,
                key=request.key,
                actor_id=request.actor_id,
                target=request.target,
            )
        except IdempotencyError:
            alone = None
        got = batch.results[position]
        if alone is None:
            assert got is None, (position, request, got)
            assert position in batch.errors, (position, request)
            continue
        assert got is not None, (position, request, batch.errors.get(position))
        assert (got.outcome, got.exp_added, got.state, got.to_dict()) == (
            alone.outcome,
            alone.exp_added,
            alone.state,
            alone.to_dict(),
        ), (position, request)
    assert batch.repeated[len(requests) - 3], "the repeated request repeats its first result"
    for user in batch_users:
        assert service.state(user) == service.state(renamed[user])
        assert [_entry_shape(e) for e in service.ledger(user)] == [
            _entry_shape(e) for e in service.ledger(renamed[user])
        ]
        assert service.replay(user).matches


def check_award_many_exactly_once_under_concurrency(factory: StoreFactory) -> None:
    """The same keyed batch sent by several threads at once, then again: every key lands
    once, and every caller is told the same results."""
    service = _service(factory())
    users = [_user("once") for _ in range(10)]
    requests = [
        AwardRequest(users[n % 10], "character_liked", key=f"like-{n}", actor_id="a-fan")
        for n in range(60)
    ]
    told = _run_threads(4, lambda _: service.award_many(requests, chunk_size=25))
    told.append(service.award_many(requests))
    first = told[0]
    for other in told[1:]:
        assert [r.state.exp if r else None for r in other.results] == [
            r.state.exp if r else None for r in first.results
        ]
    assert sum(batch.exp_added for batch in told) == sum(service.state(user).exp for user in users)
    for user in users:
        keys = [e.key for e in service.ledger(user) if e.kind is EntryKind.AWARD]
        assert len(keys) == len(set(keys)) == 6, keys
        assert service.replay(user).matches


def check_award_many_beside_single_awards(factory: StoreFactory) -> None:
    """Batches and single awards to the same users at once: no update lost, no cap passed,
    the ledger replays to the state."""
    service = _service(factory())
    users = [_user("mixed") for _ in range(4)]

    def work(n: int) -> list[tuple[str, str, int]]:
        told: list[tuple[str, str, int]] = []
        for round_ in range(5):
            if n % 2:
                requests = [AwardRequest(user, "daily_chat") for user in users] + [
                    AwardRequest(user, "create_character") for user in users
                ]
                batch = service.award_many(requests, chunk_size=3)
                told += [
                    (request.user_id, request.action, result.exp_added)
                    for request, result in zip(requests, batch.results, strict=True)
                    if result is not None
                ]
            else:
                user = users[(n + round_) % len(users)]
                result = service.award(user, "create_character")
                told.append((user, "create_character", result.exp_added))
        return told

    told = [item for part in _run_threads(6, work) for item in part]
    for user in users:
        state = service.state(user)
        mine = [(action, exp) for who, action, exp in told if who == user and exp > 0]
        assert state.exp == sum(exp for _, exp in mine), (user, state)
        assert dict(state.daily_action_counts) == dict(Counter(a for a, _ in mine)), state
        assert state.daily_exp_gained <= service.config.cap_for_level(state.level)
        assert service.replay(user).matches


def check_combined_awards_keyed_once(factory: StoreFactory) -> None:
    """Threads awarding one user at once (combined into shared transactions), some with
    the same keys: each key lands once, every caller of a key is told its first result,
    the state is the sum of what was told."""
    service = _service(factory())
    user = _user("combined")

    def work(n: int) -> list[tuple[str, AwardResult]]:
        return [
            (key, service.award(user, "character_liked", key=key, actor_id=f"fan-{key}"))
            for key in (f"like-{(n * 5 + i) % 24}" for i in range(6))
        ]

    told = [item for part in _run_threads(8, work) for item in part]
    by_key: dict[str, set[tuple[int, int]]] = {}
    for key, result in told:
        by_key.setdefault(key, set()).add((result.exp_added, result.state.exp))
    assert all(len(answers) == 1 for answers in by_key.values()), by_key
    awards = [e for e in service.ledger(user) if e.kind is EntryKind.AWARD]
    assert sorted(e.key or "" for e in awards) == sorted(
        k for k, a in by_key.items() if next(iter(a))[0]
    )
    state = service.state(user)
    assert state.exp == sum(e.exp_delta for e in awards)
    assert state.daily_exp_gained <= service.config.cap_for_level(state.level)
    assert service.replay(user).matches
