"""The store contract: what every ``ProgressStore`` must do, proven through the service.

Backend-independent and free of pytest, so that a test kit can ship it to
third-party adapters. Each ``check_*`` function takes a :class:`StoreFactory`
(how to reach one backend) and raises ``AssertionError`` when the store breaks
the contract, or :class:`NotApplicable` when the backend lacks what the check
needs (another process, raw legacy rows, monitoring queries). ``CHECKS`` lists
them all by name, for a one-line parametrisation::

    @pytest.mark.parametrize("check", CHECKS.values(), ids=list(CHECKS))
    def test_my_store(check, my_store_factory):
        check(my_store_factory)

The in-memory store is the reference: a check that it fails is a wrong check.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "mikoshi_progression.testing.store_contract needs hypothesis: "
        "install the [testing] extra (pip install -e '.[testing]' from a clone)"
    ) from exc

from ..config import DEFAULT_CONFIG, ActionRule, Level, ProgressionConfig
from ..errors import IdempotencyError, InvalidIdError, SelfAwardError
from ..results import Outcome
from ..service import ProgressionService
from ..state import STATE_FIELDS, ProgressState
from ..stores import (
    CLOCK_FAULT,
    EntryKind,
    LedgerEntry,
    MonitoringStore,
    ProgressStore,
    RequestKeyStore,
    SchemaStore,
    StaleVersionError,
    open_store,
)
from .clock import FakeClock

__all__ = [
    "CHECKS",
    "START",
    "FakeClock",
    "NotApplicable",
    "StoreFactory",
]

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
        seed_row: Writes a raw row of the platform's columns (``exp, level,
            daily_exp_gained, last_exp_reset_date, daily_action_counts`` as JSON
            text, ``last_chat_date``; values as given, ``None`` for NULL) for a
            user, bypassing the store; ``None`` if the backend cannot hold one.
    """

    name: str
    open: Callable[[], ProgressStore]
    url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
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


@contextmanager
def _raises(*kinds: type[BaseException]) -> Iterator[None]:
    try:
        yield
    except kinds:
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


# --- a hot user: many awards at once ----------------------------------------------------

_HOT_ACTIONS = (
    "paid_char_sold",
    "create_character",
    "character_liked",
    "daily_chat",
    "create_scene",
    "forked",
    "create_persona",
)
_Outcomes = list[tuple[str, str, int]]


def _award_hot(service: ProgressionService, user_id: str, number: int) -> tuple[str, str, int]:
    """Award the ``number``-th action of the hot mix; return (action, outcome, exp_added)."""
    action = _HOT_ACTIONS[number % len(_HOT_ACTIONS)]
    creator = service.config.actions[action].creator_award
    result = service.award(user_id, action, actor_id="a-fan" if creator else None)
    return action, str(result.outcome), result.exp_added


def _assert_positions(entries: Sequence[LedgerEntry]) -> None:
    """Every entry has a ``seq``, strictly increasing (oldest first)."""
    seqs = [e.seq for e in entries]
    positions = [s for s in seqs if isinstance(s, int)]
    assert positions == seqs, seqs
    assert positions == sorted(set(positions)), seqs


def _assert_consistent(service: ProgressionService, user_id: str, outcomes: _Outcomes) -> None:
    """The stored state is exactly the sum of what the callers were told, within every limit."""
    config = service.config
    state = service.state(user_id)
    awarded = [(a, n) for a, o, n in outcomes if o in (Outcome.AWARDED, Outcome.PARTIAL)]
    assert state.exp == sum(n for _, n in awarded), (state, outcomes)
    gained = sum(n for a, n in awarded if not config.actions[a].cap_exempt)
    assert state.daily_exp_gained == gained, (state, outcomes)
    assert dict(state.daily_action_counts) == dict(Counter(a for a, _ in awarded)), state
    assert state.daily_exp_gained <= config.cap_for_level(state.level), state
    for action, count in state.daily_action_counts.items():
        limit = config.actions[action].daily_limit
        assert limit is None or count <= limit, (action, count, limit)
    awards = [e for e in service.ledger(user_id) if e.kind is EntryKind.AWARD]
    assert sorted((e.action, e.exp_delta) for e in awards) == sorted(awarded)
    assert service.replay(user_id).matches


def check_threads_no_lost_update(
    factory: StoreFactory, *, threads: int = 8, awards_each: int = 6
) -> None:
    """Threads awarding to one user at once: no lost update, no cap or limit overshoot."""
    service = _service(factory())
    user = _user("hot")
    batches = _run_threads(
        threads,
        lambda n: [_award_hot(service, user, n + i * threads) for i in range(awards_each)],
    )
    _assert_consistent(service, user, [o for batch in batches for o in batch])
    state = service.state(user)
    assert state.daily_exp_gained == DEFAULT_CONFIG.cap_for_level(state.level)


def _award_in_process(
    url: str,
    options: Mapping[str, Any],
    user_id: str,
    now: datetime,
    numbers: Sequence[int],
    barrier: Any,
    replies: Any,
) -> None:
    """A spawned worker: open the store by URL, wait for the others, award, report."""
    try:
        store = open_store(url, **options)
        try:
            service = ProgressionService(store, clock=lambda: now)
            barrier.wait(timeout=60)
            replies.put(("ok", [_award_hot(service, user_id, n) for n in numbers]))
        finally:
            store.close()
    except BaseException:
        barrier.abort()
        replies.put(("error", traceback.format_exc()))


