"""The pydantic models report the core's problems exactly; the JSON Schema fits the format."""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

pytest.importorskip("pydantic")

from pydantic import BaseModel, TypeAdapter, ValidationError

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ConfigError,
    ProgressionConfig,
    config_problems,
    load_config,
)
from mikoshi_progression.pydantic import (
    PROBLEM_ERROR_TYPE,
    ActionRuleModel,
    LevelModel,
    ProgressionConfigModel,
    config_json_schema,
    validation_problems,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schemas" / "mikoshi-progression.schema.json"
# Config files only: examples/ also holds other kinds of TOML (simulator archetypes).
EXAMPLE_FILES = sorted(
    p
    for p in [*ROOT.glob("examples/*.toml"), *ROOT.glob("examples/*.json")]
    if "levels" in p.read_text(encoding="utf-8")
)

Data = dict[str, Any]


def default_data() -> Data:
    """A fresh, mutable copy of the default config in file form."""
    return copy.deepcopy(DEFAULT_CONFIG.to_dict())


def minimal_data() -> Data:
    """The smallest config a designer could write: only the required keys."""
    return {
        "levels": [{"number": 1, "name": "Newbie", "unlock": "Chat", "exp_required": 0}],
        "actions": {"daily_chat": {"exp": 20}},
        "daily_exp_caps": {"1": 150},
    }


def regional_data() -> Data:
    """A config using every optional key, sparse caps and a local reset time."""
    return {
        "levels": [
            {"number": 1, "name": "Newbie", "unlock": "Chat", "exp_required": 0},
            {"number": 2, "name": "Creator", "unlock": "Fork", "exp_required": 100},
            {"number": 3, "name": "Pro", "unlock": "", "exp_required": 250},
        ],
        "actions": {
            "daily_chat": {"exp": 20, "daily_limit": 1},
            "bounty": {"exp": 100, "daily_limit": None, "cap_exempt": True},
            "character_liked": {"exp": 5, "daily_limit": 20, "creator_award": True},
        },
        "daily_exp_caps": {"1": 150, "3": 300},
        "features": {"fork": 2, "prompt_controls": 3},
        "reset_timezone": "Asia/Tokyo",
        "reset_hour": 4,
        "levels_can_drop": True,
    }


VALID_CONFIGS: list[Callable[[], Data]] = [default_data, minimal_data, regional_data]


def problems_of(data: object) -> list[str]:
    """The problems the pydantic model reports for ``data``, in the core's words."""
    with pytest.raises(ValidationError) as caught:
        ProgressionConfigModel.model_validate(data)
    assert all(e["type"] == PROBLEM_ERROR_TYPE for e in caught.value.errors())
    return validation_problems(caught.value)


def changed(change: Callable[[Data], object], base: Callable[[], Data] = default_data) -> Data:
    """A copy of ``base()`` after applying ``change`` to it."""
    data = base()
    change(data)
    return data


def drop(mapping: dict[Any, Any], key: object) -> None:
    del mapping[key]


# Each case breaks a valid config in one way (or several); ids name the problem.
INVALID: dict[str, Callable[[], object]] = {
    # numbering and thresholds
    "gap in numbering": lambda: changed(lambda d: d["levels"][2].update(number=4)),
    "numbering from 0": lambda: changed(lambda d: d["levels"][0].update(number=0)),
    "number is bool": lambda: changed(lambda d: d["levels"][0].update(number=True)),
    "non-increasing threshold": lambda: changed(lambda d: d["levels"][3].update(exp_required=250)),
    "equal thresholds": lambda: changed(lambda d: d["levels"][1].update(exp_required=0)),
    "first level above 0": lambda: changed(lambda d: d["levels"][0].update(exp_required=10)),
    "negative threshold": lambda: changed(lambda d: d["levels"][1].update(exp_required=-5)),
    "float threshold": lambda: changed(lambda d: d["levels"][1].update(exp_required=100.0)),
    # rewards and limits
    "negative reward": lambda: changed(lambda d: d["actions"]["daily_chat"].update(exp=-1)),
    "reward as string": lambda: changed(lambda d: d["actions"]["daily_chat"].update(exp="20")),
    "zero limit": lambda: changed(lambda d: d["actions"]["daily_chat"].update(daily_limit=0)),
    "limit as float": lambda: changed(lambda d: d["actions"]["forked"].update(daily_limit=1.5)),
    "cap_exempt not bool": lambda: changed(
        lambda d: d["actions"]["forked"].update(cap_exempt="yes")
    ),
    "creator_award as int": lambda: changed(
        lambda d: d["actions"]["forked"].update(creator_award=1)
    ),
    "action without exp": lambda: changed(lambda d: drop(d["actions"]["forked"], "exp")),
    "action rule not a table": lambda: changed(lambda d: d["actions"].update(forked=10)),
    "empty action name": lambda: changed(lambda d: d["actions"].update({"  ": {"exp": 1}})),
    "no actions": lambda: changed(lambda d: d.update(actions={})),
    "actions as list": lambda: changed(lambda d: d.update(actions=[])),
    # caps
    "negative cap": lambda: changed(lambda d: d["daily_exp_caps"].update({"3": -1})),
    "cap as string": lambda: changed(lambda d: d["daily_exp_caps"].update({"3": "300"})),
    "missing cap for level 1": lambda: changed(lambda d: drop(d["daily_exp_caps"], "1")),
    "cap key not a number": lambda: changed(lambda d: d["daily_exp_caps"].update(one=10)),
    "cap for a missing level": lambda: changed(lambda d: d["daily_exp_caps"].update({"9": 10})),
    "cap for level 0": lambda: changed(lambda d: d["daily_exp_caps"].update({"0": 10})),
    "int cap keys, one bad": lambda: changed(
        lambda d: d.update(daily_exp_caps={1: 150, 2: -5, 7: 10})
    ),
    "no caps": lambda: changed(lambda d: d.update(daily_exp_caps={})),
    # features
    "feature at a missing level": lambda: changed(lambda d: d["features"].update(fork=9)),
    "feature at level 0": lambda: changed(lambda d: d["features"].update(fork=0)),
    "feature level as string": lambda: changed(lambda d: d["features"].update(fork="2")),
    "empty feature name": lambda: changed(lambda d: d["features"].update({"": 2})),
    "features as list": lambda: changed(lambda d: d.update(features=["fork"])),
    # unknown and missing keys at every level
    "unknown top-level key": lambda: changed(lambda d: d.update(colour="red")),
    "unknown key in a level": lambda: changed(lambda d: d["levels"][0].update(color="red")),
    "unknown key in an action": lambda: changed(lambda d: d["actions"]["forked"].update(bonus=5)),
    "missing top-level keys": dict,
    "missing level keys": lambda: changed(lambda d: drop(d["levels"][1], "name")),
    # names
    "empty level name": lambda: changed(lambda d: d["levels"][0].update(name="   ")),
    "level name not a string": lambda: changed(lambda d: d["levels"][0].update(name=5)),
    "unlock is null": lambda: changed(lambda d: d["levels"][0].update(unlock=None)),
    # day boundary and flags
    "unknown timezone": lambda: changed(lambda d: d.update(reset_timezone="Mars/Olympus")),
    "empty timezone": lambda: changed(lambda d: d.update(reset_timezone="")),
    "timezone not a string": lambda: changed(lambda d: d.update(reset_timezone=9)),
    "reset_hour 24": lambda: changed(lambda d: d.update(reset_hour=24)),
    "reset_hour negative": lambda: changed(lambda d: d.update(reset_hour=-1)),
    "reset_hour as string": lambda: changed(lambda d: d.update(reset_hour="4")),
    "reset_hour null": lambda: changed(lambda d: d.update(reset_hour=None)),
    "levels_can_drop as string": lambda: changed(lambda d: d.update(levels_can_drop="no")),
    # wrong shapes
    "levels as string": lambda: changed(lambda d: d.update(levels="1,2,3")),
    "empty levels": lambda: changed(lambda d: d.update(levels=[])),
    "empty levels tuple": lambda: changed(lambda d: d.update(levels=())),
    "level not a table": lambda: changed(lambda d: d["levels"].__setitem__(2, "Advanced")),
    "config is a list": lambda: [1, 2],
    "config is a string": lambda: "levels.toml",
    # free-text names that look like locations
    "action name with colon and dot": lambda: changed(
        lambda d: d["actions"].update({"a: b.exp": {"exp": -1}, "a": {"exp": -2}})
    ),
    "feature name with dot": lambda: changed(lambda d: d["features"].update({"x.y": 0})),
    "top-level key named config": lambda: changed(lambda d: d.update(config=1)),
    # many at once
    "many problems": lambda: {
        "levels": [
            {"number": 1, "name": "", "unlock": "x", "exp_required": 5, "extra": 1},
            {"number": 3, "name": "B", "unlock": "y", "exp_required": 5},
            "C",
        ],
        "actions": {"a": {"exp": -1, "daily_limit": 0}, "b": {"limit": 3}},
        "daily_exp_caps": {"2": -1, "x": 1},
        "features": {"f": 7},
        "reset_timezone": "Nowhere/Town",
        "reset_hour": 25,
        "levels_can_drop": 0,
        "colour": "red",
    },
}


@pytest.mark.parametrize("make", VALID_CONFIGS, ids=lambda f: f.__name__)
def test_valid_configs_round_trip(make: Callable[[], Data]) -> None:
    """A valid config becomes a model and the equal core config, and the model dumps it back."""
    data = make()
    model = ProgressionConfigModel.model_validate(data)
    config = model.to_config()
    assert config == ProgressionConfig.from_dict(data)
    assert ProgressionConfigModel.from_config(config).to_config() == config
    assert ProgressionConfigModel.model_validate(model.model_dump(mode="json")) == model


def read_example(path: Path) -> Data:
    """A config file of examples/, parsed as load_config parses it."""
    text = path.read_text(encoding="utf-8")
    data: Data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    return data


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_files_validate_as_models(path: Path) -> None:
    """Each shipped example file becomes a model whose config equals load_config's."""
    model = ProgressionConfigModel.model_validate(read_example(path))
    assert model.to_config() == load_config(path)


def test_default_config_round_trips_exactly() -> None:
    """DEFAULT_CONFIG -> model -> config is equal, and the model's JSON dump is its to_dict."""
    model = ProgressionConfigModel.from_config(DEFAULT_CONFIG)
    assert model.to_config() == DEFAULT_CONFIG
    assert model.to_config().fingerprint == DEFAULT_CONFIG.fingerprint
    assert model.model_dump(mode="json") == DEFAULT_CONFIG.to_dict()


def test_models_keep_the_file_defaults() -> None:
    """Absent optional keys take the file format's defaults, as in the core."""
    model = ProgressionConfigModel.model_validate(minimal_data())
    rule = model.actions["daily_chat"]
    assert (rule.daily_limit, rule.cap_exempt, rule.creator_award) == (None, False, False)
    assert (model.features, model.reset_timezone, model.reset_hour) == ({}, "UTC", 0)
    assert model.levels_can_drop is False
    assert model.daily_exp_caps == {1: 150}


def test_json_input_and_strict_mode_accept_valid_configs() -> None:
    """JSON text and strict validation accept what the core accepts (string cap keys included)."""
    for make in VALID_CONFIGS:
        data = make()
        expected = ProgressionConfig.from_dict(data)
        assert ProgressionConfigModel.model_validate_json(json.dumps(data)).to_config() == expected
        assert ProgressionConfigModel.model_validate(data, strict=True).to_config() == expected


def test_models_accept_read_only_mappings_and_model_instances() -> None:
    """Inputs the core accepts (mapping proxies, tuples) and nested model instances validate."""
    data = regional_data()
    proxy = MappingProxyType(
        {**data, "levels": tuple(MappingProxyType(lv) for lv in data["levels"])}
    )
    assert ProgressionConfigModel.model_validate(proxy).to_config() == ProgressionConfig.from_dict(
        data
    )
    built = ProgressionConfigModel(
        levels=[LevelModel(**level) for level in data["levels"]],
        actions={name: ActionRuleModel(**rule) for name, rule in data["actions"].items()},
        daily_exp_caps={1: 150, 3: 300},
        features=data["features"],
        reset_timezone="Asia/Tokyo",
        reset_hour=4,
        levels_can_drop=True,
    )
    assert built.to_config() == ProgressionConfig.from_dict(data)


@pytest.mark.parametrize("make", list(INVALID.values()), ids=list(INVALID))
def test_errors_are_exactly_the_core_problems(make: Callable[[], object]) -> None:
    """Every invalid config gives one pydantic error per core problem, same text, same order."""
    data = make()
    expected = config_problems(data)
    assert expected, "the case must be invalid for the core"
    assert problems_of(data) == expected


@pytest.mark.parametrize("make", list(INVALID.values()), ids=list(INVALID))
def test_json_errors_are_exactly_the_core_problems(make: Callable[[], object]) -> None:
    """Validating JSON text reports what the core reports for the parsed JSON."""
    text = json.dumps(make())
    with pytest.raises(ValidationError) as caught:
        ProgressionConfigModel.model_validate_json(text)
    assert validation_problems(caught.value) == config_problems(json.loads(text))


def test_error_entries_carry_structured_locations() -> None:
    """Each error's loc is the path to the bad value, msg the core's text, input the value."""
    data = changed(lambda d: d["levels"][3].update(exp_required=250))
    data["actions"]["daily.chat"] = {"exp": -1}
    with pytest.raises(ValidationError) as caught:
        ProgressionConfigModel.model_validate(data)
    errors = caught.value.errors(include_url=False)
    assert [(e["loc"], e["msg"], e["input"]) for e in errors] == [
        (("levels", 3, "exp_required"), "must be greater than levels[2] (300), got 250", 250),
        (("actions", "daily.chat", "exp"), "must be a non-negative integer, got -1", -1),
    ]
    assert "ctx" not in errors[0]


def test_missing_key_error_points_at_the_parent() -> None:
    """A missing key's error is located at the key, with the table that lacks it as input."""
    data = changed(lambda d: drop(d["levels"][1], "name"))
    with pytest.raises(ValidationError) as caught:
        ProgressionConfigModel.model_validate(data)
    (error,) = caught.value.errors()
    assert error["loc"] == ("levels", 1, "name")
    assert error["msg"] == "missing"
    assert error["input"] == data["levels"][1]


def test_messages_with_braces_are_not_formatted() -> None:
    """A quoted input holding braces appears verbatim in the message."""
    data = changed(lambda d: d.update(reset_hour={"h": 1}))
    assert problems_of(data) == ["reset_hour: must be an integer from 0 to 23, got {'h': 1}"]


def test_nested_model_errors_are_prefixed() -> None:
    """Inside another model or a list, the core's locations are prefixed with the outer path."""
    adapter = TypeAdapter(list[ProgressionConfigModel])
    bad = changed(lambda d: d["actions"]["forked"].update(exp=-1))
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python([default_data(), bad])
    assert validation_problems(caught.value) == [
        "[1].actions.forked.exp: must be a non-negative integer, got -1"
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"number": 0, "name": " ", "unlock": 3, "exp_required": -1, "tier": "x"},
            [
                "tier: unknown key (expected one of: number, name, unlock, exp_required)",
                "number: must be a positive integer, got 0",
                "unlock: must be a string, got 3",
                "name: must not be empty",
                "exp_required: must be a non-negative integer, got -1",
            ],
        ),
        ({"number": 1}, ["name: missing", "unlock: missing", "exp_required: missing"]),
        ("Newbie", ["level: must be a table with number, name, unlock, exp_required"]),
    ],
)
def test_standalone_level_model_reports_core_item_problems(
    data: object, expected: list[str]
) -> None:
    """LevelModel alone reports the core's per-level problems, located at its own keys."""
    with pytest.raises(ValidationError) as caught:
        LevelModel.model_validate(data)
    assert validation_problems(caught.value, root="level") == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"exp": 1.5, "daily_limit": 0, "cap_exempt": 1, "creator_award": "no", "x": 1},
            [
                "x: unknown key (expected one of: exp, daily_limit, cap_exempt, creator_award)",
                "exp: must be a non-negative integer, got 1.5",
                "daily_limit: must be a positive integer or null (no limit), got 0",
                "cap_exempt: must be true or false, got 1",
                "creator_award: must be true or false, got 'no'",
            ],
        ),
        ({}, ["exp: missing"]),
        (20, ["action: must be a table with exp and optional daily_limit"]),
    ],
)
def test_standalone_action_model_reports_core_item_problems(
    data: object, expected: list[str]
) -> None:
    """ActionRuleModel alone reports the core's per-action problems, located at its own keys."""
    with pytest.raises(ValidationError) as caught:
        ActionRuleModel.model_validate(data)
    assert validation_problems(caught.value, root="action") == expected


