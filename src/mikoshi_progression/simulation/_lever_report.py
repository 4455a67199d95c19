"""The levers in the report: streaks kept, milestones unlocked, and the boost windows' days."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..core.boosts import Boost, multiplier_text
from ..core.config import ProgressionConfig
from ..core.milestones import Milestone
from ._stats import nearest_rank, summary

__all__ = [
    "BoostDays",
    "MilestoneReach",
    "StreakReport",
    "boost_days",
    "day_position",
    "streak_lengths",
]

_DEFAULT_LENGTHS = (7, 30)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class StreakReport:
    """How an archetype's players kept their streaks.

    A missed day is settled when the player next performs the streak action, as the
    rules settle it: a streak that lapsed at the end of the run counts no break.

    Attributes:
        action: The streak action.
        best: Every player's best streak, sorted.
        freezes_used: Missed days that freezes covered, all players together.
        breaks: Streaks broken, all players together.
        refused_by_cap: Streak actions the daily cap refused, all players together: the
            rules count such a day as missed (a streak action that is not cap-exempt
            can lose a streak to a player who earned a lot that day).
        reached: Streak length -> players whose best streak reached it, for each length
            the config pays a bonus or a milestone for (7 and 30 if none).
        bonuses: Streak length -> times a streak reached it with a bonus due, for each
            length the config pays a bonus for.
    """

    action: str
    best: tuple[int, ...] = field(repr=False)
    freezes_used: int
    breaks: int
    refused_by_cap: int
    reached: Mapping[int, int]
    bonuses: Mapping[int, int]

    def best_summary(self) -> dict[str, float | int | None]:
        """Mean, min, 10th/25th/50th/75th/90th percentile and max of the best streaks."""
        return summary(self.best)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "action": self.action,
            "best_streak": self.best_summary(),
            "reached": {str(length): n for length, n in self.reached.items()},
            "freezes_used": self.freezes_used,
            "breaks": self.breaks,
            "refused_by_cap": self.refused_by_cap,
            "bonuses": {str(length): n for length, n in self.bonuses.items()},
        }


def streak_lengths(config: ProgressionConfig) -> tuple[int, ...]:
    """The streak lengths a report follows: those the config pays a bonus or a milestone
    for, else 7 and 30 days."""
    lengths = {m.threshold for m in config.milestones if m.trigger == "streak"}
    if config.streak is not None:
        lengths.update(config.streak.bonuses)
    return tuple(sorted(lengths)) or _DEFAULT_LENGTHS


@dataclass(frozen=True, slots=True)
class MilestoneReach:
    """How many of an archetype's players unlocked one milestone, and on which day.

    Attributes:
        milestone: The milestone (the config's).
        players: The archetype's players.
        days: The day each player who unlocked it did (day 1 is the first), sorted.
    """

    milestone: Milestone
    players: int
    days: tuple[int, ...] = field(repr=False)

    @property
    def unlocked(self) -> int:
        """Players who unlocked it."""
        return len(self.days)

    @property
    def share(self) -> float:
        """The share of the players who unlocked it (0.0 without players)."""
        return self.unlocked / self.players if self.players else 0.0

    @property
    def median_day(self) -> int | None:
        """The median day of unlock among the players who unlocked it (``None``: nobody)."""
        median: int | None = nearest_rank(self.days, 50)
        return median

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "name": self.milestone.name,
            "unlocked": self.unlocked,
            "share": round(self.share, 6),
            "median_day": self.median_day,
            "bonus_exp": self.milestone.bonus_exp,
        }


@dataclass(frozen=True, slots=True)
class BoostDays:
    """The simulated days a boost window falls on, on the config's days.

    Attributes:
        boost: The window (the config's).
        first_day: The first simulated day it overlaps (day 1 is the first), or
            ``None`` if it misses the run.
        last_day: The last simulated day it overlaps, or ``None``.
    """

    boost: Boost
    first_day: int | None
    last_day: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: the window's own keys and its days."""
        return {**self.boost.to_dict(), "first_day": self.first_day, "last_day": self.last_day}

    @property
    def label(self) -> str:
        """The name and multiplier, as the report shows them: ``double_xp x2``."""
        return f"{self.boost.name} x{multiplier_text(self.boost.multiplier)}"


def boost_days(config: ProgressionConfig, start: date, days: int) -> tuple[BoostDays, ...]:
    """Each of the config's boost windows with the simulated days it overlaps.

    Days are the config's (its ``reset_timezone`` and hour); a player in another time
    zone lives the same window on days shifted by their offset.
    """
    if config.boosts is None:
        return ()
    boundary = config.day_boundary
    found = []
    for boost in config.boosts.windows:
        first = (boundary.day_of(boost.starts) - start).days + 1
        last = (boundary.day_of(boost.ends - _MICROSECOND) - start).days + 1
        if last < 1 or first > days:
            found.append(BoostDays(boost, None, None))
        else:
            found.append(BoostDays(boost, max(first, 1), min(last, days)))
    return tuple(found)


def day_position(config: ProgressionConfig, start: date, moment: datetime) -> float:
    """Where ``moment`` falls on the report's day axis: 0 at the start of day 1, ``d``
    at the end of day ``d`` (the config's days, each 23 to 25 hours long)."""
    boundary = config.day_boundary
    day = boundary.day_of(moment)
    begins = boundary.start_of(day)
    length = boundary.start_of(day + timedelta(days=1)) - begins
    return (day - start).days + (moment - begins) / length
