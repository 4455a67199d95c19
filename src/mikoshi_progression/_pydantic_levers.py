"""Pydantic models of a config's lever sections (``boosts``, ``streak``, ``milestones``),
and their part of the config's JSON Schema. Re-exported by
:mod:`mikoshi_progression.pydantic`, whose models they complete.

Like the other models, each validates with the core's own checks
(:func:`~mikoshi_progression.core.boosts.boost_problems`, ``streak_problems``,
``milestone_problems``), so its errors are the core's problems, at their locations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from ._pydantic_common import (
    NOT_BLANK_PATTERN,
    CoreChecked,
    Loc,
    checked,
    fields_schema,
    item_locations,
    not_set,
    raise_problems,
)
from .core.boosts import (
    _BOOST_KEYS,
    _RULES_KEYS,
    MAX_MULTIPLIER,
    STACKING_MODES,
    _moment,
    _window_problems,
    boost_problems,
    parse_multiplier,
)
from .core.milestones import _KEYS as _MILESTONE_KEYS
from .core.milestones import _one_problems as _milestone_problems
from .core.state import MAX_COUNT
from .core.streaks import _KEYS as _STREAK_KEYS
from .core.streaks import MAX_GRACE_MINUTES, streak_problems

__all__ = [
    "BoostModel",
    "BoostRulesModel",
    "MilestoneModel",
    "StreakRulesModel",
    "lever_locations",
    "lever_schemas",
    "plain_levers",
    "without_models",
]

_MOMENT_PATTERN: Final = "(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2}(?::?[0-9]{2}(?:[.,][0-9]+)?)?)?)$"
"""Text ending in a UTC offset (``Z``, ``+09:00``...): a moment, never a local time."""
_LENGTH_KEY_PATTERN: Final = "^[1-9][0-9]*$"
_MAX_FREEZE_EVERY: Final = 10_000
_MAX_FREEZES: Final = 1_000


# --- models ------------------------------------------------------------------------------


class BoostModel(CoreChecked):
    """One boost window: a period in which actions pay a multiple of their reward."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Boost")

    name: str = Field(
        min_length=1,
        description="How designers and the ledger name the boost; unique among the boosts.",
        examples=["double_xp_weekend"],
    )
    starts: datetime = Field(
        description=(
            "The first moment the boost applies: a date and time with a UTC offset "
            "(2026-12-05T00:00:00Z, or +09:00 for Tokyo). A time without an offset is refused."
        ),
        examples=["2026-12-05T00:00:00Z"],
    )
    ends: datetime = Field(
        description="The first moment it no longer applies: after starts, with a UTC offset.",
        examples=["2026-12-07T00:00:00Z"],
    )
    multiplier: Fraction = Field(
        ge=1,
        le=MAX_MULTIPLIER,
        description=(
            "The reward's multiplier, from 1 to 100: a whole number (2), a decimal (1.5) or "
            'a fraction written as text ("3/2"). Boosted EXP is rounded down.'
        ),
        examples=[2, 1.5, "3/2"],
    )
    actions: list[str] | None = Field(
        default=None,
        min_length=1,
        exclude_if=lambda actions: actions is None,
        description="Optional: the actions it applies to. Leave it out for every action.",
        examples=[["daily_chat", "create_character"]],
    )

    @field_serializer("starts", "ends", when_used="json")
    def _offset_kept(self, moment: datetime) -> str:
        # As the core writes it (``+00:00``, the offset as given), not pydantic's ``Z``.
        return moment.isoformat()

    @classmethod
    def _core_checked(cls, data: object) -> dict[Any, Any]:
        return _plain_window(_checked_window(cls.__name__, data))