def _collect(replies: Any, workers: Sequence[Any], timeout: float = 120) -> list[Any]:
    """One reply per worker; fails fast if the workers died without replying."""
    answers: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(answers) < len(workers):
        try:
            answers.append(replies.get(timeout=0.2))
            continue
        except queue.Empty:
            pass
        if not any(w.is_alive() for w in workers):
            try:
                answers.append(replies.get(timeout=2))
                continue
            except queue.Empty:
                codes = [w.exitcode for w in workers]
                raise AssertionError(f"worker processes exited without replying: {codes}") from None
        if time.monotonic() > deadline:
            raise AssertionError(f"worker processes did not reply within {timeout} s")
    return answers


def check_processes_no_lost_update(
    factory: StoreFactory, *, processes: int = 3, awards_each: int = 8
) -> None:
    """Separate processes awarding to one user at once: no lost update, no overshoot."""
    if factory.url is None:
        raise NotApplicable(f"{factory.name} data cannot be shared between processes")
    service = _service(factory())
    user = _user("hot-proc")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    replies = context.Queue()
    workers = [
        context.Process(
            target=_award_in_process,
            args=(
                factory.url,
                dict(factory.options),
                user,
                START,
                [p + i * processes for i in range(awards_each)],
                barrier,
                replies,
            ),
            daemon=True,
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        answers = _collect(replies, workers)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join()
            worker.close()
        replies.close()
        replies.join_thread()
    failures = [detail for status, detail in answers if status != "ok"]
    assert not failures, failures[0]
    _assert_consistent(service, user, [o for _, batch in answers for o in batch])


# --- awards, limits, caps, days ---------------------------------------------------------


def check_new_user_defaults(factory: StoreFactory) -> None:
    """An unknown user reads as a new user's state, with no ledger and full limits."""
    service = _service(factory())
    user = _user("new")
    assert service.state(user) == ProgressState()
    assert service.ledger(user) == []
    limits = service.limits(user)
    assert (limits["level"], limits["daily_exp_gained"], limits["remaining_exp"]) == (1, 0, 150)
    assert limits["daily_action_counts"] == {}


def check_award_persists(factory: StoreFactory) -> None:
    """An award's state is stored, and recorded in the ledger with every field."""
    clock = FakeClock(START)
    service = _service(factory(), clock)
    user = _user("award")
    first = service.award(user, "create_character", key="req-1")
    assert (first.outcome, first.exp_added, first.state.exp) == (Outcome.AWARDED, 30, 30)
    clock.advance(minutes=1)
    service.award(user, "paid_char_sold", actor_id="a-buyer")
    clock.advance(minutes=1)
    up = service.award(user, "paid_char_sold", actor_id="a-buyer")
    assert (up.previous_level, up.state.level, up.state.exp) == (1, 2, 130)
    assert _service(factory(), clock).state(user) == up.state
    entries = service.ledger(user)
    assert [e.kind for e in entries] == [EntryKind.DAY, *[EntryKind.AWARD] * 3]
    assert entries[0].at == START
    assert entries[0].state_after.last_exp_reset_date == START
    expected = LedgerEntry(
        user_id=user,
        kind=EntryKind.AWARD,
        action="create_character",
        exp_delta=30,
        level_before=1,
        level_after=1,
        key="req-1",
        at=START,
        config_fingerprint=DEFAULT_CONFIG.fingerprint,
        state_after=first.state,
        outcome="awarded",
    )
    assert entries[1] == expected
    assert (entries[2].actor, entries[2].target) == ("a-buyer", None)
    last = entries[3]
    assert (last.level_before, last.level_after, last.key, last.state_after) == (
        1,
        2,
        None,
        up.state,
    )
    _assert_positions(entries)


def check_limits_caps_and_partial_awards(factory: StoreFactory) -> None:
    """Action limits and the daily cap reject, the cap cuts a partial award, all persisted."""
    service = _service(factory())
    user = _user("caps")
    outcomes = [service.award(user, "create_character").outcome for _ in range(3)]
    assert outcomes == [Outcome.AWARDED, Outcome.AWARDED, Outcome.ACTION_LIMIT]
    assert service.award(user, "paid_char_sold", actor_id="a-buyer").exp_added == 50
    partial = service.award(user, "paid_char_sold", actor_id="a-buyer")
    assert (partial.outcome, partial.exp_added) == (Outcome.PARTIAL, 40)
    capped = service.award(user, "paid_char_sold", actor_id="a-buyer")
    assert (capped.outcome, capped.http_status) == (Outcome.DAILY_CAP, 429)
    stored = _service(factory()).state(user)
    assert (stored.exp, stored.level, stored.daily_exp_gained) == (150, 2, 150)
    assert dict(stored.daily_action_counts) == {"create_character": 2, "paid_char_sold": 2}
    awards = [e for e in service.ledger(user) if e.kind is EntryKind.AWARD]
    assert [(e.exp_delta, e.outcome) for e in awards][-1] == (40, "partial")
    assert len(awards) == 4


def check_day_reset_persisted(factory: StoreFactory) -> None:
    """The first award of a new day resets counts and EXP gained, and that is stored."""
    clock = FakeClock(START)
    service = _service(factory(), clock)
    user = _user("day")
    for _ in range(2):
        service.award(user, "create_character")
    assert service.award(user, "create_character").outcome is Outcome.ACTION_LIMIT
    tomorrow = clock.advance(days=1)
    result = service.award(user, "create_character")
    assert result.outcome is Outcome.AWARDED
    stored = _service(factory(), clock).state(user)
    assert stored.last_exp_reset_date == tomorrow
    assert (stored.exp, stored.daily_exp_gained) == (90, 30)
    assert dict(stored.daily_action_counts) == {"create_character": 1}
    assert [e.kind for e in service.ledger(user)][-2:] == [EntryKind.DAY, EntryKind.AWARD]


def check_limits_persists_reset(factory: StoreFactory) -> None:
    """``limits()`` on a new day shows the day reset and stores it."""
    clock = FakeClock(START)
    service = _service(factory(), clock)
    user = _user("limits")
    service.award(user, "create_character")
    later = clock.advance(days=1, hours=2)
    limits = service.limits(user)
    assert (limits["daily_exp_gained"], limits["daily_action_counts"]) == (0, {})
    stored = _service(factory(), clock).state(user)
    assert (stored.last_exp_reset_date, stored.daily_exp_gained, stored.exp) == (later, 0, 30)
    assert dict(stored.daily_action_counts) == {}
    last = service.ledger(user)[-1]
    assert (last.kind, last.at) == (EntryKind.DAY, later)
    assert service.limits(user) == limits
    assert len(service.ledger(user)) == 3  # day, award, day: no second reset


def check_reset_daily(factory: StoreFactory) -> None:
    """An operator's ``reset_daily`` zeroes today's gained and counts, keeps EXP, persists."""
    service = _service(factory())
    user = _user("reset")
    for _ in range(2):
        service.award(user, "create_character")
    reset = service.reset_daily(user)
    assert (reset.exp, reset.daily_exp_gained, dict(reset.daily_action_counts)) == (60, 0, {})
    assert _service(factory()).state(user) == reset
    assert service.award(user, "create_character").outcome is Outcome.AWARDED
    assert service.replay(user).matches


def check_datetimes_round_trip(factory: StoreFactory) -> None:
    """Stored moments keep their microseconds and instant, whatever the clock's offset."""
    moment = datetime(
        2026, 3, 2, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    service = _service(factory(), FakeClock(moment))
    user = _user("moment")
    service.award(user, "daily_chat", key="k")
    stored = _service(factory()).state(user)
    assert stored.last_chat_date == moment
    assert stored.last_exp_reset_date == moment
    assert stored.last_chat_date is not None
    assert stored.last_chat_date.microsecond == 123456
    award = service.ledger(user)[-1]
    assert award.at == moment
    assert award.at.microsecond == 123456
    assert award.state_after.last_chat_date == moment


# --- exactly once -----------------------------------------------------------------------


def check_keyed_award_once(factory: StoreFactory) -> None:
    """The same key twice awards once and returns the first result again, even days later."""
    clock = FakeClock(START)
    service = _service(factory(), clock)
    user = _user("key")
    first = service.award(user, "create_character", key="req-1")
    clock.advance(minutes=5)
    assert service.award(user, "create_character", key="req-1") == first
    clock.advance(days=3)
    assert service.award(user, "create_character", key="req-1") == first
    assert service.state(user).exp == 30
    keyed = [e for e in service.ledger(user) if e.key == "req-1"]
    assert len(keyed) == 1
    assert keyed[0].kind is EntryKind.AWARD


def check_keys_scoped_per_user(factory: StoreFactory) -> None:
    """One key used by two users awards each of them."""
    service = _service(factory())
    alice, bob = _user("alice"), _user("bob")
    assert service.award(alice, "create_scene", key="shared").exp_added == 15
    assert service.award(bob, "create_scene", key="shared").exp_added == 15
    assert (service.state(alice).exp, service.state(bob).exp) == (15, 15)


def check_key_reused_for_another_action(factory: StoreFactory) -> None:
    """A key already used for one action is refused for another, changing nothing."""
    service = _service(factory())
    user = _user("reuse")
    service.award(user, "create_scene", key="k")
    before = service.ledger(user)
    with _raises(IdempotencyError):
        service.award(user, "create_persona", key="k")
    assert service.ledger(user) == before
    assert service.state(user).exp == 15


def check_concurrent_same_key(factory: StoreFactory, *, threads: int = 8) -> None:
    """Threads retrying one keyed award at once award it once and all get the first result."""
    service = _service(factory())
    user = _user("same-key")
    results = _run_threads(
        threads, lambda _: service.award(user, "paid_char_sold", key="pay-1", actor_id="a-buyer")
    )
    assert all(r == results[0] for r in results), results
    assert service.state(user).exp == 50
    assert len([e for e in service.ledger(user) if e.kind is EntryKind.AWARD]) == 1


# --- ledger and replay ------------------------------------------------------------------

_KEYS = ("k1", "k2", "k3")
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("award"),
            st.sampled_from([*DEFAULT_CONFIG.actions, "chat_used_50"]),
            st.sampled_from([None, None, *_KEYS]),
        ),
        st.tuples(st.just("revoke"), st.sampled_from([*_KEYS, "k-never"])),
        st.tuples(st.just("reset")),
        st.tuples(st.just("limits")),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=30)),
    ),
    min_size=3,
    max_size=30,
)
_DROPPING = replace(DEFAULT_CONFIG, levels_can_drop=True)


