"""The balance simulator: many players over many days, through the real award rules.

A game designer describes kinds of players as :class:`Archetype` values (what
they do on a day they play, and how likely they are to play at all) and asks
:func:`simulate` how a config treats them: how many days each level takes, how
much EXP the daily cap and each action's daily limit take away, and where
everyone ends up. Every attempt goes through :func:`~mikoshi_progression.apply_events`,
the same fold that replays real users, so the simulator can never disagree
with the rules.

Runs are reproducible: each player draws from its own ``random.Random`` seeded
from ``(seed, archetype name, player number)``, so the report is identical for
any number of worker processes, and adding an archetype changes no other
archetype's players.

>>> report = simulate(players=8, days=30, seed=1)
>>> [a.archetype.name for a in report.archetypes]
['casual chatter', 'daily creator', 'popular creator', 'whale']
>>> whale = report.archetypes[-1]
>>> whale.awarded_exp + whale.cap_lost + whale.limit_lost == whale.nominal_exp
True

Plotting (:func:`plot_exp_curves`) needs matplotlib, the ``[plot]`` extra;
nothing else here needs anything beyond the standard library.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import random
import signal
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from operator import add, itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, TypeGuard

from .core.config import DEFAULT_CONFIG, ProgressionConfig, read_data_file
from .core.days import DayBoundary
from .core.results import Outcome
from .core.rules import apply_events
from .core.state import ProgressState
from .errors import ConfigError

__all__ = [
    "DEFAULT_ARCHETYPES",
    "DEFAULT_START",
    "Archetype",
    "ArchetypeReport",
    "LevelReach",
    "Rate",
    "SimulationReport",
    "archetype_problems",
    "archetypes_from_dict",
    "default_jobs",
    "load_archetypes",
    "plot_exp_curves",
    "simulate",
]

DEFAULT_START = date(2026, 1, 1)
"""The first simulated day unless told otherwise (the weekday plays no part)."""

MAX_MEAN = 1000
"""The largest expected number of attempts of one action a day an archetype may ask for."""

_MAX_JOBS = 8
_ARCHETYPE_KEYS = ("name", "description", "weight", "active_chance", "actions")
_RATE_KEYS = ("chance", "mean")
# Attempts of a day are stamped one second apart from the day's start; a day is
# at least 23 hours long (daylight saving), which bounds attempts per player-day.
_MAX_ATTEMPTS_PER_DAY = 23 * 3600
# What an archetype may expect a day, leaving room for the Poisson tails.
MAX_EXPECTED_ATTEMPTS = 60_000


# --- archetypes ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    """How often a simulated player attempts one action on a day they play.

    Exactly one of the two fields is set.

    Attributes:
        chance: The probability, from 0 to 1, of attempting the action once that
            day, and never more than once: a habit such as the first chat of the day.
        mean: The expected number of attempts that day (0 to 1000); the actual
            number is drawn from a Poisson distribution with this mean: repeated
            actions such as likes received or characters sold.

    >>> Rate(chance=0.9).expected, Rate(mean=3).expected
    (0.9, 3)
    """

    chance: float | None = None
    mean: float | None = None

    def __post_init__(self) -> None:
        problems = _rate_problems({"chance": self.chance, "mean": self.mean}, "Rate")
        if problems:
            raise ConfigError(problems)

    @property
    def expected(self) -> float:
        """Expected attempts on a day played (the chance, or the mean)."""
        return self.chance if self.chance is not None else (self.mean or 0.0)


@dataclass(frozen=True, slots=True)
class Archetype:
    """A kind of player: how likely they play on a given day, and what they do then.

    On each simulated day a player of this archetype plays with probability
    ``active_chance``; on a day played, each listed action is attempted as its
    :class:`Rate` says, independently of the others. The day's attempts of each
    action are spread evenly over the day and merged, so frequent actions
    interleave with rare ones instead of coming in one burst.

    Attributes:
        name: Shown in reports; unique within a simulation.
        actions: Action name -> :class:`Rate`. Actions not listed are never
            attempted. For a ``creator_award`` action (a like or a fork), the
            rate is of awards the player *receives* as the creator.
        active_chance: Probability (0 to 1) that the player plays on a given day.
        weight: The archetype's relative share of the simulated population.
        description: Free text for reports and archetype files.
    """

    name: str
    actions: Mapping[str, Rate]
    active_chance: float = 1.0
    weight: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        problems = _archetype_problems(_archetype_to_dict(self), "Archetype")
        if problems:
            raise ConfigError(problems)
        given: Mapping[str, Any] = self.actions  # plain {"chance": ...} tables are accepted too
        rates = {a: r if isinstance(r, Rate) else Rate(**r) for a, r in given.items()}
        object.__setattr__(self, "actions", MappingProxyType(rates))

    def __hash__(self) -> int:
        return hash(
            (
                self.name,
                frozenset(self.actions.items()),
                self.active_chance,
                self.weight,
                self.description,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping in archetype-file form (one ``[[archetype]]`` table)."""
        return _archetype_to_dict(self)


