"""Configuration: the default table, validation that lists every problem, files."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ActionRule,
    ConfigError,
    ConfigFileError,
    Level,
    ProgressionConfig,
    can_perform_action,
    config_problems,
    load_config,
)
from mikoshi_progression.core.config import read_data_file
from mikoshi_progression.errors import UnknownFeatureError

ROOT = Path(__file__).resolve().parents[1]


def valid() -> dict:
    return DEFAULT_CONFIG.to_dict()


def test_default_config_is_the_platforms_table():
    """Levels, rewards, limits, caps and unlocks are the guide's, to the letter."""
    levels = [(lv.number, lv.name, lv.unlock, lv.exp_required) for lv in DEFAULT_CONFIG.levels]
    assert levels == [
        (1, "Newbie", "Create chars, scenes, personas", 0),
        (2, "Creator", "Fork, private chars", 100),
        (3, "Advanced", "Basic analytics", 300),
        (4, "Pro", "Prompt controls", 700),
        (5, "Elite", "Featured chance, beta tools", 1500),
        (6, "Master", "Creator badge, early revenue tools", 3000),
    ]
    rules = {n: (r.exp, r.daily_limit, r.cap_exempt) for n, r in DEFAULT_CONFIG.actions.items()}
    assert rules == {
        "daily_chat": (20, 1, False),
        "create_character": (30, 2, False),
        "create_scene": (15, 2, False),
        "create_persona": (15, 2, False),
        "character_liked": (5, 20, False),
        "forked": (10, None, False),
        "paid_char_sold": (50, None, False),
    }
    assert dict(DEFAULT_CONFIG.daily_exp_caps) == {1: 150, 2: 150, 3: 300, 4: 300, 5: 500, 6: 500}
    assert DEFAULT_CONFIG.reset_timezone == "UTC"
    assert DEFAULT_CONFIG.reset_hour == 0
    assert not DEFAULT_CONFIG.levels_can_drop


@pytest.mark.parametrize(
    ("feature", "level"),
    [
        ("fork", 2),
        ("private_chars", 2),
        ("basic_analytics", 3),
        ("prompt_controls", 4),
        ("featured_chance", 5),
        ("beta_tools", 5),
        ("creator_badge", 6),
        ("revenue_tools", 6),
    ],
)
def test_feature_unlocks_by_level(feature, level):
    """Each feature unlocks exactly at its level."""
    assert not can_perform_action(level - 1, feature)
    assert can_perform_action(level, feature)
    assert can_perform_action(level + 3, feature)


def test_unknown_feature_names_the_known_ones():
    """Asking for a feature the config lacks is an error listing the real ones."""
    with pytest.raises(UnknownFeatureError, match="known features: basic_analytics"):
        can_perform_action(3, "time_travel")


def test_round_trip_through_dict_and_json():
    """to_dict is JSON-ready and from_dict gives an equal config with the same fingerprint."""
    data = json.loads(json.dumps(DEFAULT_CONFIG.to_dict()))
    again = ProgressionConfig.from_dict(data)
    assert again == DEFAULT_CONFIG
    assert again.fingerprint == DEFAULT_CONFIG.fingerprint
    assert hash(again) == hash(DEFAULT_CONFIG)


def test_example_toml_equals_the_default_config():
    """examples/mikoshi.toml is the platform's table."""
    assert load_config(ROOT / "examples" / "mikoshi.toml") == DEFAULT_CONFIG


def test_json_file_loads(tmp_path):
    """A .json file loads like a .toml one."""
    path = tmp_path / "levels.json"
    path.write_text(json.dumps(DEFAULT_CONFIG.to_dict()))
    assert load_config(path) == DEFAULT_CONFIG


def test_sparse_caps_inherit_from_the_nearest_lower_level():
    """Caps {1: 150, 3: 300, 5: 500} mean the platform's six caps."""
    data = valid()
    data["daily_exp_caps"] = {"1": 150, "3": 300, "5": 500}
    assert ProgressionConfig.from_dict(data) == DEFAULT_CONFIG


def test_daily_limit_may_be_omitted_for_no_limit():
    """TOML has no null: a missing daily_limit means unlimited."""
    data = valid()
    data["actions"]["forked"] = {"exp": 10, "creator_award": True}
    assert ProgressionConfig.from_dict(data).actions["forked"].daily_limit is None


