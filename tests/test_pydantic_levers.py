"""The lever sections (boosts, streak, milestones) in the pydantic models and the JSON Schema:
the same problems as the core, at the same locations; the schema fits the format."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import pytest

pytest.importorskip("pydantic")

from pydantic import BaseModel, ValidationError

from mikoshi_progression import DEFAULT_CONFIG, ProgressionConfig, config_problems
from mikoshi_progression.pydantic import (
    PROBLEM_ERROR_TYPE,
    BoostModel,
    BoostRulesModel,
    MilestoneModel,
    ProgressionConfigModel,
    StreakRulesModel,
    config_json_schema,
    validation_problems,
)

Data = dict[str, Any]

LEVERS_TOML = """
[[levels]]
number = 1
name = "Newbie"
unlock = "Chat"
exp_required = 0

[[levels]]
number = 2
name = "Regular"
unlock = "Fork"
exp_required = 100

[actions.daily_chat]
exp = 20
daily_limit = 1

[actions.create_character]
exp = 30
daily_limit = 2

[daily_exp_caps]
1 = 150

[boosts]
stacking = "multiply"
raise_cap = true

[[boosts.windows]]
name = "winter_weekend"
starts = 2026-12-05T00:00:00Z
ends = 2026-12-07T00:00:00+09:00
multiplier = 1.5

[[boosts.windows]]
name = "creators_night"
starts = 2026-12-05T18:00:00-05:00
ends = 2026-12-06T06:00:00-05:00
multiplier = "3/2"
actions = ["create_character"]

[streak]
grace_minutes = 60
freeze_every = 7
max_freezes = 2
bonus_cap_exempt = false

[streak.bonuses]
7 = 50
30 = 300

[[milestones]]
name = "first_week"
description = "Chatted 7 days in a row"
streak = 7
bonus_exp = 25

[[milestones]]
name = "regular"
level = 2

[[milestones]]
name = "maker"
action = "create_character"
count = 10

