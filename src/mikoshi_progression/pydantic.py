"""Pydantic models of the config file format, and its JSON Schema for editors.

Needs the ``pydantic`` extra (``pip install -e '.[pydantic]'`` from a clone).
The core never imports this module.

:class:`ProgressionConfigModel` mirrors a ``levels.toml`` / ``.json`` file key
for key. It validates with the core's own :func:`~mikoshi_progression.config_problems`,
so a :class:`pydantic.ValidationError` carries exactly the problems that
:meth:`ProgressionConfig.from_dict <mikoshi_progression.ProgressionConfig.from_dict>`
reports: one error per problem, with the problem's location as ``loc`` and its
text as ``msg`` (type ``config_problem``). :func:`validation_problems` turns the
errors back into the core's ``"<location>: <problem>"`` strings.

>>> from mikoshi_progression import DEFAULT_CONFIG
>>> ProgressionConfigModel.from_config(DEFAULT_CONFIG).to_config() == DEFAULT_CONFIG
True
>>> data = DEFAULT_CONFIG.to_dict()
>>> data["levels"][3]["exp_required"] = 250
>>> try:
...     ProgressionConfigModel.model_validate(data)
... except ValidationError as exc:
...     print(exc.errors()[0]["loc"], exc.errors()[0]["msg"])
...     print(validation_problems(exc))
('levels', 3, 'exp_required') must be greater than levels[2] (300), got 250
['levels[3].exp_required: must be greater than levels[2] (300), got 250']

:func:`config_json_schema` is the JSON Schema that editors use to check a config
file as a designer types (see ``docs/config-schema.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Self

try:
    from pydantic import ConfigDict, Field, ValidationError
except ImportError as exc:  # pragma: no cover - exercised by simulating a missing pydantic
    raise ImportError(
        "mikoshi_progression.pydantic needs pydantic 2: "
        "install the [pydantic] extra (pip install -e '.[pydantic]' from a clone)"
    ) from exc

from ._pydantic_common import (
    NOT_BLANK_PATTERN,
    PROBLEM_ERROR_TYPE,
    CoreChecked,
    Loc,
    checked,
    fields_schema,
    format_loc,
    item_locations,
    not_set,
    raise_problems,
)
from ._pydantic_levers import (
    BoostModel,
    BoostRulesModel,
    MilestoneModel,
    StreakRulesModel,
    lever_locations,
    lever_schemas,
    plain_levers,
    without_models,
)

# The per-item checks are the core's own, so a standalone LevelModel or
# ActionRuleModel reports exactly what the config validator reports for an item.
from .core.config import ProgressionConfig
from .core.state import MAX_COUNT
from .core.validation import (
    ACTION_KEYS,
    CONFIG_KEYS,
    DEFAULT_MAX_CLOCK_SKEW_MINUTES,
    LEVEL_KEYS,
    MAX_CLOCK_SKEW_MINUTES,
    action_problems,
    config_problems,
    level_problems,
)

__all__ = [
    "PROBLEM_ERROR_TYPE",
    "ActionRuleModel",
    "BoostModel",
    "BoostRulesModel",
    "LevelModel",
    "MilestoneModel",
    "ProgressionConfigModel",
    "StreakRulesModel",
    "config_json_schema",
    "validation_problems",
]

_JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

_CAP_KEY_PATTERN: Final = "^[1-9][0-9]*$"


# --- models ---------------------------------------------------------------------


class LevelModel(CoreChecked):
    """One rung of the level table (one [[levels]] table in TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Level")

    number: int = Field(
        ge=1,
        description="The level's number. Levels are numbered 1, 2, 3 ... in order, without gaps.",
        examples=[1],
    )
    name: str = Field(
        min_length=1,
        description="What the level is called, as shown to users. Must not be empty.",
        examples=["Newbie"],
    )
    unlock: str = Field(
        description="What reaching this level unlocks, as shown to users (free text).",
        examples=["Create chars, scenes, personas"],
    )
    exp_required: int = Field(
        ge=0,
        description=(
            "Total EXP at which a user reaches this level. The first level requires 0; "
            "each next level requires strictly more than the one before."
        ),
        examples=[0, 100],
    )

    @classmethod
    def _core_checked(cls, data: object) -> dict[Any, Any]:
        shape = ", ".join(LEVEL_KEYS)
        return _checked_item(cls.__name__, data, shape, level_problems, LEVEL_KEYS)


class ActionRuleModel(CoreChecked):
    """What one action is worth and how often a day it may pay ([actions.NAME] in TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="ActionRule")

    exp: int = Field(
        ge=0,
        description="EXP granted each time the action is awarded (before the daily EXP cap).",
        examples=[20],
    )
    daily_limit: int | None = Field(
        default=None,
        ge=1,
        description=(
            "How many times a day the action may pay. Leave it out (or null in JSON) for no limit."
        ),
        examples=[1, 20],
    )
    cap_exempt: bool = Field(
        default=False,
        description=(
            "If true, the action's EXP is granted in full and does not count toward "
            "the daily EXP cap."
        ),
    )
    creator_award: bool = Field(
        default=False,
        description=(
            "If true, the EXP goes to the creator of the target (the character that was "
            "liked or forked), never to the user who acted."
        ),
    )

    @classmethod
    def _core_checked(cls, data: object) -> dict[Any, Any]:
        shape = "exp and optional daily_limit"
        return _checked_item(cls.__name__, data, shape, action_problems, ACTION_KEYS)


class ProgressionConfigModel(CoreChecked):
    """A whole config file: the rules of the game as data.

    Validation runs the core's :func:`~mikoshi_progression.config_problems`
    first; when it finds problems, the :class:`pydantic.ValidationError` lists
    exactly those, and pydantic's own field checks never add to them.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="ProgressionConfig",
        json_schema_extra={
            "examples": [
                {
                    "levels": [
                        {"number": 1, "name": "Newbie", "unlock": "Chat", "exp_required": 0},
                        {"number": 2, "name": "Creator", "unlock": "Fork", "exp_required": 100},
                    ],
                    "actions": {"daily_chat": {"exp": 20, "daily_limit": 1}},
                    "daily_exp_caps": {"1": 150},
                    "features": {"fork": 2},
                }
            ]
        },
    )

    levels: list[LevelModel] = Field(
        min_length=1,
        description=(
            "The level table, numbered 1..N in order; exp_required starts at 0 and "
            "strictly increases. In TOML, write one [[levels]] table per level."
        ),
    )
    actions: dict[str, ActionRuleModel] = Field(
        min_length=1,
        description=(
            "Every action that earns EXP, by name. In TOML, one [actions.NAME] table "
            "per action, e.g. [actions.daily_chat] with exp = 20 and daily_limit = 1."
        ),
    )
    daily_exp_caps: dict[int, int] = Field(
        min_length=1,
        description=(
            "The most EXP a user can earn per day, by level number (keys are level "
            'numbers such as "1"). Level 1 needs a cap; a level without one takes the '
            "cap of the nearest lower level that has one. EXP of cap_exempt actions "
            "does not count."
        ),
        examples=[{"1": 150, "3": 300, "5": 500}],
        json_schema_extra={"propertyNames": {"pattern": _CAP_KEY_PATTERN}},
    )
    features: dict[str, int] = Field(
        default_factory=dict,
        description="Optional: feature name -> the number of the level that unlocks it.",
        examples=[{"fork": 2, "basic_analytics": 3}],
    )
    reset_timezone: str = Field(
        default="UTC",
        min_length=1,
        description=(
            "Optional: the IANA time zone in which days begin and daily limits reset. "
            'Default "UTC".'
        ),
        examples=["UTC", "Asia/Tokyo", "America/New_York"],
    )
    reset_hour: int = Field(
        default=0,
        ge=0,
        le=23,
        description=(
            "Optional: the local hour (0-23) at which a new day begins. Default 0 (midnight)."
        ),
        examples=[0, 4],
    )
    levels_can_drop: bool = Field(
        default=False,
        description=(
            "Optional: whether revoking EXP may lower a user's level. Default false: EXP "
            "goes down, the level stays until EXP passes the next threshold again."
        ),
    )
    max_clock_skew_minutes: int = Field(
        default=DEFAULT_MAX_CLOCK_SKEW_MINUTES,
        ge=1,
        le=MAX_CLOCK_SKEW_MINUTES,
        description=(
            "Optional: how far (in minutes, 1 to 2880) a user's day may be stamped ahead "
            "of the clock and still be trusted. Beyond it the stamp is a clock fault (a "
            "server whose clock ran ahead) and the day reopens. Default 240 (4 hours)."
        ),
        examples=[240],
    )
    boosts: BoostRulesModel | None = Field(
        default=None,
        exclude_if=not_set,
        description=(
            "Optional: boost windows, periods in which actions pay a multiple of their "
            "reward ([boosts] with [[boosts.windows]] tables in TOML). Leave it out for none."
        ),
    )
    streak: StreakRulesModel | None = Field(
        default=None,
        exclude_if=not_set,
        description=(
            "Optional: streaks, days in a row on which the streak action was awarded, with "
            "freezes for missed days and bonuses at lengths ([streak] in TOML). Leave it "
            "out for no streaks."
        ),
    )
    milestones: list[MilestoneModel] = Field(
        default_factory=list,
        exclude_if=lambda milestones: not milestones,
        description=(
            "Optional: badges granted once, at a level, a total EXP, a streak length or a "
            "count of one action, with optional bonus EXP. In TOML, one [[milestones]] "
            "table per milestone."
        ),
    )

    @classmethod
    def _core_checked(cls, data: object) -> dict[Any, Any]:
        data = without_models(data)
        problems = config_problems(data)
        if problems:
            where = _config_locations(data) if isinstance(data, Mapping) else {"config": ()}
            raise_problems(cls.__name__, data, problems, where)
        assert isinstance(data, Mapping)  # the core accepted it
        # The core accepted the data, so pydantic's own (never stricter) checks pass
        # too: hand them plain dicts and lists with int level keys, even in strict mode.
        return _plain_config(data)

    def to_config(self) -> ProgressionConfig:
        """The validated core :class:`~mikoshi_progression.ProgressionConfig`.

        The model dumps as the core's ``to_dict`` form: the lever sections left out when
        they are off, as the core leaves them out.
        """
        return ProgressionConfig.from_dict(self.model_dump())

    @classmethod
    def from_config(cls, config: ProgressionConfig) -> Self:
        """The model of a core config (caps listed for every level, as ``to_dict`` gives)."""
        return cls.model_validate(config.to_dict())


