"""Laws of the designer levers: boosts, streaks, per-user days, milestones, events.

Each rule of issue #11 is a hypothesis property over random configs with levers on,
random states and random event streams, checked award by award with ``check_award``
(which recomputes the boosts in force from the config itself).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mikoshi_progression import (
    DEFAULT_CONFIG,
    EVENT_ORDER,
    Boost,
    BoostRules,
    ConfigError,
    EventKind,
    InvalidArgumentError,
    Milestone,
    Outcome,
    ProgressionConfig,
    ProgressionEvent,
    ProgressState,
    StateError,
    StreakRules,
    apply_events,
    award_exp_with_limits,
    change_timezone,
    next_reset_at,
)
from mikoshi_progression.core.zones import boundary_for, day_ends_at, opens_day
from mikoshi_progression.testing import check_award
from mikoshi_progression.testing.strategies import (
    USER_ZONES,
    event_streams,
    lever_configs,
    moments,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def with_levers(**sections):
    """DEFAULT_CONFIG with the given lever sections."""
    return ProgressionConfig.from_dict(DEFAULT_CONFIG.to_dict() | sections)


def fold(config, state, events):
    """award_exp_with_limits event by event, each result checked by check_award."""
    results = []
    for now, action in events:
        result = award_exp_with_limits(state, action, now=now, config=config)
        check_award(state, result, config)
        results.append(result)
        state = result.state
    return state, results


# --- every rule at once ------------------------------------------------------------------


@given(lever_configs(), st.sampled_from((None, *USER_ZONES)), st.data())
def test_every_award_with_levers_is_lawful_and_the_fold_agrees(config, zone, data):
    """Any history under any levers passes check_award at every step, and apply_events
    returns the same results and final state as awarding event by event."""
    start = ProgressState(timezone=zone)
    events = data.draw(event_streams(config, max_size=40))
    final, results = fold(config, start, events)
    folded, folded_results = apply_events(start, events, config)
    assert folded == final
    assert list(folded_results) == results
    assert folded_results.column("effects") == [r.effects for r in results]


@given(lever_configs(), st.sampled_from(USER_ZONES), st.sampled_from(USER_ZONES), st.data())
def test_the_fold_agrees_from_a_day_a_time_zone_change_lengthened(config, first, then, data):
    """A history that starts in a day lengthened by a zone change (day_extended_until set)
    folds as award by award does, across the extension's end."""
    opened = award_exp_with_limits(
        ProgressState(timezone=first), "no_such_action", now=START, config=config
    ).state
    day_open = award_exp_with_limits(
        opened, next(iter(config.actions)), now=START + timedelta(hours=1), config=config
    ).state
    start = change_timezone(day_open, then, now=START + timedelta(hours=2), config=config)
    events = data.draw(event_streams(config, max_size=40))
    final, results = fold(config, start, events)
    folded, folded_results = apply_events(start, events, config)
    assert folded == final
    assert list(folded_results) == results
    assert folded_results.column("exp") == [r.state.exp for r in results]


# --- boosts --------------------------------------------------------------------------------


def test_a_double_xp_window_doubles_inside_it_and_only_inside_it():
    """[starts, ends): the first instant pays double, the end instant pays the base."""
    window = Boost("weekend", START, START + timedelta(days=2), Fraction(2))
    config = with_levers(boosts=BoostRules(windows=(window,)).to_dict())
    inside = award_exp_with_limits(ProgressState(), "create_scene", now=START, config=config)
    assert (inside.exp_added, inside.base_exp, inside.boosts) == (30, 15, ("weekend",))
    assert inside.events == (
        ProgressionEvent(
            EventKind.BOOST_APPLIED,
            {"boosts": ("weekend",), "multiplier": "2", "base_exp": 15, "boosted_exp": 30},
        ),
    )
    after = award_exp_with_limits(
        ProgressState(), "create_scene", now=START + timedelta(days=2), config=config
    )
    assert (after.exp_added, after.boosts, after.events) == (15, (), ())