def test_models_are_frozen() -> None:
    """Models are immutable values, like the core config."""
    model = ProgressionConfigModel.from_config(DEFAULT_CONFIG)
    with pytest.raises(ValidationError):
        model.reset_hour = 5


def test_to_config_never_disagrees_with_the_core() -> None:
    """A model built without validation still cannot produce an invalid core config."""
    valid = ProgressionConfigModel.model_validate(minimal_data())
    rogue = valid.model_copy(update={"reset_hour": 99})
    with pytest.raises(ConfigError, match="reset_hour"):
        rogue.to_config()


def test_fastapi_body_errors_are_core_problems() -> None:
    """In a FastAPI endpoint, a bad body gets a 422 listing the core's problems."""
    fastapi = pytest.importorskip("fastapi")
    testclient = pytest.importorskip("fastapi.testclient")
    app = fastapi.FastAPI()

    def put_config(body: ProgressionConfigModel) -> dict[str, int]:
        return {"max_level": body.to_config().max_level}

    app.add_api_route("/config", put_config, methods=["POST"])

    client = testclient.TestClient(app)
    assert client.post("/config", json=default_data()).json() == {"max_level": 6}
    bad = changed(lambda d: d["levels"][3].update(exp_required=250))
    response = client.post("/config", json=bad)
    assert response.status_code == 422
    assert [(e["loc"], e["msg"]) for e in response.json()["detail"]] == [
        (["body", "levels", 3, "exp_required"], "must be greater than levels[2] (300), got 250")
    ]


