"""Opening a new progression day: the daily reset of the EXP cap and action counts."""

from __future__ import annotations

from datetime import datetime

from .config import DEFAULT_CONFIG, ProgressionConfig
from .days import require_aware
from .state import ProgressState
from .zones import boundary_for, day_ends_at, open_day, opens_day, reopened

__all__ = [
    "is_clock_fault",
    "is_new_day",
    "next_reset_at",
    "reset_daily_limits",
    "reset_daily_limits_if_needed",
]


def is_new_day(
    state: ProgressState, *, now: datetime, config: ProgressionConfig = DEFAULT_CONFIG
) -> bool:
    """Whether a new progression day opens at ``now`` for a user in ``state``.

    It does when ``now`` lies on a later day than the state's last reset. A ``now``
    on an *earlier* day (a server whose clock lags another's) is not a new day:
    days only move forward, so skew can never reopen a spent day. Unless the last
    reset lies more than ``config.max_clock_skew`` ahead of ``now``: that is a
    clock fault (see :func:`is_clock_fault`), and the day reopens at ``now``.
    """
    return opens_day(state, require_aware(now), config)


def is_clock_fault(
    state: ProgressState, *, now: datetime, config: ProgressionConfig = DEFAULT_CONFIG
) -> bool:
    """Whether the state's day was opened more than ``config.max_clock_skew`` after ``now``.

    Such a day was stamped by a clock that ran ahead (a server set to 2099). Trusting
    it would freeze the user's day until real time caught up; instead the day reopens
    at ``now``, and the service records the reopening as a clock fault in the ledger.
    """
    now = require_aware(now)
    last = state.last_exp_reset_date
    return last is not None and last - now > config._max_skew


def reset_daily_limits_if_needed(
    state: ProgressState, *, now: datetime, config: ProgressionConfig = DEFAULT_CONFIG
) -> ProgressState:
    """Open a new day if one has begun: zero the EXP gained and every action count.

    Returns ``state`` itself when the day is still current, otherwise a new state
    whose ``last_exp_reset_date`` is ``now``. EXP, level and ``last_chat_date``
    are kept. A day stamped further ahead of ``now`` than ``config.max_clock_skew``
    reopens too (:func:`is_clock_fault`).
    """
    return open_day(state, require_aware(now), config)


def reset_daily_limits(state: ProgressState, *, now: datetime) -> ProgressState:
    """Open a new day at ``now`` unconditionally (an operator's manual reset).

    Zeroes the EXP gained and every action count; keeps EXP, level, ``last_chat_date``
    and the streak. The new day runs to the user's next day boundary.
    """
    return reopened(state, require_aware(now))


def next_reset_at(
    state: ProgressState, *, now: datetime, config: ProgressionConfig = DEFAULT_CONFIG
) -> datetime:
    """When the user's limits next reset, as an aware UTC datetime.

    The first day boundary after ``now`` (in the user's time zone), or the end of the
    stored day if that is still in force: it lies ahead of ``now`` (a lagging clock) by
    no more than ``config.max_clock_skew``, or a time-zone change lengthened it.
    """
    require_aware(now)
    if opens_day(state, now, config):
        return boundary_for(state, config).next_reset(now)
    return day_ends_at(state, config)  # the stored day rules, also for a lagging clock
