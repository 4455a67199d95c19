"""Opening days: new days, manual resets, the next reset, and clock faults beyond the tolerance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mikoshi_progression import (
    DEFAULT_CONFIG,
    Outcome,
    ProgressionConfig,
    ProgressState,
    apply_events,
    award_exp_with_limits,
    exp_limits_view,
    is_new_day,
    next_reset_at,
    reset_daily_limits,
    reset_daily_limits_if_needed,
)
from mikoshi_progression.core.daily import is_clock_fault
from mikoshi_progression.errors import InvalidMomentError

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 11, tzinfo=UTC)
SKEW = timedelta(minutes=240)
TICK = timedelta(microseconds=1)
NAIVE = datetime(2026, 3, 10, 12, 0)


def spent(last_reset: datetime, **fields) -> ProgressState:
    """A state whose day, opened at ``last_reset``, has used up daily_chat and the L1 cap."""
    return ProgressState(
        exp=400,
        level=3,
        daily_exp_gained=300,
        last_exp_reset_date=last_reset,
        daily_action_counts={"daily_chat": 1, "forked": 4},
        last_chat_date=datetime(2026, 3, 1, tzinfo=UTC),
        **fields,
    )


def reopened(state: ProgressState, now: datetime) -> ProgressState:
    """``state`` with a new day opened at ``now``: EXP, level and last chat kept."""
    return ProgressState(
        exp=state.exp,
        level=state.level,
        last_exp_reset_date=now,
        last_chat_date=state.last_chat_date,
    )


def with_skew(minutes: int) -> ProgressionConfig:
    """The default rules with another clock tolerance."""
    return ProgressionConfig.from_dict(
        {**DEFAULT_CONFIG.to_dict(), "max_clock_skew_minutes": minutes}
    )


def test_a_user_without_a_day_always_opens_one():
    """No reset yet: the first moment opens a day, and the next reset is the next midnight."""
    state = ProgressState(exp=10)
    assert is_new_day(state, now=NOW)
    assert not is_clock_fault(state, now=NOW)
    assert reset_daily_limits_if_needed(state, now=NOW) == ProgressState(
        exp=10, last_exp_reset_date=NOW
    )
    assert next_reset_at(state, now=NOW) == MIDNIGHT
    assert next_reset_at(state, now=MIDNIGHT) == MIDNIGHT + timedelta(days=1)


@pytest.mark.parametrize(
    ("last_reset", "new_day"),
    [
        (NOW, False),
        (NOW - timedelta(hours=12), False),  # this midnight: the same day
        (NOW - timedelta(hours=12) - TICK, True),  # the day before
        (NOW + timedelta(hours=11, minutes=59), False),  # later today, a lagging clock
        (MIDNIGHT, False),  # tomorrow, 12 h ahead: days never move back within the tolerance
    ],
)
def test_is_new_day_only_moves_forward(last_reset, new_day):
    """A later day opens a new one; the same or an earlier day (a lagging clock) does not."""
    state = spent(last_reset)
    config = with_skew(24 * 60)
    assert is_new_day(state, now=NOW, config=config) is new_day
    expected = reopened(state, NOW) if new_day else state
    assert reset_daily_limits_if_needed(state, now=NOW, config=config) == expected
    assert (reset_daily_limits_if_needed(state, now=NOW, config=config) is state) is not new_day


def test_is_new_day_honours_the_configs_day_boundary():
    """With a 04:00 Tokyo reset, 18:59 and 19:00 UTC lie on two days."""
    tokyo = ProgressionConfig.from_dict(
        {**DEFAULT_CONFIG.to_dict(), "reset_timezone": "Asia/Tokyo", "reset_hour": 4}
    )
    state = spent(datetime(2026, 3, 10, 18, 0, tzinfo=UTC))
    assert not is_new_day(state, now=datetime(2026, 3, 10, 18, 59, tzinfo=UTC), config=tokyo)
    assert is_new_day(state, now=datetime(2026, 3, 10, 19, 0, tzinfo=UTC), config=tokyo)
    assert not is_new_day(state, now=datetime(2026, 3, 10, 19, 0, tzinfo=UTC))  # UTC: same day
    assert is_new_day(state, now=MIDNIGHT)


@pytest.mark.parametrize(
    ("ahead", "fault"),
    [(SKEW, False), (SKEW + TICK, True), (timedelta(days=3), True), (timedelta(0), False)],
)
def test_a_day_stamped_beyond_the_tolerance_is_a_clock_fault(ahead, fault):
    """A stored day more than max_clock_skew ahead of now is a fault; at the tolerance it is not."""
    state = spent(NOW + ahead)
    assert is_clock_fault(state, now=NOW) is fault
    assert is_new_day(state, now=NOW) is fault
    expected = reopened(state, NOW) if fault else state
    assert reset_daily_limits_if_needed(state, now=NOW) == expected


def test_a_clock_fault_reopens_the_day_even_on_an_earlier_calendar_day():
    """A server set days ahead stamped the day: the user's day reopens at the honest now."""
    state = spent(datetime(2099, 1, 1, tzinfo=UTC))
    assert is_clock_fault(state, now=NOW)
    assert is_new_day(state, now=NOW)
    assert reset_daily_limits_if_needed(state, now=NOW) == reopened(state, NOW)
    assert next_reset_at(state, now=NOW) == MIDNIGHT


