"""Validating a config written as plain data: every problem, each with its location.

One validator over the plain ``to_dict`` form serves direct construction, ``from_dict``
and files alike, so every entry point (and the pydantic models) reports the same
problems, in the same words. Nothing here builds a config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._checks import count_problem, got, is_int, key_problems
from .boosts import boost_problems
from .days import resolve_timezone
from .milestones import milestone_problems
from .streaks import streak_problems

__all__ = [
    "ACTION_KEYS",
    "CONFIG_KEYS",
    "DEFAULT_MAX_CLOCK_SKEW_MINUTES",
    "LEVEL_KEYS",
    "MAX_CLOCK_SKEW_MINUTES",
    "action_problems",
    "config_problems",
    "level_problems",
]

LEVEL_KEYS = ("number", "name", "unlock", "exp_required")
ACTION_KEYS = ("exp", "daily_limit", "cap_exempt", "creator_award")
CONFIG_KEYS = (
    "levels",
    "actions",
    "daily_exp_caps",
    "features",
    "reset_timezone",
    "reset_hour",
    "levels_can_drop",
    "max_clock_skew_minutes",
    "boosts",
    "streak",
    "milestones",
)
REQUIRED_CONFIG_KEYS = ("levels", "actions", "daily_exp_caps")

DEFAULT_MAX_CLOCK_SKEW_MINUTES = 240
"""How far ahead of the clock a stored day may lie before it counts as a clock fault (4 h)."""
MAX_CLOCK_SKEW_MINUTES = 48 * 60
"""The largest tolerance a config may set (48 h): a day can never freeze for longer."""


def level_problems(data: Mapping[str, Any], where: str) -> list[str]:
    problems = key_problems(data, LEVEL_KEYS, LEVEL_KEYS, f"{where}.")
    number = data.get("number")
    if "number" in data and not (is_int(number) and number >= 1):
        problems.append(f"{where}.number: must be a positive integer, {got(number)}")
    for key in ("name", "unlock"):
        value = data.get(key)
        if key in data and not isinstance(value, str):
            problems.append(f"{where}.{key}: must be a string, {got(value)}")
    name = data.get("name")
    if isinstance(name, str) and not name.strip():
        problems.append(f"{where}.name: must not be empty")
    if "exp_required" in data:
        problems += filter(None, [count_problem(f"{where}.exp_required", data["exp_required"])])
    return problems


def action_problems(data: Mapping[str, Any], where: str) -> list[str]:
    problems = key_problems(data, ACTION_KEYS, ("exp",), f"{where}.")
    if "exp" in data:
        problems += filter(None, [count_problem(f"{where}.exp", data["exp"])])
    limit = data.get("daily_limit")
    if limit is not None:
        expected = "a positive integer or null (no limit)"
        problems += filter(None, [count_problem(f"{where}.daily_limit", limit, expected, 1)])
    for key in ("cap_exempt", "creator_award"):
        if key in data and not isinstance(data[key], bool):
            problems.append(f"{where}.{key}: must be true or false, {got(data[key])}")
    return problems


def _level_number_key(key: object) -> int | None:
    """A level number written as an int or as its canonical decimal text (``"1"``, not ``"01"``)."""
    if is_int(key):
        return key
    if isinstance(key, str) and key.isdigit() and key.isascii() and str(int(key)) == key:
        return int(key)
    return None


def config_problems(data: object) -> list[str]:
    """Every problem with a plain config mapping, each as ``"<location>: <problem>"``.

    An empty list means :meth:`ProgressionConfig.from_dict` will accept ``data``.
    """
    if not isinstance(data, Mapping):
        return [f"config: must be a mapping, got {type(data).__name__}"]
    problems = key_problems(data, CONFIG_KEYS, REQUIRED_CONFIG_KEYS, "")
    level_count = _levels_problems(data.get("levels"), problems) if "levels" in data else 0
    if "actions" in data:
        _actions_problems(data["actions"], problems)
    if "daily_exp_caps" in data:
        _caps_problems(data["daily_exp_caps"], level_count, problems)
    _features_problems(data.get("features", {}), level_count, problems)
    zone = data.get("reset_timezone", "UTC")
    if not isinstance(zone, str):
        problems.append(f"reset_timezone: must be an IANA time zone name, {got(zone)}")
    else:
        try:
            resolve_timezone(zone)
        except ValueError:
            problems.append(
                f"reset_timezone: unknown time zone {zone!r} (use an IANA name like 'UTC')"
            )
    hour = data.get("reset_hour", 0)
    if not (is_int(hour) and 0 <= hour <= 23):
        problems.append(f"reset_hour: must be an integer from 0 to 23, {got(hour)}")
    drop = data.get("levels_can_drop", False)
    if not isinstance(drop, bool):
        problems.append(f"levels_can_drop: must be true or false, {got(drop)}")
    actions = data.get("actions") if isinstance(data.get("actions"), Mapping) else None
    # A section written as null is refused (as from_dict would refuse it), not taken as absent.
    if "boosts" in data:
        problems += boost_problems(data["boosts"], actions)
    if "streak" in data:
        problems += streak_problems(data["streak"], actions)
    if "milestones" in data:
        problems += milestone_problems(data["milestones"], actions, level_count)
    skew = data.get("max_clock_skew_minutes", DEFAULT_MAX_CLOCK_SKEW_MINUTES)
    if not (is_int(skew) and 1 <= skew <= MAX_CLOCK_SKEW_MINUTES):
        problems.append(
            f"max_clock_skew_minutes: must be an integer from 1 to {MAX_CLOCK_SKEW_MINUTES} "
            f"(48 hours), {got(skew)}"
        )
    return problems


def _levels_problems(levels: object, problems: list[str]) -> int:
    """Check the level table; return how many levels it has (0 if unusable)."""
    if not isinstance(levels, Sequence) or isinstance(levels, str) or not levels:
        problems.append(f"levels: must be a non-empty list of levels, {got(levels)}")
        return 0
    previous: int | None = None
    for i, level in enumerate(levels):
        where = f"levels[{i}]"
        if not isinstance(level, Mapping):
            problems.append(f"{where}: must be a table with {', '.join(LEVEL_KEYS)}")
            previous = None
            continue
        problems.extend(level_problems(level, where))
        number = level.get("number")
        if is_int(number) and number != i + 1:
            problems.append(
                f"{where}.number: must be {i + 1} (levels are numbered 1..N in order "
                f"without gaps), got {number}"
            )
        required = level.get("exp_required")
        if not is_int(required):
            previous = None
            continue
        if i == 0 and required != 0:
            problems.append(f"{where}.exp_required: the first level must require 0, got {required}")
        elif previous is not None and required <= previous:
            problems.append(
                f"{where}.exp_required: must be greater than levels[{i - 1}] ({previous}), "
                f"got {required}"
            )
        previous = required
    return len(levels)


def _actions_problems(actions: object, problems: list[str]) -> None:
    if not isinstance(actions, Mapping) or not actions:
        problems.append(f"actions: must be a non-empty table of actions, {got(actions)}")
        return
    for name, rule in actions.items():
        where = f"actions.{name}"
        if not isinstance(name, str) or not name.strip():
            problems.append(f"actions: action names must be non-empty strings, got {name!r}")
        if not isinstance(rule, Mapping):
            problems.append(f"{where}: must be a table with exp and optional daily_limit")
            continue
        problems.extend(action_problems(rule, where))


def _caps_problems(caps: object, level_count: int, problems: list[str]) -> None:
    if not isinstance(caps, Mapping) or not caps:
        problems.append(f"daily_exp_caps: must be a non-empty table of level -> cap, {got(caps)}")
        return
    numbers: dict[int, object] = {}
    for key, cap in caps.items():
        number = _level_number_key(key)
        where = f"daily_exp_caps.{key}"
        if number is None:
            problems.append(
                f"{where}: keys must be level numbers written without leading zeros "
                f'("1", "2"...), got {key!r}'
            )
            continue
        if number in numbers:
            problems.append(
                f"{where}: level {number} has two caps (keys {numbers[number]!r} and {key!r})"
            )
        numbers[number] = key
        if level_count and not 1 <= number <= level_count:
            problems.append(f"{where}: no such level (levels are 1..{level_count})")
        problems += filter(None, [count_problem(where, cap)])
    if 1 not in numbers:
        problems.append(
            "daily_exp_caps: needs a cap for level 1 (later levels without one inherit it)"
        )


def _features_problems(features: object, level_count: int, problems: list[str]) -> None:
    if not isinstance(features, Mapping):
        problems.append(f"features: must be a table of feature -> level, {got(features)}")
        return
    for name, level in features.items():
        where = f"features.{name}"
        if not isinstance(name, str) or not name.strip():
            problems.append(f"features: feature names must be non-empty strings, got {name!r}")
        if not (is_int(level) and level >= 1):
            problems.append(f"{where}: must be a level number, {got(level)}")
        elif level_count and level > level_count:
            problems.append(f"{where}: no such level {level} (levels are 1..{level_count})")