[[milestones]]
name = "thousand"
exp = 1000
"""


def levers_data() -> Data:
    """A config using every lever key, parsed from TOML (moments are datetimes)."""
    return tomllib.loads(LEVERS_TOML)


def default_levers_data() -> Data:
    """The default table with the lever sections in their plain dict form (moments as text)."""
    return {**copy.deepcopy(DEFAULT_CONFIG.to_dict()), **json_form(levers_sections())}


def levers_sections() -> Data:
    """The lever sections of ``levers_data``, alone."""
    data = levers_data()
    return {key: data[key] for key in ("boosts", "streak", "milestones")}


def minimal_levers_data() -> Data:
    """The smallest sections a designer could write: empty tables, defaults everywhere."""
    data = copy.deepcopy(DEFAULT_CONFIG.to_dict())
    data.update(boosts={}, streak={}, milestones=[])
    return data


VALID: list[Callable[[], Data]] = [levers_data, default_levers_data, minimal_levers_data]


def json_form(data: Any) -> Any:
    """``data`` as JSON holds it, and as an editor's TOML plugin (taplo) sees it: moments
    become their ISO 8601 text."""
    return json.loads(json.dumps(data, default=lambda v: v.isoformat()))


def changed(change: Callable[[Data], object], base: Callable[[], Data] = levers_data) -> Data:
    """A copy of ``base()`` after applying ``change`` to it."""
    data = base()
    change(data)
    return data


def window(data: Data, i: int = 0) -> Data:
    """The ``i``-th boost window of ``data``."""
    found: Data = data["boosts"]["windows"][i]
    return found


def milestone(data: Data, i: int = 0) -> Data:
    """The ``i``-th milestone of ``data``."""
    found: Data = data["milestones"][i]
    return found


def drop(mapping: dict[Any, Any], key: object) -> None:
    del mapping[key]


# Each case breaks the lever sections in one way (or several); ids name the problem.
INVALID: dict[str, Callable[[], object]] = {
    # boosts
    "boosts not a table": lambda: changed(lambda d: d.update(boosts=[1])),
    "boosts null": lambda: changed(lambda d: d.update(boosts=None)),
    "unknown key in boosts": lambda: changed(lambda d: d["boosts"].update(window=[])),
    "unknown stacking": lambda: changed(lambda d: d["boosts"].update(stacking="sum")),
    "raise_cap not bool": lambda: changed(lambda d: d["boosts"].update(raise_cap="yes")),
    "windows not a list": lambda: changed(lambda d: d["boosts"].update(windows={"a": 1})),
    "window not a table": lambda: changed(lambda d: d["boosts"]["windows"].append("weekend")),
    "window without multiplier": lambda: changed(lambda d: drop(window(d), "multiplier")),
    "unknown key in a window": lambda: changed(lambda d: window(d).update(bonus=2)),
    "empty boost name": lambda: changed(lambda d: window(d).update(name=" ")),
    "naive start": lambda: changed(lambda d: window(d).update(starts=datetime(2026, 12, 5))),
    "naive start as text": lambda: changed(lambda d: window(d).update(starts="2026-12-05T00:00")),
    "start not a moment": lambda: changed(lambda d: window(d).update(starts="next friday")),
    "start as a number": lambda: changed(lambda d: window(d).update(starts=20261205)),
    "ends before starts": lambda: changed(
        lambda d: window(d).update(ends=window(d)["starts"] - timedelta(hours=1))
    ),
    "ends equal to starts": lambda: changed(lambda d: window(d).update(ends=window(d)["starts"])),
    "moment in year 9500": lambda: changed(lambda d: window(d).update(ends="9500-01-01T00:00Z")),
    "multiplier below 1": lambda: changed(lambda d: window(d).update(multiplier=0.5)),
    "multiplier above 100": lambda: changed(lambda d: window(d).update(multiplier=101)),
    "multiplier text above 100": lambda: changed(lambda d: window(d).update(multiplier="303/3")),
    "multiplier as words": lambda: changed(lambda d: window(d).update(multiplier="double")),
    "multiplier as bool": lambda: changed(lambda d: window(d).update(multiplier=True)),
    "multiplier empty text": lambda: changed(lambda d: window(d).update(multiplier="")),
    "actions empty": lambda: changed(lambda d: window(d, 1).update(actions=[])),
    "actions as text": lambda: changed(lambda d: window(d, 1).update(actions="daily_chat")),
    "action not a string": lambda: changed(lambda d: window(d, 1).update(actions=[7])),
    "unknown boosted action": lambda: changed(lambda d: window(d, 1).update(actions=["sing"])),
    "actions null": lambda: changed(lambda d: window(d, 1).update(actions=None)),
    "two boosts with one name": lambda: changed(
        lambda d: window(d, 1).update(name="winter_weekend")
    ),
    # streak
    "streak not a table": lambda: changed(lambda d: d.update(streak=7)),
    "streak null": lambda: changed(lambda d: d.update(streak=None)),
    "unknown key in streak": lambda: changed(lambda d: d["streak"].update(grace=5)),
    "unknown streak action": lambda: changed(lambda d: d["streak"].update(action="sing")),
    "empty streak action": lambda: changed(lambda d: d["streak"].update(action="")),
    "grace above 12 hours": lambda: changed(lambda d: d["streak"].update(grace_minutes=721)),
    "grace negative": lambda: changed(lambda d: d["streak"].update(grace_minutes=-1)),
    "freeze_every as text": lambda: changed(lambda d: d["streak"].update(freeze_every="7")),
    "freeze_every too large": lambda: changed(lambda d: d["streak"].update(freeze_every=10_001)),
    "max_freezes too large": lambda: changed(lambda d: d["streak"].update(max_freezes=1_001)),
    "freezes without freeze_every": lambda: changed(lambda d: d["streak"].update(freeze_every=0)),
    "freeze_every without max_freezes": lambda: changed(
        lambda d: d["streak"].update(max_freezes=0)
    ),
    "bonuses not a table": lambda: changed(lambda d: d["streak"].update(bonuses=[50])),
    "bonus at length 0": lambda: changed(lambda d: d["streak"]["bonuses"].update({"0": 5})),
    "bonus key not a number": lambda: changed(lambda d: d["streak"]["bonuses"].update(week=5)),
    "bonus key zero-padded": lambda: changed(lambda d: d["streak"]["bonuses"].update({"07": 5})),
    "negative bonus": lambda: changed(lambda d: d["streak"]["bonuses"].update({"7": -50})),
    "bonus as float": lambda: changed(lambda d: d["streak"]["bonuses"].update({"7": 50.0})),
    "bonus_cap_exempt as int": lambda: changed(lambda d: d["streak"].update(bonus_cap_exempt=1)),
    # milestones
    "milestones not a list": lambda: changed(lambda d: d.update(milestones={"name": "x"})),
    "milestones null": lambda: changed(lambda d: d.update(milestones=None)),
    "milestone not a table": lambda: changed(lambda d: d["milestones"].append("first_week")),
    "milestone without a name": lambda: changed(lambda d: drop(milestone(d), "name")),
    "unknown key in a milestone": lambda: changed(lambda d: milestone(d).update(badge="gold")),
    "milestone without threshold": lambda: changed(lambda d: drop(milestone(d), "streak")),
    "milestone with two thresholds": lambda: changed(lambda d: milestone(d).update(level=2)),
    "milestone at level 0": lambda: changed(lambda d: milestone(d, 1).update(level=0)),
    "milestone at a missing level": lambda: changed(lambda d: milestone(d, 1).update(level=3)),
    "milestone exp as text": lambda: changed(lambda d: milestone(d, 3).update(exp="1000")),
    "count without action": lambda: changed(lambda d: drop(milestone(d, 2), "action")),
    "action without count": lambda: changed(lambda d: milestone(d).update(action="daily_chat")),
    "unknown counted action": lambda: changed(lambda d: milestone(d, 2).update(action="sing")),
    "description not a string": lambda: changed(lambda d: milestone(d).update(description=7)),
    "negative milestone bonus": lambda: changed(lambda d: milestone(d).update(bonus_exp=-1)),
    "two milestones with one name": lambda: changed(lambda d: milestone(d, 1).update(name="maker")),
    # free text that looks like a location
    "unknown key with colon in a window": lambda: changed(
        lambda d: window(d).update({"starts: x": 1})
    ),
    # many at once, in every section
    "many lever problems": lambda: changed(
        lambda d: (
            d["boosts"].update(stacking="sum"),
            window(d).update(multiplier="double", ends="soon"),
            d["streak"]["bonuses"].update({"0": -1}),
            milestone(d, 2).update(action="sing", count=0),
            d["milestones"].append({"name": "first_week"}),
        )
    ),
}


def problems_of(data: object) -> list[str]:
    """The problems the config model reports for ``data``, in the core's words."""
    with pytest.raises(ValidationError) as caught:
        ProgressionConfigModel.model_validate(data)
    assert all(e["type"] == PROBLEM_ERROR_TYPE for e in caught.value.errors())
    return validation_problems(caught.value)


