"""Streaks: consecutive days on which the user performed the streak action.

The streak action (``daily_chat`` by default), awarded on the day after the streak's
last day, extends the streak by one; on the same day it changes nothing. A missed day
breaks the streak unless the user holds a freeze: freezes are earned every
``freeze_every`` streak days (up to ``max_freezes``) and each covers one missed day,
consumed automatically when the streak action comes back. A covered day keeps the
streak but does not lengthen it, so a streak never grows by more than one a day.

A grace period (``grace_minutes``) lets the first streak action in the first minutes of
a day count for the day before when that day was missed: the night owl who chats at
00:20 keeps the streak. Either way a day is counted at most once.

Streak bonuses pay EXP when the streak reaches a length (``bonuses``: length -> EXP);
cap-exempt by default, else cut by the room left under the day's cap.

Everything is decided on the user's days (their time zone, see
:mod:`~mikoshi_progression.core.zones`), lazily: a missed day is settled at the
next streak action, as the daily reset is at the next award.
:func:`streak_view` shows the streak as of any moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

from ..errors import ConfigError
from ._checks import is_int as _is_int
from ._checks import key_problems
from .days import DayBoundary
from .events import EventKind, ProgressionEvent, event

__all__ = [
    "MAX_GRACE_MINUTES",
    "StreakRules",
    "StreakStep",
    "advance_streak",
    "streak_problems",
]

MAX_GRACE_MINUTES = 12 * 60
"""The longest grace period (12 h): a grace must stay shorter than a day."""
_KEYS = ("action", "grace_minutes", "freeze_every", "max_freezes", "bonuses", "bonus_cap_exempt")
_ONE_DAY = timedelta(days=1)


def _no_bonuses() -> Mapping[int, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class StreakRules:
    """How streaks are kept.

    Attributes:
        action: The action whose award extends the streak (default ``"daily_chat"``).
        grace_minutes: Minutes after a day's end during which a first streak action
            still counts for that day if it was missed (0 to 720; default 0).
        freeze_every: A freeze is earned every this many streak days (0: never).
        max_freezes: The most freezes a user can hold.
        bonuses: Streak length -> bonus EXP paid when the streak reaches it.
        bonus_cap_exempt: Whether streak bonuses pass the daily cap (default true);
            if false, a bonus is cut by the room left under the cap.
    """

    action: str = "daily_chat"
    grace_minutes: int = 0
    freeze_every: int = 0
    max_freezes: int = 0
    bonuses: Mapping[int, int] = field(default_factory=_no_bonuses)
    bonus_cap_exempt: bool = True
    grace: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = streak_problems(self._raw(), None)
        if problems:
            raise ConfigError(problems)
        bonuses = {int(length): exp for length, exp in self.bonuses.items()}
        object.__setattr__(self, "bonuses", MappingProxyType(dict(sorted(bonuses.items()))))
        object.__setattr__(self, "grace", timedelta(minutes=self.grace_minutes))

    def _raw(self) -> dict[str, Any]:
        bonuses: Any = self.bonuses
        return {
            "action": self.action,
            "grace_minutes": self.grace_minutes,
            "freeze_every": self.freeze_every,
            "max_freezes": self.max_freezes,
            "bonuses": dict(bonuses) if isinstance(bonuses, Mapping) else bonuses,
            "bonus_cap_exempt": self.bonus_cap_exempt,
        }

    def to_dict(self) -> dict[str, Any]:
        data = self._raw()
        data["bonuses"] = {str(length): exp for length, exp in self.bonuses.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreakRules:
        problems = streak_problems(data, None)
        if problems:
            raise ConfigError(problems)
        return cls(
            action=data.get("action", "daily_chat"),
            grace_minutes=data.get("grace_minutes", 0),
            freeze_every=data.get("freeze_every", 0),
            max_freezes=data.get("max_freezes", 0),
            bonuses={int(k): v for k, v in data.get("bonuses", {}).items()},
            bonus_cap_exempt=data.get("bonus_cap_exempt", True),
        )


def streak_problems(data: object, actions: object) -> list[str]:
    """Every problem with a config's ``streak`` section (``actions``: the config's
    actions, to check the streak action's name; ``None`` to skip that check)."""
    if not isinstance(data, Mapping):
        return [f"streak: must be a table ({', '.join(_KEYS)}), got {data!r}"]
    problems = key_problems(data, _KEYS, (), "streak.")
    action = data.get("action", "daily_chat")
    if not isinstance(action, str) or not action.strip():
        problems.append(f"streak.action: must be an action name, got {action!r}")
    elif isinstance(actions, Mapping) and action not in actions:
        problems.append(f"streak.action: no such action {action!r}")
    grace = data.get("grace_minutes", 0)
    if not (_is_int(grace) and 0 <= grace <= MAX_GRACE_MINUTES):
        problems.append(
            f"streak.grace_minutes: must be an integer from 0 to {MAX_GRACE_MINUTES}, got {grace!r}"
        )
    every = data.get("freeze_every", 0)
    if not (_is_int(every) and 0 <= every <= 10_000):
        problems.append(
            f"streak.freeze_every: must be an integer from 0 (no freezes) to 10000, got {every!r}"
        )
    most = data.get("max_freezes", 0)
    if not (_is_int(most) and 0 <= most <= 1_000):
        problems.append(f"streak.max_freezes: must be an integer from 0 to 1000, got {most!r}")
    elif _is_int(every) and (every == 0) != (most == 0):
        problems.append(
            "streak.max_freezes: freezes need both freeze_every and max_freezes above 0 "
            f"(got freeze_every={every!r}, max_freezes={most!r})"
        )
    bonuses = data.get("bonuses", {})
    if not isinstance(bonuses, Mapping):
        problems.append(f"streak.bonuses: must be a table of streak length -> EXP, got {bonuses!r}")
    else:
        for length, exp in bonuses.items():
            where = f"streak.bonuses.{length}"
            number = length if _is_int(length) else _digits(length)
            if number is None or number < 1:
                problems.append(
                    f'{where}: keys must be streak lengths of at least 1 ("7", "30"), '
                    f"got {length!r}"
                )
            if not (_is_int(exp) and 0 <= exp <= 2**63 - 1):
                problems.append(f"{where}: must be a non-negative integer (EXP), got {exp!r}")
    exempt = data.get("bonus_cap_exempt", True)
    if not isinstance(exempt, bool):
        problems.append(f"streak.bonus_cap_exempt: must be true or false, got {exempt!r}")
    return problems


