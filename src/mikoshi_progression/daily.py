"""Opening a new progression day: the daily reset of the EXP cap and action counts."""

from __future__ import annotations

from datetime import datetime

from ._frozen import trusted_factory
from .config import DEFAULT_CONFIG, ProgressionConfig
from .days import require_aware
from .state import EMPTY_COUNTS, ProgressState

__all__ = [
    "is_new_day",
    "next_reset_at",
    "reset_daily_limits",
    "reset_daily_limits_if_needed",
]

_build_state = trusted_factory(ProgressState)


def is_new_day(
    state: ProgressState, *, now: datetime, config: ProgressionConfig = DEFAULT_CONFIG
) -> bool:
    """Whether ``now`` lies on a later progression day than the state's last reset.

    A ``now`` on an *earlier* day (a server whose clock lags another's) is not a
    new day: days only move forward, so skew can never reopen a spent day.
    """
    return _opens_day(state, require_aware(now), config)


def reset_daily_limits_if_needed(
    state: ProgressState, *, now: datetime, config: ProgressionConfig = DEFAULT_CONFIG
) -> ProgressState:
    """Open a new day if one has begun: zero the EXP gained and every action count.

    Returns ``state`` itself when the day is still current, otherwise a new state
    whose ``last_exp_reset_date`` is ``now``. EXP, level and ``last_chat_date``
    are kept.
    """
    return open_day(state, require_aware(now), config)


def reset_daily_limits(state: ProgressState, *, now: datetime) -> ProgressState:
    """Open a new day at ``now`` unconditionally (an operator's manual reset).

    Zeroes the EXP gained and every action count; keeps EXP, level and
    ``last_chat_date``.
    """
    return _build_state(
        state.exp, state.level, 0, require_aware(now), EMPTY_COUNTS, state.last_chat_date
    )


def open_day(state: ProgressState, now: datetime, config: ProgressionConfig) -> ProgressState:
    """:func:`reset_daily_limits_if_needed` for an already validated ``now`` (the hot path)."""
    if _opens_day(state, now, config):
        return _build_state(state.exp, state.level, 0, now, EMPTY_COUNTS, state.last_chat_date)
    return state


def _opens_day(state: ProgressState, now: datetime, config: ProgressionConfig) -> bool:
    last = state.last_exp_reset_date
    return last is None or config._is_later_day(now, last)


def next_reset_at(
    state: ProgressState, *, now: datetime, config: ProgressionConfig = DEFAULT_CONFIG
) -> datetime:
    """When the user's limits next reset, as an aware UTC datetime."""
    last = state.last_exp_reset_date
    moment = now if last is None or now >= last else last
    return config.day_boundary.next_reset(moment)