def test_missing_pydantic_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pydantic, importing the module says which extra to install."""
    monkeypatch.setitem(sys.modules, "pydantic", None)
    monkeypatch.delitem(sys.modules, "mikoshi_progression.pydantic")
    with pytest.raises(ImportError, match=r"pip install -e '\.\[pydantic\]'"):
        importlib.import_module("mikoshi_progression.pydantic")


def test_core_does_not_import_the_pydantic_module() -> None:
    """Importing the package root never loads the pydantic integration."""
    code = (
        "import sys, mikoshi_progression; "
        "assert 'mikoshi_progression.pydantic' not in sys.modules; "
        "assert 'pydantic' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- JSON Schema ------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Any:
    """A draft 2020-12 validator of the config schema (jsonschema is a test-only dependency)."""
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed: the schema tests need it"
    )
    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_file_is_current() -> None:
    """schemas/mikoshi-progression.schema.json equals config_json_schema()."""
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == config_json_schema(), (
        "regenerate: mikoshi-progression schema export -o schemas/mikoshi-progression.schema.json"
    )


def test_schema_header() -> None:
    """The schema names its dialect and a title, has no $id, and documents what it can't check."""
    schema = config_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"]
    assert "$id" not in schema
    for rule in ("1..N", "strictly increases", "IANA"):
        assert rule in schema["description"]
    assert config_json_schema() is not config_json_schema()


