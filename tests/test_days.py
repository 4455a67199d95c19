"""Day boundaries in reset time zones, across daylight-saving transitions."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mikoshi_progression.core.days import (
    DayBoundary,
    is_supported_moment,
    require_aware,
    resolve_timezone,
)
from mikoshi_progression.errors import InvalidArgumentError, InvalidMomentError

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


class NoOffset(tzinfo):
    """A tzinfo that knows no offset: a moment carrying it is as naive as one without."""

    def utcoffset(self, dt):
        return None

    def dst(self, dt):
        return None

    def tzname(self, dt):
        return None


@pytest.mark.parametrize(
    ("moment", "supported"),
    [
        (datetime(1900, 1, 1, tzinfo=UTC), True),
        (datetime(1899, 12, 31, 23, 59, 59, tzinfo=UTC), False),
        (datetime(8999, 12, 31, 23, 59, 59, tzinfo=UTC), True),
        (datetime(9000, 1, 1, tzinfo=UTC), False),
    ],
)
def test_supported_years_are_1900_to_8999(moment, supported):
    """The first and last supported years are taken, the years around them refused."""
    assert is_supported_moment(moment) is supported
    if supported:
        assert require_aware(moment) is moment
    else:
        with pytest.raises(InvalidMomentError) as info:
            require_aware(moment, "last_reset")
        assert info.value.field == "last_reset"
        assert info.value.expected == "an aware datetime from year 1900 to 8999 (UTC)"
        assert str(info.value).startswith(
            "last_reset: must be an aware datetime from year 1900 to 8999 (UTC), got datetime "
        )


def test_require_aware_names_the_argument_in_every_refusal():
    """A naive moment, a moment without an offset and a non-datetime are refused by name."""
    with pytest.raises(InvalidMomentError) as info:
        require_aware(datetime(2026, 1, 2, 3, 4))
    assert str(info.value) == (
        "now: must be timezone-aware (for example datetime.now(timezone.utc)), "
        "not naive 2026-01-02T03:04:00"
    )
    assert info.value.field == "now"
    with pytest.raises(InvalidMomentError) as info:
        require_aware(datetime(2026, 1, 2, tzinfo=NoOffset()), "when")
    assert info.value.field == "when"
    assert "timezone-aware" in info.value.expected
    for value, got in [("2026-01-02", "str '2026-01-02'"), (date(2026, 1, 2), "date ")]:
        with pytest.raises(InvalidMomentError) as info:
            require_aware(value, "when")  # type: ignore[arg-type]
        assert str(info.value).startswith(
            f"when: must be an aware datetime from year 1900 to 8999 (UTC), got {got}"
        )
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)


def test_utc_names_resolve_to_the_utc_singleton():
    """UTC under any of its names is datetime.UTC itself; other names are zoneinfo zones."""
    for name in ("UTC", "Etc/UTC", "utc"):
        assert resolve_timezone(name) is UTC
    assert resolve_timezone("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("name", "got"),
    [
        ("Mars/Olympus", "str 'Mars/Olympus'"),
        ("", "str ''"),
        ("../etc", "str '../etc'"),
        (5, "int 5"),
    ],
)
def test_unknown_time_zones_are_an_invalid_argument(name, got):
    """A name zoneinfo does not know, or cannot read, is refused naming the timezone."""
    with pytest.raises(InvalidArgumentError) as info:
        resolve_timezone(name)
    assert str(info.value) == (
        f"timezone: must be an IANA time zone name such as 'UTC' or 'Asia/Tokyo', got {got}"
    )


@pytest.mark.parametrize(
    ("hour", "got"), [(-1, "int -1"), (24, "int 24"), (True, "bool True"), (1.0, "float 1.0")]
)
def test_a_reset_hour_is_an_integer_from_0_to_23(hour, got):
    """Hours outside 0..23, booleans and floats are refused by name."""
    with pytest.raises(InvalidArgumentError) as info:
        DayBoundary("UTC", hour)
    assert str(info.value) == f"hour: must be an integer from 0 to 23, got {got}"
    assert DayBoundary("UTC", 23).hour == 23
    assert DayBoundary("Asia/Tokyo", 0).hour == 0


def test_utc_midnight_days_are_utc_dates_whatever_the_offset():
    """The UTC-midnight boundary reads a +09:00 or -05:00 moment by its UTC date."""
    boundary = DayBoundary()
    tokyo = timezone(timedelta(hours=9))
    new_york = timezone(timedelta(hours=-5))
    late = datetime(2026, 3, 11, 8, 59, tzinfo=tokyo)  # 23:59 UTC on the 10th
    assert boundary.day_of(late) == date(2026, 3, 10)
    assert boundary.day_of(datetime(2026, 3, 10, 19, 0, tzinfo=new_york)) == date(2026, 3, 11)
    assert boundary.day_of(datetime(2026, 3, 10, 23, 59, tzinfo=UTC)) == date(2026, 3, 10)
    utc_day = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    assert not boundary.is_later_day(late, utc_day)
    assert not boundary.is_later_day(utc_day, late)
    assert boundary.is_later_day(late + timedelta(minutes=1), utc_day)
    assert boundary.is_later_day(datetime(2026, 3, 11, tzinfo=UTC), late)
    assert not boundary.is_later_day(late, late)


def test_days_do_not_depend_on_the_machines_time_zone(monkeypatch):
    """The day of a moment is the same on a server whose local zone is Tokyo."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        boundary = DayBoundary()
        moment = datetime(2026, 3, 10, 20, 0, tzinfo=timezone(timedelta(hours=-2)))
        assert boundary.day_of(moment) == date(2026, 3, 10)
        assert boundary.next_reset(moment) == datetime(2026, 3, 11, tzinfo=UTC)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_a_boundary_at_an_hour_moves_every_day_by_that_hour(zone):
    """With reset hour 4, 03:59 local belongs to the day before and 04:00 opens the day."""
    boundary = DayBoundary(zone, 4)
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    opening = datetime(2026, 5, 2, 4, 0, tzinfo=tz)
    assert boundary.day_of(opening) == date(2026, 5, 2)
    assert boundary.day_of(opening - ONE_MICROSECOND) == date(2026, 5, 1)
    assert boundary.is_later_day(opening, opening - ONE_MICROSECOND)
    assert not boundary.is_later_day(opening - ONE_MICROSECOND, opening - timedelta(hours=20))
    assert boundary.start_of(date(2026, 5, 2)) == opening.astimezone(UTC)


def test_the_range_is_closed_at_both_ends():
    """The first and the last supported instants are themselves supported, to the microsecond."""
    from mikoshi_progression.core.days import EARLIEST_MOMENT, LATEST_MOMENT

    for moment in (EARLIEST_MOMENT, LATEST_MOMENT):
        assert is_supported_moment(moment)
        assert require_aware(moment) is moment
    for moment in (
        EARLIEST_MOMENT - timedelta(microseconds=1),
        LATEST_MOMENT + timedelta(microseconds=1),
    ):
        assert not is_supported_moment(moment)
