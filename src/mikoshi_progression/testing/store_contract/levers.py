"""Checks of the designer levers as stored: every state field, time-zone moves, the events
of each award in the ledger, replay with every lever on, and the events feed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ...core.events import EventKind, ProgressionEvent
from ...core.state import ProgressState
from ...errors import IdempotencyError, InvalidArgumentError
from ...service import ProgressionService
from ...stores import (
    CommittedEvent,
    EntryKind,
    EventFeedStore,
    ProgressStore,
    StateReader,
    StoredFormStore,
)
from ..clock import FakeClock
from ._support import (
    LEVERS,
    START,
    NotApplicable,
    StoreFactory,
    _assert_positions,
    _entry,
    _generated,
    _raises,
    _run_threads,
    _service,
    _user,
)

_ZONES = (None, "Asia/Tokyo", "America/New_York", "Europe/Berlin", "Pacific/Kiritimati")
FEED_DEADLINE = 60.0
"""Seconds a check waits for the feed to hand out events committed: on PostgreSQL it waits
for the oldest transaction running on the server (other clients' too) to end."""


def _every_field() -> ProgressState:
    return ProgressState(
        exp=135,
        level=2,
        daily_exp_gained=55,
        last_exp_reset_date=datetime(2026, 3, 2, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=9))),
        daily_action_counts={"create_scene": 1, "chat_used_50": 3},
        last_chat_date=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        timezone="Asia/Tokyo",
        day_extended_until=datetime(2026, 3, 3, 15, 0, 0, 250000, tzinfo=UTC),
        streak=4,
        best_streak=9,
        last_streak_day=date(2026, 3, 1),
        streak_freezes=1,
        milestones=frozenset({"first_steps", "regular", 'ユーザー\'s "badge"'}),
        lifetime_counts={"create_scene": 7, "daily_chat": 2**40},
    )


_EVENTS = (
    ProgressionEvent(EventKind.STREAK_FROZEN, {"days": 1, "freezes_left": 0}),
    ProgressionEvent(
        EventKind.BOOST_APPLIED,
        {"boosts": ("launch_week", "launch_day"), "multiplier": "3", "base_exp": 20},
    ),
    ProgressionEvent(EventKind.LEVEL_UP, {"from_level": 1, "to_level": 2}),
    ProgressionEvent(EventKind.MILESTONE_UNLOCKED, {"milestone": "first_steps", "bonus_exp": 20}),
)


def check_lever_fields_round_trip(factory: StoreFactory) -> None:
    """Every field of a state (the levers' too) and the events of an entry come back as
    written: from a load, a lock-free read, a keyed load and the ledger."""
    store = factory()
    user = _user("levers")
    state = _every_field()
    form = store.stored_form if isinstance(store, StoredFormStore) else (lambda s: s)
    entry = _entry(user, EntryKind.AWARD, "k-levers", state_after=state, events=_EVENTS)
    other = _entry(user, EntryKind.TIMEZONE, "k-zone", action="", exp_delta=0, state_after=state)
    with store.transaction(user) as tx:
        tx.write(state, tx.load().version, [entry, other])
    with store.transaction(user) as tx:
        snap = tx.load("k-levers")
    assert snap.state == form(state), (snap.state, state)
    assert snap.keyed_award == entry
    with store.transaction(user) as tx:
        assert tx.load("k-zone").keyed_award == other
    if isinstance(store, StateReader):
        assert store.read_state(user) == form(state)
    assert factory().ledger(user) == [entry, other]
    assert store.ledger(user)[0].events == _EVENTS
    levers = replace(state.levers, timezone=None, milestones=frozenset(), lifetime_counts={})
    fresh = replace(state, levers=replace(levers, streak=0))
    with store.transaction(user) as tx:
        tx.write(fresh, tx.load().version, [])
    with store.transaction(user) as tx:
        assert tx.load().state == form(fresh)