def _operate(
    service: ProgressionService, clock: FakeClock, user: str, operation: tuple[Any, ...]
) -> None:
    match operation:
        case ("award", action, key):
            rule = service.config.actions.get(action)
            actor = "a-fan" if rule is not None and rule.creator_award else None
            with suppress(IdempotencyError):
                service.award(user, action, key=key, actor_id=actor)
        case ("revoke", key):
            service.revoke(user, key)
        case ("reset",):
            service.reset_daily(user)
        case ("limits",):
            service.limits(user)
        case ("advance", hours):
            clock.advance(hours=hours)


def check_replay_matches(factory: StoreFactory, *, max_examples: int = 20) -> None:
    """Replaying the ledger of any sequence of awards, revocations and resets gives the state."""
    store = factory()

    @_generated(max_examples)
    @given(operations=_OPERATIONS, can_drop=st.booleans())
    def replay_matches(operations: list[tuple[Any, ...]], can_drop: bool) -> None:
        clock = FakeClock(START)
        service = _service(store, clock, _DROPPING if can_drop else DEFAULT_CONFIG)
        user = _user("replay")
        for operation in operations:
            _operate(service, clock, user, operation)
        report = service.replay(user)
        assert report.matches, (report.state, report.stored)
        _assert_positions(service.ledger(user))

    replay_matches()


