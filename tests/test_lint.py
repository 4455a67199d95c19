"""Warnings about valid configs: misspelt action and level names, and dropped actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ConfigWarning,
    ProgressionConfig,
    config_warnings,
    load_config,
)
from mikoshi_progression.core.lint import _osa_distance, _typo_distance

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_CONFIGS = sorted(
    path.name for path in EXAMPLES.glob("*.toml") if not path.name.startswith("archetypes")
)
DROPPED_FORKED = ConfigWarning(
    "actions.forked",
    "the platform's default config has this action and this config drops it: the backend "
    "answers 400 for every `forked`",
)


def data() -> dict[str, Any]:
    return DEFAULT_CONFIG.to_dict()


def warnings_of(config_data: dict[str, Any]) -> tuple[ConfigWarning, ...]:
    return config_warnings(ProgressionConfig.from_dict(config_data))


def rename_action(config_data: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    config_data["actions"][new] = config_data["actions"].pop(old)
    return config_data


def test_the_default_config_has_no_warnings():
    """The platform's own table warns about nothing."""
    assert config_warnings(DEFAULT_CONFIG) == ()


@pytest.mark.parametrize("name", EXAMPLE_CONFIGS)
def test_the_example_configs_have_no_warnings(name):
    """Every example config keeps the platform's actions and level names."""
    assert config_warnings(load_config(EXAMPLES / name)) == ()


def test_a_misspelt_action_is_one_warning_that_says_what_is_dropped():
    """`create_charcter` for `create_character`: one warning, on the typo, with the
    suggestion; the dropped `create_character` is said there, not again."""
    found = warnings_of(rename_action(data(), "create_character", "create_charcter"))
    assert found == (
        ConfigWarning(
            "actions.create_charcter",
            "unknown to the platform's default config; did you mean `create_character`? "
            "This config has no `create_character`, so the backend answers 400 for every "
            "`create_character`",
            "create_character",
        ),
    )


def test_a_dropped_action_warns_on_its_own_path():
    """An action of the platform's table that the config leaves out: the backend's 400s."""
    config_data = data()
    del config_data["actions"]["forked"]
    assert warnings_of(config_data) == (DROPPED_FORKED,)


@pytest.mark.parametrize(
    "typo",
    ["Create-Character", "CREATE_CHARACTER", "create-character", "createcharacter"],
)
def test_case_and_separator_variants_always_count(typo):
    """Case, `-` and `_` differences are typos whatever the length."""
    (warning,) = warnings_of(rename_action(data(), "create_character", typo))
    assert (warning.path, warning.suggestion) == (f"actions.{typo}", "create_character")


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("daily_caht", "daily_chat"),  # two letters swapped: one edit
        ("forkd", "forked"),  # a short name: one edit
        ("craete_scen", "create_scene"),  # a long name: two edits
    ],
)
def test_near_misses_within_the_length_s_reach(typo, meant):
    """One edit for names up to seven letters, two beyond; a swap is one edit."""
    (warning,) = warnings_of(rename_action(data(), meant, typo))
    assert (warning.path, warning.suggestion) == (f"actions.{typo}", meant)


def test_a_far_name_is_a_new_action_and_the_old_one_dropped():
    """`frk` is too far from `forked`: a new action, and `forked` dropped."""
    assert warnings_of(rename_action(data(), "forked", "frk")) == (DROPPED_FORKED,)


def test_unrelated_new_actions_do_not_warn():
    """`send_gift`, `join_event` and `quest_1`/`quest_2` are new actions, not typos."""
    config_data = data()
    for name in ("send_gift", "join_event", "quest_1", "quest_2"):
        config_data["actions"][name] = {"exp": 5}
    assert warnings_of(config_data) == ()


@pytest.mark.parametrize("first", [True, False])
def test_two_near_actions_of_the_config_warn_once(first):
    """`create_scen` beside `create_scene`, written before or after it: one warning, on the
    name the platform lacks."""
    config_data = data()
    scen = {"create_scen": {"exp": 15}}
    config_data["actions"] = (
        scen | config_data["actions"] if first else config_data["actions"] | scen
    )
    assert warnings_of(config_data) == (
        ConfigWarning(
            "actions.create_scen",
            "`create_scen` and `create_scene` differ by one letter; the platform's default "
            "config knows only `create_scene`",
            "create_scene",
        ),
    )