@pytest.mark.parametrize(
    ("stacking", "expected"),
    [("max", 30), ("multiply", 45), ("add", 37)],  # 15*2, 15*3, floor(15*2.5)
)
def test_overlapping_boosts_stack_as_configured_rounding_down(stacking, expected):
    """Multipliers 2 and 3/2 over one moment: max 2, multiply 3, add 1+1+1/2 = 5/2."""
    windows = (
        Boost("double", START, START + timedelta(days=1), Fraction(2)),
        Boost("half_more", START, START + timedelta(days=1), "3/2"),  # type: ignore[arg-type]
    )
    config = with_levers(boosts=BoostRules(windows=windows, stacking=stacking).to_dict())
    result = award_exp_with_limits(ProgressState(), "create_scene", now=START, config=config)
    assert result.exp_added == expected
    assert result.boosts == ("double", "half_more")


def test_a_boost_is_cut_by_the_cap_unless_it_raises_the_cap():
    """A user with 140 of 150 gained: a doubled 30 pays 10, or 30 when the cap is doubled."""
    window = Boost("double", START, START + timedelta(days=1), Fraction(2))
    state = ProgressState(daily_exp_gained=140, last_exp_reset_date=START)
    for raise_cap, added, outcome in ((False, 10, Outcome.PARTIAL), (True, 30, Outcome.AWARDED)):
        config = with_levers(boosts=BoostRules((window,), raise_cap=raise_cap).to_dict())
        result = award_exp_with_limits(state, "create_scene", now=START, config=config)
        assert (result.exp_added, result.outcome) == (added, outcome)
        assert EventKind.DAILY_CAP_REACHED in [e.kind for e in result.events] or raise_cap


def test_a_raised_cap_is_the_cap_results_report():
    """With raise_cap, a rejection's reason, daily_exp_cap and remaining_exp state the
    raised cap in force for the action, not the level's plain cap."""
    window = Boost("double", START, START + timedelta(days=1), Fraction(3, 2))
    config = with_levers(boosts=BoostRules((window,), raise_cap=True).to_dict())
    full = ProgressState(daily_exp_gained=225, last_exp_reset_date=START)
    refused = award_exp_with_limits(full, "create_scene", now=START, config=config)
    assert refused.outcome is Outcome.DAILY_CAP
    assert refused.reason == "Daily EXP cap reached (225 EXP/day for level 1)"
    assert (refused.daily_exp_cap, refused.remaining_exp) == (225, 0)
    later = award_exp_with_limits(
        full, "create_scene", now=START + timedelta(days=1, hours=1), config=config
    )
    assert (later.daily_exp_cap, later.remaining_exp) == (150, 135)


def test_a_boost_limited_to_some_actions_leaves_the_others_alone():
    """A window for create_scene only does not touch daily_chat."""
    window = Boost(
        "scenes", START, START + timedelta(days=1), Fraction(3), frozenset({"create_scene"})
    )
    config = with_levers(boosts=BoostRules((window,)).to_dict())
    chat = award_exp_with_limits(ProgressState(), "daily_chat", now=START, config=config)
    scene = award_exp_with_limits(chat.state, "create_scene", now=START, config=config)
    assert (chat.exp_added, scene.exp_added) == (20, 45)


@given(lever_configs(streak=False, milestones=False), st.data())
def test_boosts_never_pay_more_than_their_multiplier_nor_pass_the_cap(config, data):
    """The day's capped EXP never passes the cap of the level the day was reached at (the
    cap times the boosts' multiplier when they raise it); each award's EXP never passes
    floor(reward x combined multiplier)."""
    events = data.draw(event_streams(config, max_size=40))
    state = ProgressState()
    for now, action in events:
        result = award_exp_with_limits(state, action, now=now, config=config)
        check_award(state, result, config)  # recomputes the multiplier from the windows
        rule = config.actions.get(action)
        if result.success and rule is not None and not rule.cap_exempt:
            cap = config.cap_for_level(result.previous_level)
            boosts = config.boosts
            if boosts is not None and boosts.raise_cap and result.boosts:
                biggest = max(boosts.multiplier(action, now)[0], Fraction(1))
                cap = cap * biggest.numerator // biggest.denominator
            assert result.state.daily_exp_gained <= cap
        state = result.state


