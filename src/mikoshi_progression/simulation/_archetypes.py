"""Archetypes: the kinds of players a simulation plays, and the files that describe them.

An :class:`Archetype` says how likely a kind of player is to play on a day and what
they do then (each action at a :class:`Rate`), how they keep a streak (a
:class:`StreakHabit`) and where in the world they live (a time-zone mix);
:func:`load_archetypes` reads them from a TOML file, checking the file as a whole, and
:func:`archetype_problems` checks them against the config to be simulated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard

from ..core.config import DEFAULT_CONFIG, ProgressionConfig, read_data_file
from ..core.days import resolve_timezone
from ..errors import ConfigError, InvalidArgumentError

__all__ = [
    "DEFAULT_ARCHETYPES",
    "MAX_EXPECTED_ATTEMPTS",
    "MAX_MEAN",
    "Archetype",
    "Rate",
    "StreakHabit",
    "allocate",
    "archetype_problems",
    "archetypes_from_dict",
    "load_archetypes",
    "streak_action",
]


MAX_MEAN = 1000
"""The largest expected number of attempts of one action a day an archetype may ask for."""

MAX_PATTERN = 366
"""The longest streak-habit pattern, in days."""

_ARCHETYPE_KEYS = (
    "name",
    "description",
    "weight",
    "active_chance",
    "actions",
    "streak_habit",
    "timezones",
)
_RATE_KEYS = ("chance", "mean")
_HABIT_KEYS = ("chance", "pattern")

# What an archetype may expect a day, leaving room for the Poisson tails.
MAX_EXPECTED_ATTEMPTS = 60_000


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
class StreakHabit:
    """How a kind of player keeps a streak: the days they perform the streak action.

    Every day, whether or not they otherwise play that day, a player with this habit
    performs the config's streak action (``daily_chat`` when the config keeps no
    streak) once, at a random moment of their local day: on the days ``pattern``
    allows, with probability ``chance``. The same habit under a config with a streak
    and one without shows what the streak changes.

    Attributes:
        chance: The probability (0 to 1) of performing it on a day the pattern allows.
        pattern: Days on (``"1"``) and off (``"0"``), repeated from the first simulated
            day: ``"1111100"`` misses the 6th and 7th day of every week (up to 366
            days long; default ``"1"``, every day).

    >>> StreakHabit(chance=0.7, pattern="1111100").expected
    0.5
    """

    chance: float = 1.0
    pattern: str = "1"

    def __post_init__(self) -> None:
        problems = _habit_problems(_habit_to_dict(self), "StreakHabit")
        if problems:
            raise ConfigError(problems)

    @property
    def expected(self) -> float:
        """The share of days on which the streak action is performed, on average."""
        return self.chance * self.pattern.count("1") / len(self.pattern)

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping in archetype-file form (an archetype's ``streak_habit`` table)."""
        return _habit_to_dict(self)


def streak_action(config: ProgressionConfig) -> str:
    """The action a :class:`StreakHabit` performs under ``config``: the streak's, else
    ``daily_chat``."""
    return config.streak.action if config.streak is not None else "daily_chat"


