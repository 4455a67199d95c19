"""The rules of the game as data: levels, action rewards and limits, daily caps, unlocks.

A :class:`ProgressionConfig` is validated when it is built and then never
changes. Validation reports every problem with its location, never only the
first, so a game designer fixes a file in one pass. ``DEFAULT_CONFIG`` is the
platform's own table, to the letter.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from ..errors import ConfigError, ConfigFileError
from .boosts import BoostRules
from .days import DayBoundary
from .milestones import Milestone
from .streaks import StreakRules
from .validation import (
    DEFAULT_MAX_CLOCK_SKEW_MINUTES,
    action_problems,
    config_problems,
    level_problems,
)

__all__ = [
    "DEFAULT_CONFIG",
    "ActionRule",
    "Level",
    "ProgressionConfig",
    "config_problems",
    "load_config",
    "read_data_file",
]

_FINGERPRINT_DEFAULTS: dict[str, object] = {
    "max_clock_skew_minutes": DEFAULT_MAX_CLOCK_SKEW_MINUTES,
}
"""Settings added after the first release, left out of the fingerprint at their default,
so that a config's fingerprint (recorded in every ledger entry) survives an upgrade."""


@dataclass(frozen=True, slots=True)
class Level:
    """One rung of the level table.

    Attributes:
        number: The level's number; a table is numbered 1..N without gaps.
        name: What the level is called ("Newbie").
        unlock: What reaching it unlocks, as shown to users.
        exp_required: Total EXP at which a user reaches this level.
    """

    number: int
    name: str
    unlock: str
    exp_required: int

    def __post_init__(self) -> None:
        problems = level_problems(_level_to_dict(self), "Level")
        if problems:
            raise ConfigError(problems)


@dataclass(frozen=True, slots=True)
class ActionRule:
    """What one action is worth and how often a day it may pay.

    Attributes:
        exp: EXP granted per award (before the daily cap).
        daily_limit: Awards per day, or ``None`` for no limit.
        cap_exempt: If true, the action's EXP is granted in full and does not
            count toward the daily EXP cap (like bounties under a reputation cap).
        creator_award: If true, the EXP goes to the creator of the target (a
            liked or forked character), never to the user who acted.
    """

    exp: int
    daily_limit: int | None = None
    cap_exempt: bool = False
    creator_award: bool = False

    def __post_init__(self) -> None:
        problems = action_problems(_action_to_dict(self), "ActionRule")
        if problems:
            raise ConfigError(problems)