def test_boost_windows_are_validated_with_every_problem_listed():
    """Bad windows are refused with each problem named by its location."""
    with pytest.raises(ConfigError) as info:
        with_levers(
            boosts={
                "stacking": "sum",
                "windows": [
                    {
                        "name": "a",
                        "starts": "2026-01-02T00:00:00",
                        "ends": "2026-01-01T00:00:00Z",
                        "multiplier": 0.5,
                    },
                    {
                        "name": "a",
                        "starts": "2026-01-01T00:00:00Z",
                        "ends": "2026-01-01T00:00:00Z",
                        "multiplier": "x",
                        "actions": ["nope"],
                    },
                ],
            }
        )
    assert list(info.value.problems) == [
        "boosts.stacking: must be one of max, multiply, add, got 'sum'",
        "boosts.windows[0].starts: must carry a UTC offset (a boost is a moment, not a local "
        "time), got '2026-01-02T00:00:00'",
        "boosts.windows[0].multiplier: must be from 1 to 100, got 0.5",
        "boosts.windows[1].ends: must be after starts ('2026-01-01T00:00:00Z'), "
        "got '2026-01-01T00:00:00Z'",
        "boosts.windows[1].multiplier: must be a number like 2, 1.5 or \"3/2\", got 'x'",
        "boosts.windows[1].actions: no such action 'nope'",
        "boosts.windows[1].name: another boost is named 'a' (names are unique)",
    ]


def test_a_float_multiplier_is_read_as_its_decimal_text():
    """1.1 in a TOML file is 11/10 exactly, not the binary float's 2476979795053773/2**51."""
    window = {
        "name": "w",
        "starts": START.isoformat(),
        "ends": "2027-01-01T00:00:00+00:00",
        "multiplier": 1.1,
    }
    config = with_levers(boosts={"windows": [window]})
    assert config.boosts is not None
    assert config.boosts.windows[0].multiplier == Fraction(11, 10)
    assert config.to_dict()["boosts"]["windows"][0]["multiplier"] == "11/10"
    assert ProgressionConfig.from_dict(config.to_dict()) == config


# --- streaks -------------------------------------------------------------------------------

STREAK = {"freeze_every": 3, "max_freezes": 1, "bonuses": {"3": 40}, "grace_minutes": 60}


def chat_on(config, state, *moments_):
    results = []
    for now in moments_:
        result = award_exp_with_limits(state, "daily_chat", now=now, config=config)
        check_award(state, result, config)
        results.append(result)
        state = result.state
    return state, results


def test_a_streak_grows_once_a_day_earns_a_freeze_and_pays_its_bonus():
    """Three consecutive days: streak 3, a freeze earned on day 3, the 40 EXP bonus paid."""
    config = with_levers(streak=STREAK)
    days = [START + timedelta(days=d, hours=10) for d in range(3)]
    state, results = chat_on(config, ProgressState(), *days)
    assert (state.streak, state.best_streak, state.streak_freezes) == (3, 3, 1)
    assert state.last_streak_day == date(2026, 1, 3)
    assert results[2].exp_added == 60  # 20 for the chat + 40 streak bonus, cap-exempt
    assert results[2].bonus_exp == 40
    assert results[2].state.daily_exp_gained == 20
    assert results[2].events == (
        ProgressionEvent(EventKind.STREAK_EXTENDED, {"streak": 3, "bonus_exp": 40, "freezes": 1}),
        ProgressionEvent(EventKind.LEVEL_UP, {"from_level": 1, "to_level": 2}),
    )