# --- revocation -------------------------------------------------------------------------


def check_revoke_takes_back_partial_exp(factory: StoreFactory) -> None:
    """Revoking a partial award removes the EXP it granted, not the nominal reward."""
    service = _service(factory())
    user = _user("revoke-partial")
    for action in ("paid_char_sold", "paid_char_sold", "create_character"):
        service.award(user, action, actor_id="a-buyer")
    partial = service.award(user, "paid_char_sold", key="sale-3", actor_id="a-buyer")
    assert (partial.outcome, partial.exp_added) == (Outcome.PARTIAL, 20)
    entry = service.revoke(user, "sale-3")
    assert entry is not None
    assert (entry.kind, entry.action, entry.exp_delta, entry.key) == (
        EntryKind.REVOKE,
        "paid_char_sold",
        -20,
        "sale-3",
    )
    stored = _service(factory()).state(user)
    assert (stored.exp, stored.daily_exp_gained) == (130, 150)
    assert dict(stored.daily_action_counts) == {"paid_char_sold": 3, "create_character": 1}
    assert service.award(user, "create_scene").outcome is Outcome.DAILY_CAP
    assert service.replay(user).matches


def check_revoke_cannot_farm(factory: StoreFactory) -> None:
    """Like, unlike, like... gives no cap room or action count back: the limit still holds."""
    service = _service(factory())
    creator = _user("creator")
    for n in range(20):
        liked = service.award(creator, "character_liked", key=f"like-{n}", actor_id="a-fan")
        assert liked.exp_added == 5
        assert service.revoke(creator, f"like-{n}") is not None
    again = service.award(creator, "character_liked", key="like-20", actor_id="a-fan")
    assert again.outcome is Outcome.ACTION_LIMIT
    state = service.state(creator)
    assert (state.exp, state.daily_exp_gained) == (0, 100)
    assert state.daily_action_counts["character_liked"] == 20


def check_revoke_twice_and_unknown(factory: StoreFactory) -> None:
    """A second revoke does nothing and returns the first; an unknown key revokes nothing."""
    service = _service(factory())
    user = _user("revoke-twice")
    first_award = service.award(user, "create_scene", key="s")
    service.award(user, "create_persona")
    first = service.revoke(user, "s")
    entries = service.ledger(user)
    assert first is not None
    assert first.exp_delta == -15
    assert service.revoke(user, "s") == first
    assert service.award(user, "create_scene", key="s") == first_award  # still once
    assert service.ledger(user) == entries
    assert service.state(user).exp == 15
    assert service.revoke(user, "never-used") is None
    assert service.ledger(user) == entries
    nobody = _user("nobody")
    assert service.revoke(nobody, "k") is None
    assert service.ledger(nobody) == []
    assert service.state(nobody) == ProgressState()


def check_revoke_keeps_level_by_default(factory: StoreFactory) -> None:
    """By default a revocation lowers EXP but never the level; ``levels_can_drop`` lets it."""
    for config, level_after in ((DEFAULT_CONFIG, 2), (_DROPPING, 1)):
        service = _service(factory(), config=config)
        user = _user("level")
        for action in ("create_character", "create_character", "create_scene", "create_scene"):
            service.award(user, action)
        up = service.award(user, "daily_chat", key="chat")
        assert (up.state.exp, up.state.level) == (110, 2)
        entry = service.revoke(user, "chat")
        assert entry is not None
        assert (entry.level_before, entry.level_after) == (2, level_after)
        stored = _service(factory(), config=config).state(user)
        assert (stored.exp, stored.level) == (90, level_after)


# --- creator awards ---------------------------------------------------------------------