def test_configs_are_immutable():
    """Mappings are read-only copies; fields cannot be reassigned."""
    actions = dict(DEFAULT_CONFIG.actions)
    config = ProgressionConfig(
        levels=list(DEFAULT_CONFIG.levels), actions=actions, daily_exp_caps={1: 150}
    )
    actions["extra"] = ActionRule(1)
    assert "extra" not in config.actions
    assert isinstance(config.levels, tuple)
    with pytest.raises(TypeError):
        config.actions["extra"] = ActionRule(1)  # type: ignore[index]
    with pytest.raises(AttributeError):
        config.reset_hour = 3  # type: ignore[misc]


def test_the_issues_example_message():
    """A threshold that does not increase names both levels and the previous value."""
    data = valid()
    data["levels"][3]["exp_required"] = 250
    with pytest.raises(ConfigError) as info:
        ProgressionConfig.from_dict(data)
    assert "levels[3].exp_required: must be greater than levels[2] (300), got 250" in (
        info.value.problems
    )


def test_every_problem_is_listed_not_just_the_first():
    """Many mistakes at once are all reported, each with its location."""
    data = valid()
    data["levels"][0]["exp_required"] = 5
    data["levels"][2]["number"] = 7
    data["levels"][4]["name"] = " "
    data["actions"]["forked"]["exp"] = -1
    data["actions"]["create_scene"]["daily_limit"] = 0
    data["actions"]["daily_chat"]["colour"] = "red"
    data["daily_exp_caps"]["9"] = 10
    data["daily_exp_caps"]["2"] = -3
    data["features"]["fork"] = 12
    data["reset_hour"] = 24
    data["reset_timezone"] = "Mars/Olympus"
    data["theme"] = "dark"
    problems = config_problems(data)
    expected = [
        "theme: unknown key",
        "levels[0].exp_required: the first level must require 0, got 5",
        "levels[2].number: must be 3",
        "levels[4].name: must not be empty",
        "actions.forked.exp: must be a non-negative integer, got -1",
        "actions.create_scene.daily_limit: must be a positive integer or null",
        "actions.daily_chat.colour: unknown key",
        "daily_exp_caps.9: no such level (levels are 1..6)",
        "daily_exp_caps.2: must be a non-negative integer, got -3",
        "features.fork: no such level 12",
        "reset_timezone: unknown time zone 'Mars/Olympus'",
        "reset_hour: must be an integer from 0 to 23, got 24",
    ]
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)
    assert len(problems) == len(expected)
    with pytest.raises(ConfigError) as info:
        ProgressionConfig.from_dict(data)
    assert info.value.problems == tuple(problems)
    assert str(info.value).startswith(f"{len(problems)} problems:")


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.pop("levels"), "levels: missing"),
        (lambda d: d.update(levels=[]), "levels: must be a non-empty list"),
        (lambda d: d["levels"].pop(2), "levels[2].number: must be 3"),
        (lambda d: d["levels"][1].pop("unlock"), "levels[1].unlock: missing"),
        (
            lambda d: d["levels"][1].update(exp_required="100"),
            "levels[1].exp_required: must be a non-negative integer, got '100'",
        ),
        (
            lambda d: d["levels"][1].update(exp_required=True),
            "levels[1].exp_required: must be a non-negative integer, got True",
        ),
        (lambda d: d.update(actions={}), "actions: must be a non-empty table"),
        (lambda d: d["actions"].update(forked=10), "actions.forked: must be a table"),
        (
            lambda d: d["actions"]["forked"].update(cap_exempt="yes"),
            "actions.forked.cap_exempt: must be true or false",
        ),
        (lambda d: d["actions"]["forked"].pop("exp"), "actions.forked.exp: missing"),
        (lambda d: d.update(daily_exp_caps={"2": 150}), "daily_exp_caps: needs a cap for level 1"),
        (
            lambda d: d.update(daily_exp_caps={"one": 150, "1": 5}),
            "daily_exp_caps.one: keys must be level numbers",
        ),
        (lambda d: d.update(levels_can_drop="no"), "levels_can_drop: must be true or false"),
        (lambda d: d.update(features=[]), "features: must be a table"),
    ],
)
def test_each_kind_of_problem_has_a_located_message(mutate, fragment):
    """Each kind of mistake produces a message that names where it is."""
    data = valid()
    mutate(data)
    problems = config_problems(data)
    assert any(p.startswith(fragment) for p in problems), problems