def test_a_missed_day_is_covered_by_a_freeze_then_the_next_one_breaks_the_streak():
    """Day 5 missed: the freeze covers it (streak 4). Days 7-8 missed with no freeze: broken."""
    config = with_levers(streak=STREAK)
    days = [START + timedelta(days=d, hours=10) for d in (0, 1, 2, 4, 7)]
    state, results = chat_on(config, ProgressState(), *days)
    assert results[3].events[0] == ProgressionEvent(
        EventKind.STREAK_FROZEN, {"days": 1, "freezes_left": 0}
    )
    assert results[3].state.streak == 4
    assert results[4].events[0] == ProgressionEvent(EventKind.STREAK_BROKEN, {"streak": 4})
    assert (state.streak, state.best_streak) == (1, 4)


def test_the_grace_period_counts_an_early_chat_for_the_missed_day_before():
    """Chatting at 00:30 the day after a missed day keeps the streak within a 60-minute
    grace (counted for the missed day); at 01:30 it is too late."""
    config = with_levers(streak=STREAK | {"freeze_every": 0, "max_freezes": 0})
    day1 = START + timedelta(hours=10)
    on_time, _ = chat_on(config, ProgressState(), day1, START + timedelta(days=2, minutes=30))
    assert (on_time.streak, on_time.last_streak_day) == (2, date(2026, 1, 2))
    late, _ = chat_on(config, ProgressState(), day1, START + timedelta(days=2, minutes=90))
    assert (late.streak, late.last_streak_day) == (1, date(2026, 1, 3))


@given(
    lever_configs(boosts=False, milestones=False), st.sampled_from((None, *USER_ZONES)), st.data()
)
def test_a_streak_never_grows_by_more_than_one_a_day(config, zone, data):
    """Over any history, the streak grows by at most one per award, never more than the
    days it spans, and the day it is credited to never lies ahead of the award's day."""
    events = data.draw(event_streams(config, max_size=40, invalid=False))
    state = ProgressState(timezone=zone)
    first_day = None
    for now, action in events:
        result = award_exp_with_limits(state, action, now=now, config=config)
        check_award(state, result, config)
        after = result.state
        if after.streak == 1 and state.streak != 1:
            first_day = after.last_streak_day
        if after.last_streak_day is not None and after.streak:
            assert first_day is not None
            assert after.streak <= (after.last_streak_day - first_day).days + 1
            assert after.last_streak_day <= boundary_for(after, config).day_of(now)
        state = after


# --- milestones ----------------------------------------------------------------------------


def test_milestones_unlock_once_each_with_their_bonus_which_can_unlock_more():
    """A first scene reaches 'first_scene' (+90 bonus), whose EXP reaches level 2 and so
    'creator' in the same award; neither unlocks again."""
    config = with_levers(
        milestones=[
            {"name": "creator", "level": 2, "description": "Reached level 2"},
            {"name": "first_scene", "action": "create_scene", "count": 1, "bonus_exp": 90},
        ]
    )
    first = award_exp_with_limits(ProgressState(), "create_scene", now=START, config=config)
    assert first.exp_added == 105
    assert [e.kind for e in first.events] == [
        EventKind.LEVEL_UP,
        EventKind.MILESTONE_UNLOCKED,
        EventKind.MILESTONE_UNLOCKED,
    ]
    assert [e["milestone"] for e in first.events[1:]] == ["first_scene", "creator"]
    assert first.state.milestones == {"creator", "first_scene"}
    assert first.state.lifetime_counts == {"create_scene": 1}
    again = award_exp_with_limits(first.state, "create_scene", now=START, config=config)
    assert (again.exp_added, again.events) == (15, ())


@given(lever_configs(boosts=False), st.data())
def test_a_milestone_is_granted_at_most_once(config, data):
    """Over any history, each milestone's unlock event appears at most once, and the
    state's milestones are exactly those unlocked."""
    events = data.draw(event_streams(config, max_size=50, invalid=False))
    final, results = fold(config, ProgressState(), events)
    unlocked = Counter(
        e["milestone"] for r in results for e in r.events if e.kind is EventKind.MILESTONE_UNLOCKED
    )
    assert all(count == 1 for count in unlocked.values())
    assert final.milestones == set(unlocked)