def check_creator_award_needs_another_actor(factory: StoreFactory) -> None:
    """A creator award needs an actor and is refused to its own actor, changing nothing."""
    service = _service(factory())
    creator = _user("creator")
    with _raises(SelfAwardError):
        service.award(creator, "character_liked")
    with _raises(SelfAwardError):
        service.award(creator, "forked", actor_id=creator)
    assert service.ledger(creator) == []
    assert service.state(creator) == ProgressState()
    assert service.award(creator, "forked", actor_id="a-fan").exp_added == 10


# --- legacy rows ------------------------------------------------------------------------


def check_legacy_rows(factory: StoreFactory) -> None:
    """Platform rows with NULLs, string counts and removed actions load, award and normalise."""
    if factory.seed_row is None:
        raise NotApplicable(f"{factory.name} cannot hold raw legacy rows")
    store = factory()
    clock = FakeClock(START)
    service = _service(store, clock)

    empty = _user("legacy-null")
    factory.seed_row(empty, dict.fromkeys(STATE_FIELDS))
    assert service.state(empty) == ProgressState()
    assert service.award(empty, "create_character").exp_added == 30
    entries = service.ledger(empty)
    assert [e.kind for e in entries] == [EntryKind.IMPORT, EntryKind.DAY, EntryKind.AWARD]
    assert entries[0].state_after == ProgressState()
    assert service.replay(empty).matches

    messy = _user("legacy-strings")
    factory.seed_row(
        messy,
        {
            "exp": 120,
            "level": None,
            "daily_exp_gained": 40,
            "last_exp_reset_date": (START - timedelta(hours=2)).isoformat(),
            "daily_action_counts": (
                '{"create_character": "2", "chat_used_50": 3, "bogus": "x", "create_scene": -1}'
            ),
            "last_chat_date": None,
        },
    )
    state = service.state(messy)
    assert (state.exp, state.level, state.daily_exp_gained) == (120, 1, 40)
    assert dict(state.daily_action_counts) == {"create_character": 2, "chat_used_50": 3}
    assert service.award(messy, "create_character").outcome is Outcome.ACTION_LIMIT
    result = service.award(messy, "create_scene")
    assert (result.exp_added, result.state.level, result.state.daily_exp_gained) == (15, 2, 55)
    stored = _service(factory(), clock).state(messy)
    assert dict(stored.daily_action_counts) == {
        "create_character": 2,
        "chat_used_50": 3,
        "create_scene": 1,
    }
    assert service.replay(messy).matches

    stale = _user("legacy-yesterday")
    factory.seed_row(
        stale,
        {
            "exp": 10,
            "level": 1,
            "daily_exp_gained": 10,
            "last_exp_reset_date": (START - timedelta(days=1)).isoformat(),
            "daily_action_counts": '{"chat_used_50": 1}',
            "last_chat_date": None,
        },
    )
    result = service.award(stale, "create_persona")
    assert dict(result.state.daily_action_counts) == {"create_persona": 1}
    assert _service(factory(), clock).state(stale) == result.state
    assert service.replay(stale).matches


# --- monitoring and schema --------------------------------------------------------------

_MONITORED = ProgressionConfig(
    levels=(Level(1, "One", "", 0), Level(2, "Two", "", 10), Level(3, "Three", "", 20)),
    actions={"post": ActionRule(30)},
    daily_exp_caps={1: 100},
)


def check_monitoring_queries(factory: StoreFactory) -> None:
    """Users at their cap today and the most active today, by the caller's caps."""
    store = factory()
    if not isinstance(store, MonitoringStore):
        raise NotApplicable(f"{factory.name} has no monitoring queries")
    clock = FakeClock(START - timedelta(days=1))
    service = _service(store, clock, _MONITORED)
    capped, active, yesterday = _user("a-capped"), _user("b-active"), _user("c-yesterday")
    service.award(yesterday, "post")
    service.award(capped, "post")
    clock.set(START)
    for _ in range(4):
        service.award(capped, "post")  # 30 + 30 + 30 + 10: capped at level 3
    service.award(active, "post")
    since = START.replace(hour=0, minute=0)
    at_cap = store.users_at_daily_cap({1: 100}, since)
    assert [(a.user_id, a.level, a.daily_exp_gained, a.daily_exp_cap) for a in at_cap] == [
        (capped, 3, 100, 100)
    ]
    assert at_cap[0].daily_action_counts == {"post": 4}
    assert store.users_at_daily_cap({1: 100, 2: 100, 3: 300}, since) == []
    busiest = store.most_active_users({1: 100}, since)
    assert [(a.user_id, a.daily_exp_gained) for a in busiest] == [(capped, 100), (active, 30)]
    assert [a.user_id for a in store.most_active_users({1: 100}, since, limit=1)] == [capped]


def check_schema_is_idempotent(factory: StoreFactory) -> None:
    """``create_schema()`` runs twice harmlessly; a schema check then finds nothing missing."""
    store = factory()
    store.create_schema()
    store.create_schema()
    if isinstance(store, SchemaStore):
        report = store.check_schema()
        assert report.ok, report
    service = _service(store)
    assert service.award(_user("schema"), "create_scene").exp_added == 15


# --- the transaction protocol itself ----------------------------------------------------


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