def check_timezone_changes_recorded(factory: StoreFactory) -> None:
    """A move to another time zone is stored and recorded (after the day it opened), once
    per key; the same key for another zone is refused; replay follows the moves."""
    clock = FakeClock(START)
    service = _service(factory(), clock, LEVERS)
    user = _user("zone")
    service.award(user, "daily_chat")
    clock.advance(hours=20)  # the next UTC day has begun: the move opens it first
    moved = service.set_timezone(user, "Asia/Tokyo", key="tz-1")
    assert moved.timezone == "Asia/Tokyo"
    assert moved.last_exp_reset_date == clock()
    kinds = [e.kind for e in service.ledger(user)]
    assert kinds[-2:] == [EntryKind.DAY, EntryKind.TIMEZONE], kinds
    timezone_entry = service.ledger(user)[-1]
    assert (timezone_entry.key, timezone_entry.state_after) == ("tz-1", moved)
    assert service.set_timezone(user, "Asia/Tokyo", key="tz-1") == moved  # a retry
    with _raises(IdempotencyError):
        service.set_timezone(user, "Europe/Berlin", key="tz-1")
    count = len(service.ledger(user))
    assert service.set_timezone(user, "Asia/Tokyo") == moved  # already there: no entry
    for zone in ("America", "Nowhere/Else", 9):
        with _raises(InvalidArgumentError):
            service.set_timezone(user, zone)  # type: ignore[arg-type]
    assert len(service.ledger(user)) == count
    clock.advance(hours=30)
    service.award(user, "daily_chat")
    service.set_timezone(user, None, key="tz-2")
    assert _service(factory(), clock, LEVERS).state(user).timezone is None
    assert service.replay(user).matches


_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("award"),
            st.sampled_from(["daily_chat", "create_character", "create_scene", "forked"]),
            st.sampled_from([None, None, "k1", "k2"]),
        ),
        st.tuples(st.just("zone"), st.sampled_from(_ZONES)),
        st.tuples(st.just("revoke"), st.sampled_from(["k1", "k2"])),
        st.tuples(st.just("adjust"), st.integers(min_value=-50, max_value=200).filter(bool)),
        st.tuples(st.just("reset")),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=40)),
    ),
    min_size=4,
    max_size=25,
)


def _operate(service: ProgressionService, clock: FakeClock, user: str, op: tuple[Any, ...]) -> None:
    match op:
        case ("award", action, key):
            actor = "a-fan" if action == "forked" else None
            with suppress(IdempotencyError):
                result = service.award(user, action, key=key, actor_id=actor)
                if result.success and key is None:
                    recorded = service.ledger(user)[-1]
                    assert recorded.events == result.events, (recorded.events, result.events)
        case ("zone", zone):
            service.set_timezone(user, zone)
        case ("revoke", key):
            service.revoke(user, key)
        case ("adjust", delta):
            with suppress(InvalidArgumentError):  # below 0
                service.adjust(user, delta, reason="goodwill", operator="op-1")
        case ("reset",):
            service.reset_daily(user, operator="op-1")
        case ("advance", hours):
            clock.advance(hours=hours)


def check_levers_replay_matches(factory: StoreFactory, *, max_examples: int = 12) -> None:
    """With every lever on (boosts, streaks, milestones, time-zone moves), any sequence of
    commands stores what the awards decided, their events with them, and replays exactly."""
    store = factory()

    @_generated(max_examples)
    @given(operations=_OPERATIONS)
    def replay_matches(operations: list[tuple[Any, ...]]) -> None:
        clock = FakeClock(START - timedelta(hours=6))
        service = _service(store, clock, LEVERS)
        user = _user("levers-replay")
        for operation in operations:
            _operate(service, clock, user, operation)
        report = service.replay(user)
        assert report.matches, (report.state, report.stored)
        _assert_positions(service.ledger(user))

    replay_matches()


def check_keyed_award_with_levers_repeats_its_result(factory: StoreFactory) -> None:
    """A repeated keyed award returns the first result with its levers' effects: the same
    body (base EXP, boosts, bonus, events), however the clock moved since."""
    clock = FakeClock(START + timedelta(hours=1))
    service = _service(factory(), clock, LEVERS)
    user = _user("levers-key")
    first = service.award(user, "create_character", key="boosted")
    assert first.boosts == ("launch_week", "launch_day")
    assert first.exp_added == 90  # 30 x 1.5 x 2
    clock.advance(days=2)
    again = service.award(user, "create_character", key="boosted")
    assert again.to_dict() == first.to_dict()
    assert (again.effects, again.events) == (first.effects, first.events)


# --- the events feed ------------------------------------------------------------------------


def _feed(store: ProgressStore) -> EventFeedStore:
    if not isinstance(store, EventFeedStore):
        raise NotApplicable(f"{type(store).__name__} has no events feed")
    return store


def _expected(service: ProgressionService, users: list[str]) -> dict[str, list[tuple[int, Any]]]:
    """Each user's events as the ledger holds them: ``(seq, event)`` in ledger order."""
    return {
        user: [
            (entry.seq, event)
            for entry in service.ledger(user)
            for event in entry.events
            if entry.seq is not None
        ]
        for user in users
    }