# --- the models ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", VALID, ids=lambda f: f.__name__)
def test_valid_lever_configs_round_trip(make: Callable[[], Data]) -> None:
    """A config with levers becomes a model and the equal core config, and back."""
    data = make()
    config = ProgressionConfig.from_dict(data)
    model = ProgressionConfigModel.model_validate(data)
    assert model.to_config() == config
    assert ProgressionConfigModel.from_config(config).to_config() == config
    assert ProgressionConfigModel.model_validate(model.model_dump(mode="json")) == model
    assert ProgressionConfigModel.model_validate(model.model_dump()).to_config() == config


@pytest.mark.parametrize("make", VALID, ids=lambda f: f.__name__)
def test_json_and_strict_mode_accept_lever_configs(make: Callable[[], Data]) -> None:
    """JSON text and strict validation accept the lever sections the core accepts."""
    data = make()
    expected = ProgressionConfig.from_dict(data)
    text = json.dumps(json_form(data))
    assert ProgressionConfigModel.model_validate_json(text).to_config() == expected
    assert ProgressionConfigModel.model_validate_json(text, strict=True).to_config() == expected
    assert ProgressionConfigModel.model_validate(data, strict=True).to_config() == expected


def test_model_dump_is_the_cores_to_dict() -> None:
    """A model's JSON dump is the config's to_dict: exact multipliers as text, offsets as
    written, lever defaults left out where the core leaves them out."""
    config = ProgressionConfig.from_dict(levers_data())
    dumped = ProgressionConfigModel.from_config(config).model_dump(mode="json")
    assert dumped == config.to_dict()
    assert [w["multiplier"] for w in dumped["boosts"]["windows"]] == ["3/2", "3/2"]
    assert dumped["boosts"]["windows"][1]["starts"] == "2026-12-05T18:00:00-05:00"
    assert "actions" not in dumped["boosts"]["windows"][0]
    assert dumped["milestones"][1] == {"name": "regular", "level": 2}
    plain = ProgressionConfigModel.from_config(DEFAULT_CONFIG).model_dump(mode="json")
    assert not {"boosts", "streak", "milestones"} & set(plain)