def test_milestones_are_validated():
    """A milestone needs exactly one threshold, a count needs its action, names are unique."""
    with pytest.raises(ConfigError) as info:
        with_levers(
            milestones=[
                {"name": "a", "level": 9},
                {"name": "a", "exp": 10, "streak": 2},
                {"name": "b", "count": 3},
                {"name": "c", "action": "nope", "count": 1, "bonus_exp": -1},
            ]
        )
    assert list(info.value.problems) == [
        "milestones[0].level: no such level 9 (levels are 1..6)",
        "milestones[1]: must give exactly one of level, exp, streak or count (with action), "
        "got exp, streak",
        "milestones[1].name: another milestone is named 'a'",
        "milestones[2].action: a count milestone names the action it counts",
        "milestones[3].action: no such action 'nope'",
        "milestones[3].bonus_exp: must be a non-negative integer, got -1",
    ]


# --- per-user days -------------------------------------------------------------------------


def test_a_user_in_tokyo_gets_a_new_day_at_tokyo_midnight():
    """Limits reset at 00:00 JST (15:00 UTC), and resets_at says so."""
    state = ProgressState(timezone="Asia/Tokyo")
    first = award_exp_with_limits(state, "daily_chat", now=START + timedelta(hours=14))
    assert first.resets_at == START + timedelta(hours=15)
    again = award_exp_with_limits(
        first.state, "daily_chat", now=START + timedelta(hours=14, minutes=59)
    )
    assert again.outcome is Outcome.ACTION_LIMIT
    next_day = award_exp_with_limits(first.state, "daily_chat", now=START + timedelta(hours=15))
    assert next_day.outcome is Outcome.AWARDED


def test_moving_east_never_opens_the_next_day_sooner():
    """At 10:00 UTC a UTC user moves to Tokyo: the day lasts to the first Tokyo midnight
    after UTC midnight (15:00 UTC next day), not Tokyo's own midnight at 15:00 today."""
    now = START + timedelta(hours=10)
    chatted = award_exp_with_limits(ProgressState(), "daily_chat", now=now).state
    moved = change_timezone(chatted, "Asia/Tokyo", now=now)
    assert moved.day_extended_until == START + timedelta(days=1, hours=15)
    assert next_reset_at(moved, now=now) == START + timedelta(days=1, hours=15)
    refused = award_exp_with_limits(moved, "daily_chat", now=START + timedelta(days=1, hours=14))
    assert refused.outcome is Outcome.ACTION_LIMIT
    opened = award_exp_with_limits(moved, "daily_chat", now=START + timedelta(days=1, hours=15))
    assert opened.outcome is Outcome.AWARDED
    assert opened.state.day_extended_until is None


def test_moving_west_keeps_the_streak_and_the_old_boundary():
    """Moving Tokyo -> New York keeps a 2-day streak alive and opens no early day."""
    config = with_levers(streak={})
    tokyo = ProgressState(timezone="Asia/Tokyo")
    state, _ = chat_on(
        config, tokyo, START + timedelta(hours=1), START + timedelta(days=1, hours=1)
    )
    assert state.streak == 2
    now = START + timedelta(days=1, hours=2)
    moved = change_timezone(state, "America/New_York", now=now, config=config)
    assert day_ends_at(moved, config) >= day_ends_at(state, config)
    after, results = chat_on(config, moved, day_ends_at(moved, config) + timedelta(hours=1))
    assert after.streak == 3
    assert not any(e.kind is EventKind.STREAK_BROKEN for e in results[0].events)


