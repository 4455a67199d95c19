"""The event generator: one player's attempts, day by day, drawn from their archetype.

Each action's count of a day is drawn (a chance, or a Poisson mean), the day's
attempts are spread over it and merged, and each is stamped with a moment inside the
player's day (their time zone's, else the config's), so that
:func:`~mikoshi_progression.apply_events` folds them day by day. Only ``random()`` is
drawn from, so a seeded stream reproduces on any platform.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from itertools import pairwise
from operator import itemgetter

from ..core.config import ProgressionConfig
from ..core.days import DayBoundary
from ._archetypes import Archetype, streak_action

__all__ = ["Behaviour", "Calendar", "ClockCalendar", "DayPlan"]

# Calendar stamps attempts one second apart from the day's start; a day is at least
# 23 hours long (daylight saving), which bounds attempts per player-day.
_MAX_ATTEMPTS_PER_DAY = 23 * 3600
_MICROSECOND = timedelta(microseconds=1)


_INVERSION_BELOW = 30  # Poisson means sampled by inverting a table; PTRS above

_Random = Callable[[], float]
_Sampler = Callable[[_Random], int]


def _poisson_sampler(mean: float) -> _Sampler:
    """A Poisson(``mean``) sampler over ``random()``: inversion below 30, PTRS above.

    Inversion looks one uniform draw up in a precomputed cumulative table (one
    ``bisect``); PTRS is Hörmann's transformed rejection, as in NumPy, with O(1)
    draws for any mean. Both use only ``random()``, so a seeded stream
    reproduces exactly on any platform.
    """
    if mean <= 0:
        return lambda random: 0
    if mean < _INVERSION_BELOW:
        cdf = _poisson_cdf(mean)
        return lambda random: bisect_left(cdf, random())
    log_mean = math.log(mean)
    b = 0.931 + 2.53 * math.sqrt(mean)
    a = -0.059 + 0.02483 * b
    log_inv_alpha = math.log(1.1239 + 1.1328 / (b - 3.4))
    vr = 0.9277 - 3.6224 / (b - 2)
    lgamma = math.lgamma
    log = math.log

    def ptrs(random: _Random) -> int:
        while True:
            u = random() - 0.5
            v = random()
            us = 0.5 - abs(u)
            k = math.floor((2 * a / us + b) * u + mean + 0.43)
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if v > 0 and (log(v) + log_inv_alpha - log(a / (us * us) + b)) <= (
                -mean + k * log_mean - lgamma(k + 1)
            ):
                return k

    return ptrs


def _poisson_cdf(mean: float) -> list[float]:
    """P(X <= k) for k = 0, 1, ... until the tail is below double precision."""
    term = total = math.exp(-mean)
    cdf = [total]
    k = 0
    while total < 1.0 and (k < mean or term > 1e-17):
        k += 1
        term = term * mean / k
        total += term
        cdf.append(total)
    return cdf


# One attempt on a day's timeline: (where in the day, 0..1; the action's rank in
# the config, to break ties; the action). Sorting a day's entries orders its attempts.
_Entry = tuple[float, int, str]


class _Spread:
    """An action's attempts of one day spread evenly over it, cached by count."""

    __slots__ = ("_action", "_by_count", "_rank")

    def __init__(self, rank: int, action: str) -> None:
        self._rank = rank
        self._action = action
        self._by_count: dict[int, list[_Entry]] = {}

    def entries(self, count: int) -> list[_Entry]:
        entries = self._by_count.get(count)
        if entries is None:
            entries = [((j + 0.5) / count, self._rank, self._action) for j in range(count)]
            self._by_count[count] = entries
        return entries


_Stamped = Iterable[tuple[datetime, str]]


class Calendar:
    """Stamps a day's attempts at its start, then one second apart.

    Without levers the rules see only an attempt's day and its order in the day, so
    this is all they need, and it is the cheapest: the moments of each day are made
    once and shared by every player. ``by_day[d]`` holds at least as many moments as
    any day ``d`` asked for so far; :meth:`grow` makes room for more.
    """

    __slots__ = ("_boundary", "_start", "by_day")

    def __init__(self, boundary: DayBoundary, start: date, days: int) -> None:
        self._boundary = boundary
        self._start = start
        self.by_day: list[list[datetime]] = [[] for _ in range(days)]

    def stamp(self, day: int, timeline: list[_Entry]) -> _Stamped:
        """``(moment, action)`` for each entry of day ``day``'s sorted ``timeline``."""
        moments = self.by_day[day]
        if len(moments) < len(timeline):
            moments = self.grow(day, len(timeline))
        return zip(moments, map(_ACTION, timeline), strict=False)

    def grow(self, day: int, count: int) -> list[datetime]:
        if count > _MAX_ATTEMPTS_PER_DAY:
            raise ValueError(_too_many(count))
        size = min(max(count, 64, 2 * len(self.by_day[day])), _MAX_ATTEMPTS_PER_DAY)
        begin = self._boundary.start_of(self._start + timedelta(days=day))
        second = timedelta(seconds=1)
        moments = [begin + second * i for i in range(size)]
        self.by_day[day] = moments
        return moments