def test_models_hold_exact_values() -> None:
    """Multipliers are exact fractions whatever their spelling; moments are aware datetimes."""
    spellings = [2, 1.5, "1.5", "3/2", Decimal("1.5"), Fraction(3, 2), " 3/2 "]
    base = {"name": "b", "starts": "2026-12-05T00:00:00+09:00", "ends": "2026-12-06T00:00:00Z"}
    held = [BoostModel.model_validate({**base, "multiplier": m}).multiplier for m in spellings]
    assert held == [Fraction(2), *[Fraction(3, 2)] * 6]
    boost = BoostModel.model_validate({**base, "multiplier": 2, "actions": {"b", "a"}})
    assert boost.starts == datetime(2026, 12, 5, tzinfo=timezone(timedelta(hours=9)))
    assert boost.actions == ["a", "b"]
    assert StreakRulesModel.model_validate({"bonuses": {"7": 5, 30: 9}}).bonuses == {7: 5, 30: 9}


def test_models_keep_the_sections_defaults() -> None:
    """Absent keys take the core's defaults; absent sections are off."""
    model = ProgressionConfigModel.model_validate(minimal_levers_data())
    assert model.boosts == BoostRulesModel(stacking="max", raise_cap=False, windows=[])
    assert model.streak is not None
    assert (model.streak.action, model.streak.grace_minutes, model.streak.bonuses) == (
        "daily_chat",
        0,
        {},
    )
    assert (model.streak.freeze_every, model.streak.max_freezes) == (0, 0)
    assert model.streak.bonus_cap_exempt is True
    assert model.milestones == []
    plain = ProgressionConfigModel.from_config(DEFAULT_CONFIG)
    assert (plain.boosts, plain.streak, plain.milestones) == (None, None, [])
    assert plain.to_config().uses_levers is False


def test_nested_model_instances_and_read_only_inputs() -> None:
    """Sections built from model instances, mapping proxies and tuples validate."""
    data = levers_data()
    expected = ProgressionConfig.from_dict(data)
    built = {
        **data,
        "boosts": BoostRulesModel(
            stacking="multiply",
            raise_cap=True,
            windows=[BoostModel.model_validate(w) for w in data["boosts"]["windows"]],
        ),
        "streak": StreakRulesModel.model_validate(data["streak"]),
        "milestones": tuple(MilestoneModel.model_validate(m) for m in data["milestones"]),
    }
    assert ProgressionConfigModel.model_validate(built).to_config() == expected
    proxied = {
        **data,
        "boosts": MappingProxyType({**data["boosts"], "windows": tuple(data["boosts"]["windows"])}),
        "milestones": tuple(MappingProxyType(m) for m in data["milestones"]),
    }
    assert ProgressionConfigModel.model_validate(proxied, strict=True).to_config() == expected


@pytest.mark.parametrize("make", list(INVALID.values()), ids=list(INVALID))
def test_lever_errors_are_exactly_the_core_problems(make: Callable[[], object]) -> None:
    """Every invalid lever section gives one error per core problem, same text, same order."""
    data = make()
    expected = config_problems(data)
    assert expected, "the case must be invalid for the core"
    assert problems_of(data) == expected


@pytest.mark.parametrize("make", list(INVALID.values()), ids=list(INVALID))
def test_lever_json_errors_are_exactly_the_core_problems(make: Callable[[], object]) -> None:
    """Validating JSON text reports what the core reports for the parsed JSON."""
    text = json.dumps(json_form(make()))
    with pytest.raises(ValidationError) as caught:
        ProgressionConfigModel.model_validate_json(text)
    assert validation_problems(caught.value) == config_problems(json.loads(text))


def test_lever_errors_carry_structured_locations() -> None:
    """Each error's loc is the path to the bad value in the sections, input the value."""
    data = INVALID["many lever problems"]()
    with pytest.raises(ValidationError) as caught:
        ProgressionConfigModel.model_validate(data)
    assert [(e["loc"], e["input"]) for e in caught.value.errors()] == [
        (("boosts", "stacking"), "sum"),
        (("boosts", "windows", 0, "ends"), "soon"),
        (("boosts", "windows", 0, "multiplier"), "double"),
        (("streak", "bonuses", "0"), -1),
        (("streak", "bonuses", "0"), -1),
        (("milestones", 2, "count"), 0),
        (("milestones", 2, "action"), "sing"),
        (("milestones", 4), {"name": "first_week"}),
        (("milestones", 4, "name"), "first_week"),
    ]