def test_the_tolerance_is_the_configs():
    """max_clock_skew_minutes sets where a lagging clock ends and a fault begins."""
    state = spent(NOW + timedelta(minutes=2))
    assert not is_clock_fault(state, now=NOW)
    assert is_clock_fault(state, now=NOW, config=with_skew(1))
    assert not is_clock_fault(state, now=NOW, config=with_skew(2))
    assert is_new_day(state, now=NOW, config=with_skew(1))
    assert reset_daily_limits_if_needed(state, now=NOW, config=with_skew(1)) == reopened(state, NOW)
    assert with_skew(1).max_clock_skew == timedelta(minutes=1)
    assert DEFAULT_CONFIG.max_clock_skew == SKEW


def test_is_clock_fault_is_false_for_a_day_behind_now():
    """A day opened in the past is never a fault, however old."""
    assert not is_clock_fault(spent(NOW - timedelta(days=400)), now=NOW)
    assert not is_clock_fault(spent(NOW - SKEW - TICK), now=NOW)


def test_next_reset_follows_a_lagging_clock_within_the_tolerance():
    """A day opened just after midnight by a server ahead resets at the *next* midnight."""
    state = spent(MIDNIGHT + timedelta(seconds=1))
    lagging = MIDNIGHT - timedelta(seconds=2)
    assert next_reset_at(state, now=lagging) == MIDNIGHT + timedelta(days=1)
    at_tolerance = spent(MIDNIGHT - timedelta(hours=1) + SKEW)
    assert next_reset_at(at_tolerance, now=MIDNIGHT - timedelta(hours=1)) == (
        MIDNIGHT + timedelta(days=1)
    )
    beyond = spent(MIDNIGHT - timedelta(hours=1) + SKEW + TICK)
    assert next_reset_at(beyond, now=MIDNIGHT - timedelta(hours=1)) == MIDNIGHT
    assert next_reset_at(spent(NOW - timedelta(days=2)), now=NOW) == MIDNIGHT


def test_next_reset_is_utc_and_follows_the_configs_boundary():
    """The next reset is an aware UTC moment at the config's local reset hour."""
    tokyo = ProgressionConfig.from_dict(
        {**DEFAULT_CONFIG.to_dict(), "reset_timezone": "Asia/Tokyo", "reset_hour": 4}
    )
    now = datetime(2026, 3, 10, 21, 0, tzinfo=timezone(timedelta(hours=9)))
    reset = next_reset_at(ProgressState(), now=now, config=tokyo)
    assert reset == datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
    assert reset.tzinfo is UTC
    assert next_reset_at(ProgressState(), now=now) == datetime(2026, 3, 11, tzinfo=UTC)


def test_a_lagging_result_resets_at_the_days_true_end():
    """An award decided by a clock behind the stored day reports the stored day's reset."""
    state = spent(MIDNIGHT + timedelta(seconds=1))
    result = award_exp_with_limits(state, "daily_chat", now=MIDNIGHT - timedelta(seconds=2))
    assert result.outcome is Outcome.ACTION_LIMIT
    assert result.resets_at == MIDNIGHT + timedelta(days=1)