def _no_zones() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Archetype:
    """A kind of player: how likely they play on a given day, and what they do then.

    On each simulated day a player of this archetype plays with probability
    ``active_chance``; on a day played, each listed action is attempted as its
    :class:`Rate` says, independently of the others. The day's attempts of each
    action are spread evenly over the day and merged, so frequent actions
    interleave with rare ones instead of coming in one burst. A :class:`StreakHabit`,
    if given, performs the streak action on its own days, played or not.

    Each player lives in one time zone of ``timezones`` (shares by weight, largest
    remainders, in the order given): their state carries it
    (``ProgressState(timezone=...)``), so their days, limits, caps and streak follow
    their local day, and so do their attempts. Without ``timezones`` every player
    follows the config's ``reset_timezone``.

    Attributes:
        name: Shown in reports; unique within a simulation.
        actions: Action name -> :class:`Rate`. Actions not listed are never
            attempted. For a ``creator_award`` action (a like or a fork), the
            rate is of awards the player *receives* as the creator.
        active_chance: Probability (0 to 1) that the player plays on a given day.
        weight: The archetype's relative share of the simulated population.
        description: Free text for reports and archetype files.
        streak_habit: When the player performs the streak action, or ``None``: then
            only as ``actions`` says, on days played.
        timezones: IANA time zone -> the share of players living there (relative
            weights); empty for the config's zone.
    """

    name: str
    actions: Mapping[str, Rate]
    active_chance: float = 1.0
    weight: float = 1.0
    description: str = ""
    streak_habit: StreakHabit | None = None
    timezones: Mapping[str, float] = field(default_factory=_no_zones)

    def __post_init__(self) -> None:
        problems = _archetype_problems(_archetype_to_dict(self), "Archetype")
        if problems:
            raise ConfigError(problems)
        given: Mapping[str, Any] = self.actions  # plain {"chance": ...} tables are accepted too
        rates = {a: r if isinstance(r, Rate) else Rate(**r) for a, r in given.items()}
        object.__setattr__(self, "actions", MappingProxyType(rates))
        habit: object = self.streak_habit
        if isinstance(habit, Mapping):
            object.__setattr__(self, "streak_habit", StreakHabit(**habit))
        object.__setattr__(self, "timezones", MappingProxyType(dict(self.timezones)))

    def __hash__(self) -> int:
        return hash(
            (
                self.name,
                frozenset(self.actions.items()),
                self.active_chance,
                self.weight,
                self.description,
                self.streak_habit,
                tuple(self.timezones.items()),
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping in archetype-file form (one ``[[archetype]]`` table)."""
        return _archetype_to_dict(self)

    def player_zones(self, players: int) -> tuple[str | None, ...]:
        """The time zone of each of ``players`` players, in order (``None``: the config's).

        >>> Archetype("a", {"daily_chat": Rate(chance=1)},
        ...           timezones={"Asia/Tokyo": 2, "UTC": 1}).player_zones(4)
        ('Asia/Tokyo', 'Asia/Tokyo', 'Asia/Tokyo', 'UTC')
        """
        if not self.timezones:
            return (None,) * players
        counts = allocate(players, list(self.timezones.values()))
        return tuple(
            zone for zone, count in zip(self.timezones, counts, strict=True) for _ in range(count)
        )


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` by ``weights``: largest remainders, ties to the earlier weight."""
    exact = [Fraction(w) for w in weights]
    whole = sum(exact)
    quotas = [total * w / whole for w in exact]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _rate_to_dict(rate: Rate) -> dict[str, Any]:
    return {"chance": rate.chance} if rate.mean is None else {"mean": rate.mean}


def _habit_to_dict(habit: StreakHabit) -> dict[str, Any]:
    return {"chance": habit.chance, "pattern": habit.pattern}


def _archetype_to_dict(archetype: Archetype) -> dict[str, Any]:
    actions: Any = archetype.actions
    if isinstance(actions, Mapping):
        actions = {k: _rate_to_dict(r) if isinstance(r, Rate) else r for k, r in actions.items()}
    data = {
        "name": archetype.name,
        "description": archetype.description,
        "weight": archetype.weight,
        "active_chance": archetype.active_chance,
        "actions": actions,
    }
    # The levers' keys only when given, so that a file without them reads back the same.
    habit: Any = archetype.streak_habit
    if habit is not None:
        data["streak_habit"] = _habit_to_dict(habit) if isinstance(habit, StreakHabit) else habit
    zones: Any = archetype.timezones
    if not isinstance(zones, Mapping) or zones:
        data["timezones"] = dict(zones) if isinstance(zones, Mapping) else zones
    return data


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


def _habit_problems(data: Mapping[str, Any], where: str) -> list[str]:
    problems = [
        f"{where}.{key}: unknown key (expected chance or pattern)"
        for key in data
        if key not in _HABIT_KEYS
    ]
    chance = data.get("chance", 1.0)
    if not (_is_number(chance) and 0 <= chance <= 1):
        problems.append(f"{where}.chance: must be a number from 0 to 1, got {chance!r}")
    pattern = data.get("pattern", "1")
    if not (
        isinstance(pattern, str) and 0 < len(pattern) <= MAX_PATTERN and set(pattern) <= {"0", "1"}
    ):
        problems.append(
            f'{where}.pattern: must be 1 to {MAX_PATTERN} days on ("1") and off ("0"), '
            f'like "1111100", got {pattern!r}'
        )
    return problems


def _timezone_problems(zones: object, where: str) -> list[str]:
    if not isinstance(zones, Mapping):
        return [f"{where}: must be a table of IANA time zone -> share, got {zones!r}"]
    problems = []
    for zone, share in zones.items():
        try:
            resolve_timezone(zone)
        except InvalidArgumentError:
            problems.append(
                f"{where}: {zone!r} is not an IANA time zone name (like 'Asia/Tokyo' or 'UTC')"
            )
        if not (_is_number(share) and share > 0):
            problems.append(f"{where}.{zone}: must be a positive number (a share), got {share!r}")
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
    habit = data.get("streak_habit")
    if isinstance(habit, Mapping):
        problems += _habit_problems(habit, f"{where}.streak_habit")
    elif habit is not None and not isinstance(habit, StreakHabit):
        problems.append(
            f'{where}.streak_habit: must be a table {{ chance = <0..1>, pattern = "1111100" }}, '
            f"got {habit!r}"
        )
    if "timezones" in data:
        problems += _timezone_problems(data["timezones"], f"{where}.timezones")
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
            streak_habit=_habit_from_dict(table.get("streak_habit")),
            timezones=table.get("timezones", {}),
        )
        for table in tables
    )


def _habit_from_dict(data: Mapping[str, Any] | None) -> StreakHabit | None:
    return None if data is None else StreakHabit(**data)


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

    The list is empty when they can: at least one archetype, unique names, only
    actions that the config knows, and a streak habit's action given once.
    """
    if not archetypes:
        return ["archetypes: at least one archetype is needed"]
    problems: list[str] = []
    known = ", ".join(config.actions)
    habit_action = streak_action(config)
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
        if archetype.streak_habit is not None:
            if habit_action not in config.actions:
                problems.append(
                    f"archetype {archetype.name!r}: the streak habit performs {habit_action!r}, "
                    f"which is not in the config (known actions: {known})"
                )
            elif habit_action in archetype.actions:
                problems.append(
                    f"archetype {archetype.name!r}: {habit_action!r} is the streak habit's "
                    "action: give it under actions or as the streak_habit, not both"
                )
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