def check_stale_version_rejected(factory: StoreFactory) -> None:
    """A write with an outdated version (or a second insert) is refused and keeps nothing."""
    store = factory()
    user = _user("stale")
    first = ProgressState(exp=10)
    with store.transaction(user) as tx:
        snap = tx.load()
        assert (snap.version, snap.exists, snap.has_ledger) == (None, False, False)
        tx.write(first, snap.version, [])
    with _raises(StaleVersionError), store.transaction(user) as tx:
        tx.load()
        tx.write(ProgressState(exp=99), None, [_entry(user, EntryKind.AWARD, "lost-1")])
    with store.transaction(user) as tx:
        snap = tx.load()
        assert snap.state == first
        assert snap.exists
        outdated = snap.version
        tx.write(ProgressState(exp=20), outdated, [])
    with _raises(StaleVersionError), store.transaction(user) as tx:
        tx.load()
        tx.write(ProgressState(exp=99), outdated, [_entry(user, EntryKind.AWARD, "lost-2")])
    with store.transaction(user) as tx:
        assert tx.load().state == ProgressState(exp=20)
    assert store.ledger(user) == []


def check_duplicate_key_is_stale(factory: StoreFactory) -> None:
    """Recording a key the user's ledger already holds for that kind is a conflict, not a row."""
    store = factory()
    user = _user("dup")
    award = _entry(user, EntryKind.AWARD, "k")
    with store.transaction(user) as tx:
        tx.write(ProgressState(exp=15), tx.load("k").version, [award])
    with store.transaction(user) as tx:
        snap = tx.load("k")
        assert (snap.keyed_award, snap.keyed_revoke, snap.has_ledger) == (award, None, True)
    with _raises(StaleVersionError), store.transaction(user) as tx:
        tx.write(ProgressState(exp=30), tx.load().version, [replace(award, exp_delta=30)])
    revoke = _entry(user, EntryKind.REVOKE, "k", exp_delta=-15, state_after=ProgressState())
    with store.transaction(user) as tx:
        tx.write(ProgressState(), tx.load().version, [revoke])
    with store.transaction(user) as tx:
        snap = tx.load("k")
        assert (snap.state, snap.keyed_award, snap.keyed_revoke) == (ProgressState(), award, revoke)
    assert store.ledger(user) == [award, revoke]


def check_transaction_rolls_back_on_error(factory: StoreFactory) -> None:
    """An exception inside a transaction keeps nothing of its write."""
    store = factory()
    user = _user("rollback")

    class Boom(Exception):
        pass

    def fail() -> None:
        raise Boom

    with _raises(Boom), store.transaction(user) as tx:
        tx.write(ProgressState(exp=5), tx.load().version, [_entry(user, EntryKind.AWARD, "b")])
        fail()
    with store.transaction(user) as tx:
        assert not tx.load().exists
    assert store.ledger(user) == []


def check_ledger_entries_round_trip(factory: StoreFactory) -> None:
    """Every field of a ledger entry comes back as written, oldest first, with ``seq`` set."""
    store = factory()
    user = _user("ユーザー'\"")
    zone = timezone(timedelta(hours=-7))
    state = ProgressState(
        exp=135,
        level=2,
        daily_exp_gained=55,
        last_exp_reset_date=datetime(2026, 3, 2, 0, 0, 0, 1, tzinfo=zone),
        daily_action_counts={"create_scene": 1, "chat_used_50": 3},
        last_chat_date=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
    )
    entries = [
        _entry(user, EntryKind.IMPORT, None, action="", exp_delta=0, state_after=ProgressState()),
        _entry(
            user,
            EntryKind.AWARD,
            "k'; DROP TABLE x; --",
            exp_delta=15,
            level_before=1,
            level_after=2,
            at=datetime(2026, 3, 2, 8, 1, 2, 345678, tzinfo=zone),
            state_after=state,
            outcome="partial",
        ),
    ]
    with store.transaction(user) as tx:
        tx.write(state, tx.load().version, entries)
    stored = store.ledger(user)
    assert stored == entries
    assert stored[1].at.microsecond == 345678
    _assert_positions(stored)


# --- identity, keys and clocks -----------------------------------------------------------

_NOT_IDS: tuple[object, ...] = (
    42,
    4.2,
    None,
    b"user",
    ["user"],
    "",
    " user",
    "user ",
    "us\x00er",
    "us\ner",
    "\udc80",
    "e\u0301",
    "\u200buser",
    "u" * 256,
)
"""Values that are not canonical ids: other types, empty, padded, control, lone surrogate,
not NFC, invisible, too long."""


def check_ids_are_canonical_strings(factory: StoreFactory) -> None:
    """Ids that are not canonical strings are refused by the store and the service alike,
    and nothing is stored: the store never merges ``42`` and ``"42"``."""
    store = factory()
    service = _service(store)
    user = _user("ids")
    for bad in _NOT_IDS:
        with _raises(InvalidIdError), store.transaction(bad):  # type: ignore[arg-type]
            pass
        with _raises(InvalidIdError):
            store.ledger(bad)  # type: ignore[arg-type]
        with _raises(InvalidIdError):
            service.award(bad, "create_scene")  # type: ignore[arg-type]
        if bad is not None:  # None is "no actor", "no key", "no target"
            with _raises(InvalidIdError):
                service.award(user, "character_liked", actor_id=bad)  # type: ignore[arg-type]
            with _raises(InvalidIdError):
                service.award(user, "create_scene", key=bad)  # type: ignore[arg-type]
            with _raises(InvalidIdError):
                service.award(user, "create_scene", target=bad)  # type: ignore[arg-type]
    assert service.ledger(user) == []
    assert service.state(user) == ProgressState()