def validation_problems(error: ValidationError, *, root: str = "config") -> list[str]:
    """The errors of ``error`` as the core's ``"<location>: <problem>"`` strings.

    For errors raised by these models this is exactly
    :func:`~mikoshi_progression.config_problems` of the same data. Locations are
    relative to the validated object (inside a FastAPI body they start with
    ``body``); an empty location (the object itself) reads ``root``.

    >>> try:
    ...     ProgressionConfigModel.model_validate({"levels": []})
    ... except ValidationError as exc:
    ...     for problem in validation_problems(exc):
    ...         print(problem)
    actions: missing
    daily_exp_caps: missing
    levels: must be a non-empty list of levels, got []
    """
    return [
        f"{format_loc(e['loc']) if e['loc'] else root}: {e['msg']}"
        for e in error.errors(include_url=False)
    ]


# --- JSON Schema ----------------------------------------------------------------

_SCHEMA_DESCRIPTION: Final = (
    "Progression rules for mikoshi-progression: the level table, what each action is "
    "worth and how often a day it pays, daily EXP caps by level, feature unlocks, and "
    "the optional levers: boost windows, streaks and milestones. "
    "This schema checks types, required keys, unknown keys and ranges as you type. "
    "Some rules cannot be written in JSON Schema; the library checks them when it "
    "loads the file: levels are numbered 1..N in order without gaps; exp_required "
    "strictly increases from level to level; every daily_exp_caps key and every "
    "feature's level is a level in the table; reset_timezone is a known IANA time "
    "zone; whole numbers have no decimal point (JSON Schema takes 1.0 as an integer); "
    "a boost ends after it starts, its moments are real dates in the years 1900 to "
    '8999, its multiplier written as text is a number ("3/2", "1.5") from 1 to 100, '
    "and boost names are unique; every action a boost, the streak or a milestone names "
    "is an action of the config; freeze_every and max_freezes are both 0 or both "
    "above 0; milestone names are unique and a level milestone names a level in the table."
)


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a config file, for editors.

    It never rejects a config that :func:`~mikoshi_progression.load_config`
    accepts, and rejects every type and shape error; the cross-field rules it
    cannot express are listed in its ``description``. A new dict on every call.

    >>> schema = config_json_schema()
    >>> schema["$schema"], schema["required"]
    ('https://json-schema.org/draft/2020-12/schema', ['levels', 'actions', 'daily_exp_caps'])
    """
    level = fields_schema(
        LevelModel,
        {
            "number": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "pattern": NOT_BLANK_PATTERN},
            "unlock": {"type": "string"},
            "exp_required": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
        },
    )
    action = fields_schema(
        ActionRuleModel,
        {
            "exp": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
            "daily_limit": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_COUNT},
            "cap_exempt": {"type": "boolean"},
            "creator_award": {"type": "boolean"},
        },
    )
    lever_properties, lever_defs = lever_schemas()
    config = fields_schema(
        ProgressionConfigModel,
        {
            **lever_properties,
            "levels": {
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/$defs/Level"},
                # The first level is number 1 and requires 0 EXP. Inside allOf, so that
                # ``items`` above still applies to the first level too.
                "allOf": [
                    {
                        "prefixItems": [
                            {
                                "properties": {
                                    "number": {"const": 1},
                                    "exp_required": {"const": 0},
                                }
                            }
                        ]
                    }
                ],
            },
            "actions": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": NOT_BLANK_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/ActionRule"},
            },
            "daily_exp_caps": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": _CAP_KEY_PATTERN},
                "additionalProperties": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                "required": ["1"],  # level 1 needs a cap; later levels inherit it
            },
            "features": {
                "type": "object",
                "propertyNames": {"pattern": NOT_BLANK_PATTERN},
                "additionalProperties": {"type": "integer", "minimum": 1},
            },
            "reset_timezone": {"type": "string", "minLength": 1},
            "reset_hour": {"type": "integer", "minimum": 0, "maximum": 23},
            "levels_can_drop": {"type": "boolean"},
            "max_clock_skew_minutes": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_CLOCK_SKEW_MINUTES,
            },
        },
    )
    return {
        "$schema": _JSON_SCHEMA_DIALECT,
        **config,
        "title": "mikoshi-progression config",
        "description": _SCHEMA_DESCRIPTION,
        "$defs": {"Level": level, "ActionRule": action, **lever_defs},
    }


# --- from the core's problems to pydantic errors ----------------------------------


def _checked_item(
    title: str,
    data: object,
    shape: str,
    problems_of: Callable[[Mapping[str, Any], str], list[str]],
    keys: Sequence[str],
) -> dict[Any, Any]:
    """``data`` as a plain dict if the core finds no problem in it as one item, else raise.

    ``shape`` says what the item must be a table with; ``problems_of`` is the core's
    validator of such an item, and ``keys`` the item's known keys.
    """
    if not isinstance(data, Mapping):
        raise_problems(title, data, [f"must be a table with {shape}"])
    return checked(title, data, problems_of(data, ""), item_locations(data, keys))


def _config_locations(data: Mapping[Any, Any]) -> dict[str, Loc]:
    """Every location the core can name in a problem of ``data``, by its text."""
    where: dict[str, Loc] = {"config": ()}
    for key in (*data, *CONFIG_KEYS):
        where[str(key)] = (str(key),)
    levels = data.get("levels")
    if isinstance(levels, Sequence) and not isinstance(levels, str):
        for i, level in enumerate(levels):
            where[f"levels[{i}]"] = ("levels", i)
            if isinstance(level, Mapping):
                for key in (*level, *LEVEL_KEYS):
                    where[f"levels[{i}].{key}"] = ("levels", i, str(key))
    for section in ("actions", "daily_exp_caps", "features"):
        table = data.get(section)
        if not isinstance(table, Mapping):
            continue
        for name, value in table.items():
            where[f"{section}.{name}"] = (section, str(name))
            if section == "actions" and isinstance(value, Mapping):
                for key in (*value, *ACTION_KEYS):
                    where[f"actions.{name}.{key}"] = ("actions", str(name), str(key))
    where.update(lever_locations(data))
    return where


def _plain_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """Valid config data as plain dicts and lists, level keys as ints."""
    plain = dict(data)
    plain["levels"] = [dict(level) for level in data["levels"]]
    plain["actions"] = {name: dict(rule) for name, rule in data["actions"].items()}
    plain["daily_exp_caps"] = {int(key): cap for key, cap in data["daily_exp_caps"].items()}
    if "features" in data:
        plain["features"] = dict(data["features"])
    plain.update(plain_levers(data))
    return plain