def test_non_mapping_config_is_a_problem_not_a_crash():
    """A config that is not a mapping at all is reported as such."""
    assert config_problems(["levels"]) == ["config: must be a mapping, got list"]


def test_direct_construction_validates_too():
    """ProgressionConfig(...) checks everything from_dict checks."""
    with pytest.raises(ConfigError, match="daily_exp_caps: needs a cap for level 1"):
        ProgressionConfig(
            levels=DEFAULT_CONFIG.levels, actions=DEFAULT_CONFIG.actions, daily_exp_caps={2: 100}
        )
    with pytest.raises(ConfigError, match=r"levels\[1\]: must be a table"):
        ProgressionConfig(
            levels=(DEFAULT_CONFIG.levels[0], "Creator"),  # type: ignore[arg-type]
            actions=DEFAULT_CONFIG.actions,
            daily_exp_caps={1: 100},
        )


def test_level_and_action_rule_validate_their_own_fields():
    """A bad Level or ActionRule fails when it is built, naming the field."""
    with pytest.raises(ConfigError, match=r"Level.name: must not be empty"):
        Level(1, "", "", 0)
    with pytest.raises(ConfigError, match=r"ActionRule.daily_limit: must be a positive"):
        ActionRule(5, daily_limit=0)
    with pytest.raises(ConfigError, match=r"ActionRule.exp: must be a non-negative"):
        ActionRule(-5)


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("bad.toml", "levels = [", "file: malformed TOML"),
        ("bad.json", "{", "file: malformed JSON"),
        ("list.json", "[]", "file: the top level must be an object"),
        ("levels.yaml", "", "file: unsupported extension '.yaml'"),
    ],
)
def test_load_config_reports_file_problems(tmp_path, name, text, fragment):
    """Malformed or unsupported files raise ConfigError naming the file."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigFileError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert info.value.problems[0].startswith(fragment)


def test_load_config_missing_file(tmp_path):
    """A missing file is a ConfigError, not an OSError traceback."""
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_invalid_file_lists_problems_with_its_path(tmp_path):
    """Problems in a file carry the file's path."""
    path = tmp_path / "levels.toml"
    path.write_text("reset_hour = 99\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "levels: missing" in info.value.problems


def test_reset_timezone_and_hour_move_the_day_boundary():
    """A 04:00 Tokyo reset opens days at 19:00 UTC."""
    from datetime import UTC, datetime

    config = ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions=DEFAULT_CONFIG.actions,
        daily_exp_caps={1: 150},
        reset_timezone="Asia/Tokyo",
        reset_hour=4,
    )
    boundary = config.day_boundary
    before = datetime(2026, 5, 1, 18, 59, tzinfo=UTC)
    after = datetime(2026, 5, 1, 19, 0, tzinfo=UTC)
    assert boundary.is_later_day(after, before)
    assert not boundary.is_later_day(before, datetime(2026, 5, 1, 0, 0, tzinfo=UTC))
    assert boundary.next_reset(before) == after


ALL_KEYS = (
    "levels, actions, daily_exp_caps, features, reset_timezone, reset_hour, levels_can_drop, "
    "max_clock_skew_minutes, boosts, streak, milestones"
)
LEVEL_TABLE = "must be a table with number, name, unlock, exp_required"


def minimal() -> dict:
    """The default table with only the three required keys."""
    data = valid()
    return {key: data[key] for key in ("levels", "actions", "daily_exp_caps")}


def problems_of(mutate) -> list[str]:
    """Every problem with the default table after ``mutate`` changed it."""
    data = valid()
    mutate(data)
    return config_problems(data)


def test_optional_keys_take_their_defaults():
    """Without the optional keys a config resets at UTC midnight, keeps levels, trusts 4 h."""
    assert config_problems(minimal()) == []
    config = ProgressionConfig.from_dict(minimal())
    assert config == ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions=DEFAULT_CONFIG.actions,
        daily_exp_caps=DEFAULT_CONFIG.daily_exp_caps,
    )
    assert dict(config.features) == {}
    assert (config.reset_timezone, config.reset_hour) == ("UTC", 0)
    assert config.levels_can_drop is False
    assert config.max_clock_skew_minutes == 240
    assert config.max_clock_skew == timedelta(hours=4)