_ACTION = itemgetter(2)


def _day_drawer(
    chances: list[float], repeated: list[tuple[list[float] | None, _Sampler]]
) -> Callable[[_Random], tuple[int, ...]]:
    """A function drawing what a played day does: whether each once-action is attempted
    (``random() < chance``, in order), then each repeated action's count (a table's
    inversion, else its sampler), as one tuple.

    The same draws in the same order as a loop over the actions, written out as one
    expression: a day is drawn millions of times, and a loop's steps cost more than
    the draws. Only names are put in the source; the values are bound as defaults.
    """
    names: dict[str, object] = {"bisect_left": bisect_left}
    params = ["draw"]
    parts = []
    for i, chance in enumerate(chances):
        names[f"c{i}"] = chance
        params.append(f"c{i}=c{i}")
        parts.append(f"draw() < c{i}")
    for i, (cdf, sample) in enumerate(repeated):
        if cdf is not None:
            names[f"t{i}"] = cdf
            params.append(f"t{i}=t{i}")
            parts.append(f"bisect_left(t{i}, draw())")
        else:
            names[f"s{i}"] = sample
            params.append(f"s{i}=s{i}")
            parts.append(f"s{i}(draw)")
    body = f"({', '.join(parts)},)" if parts else "()"
    exec(f"def drawn({', '.join(params)}):\n    return {body}\n", names)
    drawn: Callable[[_Random], tuple[int, ...]] = names["drawn"]  # type: ignore[assignment]
    return drawn


def _too_many(count: int) -> str:
    return (
        f"{count} attempts in one player-day: at most {_MAX_ATTEMPTS_PER_DAY} "
        "can be simulated (lower the archetype's means)"
    )


class ClockCalendar:
    """Stamps each attempt at its place in its day: the day's start plus that fraction
    of the day's length (23 to 25 hours where the clocks change).

    Boosts (windows of real time) and a streak's grace (the first minutes of a day)
    depend on when in the day an attempt falls, so a config with levers is simulated
    with these moments.
    """

    __slots__ = ("_lasts", "_lengths", "_starts")

    def __init__(self, boundary: DayBoundary, start: date, days: int) -> None:
        bounds = [boundary.start_of(start + timedelta(days=day)) for day in range(days + 1)]
        self._starts = bounds[:-1]
        self._lengths = [end - begin for begin, end in pairwise(bounds)]
        # A position just below 1 may round up to the next day's start: keep it inside.
        self._lasts = [length - _MICROSECOND for length in self._lengths]

    def stamp(self, day: int, timeline: list[_Entry]) -> _Stamped:
        """``(moment, action)`` for each entry of day ``day``'s sorted ``timeline``."""
        begin, length, last = self._starts[day], self._lengths[day], self._lasts[day]
        return [(begin + min(length * position, last), action) for position, _, action in timeline]


# One day's attempts as the day fold takes them: (the action names in order, their
# nominal EXP). Days of the same counts share one plan.
DayPlan = tuple[tuple[str, ...], int]
_NO_PLAN: DayPlan = ((), 0)
# Attempts of the distinct days remembered per behaviour (about 16 bytes each), all
# forgotten at once past it: days of many attempts are seldom drawn twice anyway.
_PLANS_KEPT = 1 << 21


