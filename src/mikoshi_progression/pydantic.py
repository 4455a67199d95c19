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
from typing import Any, Final, NoReturn, Self, TypeAlias

try:
    from pydantic import (
        BaseModel,
        ConfigDict,
        Field,
        ValidationError,
        ValidatorFunctionWrapHandler,
        model_validator,
    )
    from pydantic_core import InitErrorDetails, PydanticCustomError
except ImportError as exc:  # pragma: no cover - exercised by simulating a missing pydantic
    raise ImportError(
        "mikoshi_progression.pydantic needs pydantic 2: "
        "install the [pydantic] extra (pip install -e '.[pydantic]' from a clone)"
    ) from exc

# The per-item checks are the core's own, so a standalone LevelModel or
# ActionRuleModel reports exactly what the config validator reports for an item.
from .core.config import (
    _ACTION_KEYS,
    _CONFIG_KEYS,
    _LEVEL_KEYS,
    DEFAULT_MAX_CLOCK_SKEW_MINUTES,
    MAX_CLOCK_SKEW_MINUTES,
    ProgressionConfig,
    _action_problems,
    _level_problems,
    config_problems,
)
from .core.state import MAX_COUNT

__all__ = [
    "PROBLEM_ERROR_TYPE",
    "ActionRuleModel",
    "LevelModel",
    "ProgressionConfigModel",
    "config_json_schema",
    "validation_problems",
]

PROBLEM_ERROR_TYPE: Final = "config_problem"
"""The ``type`` of every error these models raise: one problem found by the core."""

_JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

_CAP_KEY_PATTERN: Final = "^[1-9][0-9]*$"
_NOT_BLANK_PATTERN: Final = "\\S"

_Loc: TypeAlias = tuple[int | str, ...]
_MISSING: Final = object()


# --- models ---------------------------------------------------------------------