def test_from_dict_reads_every_optional_key():
    """Each optional key given in the data reaches the config."""
    data = minimal() | {
        "features": {"fork": 3},
        "reset_timezone": "Asia/Tokyo",
        "reset_hour": 4,
        "levels_can_drop": True,
        "max_clock_skew_minutes": 30,
    }
    config = ProgressionConfig.from_dict(data)
    assert dict(config.features) == {"fork": 3}
    assert (config.reset_timezone, config.reset_hour) == ("Asia/Tokyo", 4)
    assert config.levels_can_drop is True
    assert config.max_clock_skew == timedelta(minutes=30)
    assert config.to_dict() == data | {"daily_exp_caps": valid()["daily_exp_caps"]}


def test_the_fingerprint_is_stable_and_leaves_out_new_settings_at_their_default():
    """The default table's fingerprint never changes; a non-default new setting changes it."""
    assert DEFAULT_CONFIG.fingerprint == "0e5efae521adfc7c"
    explicit = ProgressionConfig.from_dict(valid() | {"max_clock_skew_minutes": 240})
    assert explicit.fingerprint == DEFAULT_CONFIG.fingerprint
    other = ProgressionConfig.from_dict(valid() | {"max_clock_skew_minutes": 60})
    assert other.fingerprint != DEFAULT_CONFIG.fingerprint
    assert hash(other) != hash(DEFAULT_CONFIG)
    assert hash(explicit) == hash(DEFAULT_CONFIG)