def test_changing_to_the_same_zone_changes_nothing_and_bad_zones_are_refused():
    """The same zone returns the state itself; an unknown zone is an InvalidArgumentError."""
    state = ProgressState(timezone="Asia/Tokyo")
    assert change_timezone(state, "Asia/Tokyo", now=START) is state
    with pytest.raises(InvalidArgumentError, match="timezone"):
        change_timezone(state, "Mars/Olympus", now=START)
    with pytest.raises(StateError, match="timezone"):
        ProgressState(timezone="Mars/Olympus")
    for directory in ("America", "Europe", ""):  # zone-database folders, not zones
        with pytest.raises(StateError, match="timezone"):
            ProgressState(timezone=directory)
        with pytest.raises(InvalidArgumentError, match="timezone"):
            change_timezone(state, directory, now=START)


FIXED_OFFSET_ZONES = (
    "UTC",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "Etc/GMT+11",
    "America/Phoenix",
    "Asia/Kathmandu",
)


@st.composite
def travels(draw, zones=FIXED_OFFSET_ZONES):
    """A first zone and time-zone changes at random hours over 20 days."""
    first = draw(st.sampled_from(zones))
    hours = sorted(draw(st.sets(st.integers(0, 20 * 24 - 1), max_size=12)))
    changes = [
        (START + timedelta(hours=h, minutes=17), draw(st.sampled_from(zones))) for h in hours
    ]
    return first, changes


def farm(config, zone, changes, *, every_hours, actions):
    """A user who does every action every few hours for 20 days, changing zones on the way.
    Returns (moment, EXP, streak) after each round."""
    state = ProgressState(timezone=zone)
    pending = list(changes)
    seen = []
    for step in range(0, 20 * 24, every_hours):
        now = START + timedelta(hours=step, minutes=30)
        while pending and pending[0][0] <= now:
            at, new_zone = pending.pop(0)
            state = change_timezone(state, new_zone, now=at, config=config)
        for action in actions:
            result = award_exp_with_limits(state, action, now=now, config=config)
            check_award(state, result, config)
            state = result.state
        seen.append((now, state.exp, state.streak, state.best_streak))
    return seen


@given(travels())
def test_no_sequence_of_time_zone_changes_earns_more_than_staying_put(travel):
    """A farmer who does everything every hour, and changes zones as often as they like,
    never has more EXP, nor a longer streak, than the same farmer staying in the first
    zone, at any moment (fixed-offset zones: see the DST test below)."""
    config = with_levers(streak={"bonuses": {"3": 50}})
    first, changes = travel
    actions = sorted(config.actions)
    moving = farm(config, first, changes, every_hours=1, actions=actions)
    staying = farm(config, first, [], every_hours=1, actions=actions)
    for (now, exp, streak, best), (_, exp_put, streak_put, best_put) in zip(
        moving, staying, strict=True
    ):
        assert exp <= exp_put, now
        assert streak <= streak_put, now
        assert best <= best_put, now


@given(travels(zones=USER_ZONES))
def test_a_daily_chatter_never_loses_a_streak_to_a_time_zone_change(travel):
    """Chatting every 12 hours, whatever the zone changes (DST zones included), the
    streak never breaks and never grows faster than one a day."""
    config = with_levers(streak={})
    first, changes = travel
    seen = farm(config, first, changes, every_hours=12, actions=["daily_chat"])
    for (now, _, streak, _), (_, _, previous, _) in zip(seen[1:], seen, strict=False):
        assert previous <= streak <= previous + 1, now
    assert seen[-1][2] <= 20 + 1


@given(travels(zones=USER_ZONES), st.integers(0, 20 * 24 - 1))
def test_a_change_never_ends_the_day_sooner_than_the_old_zone_would(travel, hour):
    """DST zones included: right after a change, the day in force ends no sooner than it
    would have in the old zone, and the new day opens exactly then."""
    config = DEFAULT_CONFIG
    first, changes = travel
    state = award_exp_with_limits(
        ProgressState(timezone=first), "daily_chat", now=START + timedelta(hours=hour)
    ).state
    for at, zone in changes:
        if at < state.last_exp_reset_date:
            continue
        opened = state if not opens_day(state, at, config) else None
        moved = change_timezone(state, zone, now=at, config=config)
        if opened is not None and zone != state.timezone:
            old_end = day_ends_at(state, config)
            new_end = day_ends_at(moved, config)
            assert new_end >= old_end
            assert new_end - old_end < timedelta(hours=25)
            assert not opens_day(moved, new_end - timedelta(microseconds=1), config)
            assert opens_day(moved, new_end, config)
        state = moved