def test_schema_properties_mirror_the_models() -> None:
    """Every model field is in the schema with its description; required keys agree."""
    schema = config_json_schema()
    objects: list[tuple[dict[str, Any], type[BaseModel]]] = [
        (schema, ProgressionConfigModel),
        (schema["$defs"]["Level"], LevelModel),
        (schema["$defs"]["ActionRule"], ActionRuleModel),
    ]
    for node, model in objects:
        assert list(node["properties"]) == list(model.model_fields)
        assert node["required"] == [n for n, f in model.model_fields.items() if f.is_required()]
        assert node["additionalProperties"] is False
        for name, field in model.model_fields.items():
            assert node["properties"][name]["description"] == field.description


@pytest.mark.parametrize("make", VALID_CONFIGS, ids=lambda f: f.__name__)
def test_schema_accepts_valid_configs(validator: Any, make: Callable[[], Data]) -> None:
    """Every config the core accepts passes the schema (no false alarms in the editor)."""
    data = make()
    assert list(validator.iter_errors(data)) == []
    assert list(validator.iter_errors(ProgressionConfig.from_dict(data).to_dict())) == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_schema_accepts_example_files(validator: Any, path: Path) -> None:
    """Each shipped example file passes the schema, as an editor would check it (a TOML
    plugin sees a TOML date-time as its text, as JSON holds it)."""
    data = json.loads(json.dumps(read_example(path), default=lambda value: value.isoformat()))
    assert list(validator.iter_errors(data)) == []


