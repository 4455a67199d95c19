"""What every check of the contract shares: how a store is reached, and small helpers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, TypeVar

try:
    from hypothesis import HealthCheck, settings
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "mikoshi_progression.testing.store_contract needs hypothesis: "
        "install the [testing] extra (pip install -e '.[testing]' from a clone)"
    ) from exc

from ...core.boosts import Boost, BoostRules
from ...core.config import DEFAULT_CONFIG, ProgressionConfig
from ...core.milestones import Milestone
from ...core.state import ProgressState
from ...core.streaks import StreakRules
from ...service import ProgressionService
from ...stores import (
    EntryKind,
    LedgerEntry,
    ProgressStore,
    open_store,
)
from ..clock import FakeClock

__all__ = ["LEVERS", "START", "FakeClock", "NotApplicable", "StoreFactory"]

T = TypeVar("T")

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
"""When every check's clock starts: a Monday morning, UTC."""


class NotApplicable(Exception):
    """The backend lacks what a check needs; a test runner reports the check as skipped."""


@dataclass(frozen=True)
class StoreFactory:
    """How the contract reaches one store implementation.

    Attributes:
        name: The backend's name (``"memory"``, ``"sqlite"``...).
        open: Returns a store on this backend's data, which is empty when a check
            starts; every call sees what earlier ones wrote (a new connection where
            the backend has connections, the same object otherwise). Whoever built
            the factory closes what it opened.
        url: An ``open_store`` URL at which another process reaches the same data,
            or ``None`` if the data cannot be shared between processes.
        options: Keyword options for ``open_store(url, **options)``.
        reopen: How another process opens the store at ``url``: ``open_store`` by
            default; ``testing.bridge.open_blocking`` for an async store (a
            module-level function, so that it can be sent to a spawned process).
        seed_row: Writes a raw row of the platform's columns (``exp, level,
            daily_exp_gained, last_exp_reset_date, daily_action_counts`` as JSON
            text, ``last_chat_date``; values as given, ``None`` for NULL) for a
            user, bypassing the store; ``None`` if the backend cannot hold one.
    """

    name: str
    open: Callable[[], ProgressStore]
    url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    reopen: Callable[..., ProgressStore] = open_store
    seed_row: Callable[[str, Mapping[str, object]], None] | None = None

    def __call__(self) -> ProgressStore:
        return self.open()


def _user(prefix: str) -> str:
    """A user id no other check or example uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _service(
    store: ProgressStore, clock: FakeClock | None = None, config: ProgressionConfig = DEFAULT_CONFIG
) -> ProgressionService:
    return ProgressionService(store, config=config, clock=clock or FakeClock(START))


def _generated(max_examples: int) -> settings:
    """The hypothesis settings of a generated check: no deadline, no example database
    (a store's data outlives the examples, so replaying saved ones proves nothing)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


class _Caught:
    """What :func:`_raises` caught (``value``), once the block is left."""

    value: Any


@contextmanager
def _raises(*kinds: type[BaseException]) -> Iterator[_Caught]:
    caught = _Caught()
    try:
        yield caught
    except kinds as exc:
        caught.value = exc
        return
    raise AssertionError(f"{' or '.join(k.__name__ for k in kinds)} was not raised")


def _run_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0..count-1)`` in ``count`` threads released at once; re-raise a failure."""
    barrier = threading.Barrier(count)
    results: list[T | None] = [None] * count
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[number] = work(number)
        except BaseException as exc:
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    return [r for r in results if r is not None]


def _assert_positions(entries: Sequence[LedgerEntry]) -> None:
    """Every entry has a ``seq``, strictly increasing (oldest first)."""
    seqs = [e.seq for e in entries]
    positions = [s for s in seqs if isinstance(s, int)]
    assert positions == seqs, seqs
    assert positions == sorted(set(positions)), seqs


def _entry(user_id: str, kind: EntryKind, key: str | None, **fields: Any) -> LedgerEntry:
    values: dict[str, Any] = {
        "action": "create_scene",
        "exp_delta": 15,
        "level_before": 1,
        "level_after": 1,
        "at": START,
        "config_fingerprint": DEFAULT_CONFIG.fingerprint,
        "state_after": ProgressState(exp=15),
        "outcome": "awarded" if kind is EntryKind.AWARD else "",
    }
    values.update(fields)
    return LedgerEntry(user_id=user_id, kind=kind, key=key, **values)


_DROPPING = replace(DEFAULT_CONFIG, levels_can_drop=True)
"""The default rules, but a revocation may lower a level."""

LEVERS = replace(
    DEFAULT_CONFIG,
    boosts=BoostRules(
        windows=(
            Boost(
                "launch_week",
                START - timedelta(days=1),
                START + timedelta(days=4),
                Fraction(3, 2),
                frozenset({"create_character", "create_scene"}),
            ),
            Boost("launch_day", START, START + timedelta(hours=12), Fraction(2)),
        ),
        stacking="multiply",
    ),
    streak=StreakRules(grace_minutes=30, freeze_every=2, max_freezes=1, bonuses={2: 10, 3: 25}),
    milestones=(
        Milestone("first_steps", level=2, bonus_exp=20),
        Milestone("scene_maker", action="create_scene", count=3, bonus_exp=5),
        Milestone("regular", streak=3),
    ),
)
"""The default rules with every designer lever on, around :data:`START`: boosts (a
week of x1.5 on creations, a launch day of x2 on everything, multiplied), streaks of
``daily_chat`` (30 minutes' grace, a freeze every two days, bonuses at 2 and 3 days)
and three milestones (level 2, three scenes ever, a three-day streak)."""