def check_no_self_award_across_id_types(factory: StoreFactory) -> None:
    """A user whose id is a number can never like or buy their own character by passing it
    once as a string and once as an integer."""
    service = _service(factory())
    user = str(uuid.uuid4().int % 10**12 + 10**12)
    for recipient, actor in ((user, int(user)), (int(user), user), (user, user)):
        for action in ("character_liked", "forked", "paid_char_sold"):
            with _raises(InvalidIdError, SelfAwardError):
                service.award(recipient, action, actor_id=actor)  # type: ignore[arg-type]
    assert service.ledger(user) == []
    assert service.state(user) == ProgressState()


def check_key_names_one_request(factory: StoreFactory) -> None:
    """A key reused for another action, actor or target is refused, storing nothing; the
    same request again gets the first result; the ledger records actor and target."""
    service = _service(factory())
    creator = _user("creator")
    request: dict[str, Any] = {"actor_id": "a-fan", "target": "character:1"}
    first = service.award(creator, "character_liked", key="like-1", **request)
    entries, state = service.ledger(creator), service.state(creator)
    for action, changed in (
        ("character_liked", {"actor_id": "b-fan"}),
        ("character_liked", {"target": "character:2"}),
        ("character_liked", {"target": None}),
        ("forked", {}),
    ):
        with _raises(IdempotencyError):
            service.award(creator, action, key="like-1", **{**request, **changed})
    assert service.ledger(creator) == entries
    assert service.state(creator) == state
    assert service.award(creator, "character_liked", key="like-1", **request) == first
    (award,) = [e for e in entries if e.key == "like-1"]
    assert (award.actor, award.target) == ("a-fan", "character:1")
    revoked = service.revoke(creator, "like-1")
    assert revoked is not None
    assert (revoked.actor, revoked.target) == ("a-fan", "character:1")


def check_request_keys_claimed_once(factory: StoreFactory, *, threads: int = 8) -> None:
    """A caller's key is tied to the first request it names, once, even under concurrent
    claims; faithful retries get it back, other requests get the first one."""
    store = factory()
    if not isinstance(store, RequestKeyStore):
        raise NotApplicable(f"{factory.name} does not claim request keys")
    fan, other = _user("fan"), _user("other")
    assert store.claim_key(fan, "k", "request A", START) == "request A"
    assert store.claim_key(fan, "k", "request A", START) == "request A"
    assert store.claim_key(fan, "k", "request B", START) == "request A"
    assert store.claim_key(other, "k", "request B", START) == "request B"
    reopened = factory()
    assert isinstance(reopened, RequestKeyStore)
    assert reopened.claim_key(fan, "k", "request C", START) == "request A"
    answers = _run_threads(threads, lambda n: store.claim_key(fan, "race", f"request {n}", START))
    assert len(set(answers)) == 1, answers
    assert answers[0] in {f"request {n}" for n in range(threads)}
    with _raises(InvalidIdError):
        store.claim_key(fan, "\udc80", "request D", START)


def check_clock_fault_reopens_the_day(factory: StoreFactory) -> None:
    """A lagging clock never reopens a day, but a day stamped beyond the clock tolerance (a
    server whose clock ran to 2099) reopens at the real moment, recorded as a clock fault,
    instead of freezing the user's day until 2099."""
    clock = FakeClock(START)
    service = _service(factory(), clock)
    user = _user("clock")
    for _ in range(2):
        service.award(user, "create_character")
    clock.advance(hours=-3)  # a server 3 hours behind: the same day, still spent
    assert service.award(user, "create_character").outcome is Outcome.ACTION_LIMIT
    clock.set(START.replace(year=2099))
    for _ in range(2):  # the day stamped in 2099 is spent too
        assert service.award(user, "create_character").exp_added == 30
    back = clock.set(START + timedelta(hours=1))
    assert service.award(user, "create_character").exp_added == 30
    faults = [e for e in service.ledger(user) if e.outcome == CLOCK_FAULT]
    assert [(e.kind, e.at) for e in faults] == [(EntryKind.DAY, back)]
    limits = service.limits(user)
    assert limits["resets_at"] == (START + timedelta(days=1)).replace(hour=0, minute=0).isoformat()
    assert service.replay(user).matches