def test_schema_and_core_refuse_zero_padded_level_keys(validator: Any) -> None:
    """A cap key "01" is refused by the core and the schema alike: one spelling per level."""
    data = changed(lambda d: d.update(daily_exp_caps={"01": 150}), base=minimal_data)
    assert config_problems(data) == [
        'daily_exp_caps.01: keys must be level numbers written without leading zeros ("1", '
        "\"2\"...), got '01'",
        "daily_exp_caps: needs a cap for level 1 (later levels without one inherit it)",
    ]
    assert not validator.is_valid(data)


SCHEMA_REJECTS = [
    "numbering from 0",
    "number is bool",
    "first level above 0",
    "negative threshold",
    "negative reward",
    "reward as string",
    "zero limit",
    "limit as float",
    "cap_exempt not bool",
    "creator_award as int",
    "action without exp",
    "action rule not a table",
    "empty action name",
    "no actions",
    "actions as list",
    "negative cap",
    "cap as string",
    "missing cap for level 1",
    "cap key not a number",
    "cap for level 0",
    "no caps",
    "feature at level 0",
    "feature level as string",
    "empty feature name",
    "features as list",
    "unknown top-level key",
    "unknown key in a level",
    "unknown key in an action",
    "missing top-level keys",
    "missing level keys",
    "empty level name",
    "level name not a string",
    "unlock is null",
    "empty timezone",
    "timezone not a string",
    "reset_hour 24",
    "reset_hour negative",
    "reset_hour as string",
    "reset_hour null",
    "levels_can_drop as string",
    "levels as string",
    "empty levels",
    "level not a table",
    "config is a list",
    "config is a string",
    "action name with colon and dot",
    "feature name with dot",
    "top-level key named config",
    "int cap keys, one bad",
    "empty levels tuple",
    "many problems",
]

