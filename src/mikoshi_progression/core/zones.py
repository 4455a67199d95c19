"""Per-user days: each user's day follows the boundary of their own time zone.

A user whose state carries a ``timezone`` has days, limits, caps, streaks and
``resets_at`` at ``reset_hour`` o'clock in that zone (DST-safe: the boundary is a
local hour, converted with the zone's rules of that date); a user without one follows
the config's ``reset_timezone``.

Changing zones must not be a way to earn more. :func:`change_timezone` therefore
never ends the current day sooner than the old zone would have: the day lasts until
the first boundary of the new zone at or after the old zone's, and the state remembers
that moment (``day_extended_until``). The streak's last day is carried over by the
number of days it lay behind, so a change never skips a streak day nor adds one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from ..errors import InvalidArgumentError
from ._frozen import trusted_factory
from .config import DEFAULT_CONFIG, ProgressionConfig
from .days import DayBoundary, require_aware, resolve_timezone
from .state import EMPTY_COUNTS, LEVER_FIELDS, NO_LEVERS, LeverState, ProgressState

__all__ = [
    "boundary_for",
    "change_timezone",
    "current_day",
    "day_ends_at",
    "opens_day",
    "user_boundary",
    "with_levers",
]

_build_state = trusted_factory(ProgressState)
_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=1024)
def _boundary(zone: str, hour: int) -> DayBoundary:
    return DayBoundary(zone, hour)


def user_boundary(zone: str, config: ProgressionConfig) -> DayBoundary:
    """The day boundary of a user living in ``zone`` under ``config`` (cached)."""
    return _boundary(zone, config.reset_hour)


def boundary_for(state: ProgressState, config: ProgressionConfig) -> DayBoundary:
    """The day boundary ``state``'s user lives by: their zone's, else the config's."""
    zone = state.timezone
    if zone is None:
        return config.day_boundary
    return _boundary(zone, config.reset_hour)


def opens_day(state: ProgressState, now: datetime, config: ProgressionConfig) -> bool:
    """Whether a new day opens at ``now`` (validated) for the user in ``state``.

    As for every user (:func:`~mikoshi_progression.is_new_day`): a later day opens one;
    an earlier one (a lagging clock) does not; a day stamped further ahead of ``now``
    than ``config.max_clock_skew`` is a clock fault and reopens. A day lengthened by a
    time-zone change opens its successor at ``day_extended_until``, not before.
    """
    last = state.last_exp_reset_date
    if last is None:
        return True
    if now < last and last - now > config._max_skew:
        return True
    extended = state.day_extended_until
    if extended is not None:
        return now >= extended
    return boundary_for(state, config)._is_later_day(now, last)


def open_day(state: ProgressState, now: datetime, config: ProgressionConfig) -> ProgressState:
    """``state`` with a new day opened at ``now`` if one begins (counts and gained zeroed)."""
    if not opens_day(state, now, config):
        return state
    return reopened(state, now)


def reopened(state: ProgressState, now: datetime) -> ProgressState:
    """``state`` with a day opened at ``now``: counts and gained zeroed, no extension."""
    return _build_state(
        state.exp,
        state.level,
        0,
        now,
        EMPTY_COUNTS,
        state.last_chat_date,
        state.levers
        if state.levers.day_extended_until is None
        else with_levers(state.levers, day_extended_until=None),
    )


_build_levers = trusted_factory(LeverState)


def with_levers(levers: LeverState, **changes: Any) -> LeverState:
    """``levers`` with ``changes`` (values the core computed): :data:`NO_LEVERS` again when
    nothing differs from a new user's, so such a state takes the seed's path."""
    values = {name: getattr(levers, name) for name in LEVER_FIELDS}
    values.update(changes)
    built = _build_levers(*values.values())
    return NO_LEVERS if built == NO_LEVERS else built


def day_ends_at(state: ProgressState, config: ProgressionConfig) -> datetime:
    """When the day opened in ``state`` ends (aware UTC): its extension, else the next boundary.

    ``state`` must have a day opened (``last_exp_reset_date`` set).
    """
    extended = state.day_extended_until
    if extended is not None:
        return extended
    last = state.last_exp_reset_date
    assert last is not None, "a day must be opened first"
    return boundary_for(state, config).next_reset(last)


def current_day(state: ProgressState, config: ProgressionConfig) -> date:
    """The local date of the day opened in ``state``, in the user's zone.

    A day lengthened by a time-zone change is the new zone's day that ends at
    ``day_extended_until``. ``state`` must have a day opened.
    """
    boundary = boundary_for(state, config)
    extended = state.day_extended_until
    if extended is not None:
        return boundary.day_of(extended) - _ONE_DAY
    last = state.last_exp_reset_date
    assert last is not None, "a day must be opened first"
    return boundary.day_of(last)


def first_boundary_from(boundary: DayBoundary, moment: datetime) -> datetime:
    """The first boundary of ``boundary`` at or after ``moment`` (aware UTC)."""
    start = boundary.start_of(boundary.day_of(moment))
    return start if start == moment else boundary.next_reset(moment)


def change_timezone(
    state: ProgressState,
    timezone: str | None,
    *,
    now: datetime,
    config: ProgressionConfig = DEFAULT_CONFIG,
) -> ProgressState:
    """The user moves to ``timezone`` (an IANA name; ``None``: the config's zone) at ``now``.

    The day in force at ``now`` (opened first if one begins) lasts until the first
    boundary of the new zone at or after the old zone's boundary, so no change ever
    opens a day sooner than staying put would have. The streak's last day keeps its
    distance in days from the current day, so a change neither breaks nor extends a
    streak. Changing to the zone the user already has returns ``state`` itself.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    >>> moved = change_timezone(ProgressState(), "Asia/Tokyo", now=now)
    >>> moved.timezone, moved.day_extended_until.isoformat()
    ('Asia/Tokyo', '2026-03-03T15:00:00+00:00')

    (Midnight UTC would have ended the day at 2026-03-03T00:00Z; Tokyo's next midnight
    after it is 15:00Z.)

    Raises:
        InvalidArgumentError: ``timezone`` is not an IANA time zone name nor ``None``.
        InvalidMomentError: ``now`` is naive or outside the supported years.
    """
    require_aware(now)
    if timezone is not None:
        if not isinstance(timezone, str):
            raise InvalidArgumentError(
                "timezone", "an IANA time zone name such as 'Asia/Tokyo', or None", timezone
            )
        resolve_timezone(timezone)
    if timezone == state.timezone:
        return state
    today = open_day(state, now, config)
    old_end = day_ends_at(today, config)
    old_day = current_day(today, config)
    new_boundary = (
        config.day_boundary if timezone is None else _boundary(timezone, config.reset_hour)
    )
    assert today.last_exp_reset_date is not None
    natural_end = new_boundary.next_reset(today.last_exp_reset_date)
    end = first_boundary_from(new_boundary, old_end)
    extended = None if end == natural_end else end
    new_day = new_boundary.day_of(end) - _ONE_DAY
    last_streak = today.last_streak_day
    if last_streak is not None:
        last_streak = new_day - (old_day - last_streak)
    return _build_state(
        today.exp,
        today.level,
        today.daily_exp_gained,
        today.last_exp_reset_date,
        today.daily_action_counts,
        today.last_chat_date,
        with_levers(
            today.levers,
            timezone=timezone,
            day_extended_until=extended,
            last_streak_day=last_streak,
        ),
    )