def _rate_to_dict(rate: Rate) -> dict[str, Any]:
    return {"chance": rate.chance} if rate.mean is None else {"mean": rate.mean}


def _archetype_to_dict(archetype: Archetype) -> dict[str, Any]:
    actions: Any = archetype.actions
    if isinstance(actions, Mapping):
        actions = {k: _rate_to_dict(r) if isinstance(r, Rate) else r for k, r in actions.items()}
    return {
        "name": archetype.name,
        "description": archetype.description,
        "weight": archetype.weight,
        "active_chance": archetype.active_chance,
        "actions": actions,
    }


def _is_number(value: object) -> TypeGuard[float]:
    """An int or a finite float, never a bool (TOML and JSON give both kinds)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _rate_problems(data: Mapping[str, Any], where: str) -> list[str]:
    problems = [
        f"{where}.{key}: unknown key (expected chance or mean)"
        for key in data
        if key not in _RATE_KEYS
    ]
    given = [key for key in _RATE_KEYS if data.get(key) is not None]
    if len(given) != 1:
        which = "both" if len(given) == 2 else "neither"
        problems.append(
            f"{where}: give exactly one of chance (0 to 1, at most once a day) or mean "
            f"(expected attempts a day), got {which}"
        )
    chance = data.get("chance")
    if chance is not None and not (_is_number(chance) and 0 <= chance <= 1):
        problems.append(f"{where}.chance: must be a number from 0 to 1, got {chance!r}")
    mean = data.get("mean")
    if mean is not None and not (_is_number(mean) and 0 <= mean <= MAX_MEAN):
        problems.append(f"{where}.mean: must be a number from 0 to {MAX_MEAN}, got {mean!r}")
    return problems


def _archetype_problems(data: Mapping[str, Any], where: str) -> list[str]:
    problems = [
        f"{where}.{key}: unknown key (expected one of: {', '.join(_ARCHETYPE_KEYS)})"
        for key in data
        if key not in _ARCHETYPE_KEYS
    ]
    problems += [f"{where}.{key}: missing" for key in ("name", "actions") if key not in data]
    name = data.get("name")
    if "name" in data and not (isinstance(name, str) and name.strip()):
        problems.append(f"{where}.name: must be a non-empty string, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{where}.description: must be a string, got {description!r}")
    weight = data.get("weight", 1.0)
    if not (_is_number(weight) and weight > 0):
        problems.append(f"{where}.weight: must be a positive number, got {weight!r}")
    active = data.get("active_chance", 1.0)
    if not (_is_number(active) and 0 <= active <= 1):
        problems.append(f"{where}.active_chance: must be a number from 0 to 1, got {active!r}")
    actions = data.get("actions")
    if "actions" in data:
        if not isinstance(actions, Mapping) or not actions:
            problems.append(
                f"{where}.actions: must be a non-empty table of action -> "
                f"{{ chance = ... }} or {{ mean = ... }}, got {actions!r}"
            )
        else:
            for action, rate in actions.items():
                at = f"{where}.actions.{action}"
                if not isinstance(action, str) or not action.strip():
                    problems.append(
                        f"{where}.actions: action names must be non-empty strings, got {action!r}"
                    )
                if isinstance(rate, Rate):
                    continue
                if not isinstance(rate, Mapping):
                    problems.append(
                        f"{at}: must be a table {{ chance = <0..1> }} or {{ mean = <count> }}, "
                        f"got {rate!r}"
                    )
                    continue
                problems.extend(_rate_problems(rate, at))
    return problems


def archetypes_from_dict(
    data: Mapping[str, Any], *, source: str | None = None
) -> tuple[Archetype, ...]:
    """Build archetypes from parsed archetype-file data (``{"archetype": [...]}``).

    Raises:
        ConfigError: listing every problem, each with its location
            (``archetype[1].actions.forked.mean: ...``).
    """
    problems = [f"{key}: unknown key (expected archetype)" for key in data if key != "archetype"]
    tables = data.get("archetype")
    if not isinstance(tables, list) or not tables:
        problems.append(
            "archetype: must be a non-empty list of [[archetype]] tables, "
            f"got {'nothing' if tables is None else repr(tables)}"
        )
        raise ConfigError(problems, source=source)
    seen: dict[str, int] = {}
    for i, table in enumerate(tables):
        where = f"archetype[{i}]"
        if not isinstance(table, Mapping):
            problems.append(f"{where}: must be a table with name and actions")
            continue
        problems.extend(_archetype_problems(table, where))
        name = table.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append(
                    f"{where}.name: {name!r} is already the name of archetype[{seen[name]}]"
                )
            seen.setdefault(name, i)
    if problems:
        raise ConfigError(problems, source=source)
    return tuple(
        Archetype(
            name=table["name"],
            actions={action: Rate(**rate) for action, rate in table["actions"].items()},
            active_chance=table.get("active_chance", 1.0),
            weight=table.get("weight", 1.0),
            description=table.get("description", ""),
        )
        for table in tables
    )


def load_archetypes(path: str | Path) -> tuple[Archetype, ...]:
    """Read archetypes from a TOML file of ``[[archetype]]`` tables.

    See ``examples/archetypes.toml`` for the format.

    Raises:
        ConfigFileError: the file is missing, unreadable or malformed.
        ConfigError: the file describes invalid archetypes (every problem listed).
    """
    data, source = read_data_file(path, suffixes=(".toml",))
    return archetypes_from_dict(data, source=source)


def archetype_problems(
    archetypes: Sequence[Archetype], config: ProgressionConfig = DEFAULT_CONFIG
) -> list[str]:
    """Every reason ``archetypes`` cannot be simulated under ``config``.

    The list is empty when they can: at least one archetype, unique names, and
    only actions that the config knows.
    """
    if not archetypes:
        return ["archetypes: at least one archetype is needed"]
    problems: list[str] = []
    known = ", ".join(config.actions)
    names: set[str] = set()
    for archetype in archetypes:
        if archetype.name in names:
            problems.append(f"archetype {archetype.name!r}: the name is used twice")
        names.add(archetype.name)
        problems += [
            f"archetype {archetype.name!r}: action {action!r} is not in the config "
            f"(known actions: {known})"
            for action in archetype.actions
            if action not in config.actions
        ]
        expected = sum(rate.expected for rate in archetype.actions.values())
        if expected > MAX_EXPECTED_ATTEMPTS:
            problems.append(
                f"archetype {archetype.name!r}: expects {expected:,.0f} attempts a day, "
                f"at most {MAX_EXPECTED_ATTEMPTS:,} can be simulated"
            )
    return problems


DEFAULT_ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "casual chatter",
        {
            "daily_chat": Rate(chance=0.95),
            "create_persona": Rate(chance=0.03),
            "create_character": Rate(chance=0.02),
            "create_scene": Rate(chance=0.02),
        },
        active_chance=0.45,
        weight=50,
        description="Chats a few days a week; creates something now and then.",
    ),
    Archetype(
        "daily creator",
        {
            "daily_chat": Rate(chance=0.95),
            "create_character": Rate(mean=1.2),
            "create_scene": Rate(mean=0.8),
            "create_persona": Rate(mean=0.4),
            "character_liked": Rate(mean=2),
            "forked": Rate(mean=0.2),
        },
        active_chance=0.9,
        weight=30,
        description="Plays almost every day and creates something most days.",
    ),
    Archetype(
        "popular creator",
        {
            "daily_chat": Rate(chance=0.95),
            "create_character": Rate(mean=1.5),
            "create_scene": Rate(mean=1),
            "create_persona": Rate(mean=0.5),
            "character_liked": Rate(mean=24),
            "forked": Rate(mean=4),
            "paid_char_sold": Rate(chance=0.2),
        },
        active_chance=0.95,
        weight=12,
        description="Creates daily; their characters receive many likes and forks.",
    ),
    Archetype(
        "whale",
        {
            "daily_chat": Rate(chance=0.9),
            "create_character": Rate(mean=2.5),
            "create_scene": Rate(mean=0.5),
            "character_liked": Rate(mean=4),
            "forked": Rate(mean=0.5),
            "paid_char_sold": Rate(mean=5),
        },
        active_chance=0.85,
        weight=8,
        description="Buys and sells paid characters a lot.",
    ),
)
"""Four player kinds for a first look at a config: 50/30/12/8 percent of players."""


# --- the report --------------------------------------------------------------------


def _nearest_rank(ordered: Sequence[float], percent: float, total: int | None = None) -> Any:
    """The nearest-rank percentile of ``ordered`` among ``total`` values.

    Values beyond ``len(ordered)`` (players who never got there) are unbounded:
    a percentile that falls among them is ``None``.
    """
    total = len(ordered) if total is None else total
    if total == 0:
        return None
    rank = max(1, math.ceil(percent / 100 * total))
    return ordered[rank - 1] if rank <= len(ordered) else None


@dataclass(frozen=True, slots=True)
class LevelReach:
    """How many days an archetype's players took to reach one level.

    A level reached during day ``d`` (day 1 is the first simulated day) took
    ``d`` days. Percentiles are over *all* the archetype's players; one that
    falls among players who never reached the level is ``None`` ("never").

    Attributes:
        level: The level number.
        name: The level's name.
        exp_required: EXP at which the level is reached.
        reached: Players who reached it within the simulated days.
        never: Players who did not.
        p10: Days by which the quickest 10 percent had reached it.
        median: Days by which half had reached it.
        p90: Days by which 90 percent had reached it.
    """

    level: int
    name: str
    exp_required: int
    reached: int
    never: int
    p10: int | None
    median: int | None
    p90: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping of the fields."""
        return {
            "level": self.level,
            "name": self.name,
            "exp_required": self.exp_required,
            "reached": self.reached,
            "never": self.never,
            "days_p10": self.p10,
            "days_median": self.median,
            "days_p90": self.p90,
        }


