"""The snapshot cache behind PostgresStore's one-round-trip awards, on a fake clock."""

from __future__ import annotations

import pytest

from mikoshi_progression import ProgressState
from mikoshi_progression.stores import Snapshot
from mikoshi_progression.stores._snapshots import (
    PAUSE_SECONDS,
    SHARED_SECONDS,
    TRUST_SECONDS,
    SnapshotCache,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def snap(exp: int, version: str = "1") -> Snapshot:
    return Snapshot(ProgressState(exp=exp), version, exists=True, has_ledger=True)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_guesses_what_it_remembered(clock):
    cache = SnapshotCache(10, clock=clock)
    assert cache.guess("u") is None
    cache.remember("u", snap(5))
    assert cache.guess("u") == snap(5)
    cache.remember("u", snap(6, "2"))
    assert cache.guess("u") == snap(6, "2")
    cache.forget("u")
    assert cache.guess("u") is None
    info = cache.info()
    assert (info.users, info.max_users, info.guesses, info.wrong, info.lending) == (
        0,
        10,
        2,
        0,
        True,
    )


def test_least_recently_used_user_goes_first(clock):
    cache = SnapshotCache(2, clock=clock)
    cache.remember("a", snap(1))
    cache.remember("b", snap(2))
    cache.guess("a")  # a is now the most recently used
    cache.remember("c", snap(3))
    assert cache.guess("b") is None
    assert cache.guess("a") == snap(1)
    assert cache.guess("c") == snap(3)


def test_a_snapshot_is_trusted_for_a_limited_time(clock):
    cache = SnapshotCache(10, clock=clock)
    cache.remember("u", snap(5))
    clock.now += TRUST_SECONDS - 1
    assert cache.guess("u") == snap(5)
    clock.now += 2
    assert cache.guess("u") is None
    assert cache.info().users == 0


def test_a_wrong_guess_stops_guessing_that_user_for_a_while(clock):
    cache = SnapshotCache(10, clock=clock)
    cache.remember("u", snap(5))
    cache.remember("v", snap(7))
    assert cache.guess("u") is not None
    cache.wrong("u")
    assert cache.guess("u") is None
    cache.remember("u", snap(6, "2"))  # read again: still not lent out
    assert cache.guess("u") is None
    assert cache.guess("v") == snap(7)  # other users are still guessed
    clock.now += SHARED_SECONDS + 1
    cache.remember("u", snap(6, "2"))
    assert cache.guess("u") == snap(6, "2")


def test_occasional_wrong_guesses_keep_it_lending(clock):
    """One wrong guess in four: the guesses still save more than they cost."""
    cache = SnapshotCache(100, clock=clock)
    for turn in range(200):
        user = f"u{turn}"
        cache.remember(user, snap(turn))
        assert cache.guess(user) is not None, f"stopped lending at turn {turn}"
        if turn % 4 == 0:
            cache.wrong(user)
        else:
            cache.remember(user, snap(turn), guessed_right=True)
    assert cache.info().lending


def test_guesses_that_keep_failing_pause_all_guessing(clock):
    """Requests spread over processes: each process's guesses go stale, so it stops."""
    cache = SnapshotCache(100, clock=clock)
    for user in ("a", "b", "c", "e"):
        cache.remember(user, snap(1))
        assert cache.guess(user) is not None
        cache.wrong(user)
    cache.remember("d", snap(1))
    assert cache.guess("d") is None
    assert not cache.info().lending
    clock.now += PAUSE_SECONDS + 1
    assert cache.guess("d") == snap(1)
    assert cache.info().lending


def test_size_must_be_positive():
    with pytest.raises(ValueError, match="max_users: must be an integer of at least 1"):
        SnapshotCache(0)