def _delivered(events: list[CommittedEvent], users: list[str]) -> dict[str, list[tuple[int, Any]]]:
    found: dict[str, list[tuple[int, Any]]] = {user: [] for user in users}
    for committed in events:
        if committed.user_id in found:
            found[committed.user_id].append((committed.seq, committed.event))
    return found


def _drain(
    read: Callable[[str | None], tuple[list[CommittedEvent], str | None]],
    cursor: str | None,
    done: Callable[[list[CommittedEvent]], bool],
) -> tuple[list[CommittedEvent], str | None]:
    """Read pages from ``cursor`` until ``done`` says everything came, or the deadline."""
    found: list[CommittedEvent] = []
    deadline = time.monotonic() + FEED_DEADLINE
    while True:
        page, cursor = read(cursor)
        found += page
        if done(found) or time.monotonic() > deadline:
            return found, cursor
        if not page:
            time.sleep(0.05)


def check_events_feed(factory: StoreFactory) -> None:
    """The feed hands out every event of committed awards, an award's events together and in
    order, page by page from a stored cursor; nothing more once it is drained."""
    store = factory()
    feed = _feed(store)
    clock = FakeClock(START)
    service = _service(store, clock, LEVERS)
    users = [_user("feed-a"), _user("feed-b")]
    for day in range(4):
        for user in users:
            service.award(user, "daily_chat")
            service.award(user, "create_character", key=f"c-{day}")
            service.award(user, "create_scene")
        clock.advance(days=1)
    expected = _expected(service, users)
    assert all(expected.values()), expected

    def read(cursor: str | None) -> tuple[list[CommittedEvent], str | None]:
        page = service.events(since=cursor, limit=3)
        entries = {(e.user_id, e.seq) for e in page.events}
        assert len(page.events) <= 3 or len(entries) == 1, "a page passed its limit"
        return list(page.events), page.cursor

    def complete(found: list[CommittedEvent]) -> bool:
        return _delivered(found, users) == expected

    found, cursor = _drain(read, None, complete)
    assert _delivered(found, users) == expected
    for event in found:
        if event.user_id in users:
            entry = service.ledger(event.user_id)[event.seq - 1]
            assert (event.at, event.action) == (entry.at, entry.action)
    after = service.events(since=cursor)
    assert [e for e in after.events if e.user_id in users] == []
    assert after.cursor == cursor
    again = service.events(since=None, limit=1000)
    assert _delivered(list(again.events), users) == expected  # the whole feed again
    for bad in ("not a cursor", "-1", "1:2", 42):
        with _raises(InvalidArgumentError):
            feed.events(bad, 10)  # type: ignore[arg-type]


def check_feed_under_concurrent_awards(
    factory: StoreFactory, *, threads: int = 4, awards: int = 6
) -> None:
    """A notifier polling the feed while threads award concurrently sees every event of
    every committed award exactly once (its cursor stored after each page), each user's in
    ledger order, an award's together: none skipped, none twice."""
    store = factory()
    _feed(store)
    clock = FakeClock(START)
    service = _service(store, clock, LEVERS)
    users = [_user(f"feed-{n}") for n in range(threads)]
    stop = threading.Event()
    delivered: list[CommittedEvent] = []
    cursors: list[str | None] = [None]

    def notify() -> None:
        notifier = _service(factory(), clock, LEVERS)
        while not stop.is_set():
            page = notifier.events(since=cursors[-1], limit=5)
            delivered.extend(page.events)
            cursors.append(page.cursor)
            if not page.events:
                time.sleep(0.002)

    def work(number: int) -> None:
        for step in range(awards):
            user = users[(number + step) % len(users)]  # users shared between threads
            action = ("create_character", "create_scene", "daily_chat")[step % 3]
            service.award(user, action, key=f"w{number}-{step}")

    notifier = threading.Thread(target=notify)
    notifier.start()
    try:
        _run_threads(threads, work)
    finally:
        stop.set()
        notifier.join(timeout=60)
    expected = _expected(service, users)
    assert sum(map(len, expected.values())) >= threads * awards, expected

    def read(cursor: str | None) -> tuple[list[CommittedEvent], str | None]:
        page = service.events(since=cursor, limit=5)
        return list(page.events), page.cursor

    rest, _ = _drain(
        read, cursors[-1], lambda more: _delivered(delivered + more, users) == expected
    )
    # Each user's events exactly as the ledger holds them: a skipped event, one handed
    # out twice or out of order would each make the lists differ.
    assert _delivered(delivered + rest, users) == expected, "the feed skipped or repeated"