def check_far_future_days_never_overflow(factory: StoreFactory) -> None:
    """Rows stamped at the ends of time (year 9999, year 1) read as "no day yet", a row
    stamped in 8999 is a clock fault: every one awards, and nothing overflows."""
    if factory.seed_row is None:
        raise NotApplicable(f"{factory.name} cannot hold raw legacy rows")
    store = factory()
    service = _service(store)
    for stamp, chat in (
        ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00"),
        ("0001-01-01T00:00:00+00:00", None),
        ("8999-06-01T00:00:00+00:00", None),
    ):
        user = _user("end-of-time")
        factory.seed_row(
            user,
            {
                "exp": 10,
                "level": 1,
                "daily_exp_gained": 150,
                "last_exp_reset_date": stamp,
                "daily_action_counts": '{"create_scene": 2}',
                "last_chat_date": chat,
            },
        )
        assert service.limits(user)["remaining_exp"] == 150
        assert service.award(user, "create_scene").exp_added == 15
        kinds = [(e.kind, e.outcome) for e in service.ledger(user)]
        fault = stamp.startswith("8999")
        assert (EntryKind.DAY, CLOCK_FAULT if fault else "") in kinds, kinds
        assert service.replay(user).matches


# --- the version check and the single transaction, once more ------------------------------


def check_every_write_is_version_checked(factory: StoreFactory, *, max_examples: int = 15) -> None:
    """Whatever versions a writer holds, a write commits exactly when its version is the
    current one (``None`` for a user not stored yet): a second, generated check of the
    version, independent of ``stale_version_rejected``."""
    store = factory()

    @_generated(max_examples)
    @given(choices=st.lists(st.integers(min_value=0, max_value=6), min_size=2, max_size=8))
    def writes_commit_only_at_the_current_version(choices: list[int]) -> None:
        user = _user("versions")
        seen: list[object] = [None]  # every version a reader has held, oldest first
        kept = ProgressState()
        keys: list[str] = []
        for step, choice in enumerate(choices):
            state = ProgressState(exp=step + 1)
            key = f"w{step}"
            current = False
            try:
                with store.transaction(user) as tx:
                    snap = tx.load()
                    assert snap.state == kept, (snap.state, kept)
                    if snap.version not in seen:
                        seen.append(snap.version)
                    held = seen[-1 - choice % len(seen)]
                    current = held == snap.version
                    entry = _entry(user, EntryKind.AWARD, key, state_after=state)
                    tx.write(state, held, [entry])  # refused now or at commit
            except StaleVersionError:
                assert not current, "a write at the current version was refused"
                continue
            if current:
                kept = state
                keys.append(key)
            else:  # pragma: no cover - reached only by a store that ignores versions
                raise AssertionError(f"a write at an outdated version {held!r} committed")
        with store.transaction(user) as tx:
            assert tx.load().state == kept
        assert [e.key for e in store.ledger(user)] == keys

    writes_commit_only_at_the_current_version()


def check_write_is_all_or_nothing(factory: StoreFactory) -> None:
    """A write refused for one of its entries keeps nothing of it: not the state, not the
    version, not its other entries (state and ledger are one transaction): a second check,
    independent of ``duplicate_key_is_stale``."""
    store = factory()
    user = _user("atomic")
    first = _entry(user, EntryKind.AWARD, "k1")
    with store.transaction(user) as tx:
        tx.write(ProgressState(exp=15), tx.load().version, [first])
    with store.transaction(user) as tx:
        version = tx.load().version
    refused = [
        [_entry(user, EntryKind.DAY, None), _entry(user, EntryKind.AWARD, "k2"), first],
        [_entry(user, EntryKind.AWARD, "k3"), _entry(user, EntryKind.AWARD, "k3")],
    ]
    for entries in refused:
        with _raises(StaleVersionError), store.transaction(user) as tx:
            tx.load()
            tx.write(ProgressState(exp=99), version, entries)
        with store.transaction(user) as tx:
            snap = tx.load()
        assert snap.state == ProgressState(exp=15), "the state of a refused write was kept"
        assert snap.version == version, "a refused write changed the version"
        assert store.ledger(user) == [first], "entries of a refused write were kept"
    second = _entry(user, EntryKind.AWARD, "k2", exp_delta=30)
    with store.transaction(user) as tx:
        tx.load()
        tx.write(ProgressState(exp=45), version, [second])
    assert store.ledger(user) == [first, second]


CHECKS: dict[str, Callable[[StoreFactory], None]] = {
    check.__name__.removeprefix("check_"): check
    for check in (
        check_new_user_defaults,
        check_award_persists,
        check_limits_caps_and_partial_awards,
        check_day_reset_persisted,
        check_limits_persists_reset,
        check_reset_daily,
        check_datetimes_round_trip,
        check_threads_no_lost_update,
        check_processes_no_lost_update,
        check_keyed_award_once,
        check_keys_scoped_per_user,
        check_key_reused_for_another_action,
        check_concurrent_same_key,
        check_replay_matches,
        check_revoke_takes_back_partial_exp,
        check_revoke_cannot_farm,
        check_revoke_twice_and_unknown,
        check_revoke_keeps_level_by_default,
        check_creator_award_needs_another_actor,
        check_legacy_rows,
        check_monitoring_queries,
        check_schema_is_idempotent,
        check_stale_version_rejected,
        check_duplicate_key_is_stale,
        check_transaction_rolls_back_on_error,
        check_ledger_entries_round_trip,
        check_ids_are_canonical_strings,
        check_no_self_award_across_id_types,
        check_key_names_one_request,
        check_request_keys_claimed_once,
        check_clock_fault_reopens_the_day,
        check_far_future_days_never_overflow,
        check_every_write_is_version_checked,
        check_write_is_all_or_nothing,
    )
}
"""Every check, by name (without the ``check_`` prefix), in the order a suite runs them."""