class Behaviour:
    """An archetype compiled against a config: draws one player's attempts, day by day."""

    __slots__ = ("_active", "_drawn", "_habit", "_kept", "_once", "_plans", "_repeated")

    def __init__(self, archetype: Archetype, config: ProgressionConfig):
        rewards = {name: rule.exp for name, rule in config.actions.items()}
        rank = {name: i for i, name in enumerate(config.actions)}
        self._once: list[tuple[_Entry, int, float]] = []
        # (spread, reward, sampler, the sampler's cumulative table if it inverts one)
        self._repeated: list[
            tuple[Callable[[int], list[_Entry]], int, _Sampler, list[float] | None]
        ] = []
        for action, rate in archetype.actions.items():
            if rate.chance is not None:
                if rate.chance > 0:
                    self._once.append(((0.5, rank[action], action), rewards[action], rate.chance))
            elif rate.mean:
                spread = _Spread(rank[action], action).entries
                cdf = _poisson_cdf(rate.mean) if rate.mean < _INVERSION_BELOW else None
                sampler = _poisson_sampler(rate.mean)
                self._repeated.append((spread, rewards[action], sampler, cdf))
        self._active = archetype.active_chance
        # The streak habit: (days on, by day of the pattern; chance; rank; action; reward).
        self._habit: tuple[tuple[bool, ...], float, int, str, int] | None = None
        habit = archetype.streak_habit
        if habit is not None:
            action = streak_action(config)
            days_on = tuple(day == "1" for day in habit.pattern)
            self._habit = (days_on, habit.chance, rank[action], action, rewards[action])
        # What each day's draws (once actions drawn, counts) come to, and its sorted entries.
        self._plans: dict[tuple[int, ...], tuple[DayPlan, list[_Entry]]] = {}
        self._kept = 0  # attempts in the days remembered
        self._drawn = _day_drawer(
            [chance for _, _, chance in self._once],
            [(cdf, sample) for _, _, sample, cdf in self._repeated],
        )

    def attempts(
        self, draw: _Random, days: int, calendar: Calendar | ClockCalendar
    ) -> tuple[list[tuple[datetime, str]], list[int], list[int]]:
        """A player's ``(moment, action)`` attempts over ``days`` days, in order.

        Also returns, for each day, the number of attempts up to its end and the
        nominal EXP of its attempts (the sum of their rewards).
        """
        active, once, repeated, habit = self._active, self._once, self._repeated, self._habit
        stamp = calendar.stamp
        events: list[tuple[datetime, str]] = []
        ends: list[int] = []
        nominal: list[int] = []
        for day in range(days):
            timeline: list[_Entry] = []
            worth = 0
            if habit is not None:  # drawn first, played or not: the habit's own days
                days_on, chance, rank, action, reward = habit
                if days_on[day % len(days_on)] and draw() < chance:
                    timeline.append((draw(), rank, action))
                    worth = reward
            if active >= 1.0 or draw() < active:
                for entry, reward, chance in once:
                    if draw() < chance:
                        timeline.append(entry)
                        worth += reward
                for entries, reward, sample, _ in repeated:
                    count = sample(draw)
                    if count:
                        timeline += entries(count)
                        worth += reward * count
            if timeline:
                timeline.sort()
                events.extend(stamp(day, timeline))
            ends.append(len(events))
            nominal.append(worth)
        return events, ends, nominal

    def plans(self, draw: _Random, days: int) -> list[DayPlan]:
        """A player's attempts over ``days`` days as one :data:`DayPlan` a day.

        The same draws as :meth:`attempts`, in the same order, give the same attempts
        in the same order, without moments: what :class:`~mikoshi_progression.core.
        day_fold.DayFolder` folds. A day's order depends only on what was drawn (how
        many of each action; the habit's place), so it is sorted once per distinct
        draw and shared.
        """
        active, habit, drawn, known = self._active, self._habit, self._drawn, self._plans
        plans: list[DayPlan] = []
        add = plans.append
        for day in range(days):
            habit_entry: _Entry | None = None
            if habit is not None:  # drawn first, played or not: the habit's own days
                days_on, chance, rank, action, _ = habit
                if days_on[day % len(days_on)] and draw() < chance:
                    habit_entry = (draw(), rank, action)
            if active >= 1.0 or draw() < active:
                key = drawn(draw)
                found = known.get(key)
                if found is None:
                    found = self._plan(key)
                plan, entries = found
            elif habit_entry is None:
                add(_NO_PLAN)
                continue
            else:
                plan, entries = _NO_PLAN, []
            if habit_entry is not None:
                plan = self._with_habit(plan, entries, habit_entry)
            add(plan)
        return plans

    def _plan(self, key: tuple[int, ...]) -> tuple[DayPlan, list[_Entry]]:
        """The plan of a day whose once-actions drawn and counts are ``key``, remembered."""
        timeline: list[_Entry] = []
        worth = 0
        once = len(self._once)
        for (entry, reward, _), drawn in zip(self._once, key[:once], strict=True):
            if drawn:
                timeline.append(entry)
                worth += reward
        for (entries, reward, _, _), count in zip(self._repeated, key[once:], strict=True):
            if count:
                timeline += entries(count)
                worth += reward * count
        if len(timeline) > _MAX_ATTEMPTS_PER_DAY:
            raise ValueError(_too_many(len(timeline)))
        timeline.sort()
        found = ((tuple(map(_ACTION, timeline)), worth), timeline)
        self._kept += len(timeline) + 1
        if self._kept > _PLANS_KEPT:
            self._plans.clear()
            self._kept = len(timeline) + 1
        self._plans[key] = found
        return found

    def _with_habit(self, plan: DayPlan, entries: list[_Entry], entry: _Entry) -> DayPlan:
        """``plan`` with the habit's attempt put in its place (its ``entries`` sorted)."""
        actions, worth = plan
        if len(actions) >= _MAX_ATTEMPTS_PER_DAY:
            raise ValueError(_too_many(len(actions) + 1))
        at = bisect_left(entries, entry)
        habit = self._habit
        assert habit is not None
        return (*actions[:at], entry[2], *actions[at:]), worth + habit[4]