# --- events ---------------------------------------------------------------------------------


def test_events_round_trip_and_follow_the_documented_order():
    """EVENT_ORDER is the enum's order; an event survives to_dict/from_dict."""
    assert [k.value for k in EVENT_ORDER] == [
        "streak_frozen",
        "streak_broken",
        "boost_applied",
        "streak_extended",
        "daily_cap_reached",
        "level_up",
        "milestone_unlocked",
    ]
    e = ProgressionEvent(EventKind.BOOST_APPLIED, {"boosts": ["a", "b"], "multiplier": "3/2"})
    assert ProgressionEvent.from_dict(e.to_dict()) == e
    assert hash(ProgressionEvent.from_dict(e.to_dict())) == hash(e)
    with pytest.raises(StateError, match="kind"):
        ProgressionEvent.from_dict({"kind": "party"})


def test_the_seed_path_reports_level_ups_and_the_cap_but_keeps_the_platform_body():
    """Without levers, events are derived (level_up, daily_cap_reached) and to_dict keeps
    exactly the platform's keys."""
    state = ProgressState(exp=90, daily_exp_gained=140, last_exp_reset_date=START)
    result = award_exp_with_limits(state, "create_scene", now=START)
    assert [e.to_dict() for e in result.events] == [
        {"kind": "daily_cap_reached", "cap": 150},
        {"kind": "level_up", "from_level": 1, "to_level": 2},
    ]
    assert "events" not in result.to_dict()
    config = with_levers(streak={})
    assert (
        result.to_dict().keys()
        < award_exp_with_limits(state, "create_scene", now=START, config=config).to_dict().keys()
    )


# --- config and state ---------------------------------------------------------------------


@given(lever_configs())
def test_a_config_with_levers_round_trips_and_keeps_its_fingerprint(config):
    """to_dict/from_dict is the identity, fingerprint included."""
    again = ProgressionConfig.from_dict(config.to_dict())
    assert again == config
    assert again.fingerprint == config.fingerprint


def test_adding_a_lever_changes_the_fingerprint_and_none_keeps_the_old_one():
    """The seed's fingerprint survives the new sections' existence."""
    assert DEFAULT_CONFIG.fingerprint == "0e5efae521adfc7c"
    assert with_levers(streak={}).fingerprint != DEFAULT_CONFIG.fingerprint


@given(moments(), st.sampled_from(USER_ZONES))
def test_a_state_with_every_lever_field_round_trips(now, zone):
    """to_dict/from_dict keeps every lever field; unset ones are left out of the dict."""
    state = ProgressState(
        exp=5,
        last_exp_reset_date=now,
        timezone=zone,
        day_extended_until=now + timedelta(hours=30),
        streak=3,
        best_streak=7,
        last_streak_day=now.date(),
        streak_freezes=1,
        milestones={"a", "b"},
        lifetime_counts={"daily_chat": 4},
    )
    assert ProgressState.from_dict(state.to_dict()) == state
    assert set(ProgressState().to_dict()) == {
        "exp",
        "level",
        "daily_exp_gained",
        "last_exp_reset_date",
        "daily_action_counts",
        "last_chat_date",
    }


def test_lever_fields_are_validated():
    """A best streak below the streak, a datetime for a date, or a non-set of milestones."""
    with pytest.raises(StateError, match="best_streak"):
        ProgressState(streak=3, best_streak=2)
    with pytest.raises(StateError, match="last_streak_day"):
        ProgressState(last_streak_day=START)  # type: ignore[arg-type]
    with pytest.raises(StateError, match="milestones"):
        ProgressState(milestones="abc")  # type: ignore[arg-type]
    with pytest.raises(StateError, match="lifetime_counts"):
        ProgressState(lifetime_counts={"a": -1})