class BoostRulesModel(CoreChecked):
    """The boost windows of a config and how overlapping ones combine ([boosts] in TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="BoostRules")

    stacking: Literal["max", "multiply", "add"] = Field(
        default="max",
        description=(
            'Optional: how overlapping boosts combine: "max" (the largest applies), '
            '"multiply" (2 and 1.5 make 3) or "add" (the bonuses add: 2 and 1.5 make 2.5). '
            'Default "max".'
        ),
    )
    raise_cap: bool = Field(
        default=False,
        description=(
            "Optional: whether a boost multiplies the daily EXP cap too, for the boosted "
            "action. Default false: only the reward, which the cap still cuts."
        ),
    )
    windows: list[BoostModel] = Field(
        default_factory=list,
        description=(
            "The boosts, in order. In TOML, one [[boosts.windows]] table per boost; the "
            "names are unique."
        ),
    )

    @classmethod
    def _core_checked(cls, data: object) -> dict[Any, Any]:
        data = without_models(data)
        where = _section_locations("boosts", data)
        return _plain_rules(checked(cls.__name__, data, boost_problems(data, None), where))


class StreakRulesModel(CoreChecked):
    """How streaks are kept: days in a row on which the streak action was awarded ([streak])."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="StreakRules")

    action: str = Field(
        default="daily_chat",
        min_length=1,
        description=(
            'Optional: the action whose award extends the streak by a day. Default "daily_chat".'
        ),
    )
    grace_minutes: int = Field(
        default=0,
        ge=0,
        le=MAX_GRACE_MINUTES,
        description=(
            "Optional: minutes (0 to 720) into a day during which a first streak action "
            "still counts for the day before, if that day was missed. Default 0."
        ),
        examples=[60],
    )
    freeze_every: int = Field(
        default=0,
        ge=0,
        le=_MAX_FREEZE_EVERY,
        description=(
            "Optional: a freeze is earned every this many streak days (0: never); each "
            "freeze covers one missed day. Default 0."
        ),
        examples=[7],
    )
    max_freezes: int = Field(
        default=0,
        ge=0,
        le=_MAX_FREEZES,
        description=(
            "Optional: the most freezes a user can hold (0 to 1000); above 0 exactly when "
            "freeze_every is. Default 0."
        ),
        examples=[2],
    )
    bonuses: dict[int, int] = Field(
        default_factory=dict,
        description=(
            "Optional: streak length -> bonus EXP paid when the streak reaches it (keys are "
            'lengths such as "7").'
        ),
        examples=[{"7": 50, "30": 300}],
        json_schema_extra={"propertyNames": {"pattern": _LENGTH_KEY_PATTERN}},
    )
    bonus_cap_exempt: bool = Field(
        default=True,
        description=(
            "Optional: whether streak bonuses pass the daily EXP cap. Default true; false "
            "cuts a bonus to the room left under the cap."
        ),
    )

    @classmethod
    def _core_checked(cls, data: object) -> dict[Any, Any]:
        where = _section_locations("streak", data)
        return _plain_streak(checked(cls.__name__, data, streak_problems(data, None), where))