@dataclass(frozen=True, slots=True)
class ProgressionConfig:
    """A complete, validated set of progression rules.

    Build one directly, from a plain mapping with :meth:`from_dict`, or from a
    file with :func:`load_config`. Mappings are copied into read-only mappings.

    Attributes:
        levels: The level table, numbered 1..N, thresholds strictly increasing from 0.
        actions: Every awardable action by name.
        daily_exp_caps: Daily EXP cap by level. A level without an entry takes the
            cap of the nearest lower level that has one (level 1 must have one);
            a level beyond the table takes the last level's cap. Stored with one
            entry for every level.
        features: Feature name -> the level that unlocks it.
        reset_timezone: IANA time zone in which days begin (default ``"UTC"``).
        reset_hour: Local hour at which a new day begins (default 0, midnight).
        levels_can_drop: Whether a revoked award may lower a user's level. By
            default levels never drop: EXP goes down, the level stays until EXP
            passes the next threshold again.
        max_clock_skew_minutes: How far (1 to 2,880 minutes, default 240) a user's
            stored day may lie ahead of ``now`` and still be trusted. Within it, days
            only move forward, so a server whose clock lags never reopens a spent day;
            beyond it the stored day is a clock fault (a server whose clock ran ahead
            stamped it) and the day reopens at ``now`` instead of freezing until the
            clock catches up.
        boosts: Boost windows and how they stack (:class:`BoostRules`), or ``None``.
        streak: How streaks are kept (:class:`StreakRules`), or ``None`` for no streaks.
        milestones: Badges and unlocks granted once (:class:`Milestone`), in order.
        fingerprint: A short digest of the rules, recorded beside every award.

    A config without ``boosts``, ``streak`` and ``milestones`` decides exactly as the
    platform does; each of them is a lever a designer turns on (see docs/levers.md).
    """

    levels: Sequence[Level]
    actions: Mapping[str, ActionRule]
    daily_exp_caps: Mapping[int, int]
    features: Mapping[str, int] = field(default_factory=dict)
    reset_timezone: str = "UTC"
    reset_hour: int = 0
    levels_can_drop: bool = False
    max_clock_skew_minutes: int = DEFAULT_MAX_CLOCK_SKEW_MINUTES
    boosts: BoostRules | None = None
    streak: StreakRules | None = None
    milestones: Sequence[Milestone] = ()
    fingerprint: str = field(init=False, compare=False)
    day_boundary: DayBoundary = field(init=False, repr=False, compare=False)
    _thresholds: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _caps: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _rule_table: dict[str, tuple[int, int | None, bool]] = field(
        init=False, repr=False, compare=False
    )
    _day_of: Callable[[datetime], date] = field(init=False, repr=False, compare=False)
    _is_later_day: Callable[[datetime, datetime], bool] = field(
        init=False, repr=False, compare=False
    )
    _max_skew: timedelta = field(init=False, repr=False, compare=False)
    _levers: bool = field(init=False, repr=False, compare=False)
    _counted_actions: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = config_problems(self._raw_dict())
        if problems:
            raise ConfigError(problems)
        # Levels and rules may be given as plain mappings (validated just above).
        given_levels: Sequence[object] = self.levels
        given_actions: Mapping[str, object] = self.actions
        levels = tuple(_as(Level, level) for level in given_levels)
        actions = {name: _as(ActionRule, rule) for name, rule in given_actions.items()}
        caps = _full_caps({int(k): v for k, v in self.daily_exp_caps.items()}, len(levels))
        set_ = object.__setattr__
        set_(self, "levels", levels)
        set_(self, "actions", MappingProxyType(actions))
        # (exp, daily_limit, cap_exempt) per action: one lookup on the award path.
        set_(
            self,
            "_rule_table",
            {n: (r.exp, r.daily_limit, r.cap_exempt) for n, r in self.actions.items()},
        )
        set_(self, "daily_exp_caps", MappingProxyType(caps))
        set_(self, "features", MappingProxyType(dict(self.features)))
        boundary = DayBoundary(self.reset_timezone, self.reset_hour)
        set_(self, "day_boundary", boundary)
        # Called on every award: keep the plain functions to skip a method's extra frame.
        set_(self, "_day_of", boundary._day_of)
        set_(self, "_is_later_day", boundary._is_later_day)
        set_(self, "_thresholds", tuple(level.exp_required for level in levels))
        # Index 0 is unused so that a level number indexes its own cap.
        set_(self, "_caps", (0, *(caps[n] for n in range(1, len(levels) + 1))))
        set_(self, "_max_skew", timedelta(minutes=self.max_clock_skew_minutes))
        given_boosts: object = self.boosts
        if isinstance(given_boosts, Mapping):
            set_(self, "boosts", BoostRules.from_dict(given_boosts))
        given_streak: object = self.streak
        if isinstance(given_streak, Mapping):
            set_(self, "streak", StreakRules.from_dict(given_streak))
        given_milestones: Sequence[object] = self.milestones
        milestones = tuple(_as(Milestone, m) for m in given_milestones)
        set_(self, "milestones", milestones)
        # Whether an award must take the levers' path (the plain path is the seed's rules).
        set_(self, "_levers", bool(self.boosts or self.streak or milestones))
        set_(self, "_counted_actions", frozenset(m.action for m in milestones if m.action))
        fingerprinted = {
            key: value
            for key, value in self.to_dict().items()
            if _FINGERPRINT_DEFAULTS.get(key, _NO_DEFAULT) != value
        }
        canonical = json.dumps(fingerprinted, sort_keys=True, separators=(",", ":"))
        set_(self, "fingerprint", hashlib.sha256(canonical.encode()).hexdigest()[:16])

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @property
    def max_clock_skew(self) -> timedelta:
        """``max_clock_skew_minutes`` as a ``timedelta``."""
        return self._max_skew

    @property
    def max_level(self) -> int:
        """The highest level number in the table."""
        return len(self._thresholds)

    def level(self, number: int) -> Level:
        """The :class:`Level` with this number (numbers beyond the table give the last)."""
        return self.levels[min(max(number, 1), len(self._thresholds)) - 1]

    def cap_for_level(self, level: int) -> int:
        """The daily EXP cap of ``level``; beyond the table, the last level's cap."""
        caps = self._caps
        return caps[level] if 0 < level < len(caps) else caps[-1]

    def level_for_exp(self, exp: int) -> int:
        """The level a user with ``exp`` total EXP has reached."""
        return bisect_right(self._thresholds, exp) or 1

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready mapping that :meth:`from_dict` turns back into an equal config."""
        return {
            "levels": [_level_to_dict(level) for level in self.levels],
            "actions": {name: _action_to_dict(r) for name, r in self.actions.items()},
            "daily_exp_caps": {str(k): v for k, v in self.daily_exp_caps.items()},
            "features": dict(self.features),
            "reset_timezone": self.reset_timezone,
            "reset_hour": self.reset_hour,
            "levels_can_drop": self.levels_can_drop,
            "max_clock_skew_minutes": self.max_clock_skew_minutes,
            **self._levers_dict(),
        }

    def _levers_dict(self) -> dict[str, Any]:
        """The lever sections that are set (absent ones are left out, so a config without
        them keeps the ``to_dict`` form, and the fingerprint, it had before levers)."""
        data: dict[str, Any] = {}
        if self.boosts is not None:
            data["boosts"] = self.boosts.to_dict()
        if self.streak is not None:
            data["streak"] = self.streak.to_dict()
        if self.milestones:
            data["milestones"] = [m.to_dict() for m in self.milestones]
        return data

    @property
    def uses_levers(self) -> bool:
        """Whether boosts, streaks or milestones are on (else the seed's rules, exactly)."""
        return self._levers

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> ProgressionConfig:
        """Build a config from plain data (parsed TOML or JSON).

        Raises:
            ConfigError: listing every problem found, each with its location.
        """
        problems = config_problems(data)
        if problems:
            raise ConfigError(problems, source=source)
        return cls(
            levels=tuple(Level(**level) for level in data["levels"]),
            actions={name: ActionRule(**r) for name, r in data["actions"].items()},
            daily_exp_caps={int(k): v for k, v in data["daily_exp_caps"].items()},
            features=dict(data.get("features", {})),
            reset_timezone=data.get("reset_timezone", "UTC"),
            reset_hour=data.get("reset_hour", 0),
            levels_can_drop=data.get("levels_can_drop", False),
            max_clock_skew_minutes=data.get(
                "max_clock_skew_minutes", DEFAULT_MAX_CLOCK_SKEW_MINUTES
            ),
            boosts=BoostRules.from_dict(data["boosts"]) if "boosts" in data else None,
            streak=StreakRules.from_dict(data["streak"]) if "streak" in data else None,
            milestones=tuple(Milestone.from_dict(m) for m in data.get("milestones", ())),
        )

    def _raw_dict(self) -> dict[str, Any]:
        """The fields as given, in ``to_dict`` form, without assuming they are valid."""

        def items(value: object) -> Any:
            return dict(value) if isinstance(value, Mapping) else value

        levels: Any = self.levels
        if isinstance(levels, Sequence) and not isinstance(levels, str):
            levels = [_level_to_dict(lv) if isinstance(lv, Level) else lv for lv in levels]
        actions: Any = items(self.actions)
        if isinstance(actions, dict):
            actions = {
                k: _action_to_dict(r) if isinstance(r, ActionRule) else r
                for k, r in actions.items()
            }
        raw: dict[str, Any] = {
            "levels": levels,
            "actions": actions,
            "daily_exp_caps": items(self.daily_exp_caps),
            "features": items(self.features),
            "reset_timezone": self.reset_timezone,
            "reset_hour": self.reset_hour,
            "levels_can_drop": self.levels_can_drop,
            "max_clock_skew_minutes": self.max_clock_skew_minutes,
        }
        boosts: object = self.boosts
        if boosts is not None:
            raw["boosts"] = boosts.to_dict() if isinstance(boosts, BoostRules) else boosts
        streak: object = self.streak
        if streak is not None:
            raw["streak"] = streak.to_dict() if isinstance(streak, StreakRules) else streak
        milestones: Any = self.milestones
        if isinstance(milestones, Sequence) and not isinstance(milestones, str):
            milestones = [m.to_dict() if isinstance(m, Milestone) else m for m in milestones]
            if milestones:
                raw["milestones"] = milestones
        else:
            raw["milestones"] = milestones
        return raw


_NO_DEFAULT = object()

_Item = TypeVar("_Item", "Level", "ActionRule", "Milestone")


def _as(kind: type[_Item], value: object) -> _Item:
    """``value`` as a ``kind``: itself, or built from the validated mapping it is."""
    if isinstance(value, kind):
        return value
    assert isinstance(value, Mapping)  # config_problems accepted it
    return kind(**value)


def load_config(path: str | Path) -> ProgressionConfig:
    """Read a config from a ``.toml`` or ``.json`` file.

    Raises:
        ConfigFileError: the file is missing, unreadable, malformed or not .toml/.json.
        ConfigError: the file describes an invalid config (every problem listed).
    """
    data, source = read_data_file(path)
    return ProgressionConfig.from_dict(data, source=source)


def read_data_file(
    path: str | Path, suffixes: Sequence[str] = (".toml", ".json")
) -> tuple[dict[str, Any], str]:
    """Parse a ``.toml`` or ``.json`` file into a mapping; return it and the path as text.

    Shared by every loader of designer-written files, so they fail alike.

    Raises:
        ConfigFileError: the file is missing, unreadable, not UTF-8, malformed, not a
            mapping at the top, or its extension is not one of ``suffixes``.
    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ConfigFileError(
            [f"file: unsupported extension {suffix or '(none)'!r}, use {' or '.join(suffixes)}"],
            source=source,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError([f"file: cannot read ({exc.strerror})"], source=source) from exc
    except UnicodeDecodeError as exc:
        raise ConfigFileError([f"file: not UTF-8 text ({exc.reason})"], source=source) from exc
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError([f"file: malformed TOML: {exc}"], source=source) from exc
    except json.JSONDecodeError as exc:
        raise ConfigFileError([f"file: malformed JSON: {exc}"], source=source) from exc
    except RecursionError as exc:
        raise ConfigFileError(
            ["file: nested too deeply to read (a config is a few levels deep)"], source=source
        ) from exc
    if not isinstance(data, dict):
        raise ConfigFileError(["file: the top level must be an object"], source=source)
    return data, source


# --- plain forms --------------------------------------------------------------------


def _level_to_dict(level: Level) -> dict[str, Any]:
    return {
        "number": level.number,
        "name": level.name,
        "unlock": level.unlock,
        "exp_required": level.exp_required,
    }


def _action_to_dict(rule: ActionRule) -> dict[str, Any]:
    return {
        "exp": rule.exp,
        "daily_limit": rule.daily_limit,
        "cap_exempt": rule.cap_exempt,
        "creator_award": rule.creator_award,
    }


def _full_caps(caps: Mapping[int, int], level_count: int) -> dict[int, int]:
    """Give every level its cap: an explicit one, else the nearest lower level's."""
    full: dict[int, int] = {}
    current = caps[1]
    for number in range(1, level_count + 1):
        current = caps.get(number, current)
        full[number] = current
    return full


DEFAULT_CONFIG = ProgressionConfig(
    levels=(
        Level(1, "Newbie", "Create chars, scenes, personas", 0),
        Level(2, "Creator", "Fork, private chars", 100),
        Level(3, "Advanced", "Basic analytics", 300),
        Level(4, "Pro", "Prompt controls", 700),
        Level(5, "Elite", "Featured chance, beta tools", 1500),
        Level(6, "Master", "Creator badge, early revenue tools", 3000),
    ),
    actions={
        "daily_chat": ActionRule(20, daily_limit=1),
        "create_character": ActionRule(30, daily_limit=2),
        "create_scene": ActionRule(15, daily_limit=2),
        "create_persona": ActionRule(15, daily_limit=2),
        "character_liked": ActionRule(5, daily_limit=20, creator_award=True),
        "forked": ActionRule(10, creator_award=True),
        "paid_char_sold": ActionRule(50, creator_award=True),
    },
    daily_exp_caps={1: 150, 2: 150, 3: 300, 4: 300, 5: 500, 6: 500},
    features={
        "fork": 2,
        "private_chars": 2,
        "basic_analytics": 3,
        "prompt_controls": 4,
        "featured_chance": 5,
        "beta_tools": 5,
        "creator_badge": 6,
        "revenue_tools": 6,
    },
)
"""The platform's rules exactly: six levels, seven actions, caps 150/300/500, UTC midnight.

Three actions pay the creator of a character for what another user did, as the platform's
route does: ``character_liked``, ``forked`` and ``paid_char_sold`` (a sale pays the
creator of the sold character; the buyer is the actor, and a creator buying their own
character earns nothing)."""