def test_two_near_new_actions_warn_without_a_suggestion():
    """Neither `send_gift` nor `send_gifts` is the platform's: no telling which is meant."""
    config_data = data()
    config_data["actions"] |= {"send_gift": {"exp": 5}, "send_gifts": {"exp": 5}}
    assert warnings_of(config_data) == (
        ConfigWarning(
            "actions.send_gifts",
            "`send_gifts` and `send_gift` differ by one letter: one action under two names?",
        ),
    )


def test_a_misspelt_level_name_suggests_the_platform_s():
    """`Elit` for level 5: the platform calls it `Elite`."""
    config_data = data()
    config_data["levels"][4]["name"] = "Elit"
    assert warnings_of(config_data) == (
        ConfigWarning(
            "levels[4].name",
            "`Elit` is not a level name of the platform's default config, which calls level "
            "5 `Elite`; did you mean `Elite`?",
            "Elite",
        ),
    )


def test_two_levels_with_near_or_equal_names_warn():
    """A level named like another (`Master` twice, `Advanced` and `advanced`) warns on the
    later one, naming the earlier by number."""
    config_data = data()
    config_data["levels"][3]["name"] = "Master"
    config_data["levels"].append(
        {"number": 7, "name": "advanced", "unlock": "", "exp_required": 6000}
    )
    assert [(w.path, w.message, w.suggestion) for w in warnings_of(config_data)] == [
        (
            "levels[5].name",
            "`Master` and `Master` (level 4) are the same name: two levels with one name?",
            None,
        ),
        (
            "levels[6].name",
            "`advanced` and `Advanced` (level 3) differ only in case, `-`, `_` or spaces; "
            "the platform's default config knows only `Advanced`",
            "Advanced",
        ),
    ]


def test_numbered_and_short_level_names_do_not_warn():
    """`Tier 1` to `Tier 12` and Roman numerals are a ladder, not typos."""
    config_data = data()
    names = [f"Tier {n}" for n in range(1, 13)] + ["I", "II", "III", "IV", "V", "VI", "VII"]
    config_data["levels"] = [
        {"number": n, "name": name, "unlock": "", "exp_required": (n - 1) * 100}
        for n, name in enumerate(names, 1)
    ]
    assert warnings_of(config_data) == ()


def test_warnings_are_ordered_by_path_with_numbers_as_numbers():
    """Actions before levels, and `levels[10]` after `levels[9]`."""
    config_data = data()
    del config_data["actions"]["forked"]
    config_data["levels"] += [
        {"number": n, "name": f"Legend {n}", "unlock": "", "exp_required": n * 1000}
        for n in range(7, 12)
    ]
    config_data["levels"][9]["name"] = "Master"
    config_data["levels"][10]["name"] = "Master"
    assert [w.path for w in warnings_of(config_data)] == [
        "actions.forked",
        "levels[9].name",
        "levels[10].name",
    ]


def test_another_reference_config():
    """The reference is a parameter: against itself, a config warns about nothing."""
    config = ProgressionConfig.from_dict(rename_action(data(), "forked", "frk"))
    assert config_warnings(config, reference=config) == ()
    assert [w.path for w in config_warnings(DEFAULT_CONFIG, reference=config)] == ["actions.frk"]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("abc", "", 3),
        ("create", "create", 0),
        ("create", "craete", 1),  # a swap of two neighbours
        ("kitten", "sitting", 3),
        ("ca", "abc", 3),  # optimal string alignment edits no letter twice
    ],
)
def test_osa_distance(a, b, distance):
    """Insertions, deletions, substitutions and adjacent swaps, each one edit, both ways."""
    assert _osa_distance(a, b) == _osa_distance(b, a) == distance


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("Pro", "Pr", False),  # three letters or fewer: case and separators only
        ("Pro", "PRO", True),
        ("chat", "chats", True),  # up to seven letters: one edit
        ("forked", "forker", True),
        ("forked", "fork", False),
        ("daily_chat", "daliy_caht", True),  # eight or more: two edits
        ("daily_chat", "daly_ct", False),
        ("level_2", "levle_2", True),  # the same numbers: still compared
        ("level_2", "level_3", False),
    ],
)
def test_typo_reach_scales_with_length(a, b, near):
    """The shorter name's length (case, `-`, `_` and spaces left out) sets the reach."""
    assert (_typo_distance(a, b) is not None) == near