@dataclass(frozen=True, slots=True)
class ArchetypeReport:
    """What the simulation found for one archetype.

    *Nominal* EXP is what every attempt would have earned with no limit and no
    cap: the sum of the rewards of all attempts. It splits exactly into EXP
    awarded, EXP lost to the daily cap and EXP lost to action limits.

    Attributes:
        archetype: The archetype simulated.
        players: How many players it had.
        days: Days simulated.
        active_days: Player-days with at least one attempt.
        capped_days: Player-days on which the daily cap cut or refused an award.
        attempts: Award attempts made.
        nominal_exp: EXP all attempts would have earned without limits or cap.
        awarded_exp: EXP actually awarded.
        cap_loss: Level -> EXP lost to that level's daily cap (rejections and
            the cut part of partial awards).
        limit_loss: Action -> EXP lost to the action's daily limit.
        levels: Days to reach each level above 1, in level order.
        final_exp: Every player's EXP at the end, sorted.
        final_levels: Level -> players ending at that level (every level listed).
        mean_exp_by_day: Mean EXP of the players at the end of each day.
    """

    archetype: Archetype
    players: int
    days: int
    active_days: int
    capped_days: int
    attempts: int
    nominal_exp: int
    awarded_exp: int
    cap_loss: Mapping[int, int]
    limit_loss: Mapping[str, int]
    levels: tuple[LevelReach, ...]
    final_exp: tuple[int, ...] = field(repr=False)
    final_levels: Mapping[int, int]
    mean_exp_by_day: tuple[float, ...] = field(repr=False)

    @property
    def cap_lost(self) -> int:
        """EXP lost to the daily cap, all levels together."""
        return sum(self.cap_loss.values())

    @property
    def limit_lost(self) -> int:
        """EXP lost to action limits, all actions together."""
        return sum(self.limit_loss.values())

    def share(self, exp: int) -> float:
        """``exp`` as a fraction of the nominal EXP (0.0 when nothing was attempted)."""
        return exp / self.nominal_exp if self.nominal_exp else 0.0

    def final_exp_summary(self) -> dict[str, float | int | None]:
        """Mean, min, 10th/25th/50th/75th/90th percentile and max of the final EXP."""
        values = self.final_exp
        return {
            "mean": round(sum(values) / len(values), 2) if values else None,
            "min": values[0] if values else None,
            "p10": _nearest_rank(values, 10),
            "p25": _nearest_rank(values, 25),
            "median": _nearest_rank(values, 50),
            "p75": _nearest_rank(values, 75),
            "p90": _nearest_rank(values, 90),
            "max": values[-1] if values else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; shares are fractions of the nominal EXP, rounded to 1e-6."""
        player_days = self.players * self.days
        return {
            "name": self.archetype.name,
            "description": self.archetype.description,
            "players": self.players,
            "active_days": self.active_days,
            "active_share": _ratio(self.active_days, player_days),
            "capped_days": self.capped_days,
            "capped_share_of_active_days": _ratio(self.capped_days, self.active_days),
            "attempts": self.attempts,
            "levels": [reach.to_dict() for reach in self.levels],
            "exp": {
                "nominal": self.nominal_exp,
                "awarded": self.awarded_exp,
                "lost_to_cap": self.cap_lost,
                "lost_to_limits": self.limit_lost,
                "awarded_share": round(self.share(self.awarded_exp), 6),
                "cap_share": round(self.share(self.cap_lost), 6),
                "limit_share": round(self.share(self.limit_lost), 6),
            },
            "cap_loss_by_level": {
                str(level): {"exp": exp, "share": round(self.share(exp), 6)}
                for level, exp in self.cap_loss.items()
            },
            "limit_loss_by_action": {
                action: {"exp": exp, "share": round(self.share(exp), 6)}
                for action, exp in self.limit_loss.items()
            },
            "final_exp": self.final_exp_summary(),
            "final_levels": {str(level): n for level, n in self.final_levels.items()},
            "mean_exp_by_day": [round(v, 2) for v in self.mean_exp_by_day],
        }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """The result of :func:`simulate`.

    Attributes:
        config: The rules simulated.
        players: Players simulated, all archetypes together.
        days: Days simulated.
        seed: The seed the run was drawn from.
        start: The first simulated day.
        archetypes: One report per archetype, in the order given.
    """

    config: ProgressionConfig = field(repr=False)
    players: int
    days: int
    seed: int
    start: date
    archetypes: tuple[ArchetypeReport, ...]

    @property
    def attempts(self) -> int:
        """Award attempts made, all archetypes together."""
        return sum(a.attempts for a in self.archetypes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping, the same for any number of jobs."""
        return {
            "players": self.players,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "attempts": self.attempts,
            "config_fingerprint": self.config.fingerprint,
            "levels": [
                {"number": lv.number, "name": lv.name, "exp_required": lv.exp_required}
                for lv in self.config.levels
            ],
            "archetypes": [a.to_dict() for a in self.archetypes],
        }


# --- sampling -------------------------------------------------------------------------

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
    if mean < 30:
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


class _Calendar:
    """The attempt moments of each simulated day: its start, then one second apart.

    ``by_day[d]`` holds at least as many moments as any day ``d`` asked for so far;
    :meth:`grow` makes room for more.
    """

    __slots__ = ("_boundary", "_start", "by_day")

    def __init__(self, boundary: DayBoundary, start: date, days: int) -> None:
        self._boundary = boundary
        self._start = start
        self.by_day: list[list[datetime]] = [[] for _ in range(days)]

    def grow(self, day: int, count: int) -> list[datetime]:
        if count > _MAX_ATTEMPTS_PER_DAY:
            raise ValueError(
                f"{count} attempts in one player-day: at most {_MAX_ATTEMPTS_PER_DAY} "
                "can be simulated (lower the archetype's means)"
            )
        size = min(max(count, 64, 2 * len(self.by_day[day])), _MAX_ATTEMPTS_PER_DAY)
        begin = self._boundary.start_of(self._start + timedelta(days=day))
        second = timedelta(seconds=1)
        moments = [begin + second * i for i in range(size)]
        self.by_day[day] = moments
        return moments


# --- the simulation proper ------------------------------------------------------------


class _Chunk(NamedTuple):
    """Players ``first`` to ``stop - 1`` of one archetype: a unit of work."""

    config_json: str
    archetype: dict[str, Any]  # to_dict() form: an Archetype holds a mappingproxy, unpicklable
    position: int  # the archetype's position in the list simulated
    first: int
    stop: int
    days: int
    seed: int
    start: date


class _Tally(NamedTuple):
    """What a chunk of players produced; tallies add up in any grouping."""

    position: int
    players: int
    reach: list[list[int]]  # per level 2..N: the day each player reached it (0: never)
    final_exp: list[int]
    final_levels: dict[int, int]
    active_days: int
    capped_days: int
    attempts: int
    nominal: int
    awarded: int
    cap_loss: dict[int, int]
    limit_loss: dict[str, int]
    day_sums: list[int]


class _Behaviour:
    """An archetype compiled against a config: draws one player's attempts, day by day."""

    __slots__ = ("_active", "_calendar", "_once", "_repeated")

    def __init__(self, archetype: Archetype, config: ProgressionConfig, calendar: _Calendar):
        rewards = {name: rule.exp for name, rule in config.actions.items()}
        rank = {name: i for i, name in enumerate(config.actions)}
        self._once: list[tuple[_Entry, int, float]] = []
        self._repeated: list[tuple[Callable[[int], list[_Entry]], int, _Sampler]] = []
        for action, rate in archetype.actions.items():
            if rate.chance is not None:
                if rate.chance > 0:
                    self._once.append(((0.5, rank[action], action), rewards[action], rate.chance))
            elif rate.mean:
                spread = _Spread(rank[action], action).entries
                self._repeated.append((spread, rewards[action], _poisson_sampler(rate.mean)))
        self._active = archetype.active_chance
        self._calendar = calendar

    def attempts(
        self, draw: _Random, days: int
    ) -> tuple[list[tuple[datetime, str]], list[int], list[int]]:
        """A player's ``(moment, action)`` attempts over ``days`` days, in order.

        Also returns, for each day, the number of attempts up to its end and the
        nominal EXP of its attempts (the sum of their rewards).
        """
        active, once, repeated = self._active, self._once, self._repeated
        calendar = self._calendar
        moments_by_day = calendar.by_day
        third = itemgetter(2)
        events: list[tuple[datetime, str]] = []
        ends: list[int] = []
        nominal: list[int] = []
        for day in range(days):
            if active < 1.0 and draw() >= active:
                ends.append(len(events))
                nominal.append(0)
                continue
            timeline: list[_Entry] = []
            worth = 0
            for entry, reward, chance in once:
                if draw() < chance:
                    timeline.append(entry)
                    worth += reward
            for entries, reward, sample in repeated:
                count = sample(draw)
                if count:
                    timeline += entries(count)
                    worth += reward * count
            if timeline:
                timeline.sort()
                moments = moments_by_day[day]
                if len(moments) < len(timeline):
                    moments = calendar.grow(day, len(timeline))
                events.extend(zip(moments, map(third, timeline), strict=False))
            ends.append(len(events))
            nominal.append(worth)
        return events, ends, nominal


def _simulate_chunk(chunk: _Chunk, config: ProgressionConfig, archetype: Archetype) -> _Tally:
    """Simulate one chunk of players: draw attempts, fold them with ``apply_events``, read back."""
    days = chunk.days
    rewards = {name: rule.exp for name, rule in config.actions.items()}
    behaviour = _Behaviour(archetype, config, _Calendar(config.day_boundary, chunk.start, days))
    max_level = config.max_level
    thresholds = [level.exp_required for level in config.levels[1:]]
    reach: list[list[int]] = [[] for _ in range(max_level - 1)]
    final_exp: list[int] = []
    final_levels = dict.fromkeys(range(1, max_level + 1), 0)
    day_sums = [0] * days
    cap_loss: dict[int, int] = {}
    limit_loss: dict[str, int] = {}
    active_days = capped_days = attempts = nominal_total = awarded_total = 0
    fresh = ProgressState()

    for player in range(chunk.first, chunk.stop):
        rng = random.Random(f"{chunk.seed}:{archetype.name}:{player}")
        events, ends, nominal = behaviour.attempts(rng.random, days)
        final, results = apply_events(fresh, events, config)
        exp_by_day, lossy_days = _exp_by_day(results.column("exp"), ends, nominal)
        if lossy_days:
            columns = _LossColumns(
                results.column("outcome"),
                results.column("exp_added"),
                results.column("previous_level"),
            )
            for day in lossy_days:
                start = ends[day - 1] if day else 0
                capped_days += _attribute_losses(
                    columns, events, rewards, start, ends[day], cap_loss, limit_loss
                )
        # EXP only grows here (nothing is revoked), so a level is reached on the
        # first day that ends with at least its threshold.
        for column, needed in zip(reach, thresholds, strict=True):
            day = bisect_left(exp_by_day, needed)
            column.append(day + 1 if day < days else 0)
        day_sums = list(map(add, day_sums, exp_by_day))
        active_days += sum(1 for a, b in zip(ends, [0, *ends], strict=False) if a != b)
        attempts += len(events)
        nominal_total += sum(nominal)
        awarded_total += final.exp
        final_exp.append(final.exp)
        final_levels[min(final.level, max_level)] += 1

    return _Tally(
        chunk.position,
        chunk.stop - chunk.first,
        reach,
        final_exp,
        final_levels,
        active_days,
        capped_days,
        attempts,
        nominal_total,
        awarded_total,
        cap_loss,
        limit_loss,
        day_sums,
    )


def _exp_by_day(
    exp_after: Sequence[int], ends: Sequence[int], nominal: Sequence[int]
) -> tuple[list[int], list[int]]:
    """EXP at the end of each day, and the days on which an attempt lost EXP.

    ``exp_after`` is the EXP after each attempt, ``ends[d]`` the index just past
    day ``d``'s attempts and ``nominal[d]`` the EXP those attempts were worth.
    """
    exp_by_day: list[int] = []
    lossy: list[int] = []
    before = 0
    for day, end in enumerate(ends):
        after = exp_after[end - 1] if end else 0
        exp_by_day.append(after)
        if after - before < nominal[day]:
            lossy.append(day)
        before = after
    return exp_by_day, lossy


@dataclass(frozen=True, slots=True)
class _LossColumns:
    """The per-attempt results a loss attribution reads (``AwardResults.column``)."""

    outcomes: Sequence[Outcome]
    exp_added: Sequence[int]
    previous_levels: Sequence[int]


def _attribute_losses(
    columns: _LossColumns,
    events: Sequence[tuple[datetime, str]],
    rewards: Mapping[str, int],
    start: int,
    end: int,
    cap_loss: dict[int, int],
    limit_loss: dict[str, int],
) -> bool:
    """Charge the EXP lost on one day (events ``start:end``) to the cap or to limits.

    Returns whether the daily cap cut or refused anything.
    """
    capped = False
    for index in range(start, end):
        outcome = columns.outcomes[index]
        if outcome is Outcome.AWARDED:
            continue
        action = events[index][1]
        reward = rewards[action]
        if outcome is Outcome.ACTION_LIMIT:
            limit_loss[action] = limit_loss.get(action, 0) + reward
        else:  # DAILY_CAP or PARTIAL: charged to the cap of the level at the attempt
            capped = True
            level = columns.previous_levels[index]
            cap_loss[level] = cap_loss.get(level, 0) + reward - columns.exp_added[index]
    return capped


_WORKER_CONFIGS: dict[str, ProgressionConfig] = {}


def _ignore_interrupts() -> None:
    """Leave Ctrl-C to the parent, which stops the pool; a worker then dies quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _simulate_chunk_in_worker(chunk: _Chunk) -> _Tally:
    """:func:`_simulate_chunk` in a worker process, rebuilding the config once per worker."""
    config = _WORKER_CONFIGS.get(chunk.config_json)
    if config is None:
        config = ProgressionConfig.from_dict(json.loads(chunk.config_json))
        _WORKER_CONFIGS[chunk.config_json] = config
    (archetype,) = archetypes_from_dict({"archetype": [chunk.archetype]})
    return _simulate_chunk(chunk, config, archetype)


def _allocate(players: int, weights: Sequence[float]) -> list[int]:
    """Split ``players`` by ``weights``: largest remainders, ties to the earlier archetype."""
    exact = [Fraction(w) for w in weights]
    total = sum(exact)
    quotas = [players * w / total for w in exact]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: players - sum(counts)]:
        counts[i] += 1
    return counts


def default_jobs() -> int:
    """Worker processes to use by default: the CPUs this process may run on, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_JOBS))