def test_a_section_written_as_null_is_refused_alike() -> None:
    """``boosts = null`` is an error for the core, the model and from_dict alike (not "off")."""
    data = changed(lambda d: d.update(boosts=None, streak=None), base=default_levers_data)
    expected = [
        "boosts: must be a table with windows, stacking and raise_cap, got None",
        "streak: must be a table (action, grace_minutes, freeze_every, max_freezes, bonuses, "
        "bonus_cap_exempt), got None",
    ]
    assert config_problems(data) == expected
    assert problems_of(data) == expected


@pytest.mark.parametrize(
    ("model", "root", "data", "expected"),
    [
        (
            BoostModel,
            "boost",
            {"name": "", "starts": "2026-12-05", "multiplier": "x", "colour": 1},
            [
                "colour: unknown key (expected one of: name, starts, ends, multiplier, actions)",
                "ends: missing",
                "name: must be a non-empty string, got ''",
                "starts: must carry a UTC offset (a boost is a moment, not a local time), "
                "got '2026-12-05'",
                "multiplier: must be a number like 2, 1.5 or \"3/2\", got 'x'",
            ],
        ),
        (BoostModel, "boost", 2, ["boost: must be a table with name, starts, ends and multiplier"]),
        (
            BoostRulesModel,
            "boosts",
            {"stacking": "sum", "windows": [{"name": "a"}, 3]},
            [
                "stacking: must be one of max, multiply, add, got 'sum'",
                "windows[0].starts: missing",
                "windows[0].ends: missing",
                "windows[0].multiplier: missing",
                "windows[1]: must be a table with name, starts, ends and multiplier",
            ],
        ),
        (
            BoostRulesModel,
            "boosts",
            [],
            ["boosts: must be a table with windows, stacking and raise_cap, got []"],
        ),
        (
            StreakRulesModel,
            "streak",
            {"action": "", "freeze_every": 7, "bonuses": {"x": 1}},
            [
                "action: must be an action name, got ''",
                "max_freezes: freezes need both freeze_every and max_freezes above 0 "
                "(got freeze_every=7, max_freezes=0)",
                'bonuses.x: keys must be streak lengths of at least 1 ("7", "30"), got \'x\'',
            ],
        ),
        (
            MilestoneModel,
            "milestone",
            {"name": "m", "level": 2, "exp": 5, "action": "a"},
            [
                "milestone: must give exactly one of level, exp, streak or count (with action), "
                "got level, exp",
                "action: only a count milestone names an action",
            ],
        ),
        (
            MilestoneModel,
            "milestone",
            "m",
            ["milestone: must be a table with a name and one threshold"],
        ),
    ],
)
def test_standalone_lever_models_report_the_cores_problems(
    model: type[BaseModel], root: str, data: object, expected: list[str]
) -> None:
    """Each lever model alone reports the core's checks of its section, located at its own
    keys (``stacking``, not ``boosts.stacking``); ``root`` names the model itself."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    assert validation_problems(caught.value, root=root) == expected


def test_standalone_models_check_no_names_of_a_config() -> None:
    """Alone, a section cannot know the config's actions or levels: those checks wait."""
    assert StreakRulesModel(action="sing").action == "sing"
    assert MilestoneModel(name="far", level=99).level == 99
    boost = BoostModel(
        name="b",
        starts=datetime(2026, 1, 1, tzinfo=UTC),
        ends=datetime(2026, 1, 2, tzinfo=UTC),
        multiplier=Fraction(2),
        actions=["sing"],
    )
    assert boost.actions == ["sing"]


def test_lever_models_are_frozen() -> None:
    """Models are immutable values, like the core's."""
    model = StreakRulesModel()
    with pytest.raises(ValidationError):
        model.grace_minutes = 5


# --- JSON Schema --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Any:
    """A draft 2020-12 validator of the config schema (jsonschema is a test-only dependency)."""
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(config_json_schema())


@pytest.mark.parametrize("make", VALID, ids=lambda f: f.__name__)
def test_schema_accepts_lever_configs(validator: Any, make: Callable[[], Data]) -> None:
    """Every lever config the core accepts passes the schema, as JSON and as to_dict."""
    data = make()
    assert list(validator.iter_errors(json_form(data))) == []
    assert list(validator.iter_errors(ProgressionConfig.from_dict(data).to_dict())) == []