# What JSON Schema cannot see; the schema's description names these rules.
SCHEMA_CANNOT_SEE = [
    "gap in numbering",
    "non-increasing threshold",
    "equal thresholds",
    "float threshold",
    "cap for a missing level",
    "feature at a missing level",
    "unknown timezone",
]


@pytest.mark.parametrize("case", SCHEMA_REJECTS)
def test_schema_rejects_type_and_shape_errors(validator: Any, case: str) -> None:
    """Type, range, shape and unknown-key errors are caught by the schema alone."""
    data = json.loads(json.dumps(INVALID[case]()))
    assert config_problems(data)
    assert not validator.is_valid(data)


@pytest.mark.parametrize("case", SCHEMA_CANNOT_SEE)
def test_schema_leaves_cross_field_rules_to_the_library(validator: Any, case: str) -> None:
    """Cross-field rules pass the schema; the core still reports them."""
    data = json.loads(json.dumps(INVALID[case]()))
    assert config_problems(data)
    assert validator.is_valid(data)


def test_every_invalid_case_is_classified() -> None:
    """Each invalid case is listed as caught by the schema or as beyond it (none forgotten)."""
    assert set(SCHEMA_REJECTS) | set(SCHEMA_CANNOT_SEE) == set(INVALID)
    assert not set(SCHEMA_REJECTS) & set(SCHEMA_CANNOT_SEE)