def simulate(
    config: ProgressionConfig = DEFAULT_CONFIG,
    archetypes: Sequence[Archetype] = DEFAULT_ARCHETYPES,
    *,
    players: int = 1000,
    days: int = 365,
    seed: int = 0,
    start: date = DEFAULT_START,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Simulate ``players`` players for ``days`` days under ``config``.

    Players are split among ``archetypes`` by weight (largest remainders). Each
    player starts as a new user on ``start``; their attempts for every day are
    drawn from their archetype and folded through
    :func:`~mikoshi_progression.apply_events`.

    Args:
        config: The rules to simulate.
        archetypes: The kinds of players (see :data:`DEFAULT_ARCHETYPES`).
        players: Players in all, at least 1.
        days: Days to simulate, at least 1.
        seed: Any integer; the same seed gives the same report.
        start: The first simulated day.
        jobs: Worker processes (1 runs in this process). The report does not
            depend on it.
        progress: Called as ``progress(players_done, players)`` as work completes.

    Raises:
        ConfigError: the archetypes cannot be simulated under ``config`` (an
            unknown action, a duplicate name).
        ValueError: ``players``, ``days`` or ``jobs`` is below 1, or the days
            run past the last date Python knows (9999-12-31).
    """
    checks: tuple[tuple[str, object], ...] = (("players", players), ("days", days), ("jobs", jobs))
    for name, value in checks:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if days > (date.max - start).days:
        raise ValueError(f"{days:,} days from {start.isoformat()} run past {date.max.isoformat()}")
    problems = archetype_problems(archetypes, config)
    if problems:
        raise ConfigError(problems)
    counts = _allocate(players, [a.weight for a in archetypes])
    config_json = json.dumps(config.to_dict())  # key order kept: it orders ties in a day
    size = max(1, min(100, math.ceil(players / (jobs * 8))))
    chunks = [
        _Chunk(
            config_json,
            archetype.to_dict(),
            index,
            first,
            min(first + size, count),
            days,
            seed,
            start,
        )
        for index, (archetype, count) in enumerate(zip(archetypes, counts, strict=True))
        for first in range(0, count, size)
    ]
    if jobs > 1:
        # Costliest first, so that no worker is left alone with a long last chunk.
        # Tallies add up in any order (integer sums, sorted lists): the report is unchanged.
        cost = [_attempts_per_day(a) for a in archetypes]
        chunks.sort(key=lambda c: -(c.stop - c.first) * (cost[c.position] + 1))
    tallies: list[_Tally] = []
    done = 0
    for tally in _run(chunks, config, archetypes, jobs):
        tallies.append(tally)
        done += tally.players
        if progress is not None:
            progress(done, players)
    return _report(config, archetypes, counts, tallies, players, days, seed, start)


def _attempts_per_day(archetype: Archetype) -> float:
    """Expected attempts a player of ``archetype`` makes a day: the cost of simulating one."""
    return archetype.active_chance * sum(rate.expected for rate in archetype.actions.values())


def _run(
    chunks: list[_Chunk], config: ProgressionConfig, archetypes: Sequence[Archetype], jobs: int
) -> Iterator[_Tally]:
    """Run the chunks, here in order or in ``jobs`` worker processes as they finish."""
    workers = min(jobs, len(chunks))
    if workers <= 1:
        for chunk in chunks:
            yield _simulate_chunk(chunk, config, archetypes[chunk.position])
        return
    # "spawn" behaves the same on every platform and never forks a threaded parent.
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=_ignore_interrupts)
    try:
        yield from pool.imap_unordered(_simulate_chunk_in_worker, chunks)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _report(
    config: ProgressionConfig,
    archetypes: Sequence[Archetype],
    counts: Sequence[int],
    tallies: Iterable[_Tally],
    players: int,
    days: int,
    seed: int,
    start: date,
) -> SimulationReport:
    grouped: dict[int, list[_Tally]] = {i: [] for i in range(len(archetypes))}
    for tally in tallies:
        grouped[tally.position].append(tally)
    reports = []
    for index, archetype in enumerate(archetypes):
        parts = grouped[index]
        count = counts[index]
        reach_days: list[list[int]] = [[] for _ in range(config.max_level - 1)]
        final_exp: list[int] = []
        final_levels = dict.fromkeys(range(1, config.max_level + 1), 0)
        cap_loss: dict[int, int] = {}
        limit_loss: dict[str, int] = {}
        day_sums = [0] * days
        for part in parts:
            for column, values in zip(reach_days, part.reach, strict=True):
                column.extend(values)
            final_exp.extend(part.final_exp)
            for number, n in part.final_levels.items():
                final_levels[number] += n
            for number, exp in part.cap_loss.items():
                cap_loss[number] = cap_loss.get(number, 0) + exp
            for action, exp in part.limit_loss.items():
                limit_loss[action] = limit_loss.get(action, 0) + exp
            day_sums = [a + b for a, b in zip(day_sums, part.day_sums, strict=True)]
        levels = []
        for level, column in zip(config.levels[1:], reach_days, strict=True):
            reached = sorted(d for d in column if d)
            levels.append(
                LevelReach(
                    level=level.number,
                    name=level.name,
                    exp_required=level.exp_required,
                    reached=len(reached),
                    never=count - len(reached),
                    p10=_nearest_rank(reached, 10, count),
                    median=_nearest_rank(reached, 50, count),
                    p90=_nearest_rank(reached, 90, count),
                )
            )
        limit_order = {name: i for i, name in enumerate(config.actions)}
        reports.append(
            ArchetypeReport(
                archetype=archetype,
                players=count,
                days=days,
                active_days=sum(p.active_days for p in parts),
                capped_days=sum(p.capped_days for p in parts),
                attempts=sum(p.attempts for p in parts),
                nominal_exp=sum(p.nominal for p in parts),
                awarded_exp=sum(p.awarded for p in parts),
                cap_loss=MappingProxyType(dict(sorted(cap_loss.items()))),
                limit_loss=MappingProxyType(
                    dict(sorted(limit_loss.items(), key=lambda kv: limit_order[kv[0]]))
                ),
                levels=tuple(levels),
                final_exp=tuple(sorted(final_exp)),
                final_levels=MappingProxyType(final_levels),
                mean_exp_by_day=tuple(s / count if count else 0.0 for s in day_sums),
            )
        )
    return SimulationReport(config, players, days, seed, start, tuple(reports))


# --- plotting ---------------------------------------------------------------------------


def plot_exp_curves(report: SimulationReport, path: str | Path, *, log_scale: bool = True) -> Path:
    """Draw each archetype's mean EXP by day, with a dashed line at each level threshold.

    Writes an image (the format follows the file's extension, e.g. ``.png``)
    with matplotlib's non-interactive Agg backend, and returns its path. The
    EXP axis is logarithmic by default, since level thresholds usually grow
    geometrically; ``log_scale=False`` draws it linear.

    Raises:
        ImportError: matplotlib is not installed (the ``[plot]`` extra).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib, which is not installed: "
            "install the [plot] extra (pip install -e '.[plot]' from a clone)"
        ) from exc
    path = Path(path)
    figure = Figure(figsize=(10, 6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    days = list(range(1, report.days + 1))
    for archetype in report.archetypes:
        if archetype.players:
            axes.plot(days, archetype.mean_exp_by_day, label=archetype.archetype.name)
    thresholds = [level for level in report.config.levels[1:] if level.exp_required > 0]
    for level in thresholds:
        axes.axhline(level.exp_required, color="grey", linestyle="--", linewidth=0.8)
        axes.annotate(
            f"level {level.number} {level.name}",
            xy=(1, level.exp_required),
            xycoords=("axes fraction", "data"),
            xytext=(-3, 2),
            textcoords="offset points",
            horizontalalignment="right",
            fontsize=8,
            color="grey",
        )
    axes.set_xlabel("day")
    axes.set_xlim(1, max(report.days, 2))
    if log_scale:
        positive = [v for a in report.archetypes for v in a.mean_exp_by_day if v > 0]
        floor = min([*positive, *(lv.exp_required for lv in thresholds)], default=1.0)
        axes.set_yscale("log")
        axes.set_ylim(bottom=max(1.0, floor / 2))
        axes.set_ylabel("mean EXP (log scale)")
    else:
        axes.set_ylim(bottom=0)
        axes.set_ylabel("mean EXP")
    axes.set_title(
        f"Mean EXP by day: {report.players:,} players, seed {report.seed}, "
        f"config {report.config.fingerprint}"
    )
    axes.legend(loc="upper left")
    figure.savefig(path)
    return path
