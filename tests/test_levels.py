"""Levels: EXP to level, the progress object, the level table view."""

from __future__ import annotations

import pytest

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ActionRule,
    Level,
    ProgressionConfig,
    level_for_exp,
    level_progress,
    levels_view,
)


@pytest.mark.parametrize(
    ("exp", "level"),
    [
        (0, 1),
        (99, 1),
        (100, 2),
        (299, 2),
        (300, 3),
        (699, 3),
        (700, 4),
        (1499, 4),
        (1500, 5),
        (2999, 5),
        (3000, 6),
        (10**9, 6),
    ],
)
def test_level_for_exp_at_every_threshold(exp, level):
    """Each threshold of the guide starts its level."""
    assert level_for_exp(exp) == level


def test_progress_mid_level():
    """130 EXP: Creator, 30 of the 200 between 100 and 300, 15%."""
    assert level_progress(130) == {
        "current_level": 2,
        "level_name": "Creator",
        "total_exp": 130,
        "current_level_exp": 30,
        "exp_needed_for_next": 200,
        "exp_to_next_level": 170,
        "progress_percentage": 15.0,
        "is_max_level": False,
    }


def test_progress_is_rounded_to_a_tenth():
    """Percentages are rounded to one decimal."""
    assert level_progress(101)["progress_percentage"] == 0.5
    assert level_progress(333)["progress_percentage"] == 8.2


def test_progress_at_max_level():
    """At the last level: 100% and nothing to go."""
    progress = level_progress(4200)
    assert progress["current_level"] == 6
    assert progress["is_max_level"] is True
    assert progress["progress_percentage"] == 100.0
    assert progress["exp_to_next_level"] == 0
    assert progress["exp_needed_for_next"] == 0
    assert progress["current_level_exp"] == 1200


def test_progress_with_a_kept_level_above_the_exp():
    """After a revoke that kept the level, progress is clamped at 0, never negative."""
    progress = level_progress(95, level=2)
    assert progress["current_level"] == 2
    assert progress["current_level_exp"] == 0
    assert progress["progress_percentage"] == 0.0
    assert progress["exp_to_next_level"] == 200


def test_levels_view_is_the_get_levels_body():
    """GET /api/levels: keyed by the level number as a string."""
    view = levels_view()
    assert list(view) == ["1", "2", "3", "4", "5", "6"]
    assert view["1"] == {
        "name": "Newbie",
        "unlock": "Create chars, scenes, personas",
        "exp_required": 0,
    }
    assert view["6"]["exp_required"] == 3000
    assert len(view) == len(DEFAULT_CONFIG.levels)


def test_progress_of_a_level_below_the_exp_is_full_not_past_full():
    """Progress for a level the EXP has outgrown is 100% with nothing to go, never negative."""
    progress = level_progress(150, level=1)
    assert progress["current_level"] == 1
    assert progress["current_level_exp"] == 150
    assert progress["exp_to_next_level"] == 0
    assert progress["progress_percentage"] == 100.0
    assert progress["is_max_level"] is False


def test_progress_of_a_level_beyond_the_table_is_the_last_levels():
    """A stored level past the config's table shows as its last level, at 100%."""
    config = ProgressionConfig(
        levels=(Level(1, "One", "", 0), Level(2, "Two", "", 50)),
        actions={"a": ActionRule(1)},
        daily_exp_caps={1: 10},
    )
    progress = level_progress(80, config, level=9)
    assert progress["current_level"] == 2
    assert progress["level_name"] == "Two"
    assert progress["is_max_level"] is True
    assert progress["current_level_exp"] == 30
    assert level_progress(20, config)["exp_needed_for_next"] == 50
    assert level_for_exp(49, config) == 1
    assert levels_view(config) == {
        "1": {"name": "One", "unlock": "", "exp_required": 0},
        "2": {"name": "Two", "unlock": "", "exp_required": 50},
    }