def test_reset_daily_limits_opens_a_day_whatever_the_day():
    """An operator's reset zeroes today's figures at once, even mid-day or on a lagging clock."""
    state = spent(NOW)
    for now in (NOW + timedelta(minutes=5), NOW - timedelta(hours=1), MIDNIGHT):
        assert reset_daily_limits(state, now=now) == reopened(state, now)
    assert reset_daily_limits(ProgressState(exp=3), now=NOW) == ProgressState(
        exp=3, last_exp_reset_date=NOW
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda now: is_new_day(ProgressState(), now=now),
        lambda now: is_clock_fault(ProgressState(last_exp_reset_date=NOW), now=now),
        lambda now: reset_daily_limits(ProgressState(), now=now),
        lambda now: reset_daily_limits_if_needed(ProgressState(), now=now),
        lambda now: next_reset_at(ProgressState(), now=now),
        lambda now: next_reset_at(ProgressState(last_exp_reset_date=NOW), now=now),
        lambda now: exp_limits_view(ProgressState(), now=now),
    ],
)
def test_every_day_function_refuses_naive_and_unsupported_moments(call):
    """now must be an aware datetime from 1900 to 8999, whichever function takes it."""
    for bad in (NAIVE, datetime(1899, 12, 31, 23, tzinfo=UTC), "2026-03-10T12:00:00+00:00"):
        with pytest.raises(InvalidMomentError) as info:
            call(bad)
        assert info.value.field == "now"


def test_an_award_reopens_a_day_stamped_beyond_the_tolerance():
    """The award path treats a clock fault as a new day: limits and cap start over at now."""
    state = spent(NOW + SKEW + TICK)
    result = award_exp_with_limits(state, "daily_chat", now=NOW)
    assert result.outcome is Outcome.AWARDED
    assert result.state.last_exp_reset_date == NOW
    assert result.state.daily_action_counts == {"daily_chat": 1}
    assert result.state.daily_exp_gained == 20
    at_tolerance = spent(NOW + SKEW)
    limited = award_exp_with_limits(at_tolerance, "daily_chat", now=NOW)
    assert limited.outcome is Outcome.ACTION_LIMIT
    assert limited.state is at_tolerance


def test_apply_events_reopens_a_faulty_day_once_and_then_keeps_it():
    """The fold reopens at the first event of a faulty day, then counts the new day as usual."""
    state = spent(NOW + timedelta(days=2))
    events = [
        (NOW, "daily_chat"),
        (NOW + timedelta(hours=1), "daily_chat"),
        (NOW + timedelta(hours=2), "forked"),
        (MIDNIGHT, "daily_chat"),
    ]
    final, results = apply_events(state, events)
    assert [r.outcome for r in results] == [
        Outcome.AWARDED,
        Outcome.ACTION_LIMIT,
        Outcome.AWARDED,
        Outcome.AWARDED,
    ]
    assert [r.state.last_exp_reset_date for r in results] == [NOW, NOW, NOW, MIDNIGHT]
    assert results[2].state.daily_action_counts == {"daily_chat": 1, "forked": 1}
    assert final.last_exp_reset_date == MIDNIGHT
    assert final.daily_exp_gained == 20
    expected = state
    for (now, action), result in zip(events, results, strict=True):
        expected = award_exp_with_limits(expected, action, now=now).state
        assert result.state == expected


@pytest.mark.parametrize(
    ("ahead", "reopens"),
    [(SKEW, False), (SKEW + TICK, True), (timedelta(hours=1), False)],
)
def test_apply_events_draws_the_fault_line_where_the_award_path_does(ahead, reopens):
    """A day exactly at the tolerance ahead is kept by the fold, a microsecond more reopens."""
    state = spent(NOW + ahead)
    final, results = apply_events(state, [(NOW, "daily_chat"), (NOW + TICK, "daily_chat")])
    outcomes = [r.outcome for r in results]
    if reopens:
        assert outcomes == [Outcome.AWARDED, Outcome.ACTION_LIMIT]
        assert final.last_exp_reset_date == NOW
    else:
        assert outcomes == [Outcome.ACTION_LIMIT, Outcome.ACTION_LIMIT]
        assert final == state
    single = award_exp_with_limits(state, "daily_chat", now=NOW)
    assert single.outcome is outcomes[0]


def test_apply_events_uses_the_configs_tolerance():
    """The fold reads max_clock_skew_minutes from its config."""
    state = spent(NOW + timedelta(minutes=2))
    config = with_skew(1)
    _, results = apply_events(state, [(NOW, "daily_chat"), (NOW, "daily_chat")], config)
    assert [r.outcome for r in results] == [Outcome.AWARDED, Outcome.ACTION_LIMIT]
    _, results = apply_events(state, [(NOW, "daily_chat")], with_skew(2))
    assert results[0].outcome is Outcome.ACTION_LIMIT