def test_caps_for_levels_beyond_the_table_and_the_level_for_negative_exp():
    """Past the last level the last cap applies; EXP below 0 is still level 1."""
    config = ProgressionConfig.from_dict(
        minimal() | {"daily_exp_caps": {"1": 10, "2": 20, "3": 30, "5": 50, "6": 60}}
    )
    assert [config.cap_for_level(n) for n in range(1, 9)] == [10, 20, 30, 30, 50, 60, 60, 60]
    assert config.cap_for_level(config.max_level + 1) == 60
    assert config.level_for_exp(-1) == 1
    assert config.level(0) == config.levels[0]
    assert config.level(99) == config.levels[-1]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d.update(theme="dark"),
            [f"theme: unknown key (expected one of: {ALL_KEYS})"],
        ),
        (lambda d: d.pop("levels"), ["levels: missing"]),
        (
            lambda d: (d.pop("levels"), d["daily_exp_caps"].update({"7": 1})),
            ["levels: missing"],
        ),
        (
            lambda d: d.update(levels=[]),
            ["levels: must be a non-empty list of levels, got []"],
        ),
        (
            lambda d: d.update(levels="Newbie"),
            ["levels: must be a non-empty list of levels, got 'Newbie'"],
        ),
        (
            lambda d: d.update(levels=5),
            ["levels: must be a non-empty list of levels, got 5"],
        ),
        (
            lambda d: d["levels"][0].update(number=0),
            [
                "levels[0].number: must be a positive integer, got 0",
                "levels[0].number: must be 1 (levels are numbered 1..N in order without gaps), "
                "got 0",
            ],
        ),
        (
            lambda d: d["levels"][0].update(number="1"),
            ["levels[0].number: must be a positive integer, got '1'"],
        ),
        (lambda d: d["levels"][0].pop("number"), ["levels[0].number: missing"]),
        (
            lambda d: (d["levels"][0].update(name=5), d["levels"][1].update(unlock=None)),
            [
                "levels[0].name: must be a string, got 5",
                "levels[1].unlock: must be a string, got None",
            ],
        ),
        (
            lambda d: (d["levels"][0].pop("name"), d["levels"][1].pop("unlock")),
            ["levels[0].name: missing", "levels[1].unlock: missing"],
        ),
        (
            lambda d: (d["levels"].__setitem__(1, "Creator"), d["levels"][3].update(name="")),
            [f"levels[1]: {LEVEL_TABLE}", "levels[3].name: must not be empty"],
        ),
        (
            lambda d: (
                d["levels"][1].update(exp_required="100"),
                d["levels"][3].update(exp_required=300),
            ),
            [
                "levels[1].exp_required: must be a non-negative integer, got '100'",
                "levels[3].exp_required: must be greater than levels[2] (300), got 300",
            ],
        ),
        (
            lambda d: d["levels"][5].update(exp_required=2**63),
            [
                "levels[5].exp_required: must be at most 2**63 - 1 (what a 64-bit column "
                "holds), got 9223372036854775808"
            ],
        ),
        (
            lambda d: d.update(actions={}),
            ["actions: must be a non-empty table of actions, got {}"],
        ),
        (
            lambda d: d.update(actions=["forked"]),
            ["actions: must be a non-empty table of actions, got ['forked']"],
        ),
        (
            lambda d: d["actions"].update({" ": {"exp": 1}, 5: {"exp": 1}}),
            [
                "actions: action names must be non-empty strings, got ' '",
                "actions: action names must be non-empty strings, got 5",
            ],
        ),
        (
            lambda d: (
                d["actions"].update(forked=10),
                d["actions"]["paid_char_sold"].update(creator_award="yes"),
            ),
            [
                "actions.forked: must be a table with exp and optional daily_limit",
                "actions.paid_char_sold.creator_award: must be true or false, got 'yes'",
            ],
        ),
        (
            lambda d: d["actions"]["forked"].update(daily_limit=2**63),
            [
                "actions.forked.daily_limit: must be at most 2**63 - 1 (what a 64-bit column "
                "holds), got 9223372036854775808"
            ],
        ),
        (
            lambda d: d.update(daily_exp_caps={}),
            ["daily_exp_caps: must be a non-empty table of level -> cap, got {}"],
        ),
        (
            lambda d: d.update(daily_exp_caps=[150]),
            ["daily_exp_caps: must be a non-empty table of level -> cap, got [150]"],
        ),
        (
            lambda d: d.update(daily_exp_caps={"01": 150, "1": 150, "2": -1}),
            [
                "daily_exp_caps.01: keys must be level numbers written without leading zeros "
                '("1", "2"...), got \'01\'',
                "daily_exp_caps.2: must be a non-negative integer, got -1",
            ],
        ),
        (
            lambda d: d.update(daily_exp_caps={1: 150, "1": 100}),
            ["daily_exp_caps.1: level 1 has two caps (keys 1 and '1')"],
        ),
        (
            lambda d: d.update(daily_exp_caps={"1": 150, "0": 1, "-1": 1, True: 1, "\u0661": 1}),
            [
                "daily_exp_caps.0: no such level (levels are 1..6)",
                "daily_exp_caps.-1: keys must be level numbers written without leading zeros "
                '("1", "2"...), got \'-1\'',
                "daily_exp_caps.True: keys must be level numbers written without leading zeros "
                '("1", "2"...), got True',
                "daily_exp_caps.\u0661: keys must be level numbers written without leading zeros "
                '("1", "2"...), got \'\u0661\'',
            ],
        ),
        (
            lambda d: d.update(daily_exp_caps={"1": 2**63}),
            [
                "daily_exp_caps.1: must be at most 2**63 - 1 (what a 64-bit column holds), "
                "got 9223372036854775808"
            ],
        ),
        (
            lambda d: d.update(features={" ": 2, "fork": "2", "beta": 0}),
            [
                "features: feature names must be non-empty strings, got ' '",
                "features.fork: must be a level number, got '2'",
                "features.beta: must be a level number, got 0",
            ],
        ),
        (
            lambda d: d.update(features=None),
            ["features: must be a table of feature -> level, got None"],
        ),
        (
            lambda d: d.update(reset_timezone=9),
            ["reset_timezone: must be an IANA time zone name, got 9"],
        ),
        (
            lambda d: d.update(reset_hour=True),
            ["reset_hour: must be an integer from 0 to 23, got True"],
        ),
        (
            lambda d: d.update(levels_can_drop="no"),
            ["levels_can_drop: must be true or false, got 'no'"],
        ),
    ],
)
def test_each_problem_is_reported_once_with_its_exact_message(mutate, expected):
    """A mistake yields exactly its own located messages, and no spurious others."""
    assert problems_of(mutate) == expected


@pytest.mark.parametrize("skew", [0, 2881, -5, True, "60", 60.0, None])
def test_the_clock_tolerance_is_1_to_2880_minutes(skew):
    """max_clock_skew_minutes outside 1..2880, or not an integer, is refused."""
    assert problems_of(lambda d: d.update(max_clock_skew_minutes=skew)) == [
        f"max_clock_skew_minutes: must be an integer from 1 to 2880 (48 hours), got {skew!r}"
    ]