@pytest.mark.parametrize(
    "moment",
    [
        "2026-12-05T00:00:00Z",
        "2026-12-05T00:00:00+09:00",
        "2026-12-05T00:00:00-0500",
        "2026-12-05 00:00:00+09",
        "2026-12-05T00:00:00.250+05:30",
        "2026-12-05T00:00:00+05:30:15.5",
    ],
)
def test_schema_accepts_every_offset_the_library_reads(validator: Any, moment: str) -> None:
    """Each way Python writes an offset passes the schema where the core accepts it."""
    data = json_form(levers_data())
    data["boosts"]["windows"][0]["starts"] = moment
    data["boosts"]["windows"][0]["ends"] = "2026-12-09T00:00:00Z"
    assert config_problems(data) == []
    assert list(validator.iter_errors(data)) == []


SCHEMA_REJECTS = [
    "boosts not a table",
    "boosts null",
    "unknown key in boosts",
    "unknown stacking",
    "raise_cap not bool",
    "windows not a list",
    "window not a table",
    "window without multiplier",
    "unknown key in a window",
    "empty boost name",
    "naive start",
    "naive start as text",
    "start not a moment",
    "start as a number",
    "multiplier below 1",
    "multiplier above 100",
    "multiplier as bool",
    "multiplier empty text",
    "actions empty",
    "actions as text",
    "action not a string",
    "actions null",
    "streak not a table",
    "streak null",
    "unknown key in streak",
    "empty streak action",
    "grace above 12 hours",
    "grace negative",
    "freeze_every as text",
    "freeze_every too large",
    "max_freezes too large",
    "bonuses not a table",
    "bonus at length 0",
    "bonus key not a number",
    "bonus key zero-padded",
    "negative bonus",
    "bonus_cap_exempt as int",
    "milestones not a list",
    "milestones null",
    "milestone not a table",
    "milestone without a name",
    "unknown key in a milestone",
    "milestone without threshold",
    "milestone with two thresholds",
    "milestone at level 0",
    "milestone exp as text",
    "count without action",
    "action without count",
    "description not a string",
    "negative milestone bonus",
    "unknown key with colon in a window",
    "many lever problems",
]

# What JSON Schema cannot see; the schema's description names these rules.
SCHEMA_CANNOT_SEE = [
    "ends before starts",
    "ends equal to starts",
    "moment in year 9500",
    "multiplier text above 100",
    "multiplier as words",
    "unknown boosted action",
    "two boosts with one name",
    "unknown streak action",
    "freezes without freeze_every",
    "freeze_every without max_freezes",
    "bonus as float",
    "milestone at a missing level",
    "unknown counted action",
    "two milestones with one name",
]


@pytest.mark.parametrize("case", SCHEMA_REJECTS)
def test_schema_rejects_lever_type_and_shape_errors(validator: Any, case: str) -> None:
    """Type, range, shape and unknown-key errors of the sections are caught by the schema."""
    data = json_form(INVALID[case]())
    assert config_problems(data)
    assert not validator.is_valid(data)


@pytest.mark.parametrize("case", SCHEMA_CANNOT_SEE)
def test_schema_leaves_lever_cross_field_rules_to_the_library(validator: Any, case: str) -> None:
    """Cross-field rules of the sections pass the schema; the core still reports them."""
    data = json_form(INVALID[case]())
    assert config_problems(data)
    assert validator.is_valid(data)


def test_every_invalid_lever_case_is_classified() -> None:
    """Each invalid case is listed as caught by the schema or as beyond it (none forgotten)."""
    assert set(SCHEMA_REJECTS) | set(SCHEMA_CANNOT_SEE) == set(INVALID)
    assert not set(SCHEMA_REJECTS) & set(SCHEMA_CANNOT_SEE)


def test_schema_describes_the_rules_it_leaves_to_the_library() -> None:
    """The schema's description names each lever rule it cannot check."""
    description = config_json_schema()["description"]
    for rule in ("ends after it starts", "unique", "freeze_every and max_freezes", "1 to 100"):
        assert rule in description


def test_lever_defs_mirror_the_models() -> None:
    """Every lever model field is in the schema with its description; required keys agree."""
    schema = config_json_schema()
    defs = schema["$defs"]
    for name, model in [
        ("Boost", BoostModel),
        ("BoostRules", BoostRulesModel),
        ("StreakRules", StreakRulesModel),
        ("Milestone", MilestoneModel),
    ]:
        node = defs[name]
        assert list(node["properties"]) == list(model.model_fields)
        assert node["required"] == [n for n, f in model.model_fields.items() if f.is_required()]
        assert node["additionalProperties"] is False
        for field_name, field in model.model_fields.items():
            assert node["properties"][field_name]["description"] == field.description
    assert schema["properties"]["boosts"]["$ref"] == "#/$defs/BoostRules"
    assert "default" not in schema["properties"]["boosts"]
