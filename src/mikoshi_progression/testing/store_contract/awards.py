"""Checks of awards, limits, caps and days as stored; creator awards, legacy rows,
monitoring queries and the schema."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ...core.config import DEFAULT_CONFIG, ActionRule, Level, ProgressionConfig
from ...core.events import EventKind, ProgressionEvent
from ...core.results import Outcome
from ...core.state import PLATFORM_FIELDS, ProgressState
from ...errors import SelfAwardError
from ...stores import (
    EntryKind,
    LedgerEntry,
    MonitoringStore,
    SchemaStore,
)
from ..clock import FakeClock
from ._support import (
    START,
    NotApplicable,
    StoreFactory,
    _assert_positions,
    _raises,
    _service,
    _user,
)

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
    # The award's events are kept with it (rules without levers know level-ups too).
    level_up = ProgressionEvent(EventKind.LEVEL_UP, {"from_level": 1, "to_level": 2})
    assert last.events == up.events == (level_up,)
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
    factory.seed_row(empty, dict.fromkeys(PLATFORM_FIELDS))
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
