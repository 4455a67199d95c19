"""Archetypes: the kinds of players a simulation plays, and the files that describe them.

An :class:`Archetype` says how likely a kind of player is to play on a day and what
they do then (each action at a :class:`Rate`); :func:`load_archetypes` reads them from
a TOML file, checking the file as a whole, and :func:`archetype_problems` checks them
against the config to be simulated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard

from ..core.config import DEFAULT_CONFIG, ProgressionConfig, read_data_file
from ..errors import ConfigError

__all__ = [
    "DEFAULT_ARCHETYPES",
    "MAX_EXPECTED_ATTEMPTS",
    "MAX_MEAN",
    "Archetype",
    "Rate",
    "archetype_problems",
    "archetypes_from_dict",
    "load_archetypes",
]


MAX_MEAN = 1000
"""The largest expected number of attempts of one action a day an archetype may ask for."""

_ARCHETYPE_KEYS = ("name", "description", "weight", "active_chance", "actions")
_RATE_KEYS = ("chance", "mean")

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