def test_streak_rules_are_validated():
    """Freezes need both settings; grace is bounded; bonus keys are lengths."""
    with pytest.raises(ConfigError) as info:
        with_levers(
            streak={"action": "nope", "grace_minutes": 800, "freeze_every": 3, "bonuses": {"0": 5}}
        )
    assert list(info.value.problems) == [
        "streak.action: no such action 'nope'",
        "streak.grace_minutes: must be an integer from 0 to 720, got 800",
        "streak.max_freezes: freezes need both freeze_every and max_freezes above 0 "
        "(got freeze_every=3, max_freezes=0)",
        'streak.bonuses.0: keys must be streak lengths of at least 1 ("7", "30"), got \'0\'',
    ]


def test_building_levers_directly_matches_from_dict():
    """The dataclasses and the dict form make equal configs."""
    direct = ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions=DEFAULT_CONFIG.actions,
        daily_exp_caps=DEFAULT_CONFIG.daily_exp_caps,
        features=DEFAULT_CONFIG.features,
        streak=StreakRules(bonuses={7: 50}),
        milestones=(Milestone("week", streak=7),),
    )
    assert direct == with_levers(
        streak={"bonuses": {"7": 50}}, milestones=[{"name": "week", "streak": 7}]
    )
    assert direct.uses_levers
    assert not DEFAULT_CONFIG.uses_levers


@pytest.mark.parametrize("year", [1850, 9500])
@pytest.mark.parametrize("action", ["daily_chat", "create_scene", "no_such_action"])
def test_a_moment_outside_the_supported_years_fails_alike_in_the_fold_and_alone(year, action):
    """With levers on, an award at a moment the library does not support raises the same
    InvalidMomentError whether folded or awarded alone, or neither raises (a moment that
    is only compared, as on the seed's path)."""
    from mikoshi_progression import InvalidMomentError

    config = with_levers(streak={}, boosts={"windows": []})
    day_open = award_exp_with_limits(ProgressState(), "create_scene", now=START, config=config)
    far = datetime(year, 6, 1, tzinfo=UTC)
    try:
        alone = award_exp_with_limits(day_open.state, action, now=far, config=config)
    except InvalidMomentError as exc:
        with pytest.raises(InvalidMomentError, match=str(exc)[:20]):
            apply_events(day_open.state, [(far, action)], config)
    else:
        _, folded = apply_events(day_open.state, [(far, action)], config)
        assert folded[0] == alone


def test_a_state_back_to_a_new_users_levers_is_on_the_seeds_path_again():
    """Moving to Tokyo and back lengthens the day; once the next day opens, nothing of the
    levers is left and the state holds NO_LEVERS itself, as the same state read back from
    a store does: award and fold then report exactly the seed's body (a store machine
    found the two differing)."""
    from mikoshi_progression.core.state import NO_LEVERS

    opened = award_exp_with_limits(ProgressState(), "create_scene", now=START).state
    there = change_timezone(opened, "Asia/Tokyo", now=START + timedelta(hours=1))
    back = change_timezone(there, None, now=START + timedelta(hours=2))
    assert back.day_extended_until is not None
    later = START + timedelta(days=2)
    alone = award_exp_with_limits(back, "create_scene", now=later)
    assert alone.state.levers is NO_LEVERS
    final, _ = apply_events(back, [(later, "create_scene"), (later, "create_scene")])
    assert final.levers is NO_LEVERS
    stored = ProgressState.from_dict(alone.state.to_dict())
    again = award_exp_with_limits(alone.state, "create_scene", now=later)
    assert again.to_dict() == award_exp_with_limits(stored, "create_scene", now=later).to_dict()
    assert "events" not in again.to_dict()