class MilestoneModel(CoreChecked):
    """A badge or unlock granted once at a threshold, maybe with bonus EXP ([[milestones]])."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Milestone")

    name: str = Field(
        min_length=1,
        description="Its unique name, kept in the user's state once unlocked.",
        examples=["first_week"],
    )
    description: str = Field(
        default="",
        exclude_if=lambda text: text == "",
        description="Optional: what users are shown.",
        examples=["Chatted 7 days in a row"],
    )
    level: int | None = Field(
        default=None,
        ge=1,
        exclude_if=not_set,
        description="Reached at this level. Give exactly one of level, exp, streak or count.",
    )
    exp: int | None = Field(
        default=None, ge=1, exclude_if=not_set, description="Reached at this total EXP."
    )
    streak: int | None = Field(
        default=None,
        ge=1,
        exclude_if=not_set,
        description="Reached at this streak length (days in a row).",
    )
    action: str | None = Field(
        default=None,
        min_length=1,
        exclude_if=not_set,
        description="With count, and only with it: the action counted.",
    )
    count: int | None = Field(
        default=None,
        ge=1,
        exclude_if=not_set,
        description="With action: reached when the action was awarded this many times, ever.",
    )
    bonus_exp: int = Field(
        default=0,
        ge=0,
        exclude_if=lambda exp: exp == 0,
        description="Optional: EXP granted with it, outside the daily EXP cap. Default 0.",
    )

    @classmethod
    def _core_checked(cls, data: object) -> dict[Any, Any]:
        if not isinstance(data, Mapping):
            raise_problems(cls.__name__, data, ["must be a table with a name and one threshold"])
        problems = _milestone_problems(data, "", None, 0)
        return checked(cls.__name__, data, problems, item_locations(data, _MILESTONE_KEYS))


# --- from the core's problems to their locations -------------------------------------------


def lever_locations(data: Mapping[Any, Any]) -> dict[str, Loc]:
    """Every location the core can name in a problem of ``data``'s lever sections."""
    where: dict[str, Loc] = {}
    boosts = data.get("boosts")
    if isinstance(boosts, Mapping):
        where.update((f"boosts.{key}", ("boosts", str(key))) for key in (*boosts, *_RULES_KEYS))
        windows = boosts.get("windows")
        if isinstance(windows, Sequence) and not isinstance(windows, str):
            for i, window in enumerate(windows):
                at: Loc = ("boosts", "windows", i)
                where[f"boosts.windows[{i}]"] = at
                if isinstance(window, Mapping):
                    for key in (*window, *_BOOST_KEYS):
                        where[f"boosts.windows[{i}].{key}"] = (*at, str(key))
    streak = data.get("streak")
    if isinstance(streak, Mapping):
        where.update((f"streak.{key}", ("streak", str(key))) for key in (*streak, *_STREAK_KEYS))
        bonuses = streak.get("bonuses")
        if isinstance(bonuses, Mapping):
            for length in bonuses:
                where[f"streak.bonuses.{length}"] = ("streak", "bonuses", str(length))
    milestones = data.get("milestones")
    if isinstance(milestones, Sequence) and not isinstance(milestones, str):
        for i, milestone in enumerate(milestones):
            where[f"milestones[{i}]"] = ("milestones", i)
            if isinstance(milestone, Mapping):
                for key in (*milestone, *_MILESTONE_KEYS):
                    where[f"milestones[{i}].{key}"] = ("milestones", i, str(key))
    return where


def _section_locations(section: str, data: object) -> dict[str, Loc]:
    """The locations of one section's problems, relative to the section itself: a model
    of the section alone reports ``stacking``, not ``boosts.stacking``."""
    where = lever_locations({section: data})
    return {
        section: (),
        **{text: loc[1:] for text, loc in where.items() if loc[:1] == (section,)},
    }


def _checked_window(title: str, data: object) -> dict[Any, Any]:
    if not isinstance(data, Mapping):
        raise_problems(title, data, ["must be a table with name, starts, ends and multiplier"])
    problems = _window_problems(data, "", None)
    return checked(title, data, problems, item_locations(data, _BOOST_KEYS))


# --- the core's accepted forms, as the models hold them ------------------------------------


def _plain_window(window: Mapping[str, Any]) -> dict[str, Any]:
    """A window the core accepted, as the model holds it: moments as datetimes, the
    multiplier exact, the actions a list (so that strict validation takes them too)."""
    plain = dict(window)
    for key in ("starts", "ends"):
        plain[key] = _moment(window[key])
    plain["multiplier"] = parse_multiplier(window["multiplier"])
    actions = window.get("actions")
    if actions is not None:
        ordered = sorted(actions) if isinstance(actions, set | frozenset) else actions
        plain["actions"] = list(ordered)
    return plain


def _plain_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    plain = dict(rules)
    if "windows" in rules:
        plain["windows"] = [_plain_window(window) for window in rules["windows"]]
    return plain


def _plain_streak(rules: Mapping[str, Any]) -> dict[str, Any]:
    plain = dict(rules)
    if "bonuses" in rules:
        plain["bonuses"] = {int(length): exp for length, exp in rules["bonuses"].items()}
    return plain


