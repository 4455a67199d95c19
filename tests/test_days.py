"""Day boundaries in reset time zones, across daylight-saving transitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mikoshi_progression.days import DayBoundary

# Zones with a spring gap and an autumn overlap, one with a 30-minute shift
# (Lord Howe), one on the southern calendar, and one without DST.
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Tokyo",
]
ONE_MICROSECOND = timedelta(microseconds=1)


@given(
    zone=st.sampled_from(ZONES),
    hour=st.integers(0, 23),
    day=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
)
def test_start_of_is_the_first_moment_of_its_day(zone, hour, day):
    """Whatever the hour and the transitions, a day begins exactly where the last one ends."""
    boundary = DayBoundary(zone, hour)
    start = boundary.start_of(day)
    assert start.tzinfo is UTC
    assert boundary.day_of(start) == day
    assert boundary.day_of(start - ONE_MICROSECOND) == day - timedelta(days=1)
    assert boundary.next_reset(start - ONE_MICROSECOND) == start
    assert boundary.next_reset(start) == boundary.start_of(day + timedelta(days=1))


@pytest.mark.parametrize(
    ("zone", "hour", "day", "opens_utc", "hours_long"),
    [
        # 02:00 does not exist in New York on 8 March 2026: the day opens at the jump.
        ("America/New_York", 2, date(2026, 3, 8), datetime(2026, 3, 8, 7, tzinfo=UTC), 23),
        # 01:00 happens twice on 1 November 2026: the day opens at the first one.
        ("America/New_York", 1, date(2026, 11, 1), datetime(2026, 11, 1, 5, tzinfo=UTC), 25),
        ("Europe/London", 1, date(2026, 3, 29), datetime(2026, 3, 29, 1, tzinfo=UTC), 23),
    ],
)
def test_transition_days(zone, hour, day, opens_utc, hours_long):
    """On a transition day the reset stays at the local hour: the day is 23 or 25 h long."""
    boundary = DayBoundary(zone, hour)
    assert boundary.start_of(day) == opens_utc
    length = boundary.start_of(day + timedelta(days=1)) - boundary.start_of(day)
    assert length == timedelta(hours=hours_long)