def _digits(value: object) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and str(int(value)) == value:
        return int(value)
    return None


class StreakStep(NamedTuple):
    """What one streak action did to the streak (see :func:`advance_streak`).

    :func:`advance_streak` returns a plain tuple in this order (building a named tuple
    costs more than the rest of the step): ``StreakStep(*step)`` names its fields.
    """

    streak: int
    best_streak: int
    last_streak_day: date | None
    streak_freezes: int
    extended: bool
    bonus_exp: int
    """The bonus the rules pay for the new length (before any cut by the daily cap)."""
    events: tuple[ProgressionEvent, ...]
    """``streak_frozen`` or ``streak_broken``, if missed days were settled."""


def advance_streak(
    rules: StreakRules,
    streak: int,
    best_streak: int,
    last_streak_day: date | None,
    streak_freezes: int,
    today: date,
    now: datetime,
    boundary: DayBoundary,
) -> tuple[int, int, date | None, int, bool, int, tuple[ProgressionEvent, ...]]:
    """The streak after the streak action was awarded at ``now`` on the user's ``today``
    (their day by ``boundary``, which says when it began for the grace period).

    ``events`` holds ``streak_frozen`` (missed days covered) or ``streak_broken``; the
    caller reports ``streak_extended`` with the bonus it granted.
    """
    events: list[ProgressionEvent] = []
    credited = today
    freezes = streak_freezes
    if last_streak_day is None:
        length = 1
    else:
        gap = (today - last_streak_day).days
        if gap <= 0:
            # Already counted today (or a lagging clock's earlier day): nothing changes.
            return streak, best_streak, last_streak_day, streak_freezes, False, 0, ()
        if gap == 2 and rules.grace and now < boundary.start_of(today) + rules.grace:
            gap = 1  # within the grace after the missed day: it counts for that day
            credited = today - _ONE_DAY
        missed = gap - 1
        if missed == 0:
            length = streak + 1
        elif missed <= freezes:
            freezes -= missed
            events.append(event(EventKind.STREAK_FROZEN, days=missed, freezes_left=freezes))
            length = streak + 1
        else:
            if streak:
                events.append(event(EventKind.STREAK_BROKEN, streak=streak))
            length = 1
    if rules.freeze_every and length % rules.freeze_every == 0 and freezes < rules.max_freezes:
        freezes += 1
    bonus = rules.bonuses.get(length, 0)
    best = max(best_streak, length)
    return length, best, credited, freezes, True, bonus, tuple(events)