class LevelModel(BaseModel):
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

    @model_validator(mode="wrap")
    @classmethod
    def _validate_like_the_core(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(data, cls):
            return handler(data)
        shape = ", ".join(_LEVEL_KEYS)
        return handler(_checked_item(cls.__name__, data, shape, _level_problems, _LEVEL_KEYS))


class ActionRuleModel(BaseModel):
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

    @model_validator(mode="wrap")
    @classmethod
    def _validate_like_the_core(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(data, cls):
            return handler(data)
        shape = "exp and optional daily_limit"
        return handler(_checked_item(cls.__name__, data, shape, _action_problems, _ACTION_KEYS))


class ProgressionConfigModel(BaseModel):
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

    @model_validator(mode="wrap")
    @classmethod
    def _validate_like_the_core(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(data, cls):
            return handler(data)
        data = _without_models(data)
        problems = config_problems(data)
        if problems:
            where = _config_locations(data) if isinstance(data, Mapping) else {"config": ()}
            _raise_problems(cls.__name__, data, problems, where)
        # The core accepted the data, so pydantic's own (never stricter) checks pass
        # too: hand them plain dicts and lists with int level keys, even in strict mode.
        return handler(_plain_config(data))

    def to_config(self) -> ProgressionConfig:
        """The validated core :class:`~mikoshi_progression.ProgressionConfig`."""
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
        f"{_format_loc(e['loc']) if e['loc'] else root}: {e['msg']}"
        for e in error.errors(include_url=False)
    ]


# --- JSON Schema ----------------------------------------------------------------

_SCHEMA_DESCRIPTION: Final = (
    "Progression rules for mikoshi-progression: the level table, what each action is "
    "worth and how often a day it pays, daily EXP caps by level, and feature unlocks. "
    "This schema checks types, required keys, unknown keys and ranges as you type. "
    "Some rules cannot be written in JSON Schema; the library checks them when it "
    "loads the file: levels are numbered 1..N in order without gaps; exp_required "
    "strictly increases from level to level; every daily_exp_caps key and every "
    "feature's level is a level in the table; reset_timezone is a known IANA time "
    "zone; whole numbers have no decimal point (JSON Schema takes 1.0 as an integer)."
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
    level = _fields_schema(
        LevelModel,
        {
            "number": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "pattern": _NOT_BLANK_PATTERN},
            "unlock": {"type": "string"},
            "exp_required": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
        },
    )
    action = _fields_schema(
        ActionRuleModel,
        {
            "exp": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
            "daily_limit": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_COUNT},
            "cap_exempt": {"type": "boolean"},
            "creator_award": {"type": "boolean"},
        },
    )
    config = _fields_schema(
        ProgressionConfigModel,
        {
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
                "propertyNames": {"pattern": _NOT_BLANK_PATTERN},
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
                "propertyNames": {"pattern": _NOT_BLANK_PATTERN},
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
        "$defs": {"Level": level, "ActionRule": action},
    }


def _fields_schema(
    model: type[BaseModel], types: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """An object schema: ``types`` per field, with the model's descriptions and defaults."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, info in model.model_fields.items():
        schema: dict[str, Any] = {"description": info.description, **types[name]}
        if info.examples:
            schema["examples"] = list(info.examples)
        if info.is_required():
            required.append(name)
        else:
            schema["default"] = info.get_default(call_default_factory=True)
        properties[name] = schema
    return {
        "title": model.model_config.get("title", model.__name__),
        "description": (model.__doc__ or "").split("\n", 1)[0],
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


# --- from the core's problems to pydantic errors ----------------------------------


def _raise_problems(
    title: str, data: object, problems: Sequence[str], where: Mapping[str, _Loc] | None = None
) -> NoReturn:
    """Raise one ``config_problem`` error per core problem, at the problem's location."""
    details: list[InitErrorDetails] = []
    for problem in problems:
        loc, message = _split_problem(problem, where or {})
        details.append(
            InitErrorDetails(
                type=PydanticCustomError(PROBLEM_ERROR_TYPE, message),
                loc=loc,
                input=_value_at(data, loc),
            )
        )
    raise ValidationError.from_exception_data(title, details)


def _split_problem(problem: str, where: Mapping[str, _Loc]) -> tuple[_Loc, str]:
    """Split ``"<location>: <message>"`` at the longest known location.

    Names of actions and features are free text (they may hold ``.`` or ``": "``),
    so the location is matched against the locations the data can have rather
    than parsed.
    """
    best = -1
    start = 0
    while (colon := problem.find(": ", start)) != -1:
        if problem[:colon] in where:
            best = colon
        start = colon + 1
    if best == -1:
        # A message without a location (a standalone item that is not a table).
        return (), problem
    return where[problem[:best]], problem[best + 2 :]


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
        _raise_problems(title, data, [f"must be a table with {shape}"])
    problems = problems_of(data, "")
    if problems:
        _raise_problems(title, data, problems, _item_locations(data, keys))
    return dict(data)


def _item_locations(data: Mapping[Any, Any], keys: Sequence[str]) -> dict[str, _Loc]:
    """Locations of a standalone item's problems, which the core writes as ``.key``."""
    return {f".{key}": (str(key),) for key in (*data, *keys)}


def _config_locations(data: Mapping[Any, Any]) -> dict[str, _Loc]:
    """Every location the core can name in a problem of ``data``, by its text."""
    where: dict[str, _Loc] = {"config": ()}
    for key in (*data, *_CONFIG_KEYS):
        where[str(key)] = (str(key),)
    levels = data.get("levels")
    if isinstance(levels, Sequence) and not isinstance(levels, str):
        for i, level in enumerate(levels):
            where[f"levels[{i}]"] = ("levels", i)
            if isinstance(level, Mapping):
                for key in (*level, *_LEVEL_KEYS):
                    where[f"levels[{i}].{key}"] = ("levels", i, str(key))
    for section in ("actions", "daily_exp_caps", "features"):
        table = data.get(section)
        if not isinstance(table, Mapping):
            continue
        for name, value in table.items():
            where[f"{section}.{name}"] = (section, str(name))
            if section == "actions" and isinstance(value, Mapping):
                for key in (*value, *_ACTION_KEYS):
                    where[f"actions.{name}.{key}"] = ("actions", str(name), str(key))
    return where


def _value_at(data: object, loc: _Loc) -> object:
    """The input at ``loc``, or at its deepest existing parent (for a missing key)."""
    node = data
    for part in loc:
        if isinstance(part, int):
            if not (isinstance(node, Sequence) and 0 <= part < len(node)):
                break
            node = node[part]
        elif isinstance(node, Mapping):
            key = next((k for k in node if str(k) == part), _MISSING)
            if key is _MISSING:
                break
            node = node[key]
        else:
            break
    return node


def _format_loc(loc: Sequence[int | str]) -> str:
    """``("levels", 3, "exp_required")`` -> ``"levels[3].exp_required"``, as the core writes it."""
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if i else part
    return text


def _dump(value: object) -> object:
    return value.model_dump() if isinstance(value, BaseModel) else value


def _without_models(data: object) -> object:
    """``data`` with model instances among its levels and actions turned into dicts.

    Everything else is left as given, so that the core's messages quote the input.
    """
    if not isinstance(data, Mapping):
        return data
    levels = data.get("levels")
    actions = data.get("actions")
    has_models = (
        isinstance(levels, list | tuple) and any(isinstance(lv, BaseModel) for lv in levels)
    ) or (isinstance(actions, Mapping) and any(isinstance(r, BaseModel) for r in actions.values()))
    if not has_models:
        return data
    plain = dict(data)
    if isinstance(levels, list | tuple):
        plain["levels"] = type(levels)(_dump(level) for level in levels)
    if isinstance(actions, Mapping):
        plain["actions"] = {name: _dump(rule) for name, rule in actions.items()}
    return plain


def _plain_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """Valid config data as plain dicts and lists, level keys as ints."""
    plain = dict(data)
    plain["levels"] = [dict(level) for level in data["levels"]]
    plain["actions"] = {name: dict(rule) for name, rule in data["actions"].items()}
    plain["daily_exp_caps"] = {int(key): cap for key, cap in data["daily_exp_caps"].items()}
    if "features" in data:
        plain["features"] = dict(data["features"])
    return plain