@pytest.mark.parametrize("skew", [1, 2880])
def test_the_clock_tolerance_bounds_are_taken(skew):
    """One minute and 48 hours are both valid tolerances."""
    config = ProgressionConfig.from_dict(valid() | {"max_clock_skew_minutes": skew})
    assert config.max_clock_skew == timedelta(minutes=skew)


def test_the_largest_counts_a_store_holds_are_taken():
    """Thresholds, rewards, limits and caps of 2**63 - 1 are valid."""
    top = 2**63 - 1
    config = ProgressionConfig(
        levels=(Level(1, "One", "", 0), Level(2, "Two", "", top)),
        actions={"big": ActionRule(top, daily_limit=top)},
        daily_exp_caps={1: top},
    )
    assert config.level_for_exp(top) == 2
    assert config.cap_for_level(2) == top


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"levels": "Newbie"}, "levels: must be a non-empty list of levels, got 'Newbie'"),
        ({"levels": None}, "levels: must be a non-empty list of levels, got None"),
        ({"actions": None}, "actions: must be a non-empty table of actions, got None"),
        (
            {"actions": {"forked": 10}},
            "actions.forked: must be a table with exp and optional daily_limit",
        ),
        ({"features": ["fork"]}, "features: must be a table of feature -> level, got ['fork']"),
        (
            {"daily_exp_caps": None},
            "daily_exp_caps: must be a non-empty table of level -> cap, got None",
        ),
    ],
)
def test_direct_construction_reports_malformed_fields_as_problems(kwargs, problem):
    """ProgressionConfig(...) given a field of the wrong shape raises ConfigError naming it."""
    fields = {
        "levels": DEFAULT_CONFIG.levels,
        "actions": DEFAULT_CONFIG.actions,
        "daily_exp_caps": {1: 150},
    }
    with pytest.raises(ConfigError) as info:
        ProgressionConfig(**(fields | kwargs))
    assert info.value.problems == (problem,)


def test_file_errors_name_the_file(tmp_path):
    """Unreadable, undecodable, deeply nested or extensionless files are ConfigFileErrors."""
    cases = {
        "missing.toml": None,
        "latin1.toml": "name = 'caf\u00e9'\n".encode("latin-1"),
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "noext": b"{}",
    }
    messages = {}
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ConfigFileError) as info:
            load_config(path)
        assert info.value.source == str(path)
        assert str(path) in str(info.value)
        messages[name] = info.value.problems
    assert messages["missing.toml"] == ("file: cannot read (No such file or directory)",)
    assert messages["latin1.toml"][0].startswith("file: not UTF-8 text (")
    assert messages["deep.json"] == (
        "file: nested too deeply to read (a config is a few levels deep)",
    )
    assert messages["noext"] == ("file: unsupported extension '(none)', use .toml or .json",)


def test_unsupported_extensions_list_the_accepted_ones(tmp_path):
    """The message names the extension found and the ones a loader takes."""
    path = tmp_path / "levels.YAML"
    path.write_text("")
    with pytest.raises(ConfigFileError) as info:
        load_config(path)
    assert info.value.problems == ("file: unsupported extension '.yaml', use .toml or .json",)
    with pytest.raises(ConfigFileError) as info:
        read_data_file(path, (".toml",))
    assert info.value.problems == ("file: unsupported extension '.yaml', use .toml",)


def test_a_utf8_config_file_with_accents_loads(tmp_path):
    """Files are read as UTF-8, whatever the machine's locale."""
    data = valid()
    data["levels"][0]["name"] = "D\u00e9butant"
    path = tmp_path / "levels.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert load_config(path).levels[0].name == "D\u00e9butant"


def test_unknown_feature_errors_list_the_known_ones_or_say_none():
    """The error names every known feature, comma-separated, or '(none)' for a config without."""
    with pytest.raises(UnknownFeatureError) as info:
        can_perform_action(3, "time_travel")
    assert str(info.value) == (
        "unknown feature 'time_travel' (known features: basic_analytics, beta_tools, "
        "creator_badge, featured_chance, fork, private_chars, prompt_controls, revenue_tools)"
    )
    bare = ProgressionConfig.from_dict(minimal())
    with pytest.raises(UnknownFeatureError) as info:
        can_perform_action(3, "fork", bare)
    assert str(info.value) == "unknown feature 'fork' (known features: (none))"