def plain_levers(data: Mapping[str, Any]) -> dict[str, Any]:
    """The lever sections of a config the core accepted, as the models hold them."""
    plain: dict[str, Any] = {}
    if "boosts" in data:
        plain["boosts"] = _plain_rules(data["boosts"])
    if "streak" in data:
        plain["streak"] = _plain_streak(data["streak"])
    if "milestones" in data:
        plain["milestones"] = [dict(milestone) for milestone in data["milestones"]]
    return plain


def without_models(data: object) -> object:
    """``data`` with the model instances it holds (at any depth) turned into the core's
    form; anything without one is returned as given, so the core's messages quote it."""
    if isinstance(data, BaseModel):
        return data.model_dump()
    if isinstance(data, Mapping):
        values = {key: without_models(value) for key, value in data.items()}
        if any(values[key] is not value for key, value in data.items()):
            return values
    elif isinstance(data, list | tuple):
        items = [without_models(item) for item in data]
        if any(new is not old for new, old in zip(items, data, strict=True)):
            return type(data)(items)
    return data


# --- JSON Schema -----------------------------------------------------------------------------


def lever_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The config's lever properties and the ``$defs`` they refer to (new dicts each call)."""
    count = {"type": "integer", "minimum": 1, "maximum": MAX_COUNT}
    exp = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
    name = {"type": "string", "pattern": NOT_BLANK_PATTERN}
    boost = fields_schema(
        BoostModel,
        {
            "name": name,
            "starts": {"type": "string", "pattern": _MOMENT_PATTERN},
            "ends": {"type": "string", "pattern": _MOMENT_PATTERN},
            # An exact number: a multiplier written as text is read as the core reads it.
            "multiplier": {
                "type": ["number", "string"],
                "minimum": 1,
                "maximum": int(MAX_MULTIPLIER),
                "minLength": 1,
            },
            "actions": {"type": "array", "minItems": 1, "items": name},
        },
    )
    rules = fields_schema(
        BoostRulesModel,
        {
            "stacking": {"enum": list(STACKING_MODES)},
            "raise_cap": {"type": "boolean"},
            "windows": {"type": "array", "items": {"$ref": "#/$defs/Boost"}},
        },
    )
    streak = fields_schema(
        StreakRulesModel,
        {
            "action": name,
            "grace_minutes": {"type": "integer", "minimum": 0, "maximum": MAX_GRACE_MINUTES},
            "freeze_every": {"type": "integer", "minimum": 0, "maximum": _MAX_FREEZE_EVERY},
            "max_freezes": {"type": "integer", "minimum": 0, "maximum": _MAX_FREEZES},
            "bonuses": {
                "type": "object",
                "propertyNames": {"pattern": _LENGTH_KEY_PATTERN},
                "additionalProperties": exp,
            },
            "bonus_cap_exempt": {"type": "boolean"},
        },
    )
    # The core takes a threshold written as null for one left out.
    threshold = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_COUNT}
    milestone = fields_schema(
        MilestoneModel,
        {
            "name": name,
            "description": {"type": "string"},
            "level": threshold,
            "exp": threshold,
            "streak": threshold,
            "action": {"type": ["string", "null"], "pattern": NOT_BLANK_PATTERN},
            "count": threshold,
            "bonus_exp": exp,
        },
    )
    # Exactly one threshold (a null one is left out); a count names its action, and only
    # a count does.
    milestone["oneOf"] = [
        {"required": [key], "properties": {key: count}}
        for key in ("level", "exp", "streak", "count")
    ]
    milestone["if"] = {"required": ["count"], "properties": {"count": {"not": {"type": "null"}}}}
    milestone["then"] = {"required": ["action"], "properties": {"action": {"type": "string"}}}
    milestone["else"] = {"properties": {"action": {"type": "null"}}}
    properties = {
        "boosts": {"$ref": "#/$defs/BoostRules"},
        "streak": {"$ref": "#/$defs/StreakRules"},
        "milestones": {"type": "array", "items": {"$ref": "#/$defs/Milestone"}},
    }
    defs = {"BoostRules": rules, "Boost": boost, "StreakRules": streak, "Milestone": milestone}
    return properties, defs
