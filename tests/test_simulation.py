"""The balance simulator: hand-checked losses and level days, reproducibility, archetype files."""

from __future__ import annotations

import json
import math
import sys
from datetime import date
from pathlib import Path

import pytest

from mikoshi_progression import DEFAULT_CONFIG, ActionRule, ConfigError, Level, ProgressionConfig
from mikoshi_progression.simulation import (
    DEFAULT_ARCHETYPES,
    Archetype,
    Rate,
    archetype_problems,
    archetypes_from_dict,
    load_archetypes,
    plot_exp_curves,
    simulate,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def hand_config(**overrides) -> ProgressionConfig:
    """Four levels (0, 150, 400, 100000), one cap of 50 for all, four actions."""
    fields = {
        "levels": (
            Level(1, "One", "-", 0),
            Level(2, "Two", "-", 150),
            Level(3, "Three", "-", 400),
            Level(4, "Four", "-", 100_000),
        ),
        "actions": {
            "chat": ActionRule(20, daily_limit=1),
            "post": ActionRule(40),
            "tip": ActionRule(30, cap_exempt=True),
            "like": ActionRule(1, daily_limit=1, cap_exempt=True),
        },
        "daily_exp_caps": {1: 50},
    }
    fields.update(overrides)
    return ProgressionConfig(**fields)


# Every day: chat, post and tip once, and about 50 likes (never fewer than 2 in practice).
TESTER = Archetype(
    "tester",
    {
        "chat": Rate(chance=1.0),
        "post": Rate(chance=1.0),
        "tip": Rate(chance=1.0),
        "like": Rate(mean=50),
    },
)


@pytest.mark.parametrize(
    "boundary",
    [{}, {"reset_timezone": "Asia/Tokyo", "reset_hour": 4}],
    ids=["utc-midnight", "tokyo-4am"],
)
def test_hand_checked_scenario_reports_exact_losses_and_level_days(boundary):
    """Cap and limit losses, level days and EXP curves match a scenario worked out by hand.

    Each day the first like comes first (+1, cap-exempt; the other likes hit the
    1/day limit), then chat +20, then post: only 30 of its 40 fit under the cap
    of 50 (a partial award, 10 lost to the cap), then tip +30 (cap-exempt). So
    every day earns 81 and loses 10 to the cap. EXP ends days at 81, 162, 243,
    324, 405, 486: level 2 (150) on day 2, level 3 (400) on day 5, level 4
    never. The post's cut falls at level 1 on days 1-2, at level 2 on days
    3-5 and at level 3 on day 6.
    """
    players, days = 3, 6
    report = simulate(hand_config(**boundary), [TESTER], players=players, days=days, seed=5)
    (part,) = report.archetypes
    player_days = players * days
    likes = part.attempts - 3 * player_days
    assert likes > 10 * player_days  # the likes really came in numbers

    assert part.awarded_exp == 81 * player_days
    assert dict(part.cap_loss) == {1: 2 * 10 * players, 2: 3 * 10 * players, 3: 10 * players}
    assert dict(part.limit_loss) == {"like": likes - player_days}
    assert part.nominal_exp == (20 + 40 + 30) * player_days + likes
    assert part.nominal_exp == part.awarded_exp + part.cap_lost + part.limit_lost
    assert part.capped_days == part.active_days == player_days

    assert part.mean_exp_by_day == (81.0, 162.0, 243.0, 324.0, 405.0, 486.0)
    assert part.final_exp == (486,) * players
    assert dict(part.final_levels) == {1: 0, 2: 0, 3: players, 4: 0}
    two, three, four = part.levels
    assert (two.level, two.reached, two.never, two.p10, two.median, two.p90) == (2, 3, 0, 2, 2, 2)
    assert (three.reached, three.p10, three.median, three.p90) == (3, 5, 5, 5)
    assert (four.reached, four.never, four.p10, four.median, four.p90) == (0, 3, None, None, None)


def test_shares_in_the_json_report_are_fractions_of_nominal_exp():
    """to_dict() reports each loss both in EXP and as its share of the nominal EXP."""
    report = simulate(hand_config(), [TESTER], players=2, days=6, seed=1)
    doc = report.to_dict()
    json.dumps(doc)  # plain JSON
    (part,) = doc["archetypes"]
    nominal = part["exp"]["nominal"]
    assert part["exp"]["cap_share"] == round(60 * 2 / nominal, 6)
    assert part["cap_loss_by_level"]["1"] == {"exp": 40, "share": round(40 / nominal, 6)}
    assert part["limit_loss_by_action"]["like"]["exp"] == part["exp"]["lost_to_limits"]
    assert part["levels"][0] == {
        "level": 2,
        "name": "Two",
        "exp_required": 150,
        "reached": 2,
        "never": 0,
        "days_p10": 2,
        "days_median": 2,
        "days_p90": 2,
    }
    assert part["capped_share_of_active_days"] == 1.0
    assert len(part["mean_exp_by_day"]) == 6


def test_same_seed_same_report_and_another_seed_another():
    """A run is reproducible from its seed, and the seed matters."""
    first = simulate(players=12, days=20, seed=42).to_dict()
    again = simulate(players=12, days=20, seed=42).to_dict()
    other = simulate(players=12, days=20, seed=43).to_dict()
    assert first == again
    assert first != other


def test_report_is_identical_for_any_number_of_jobs():
    """Worker processes change nothing in the report, down to the last curve point."""
    alone = simulate(players=16, days=15, seed=9, jobs=1).to_dict()
    assert simulate(players=16, days=15, seed=9, jobs=2).to_dict() == alone
    # Players' own figures too, in player order, over chunks of several players each.
    one, two = (simulate(players=300, days=40, seed=3, jobs=jobs) for jobs in (1, 2))
    assert one.to_dict() == two.to_dict()
    for mine, theirs in zip(one.archetypes, two.archetypes, strict=True):
        assert mine.outcomes == theirs.outcomes
        assert mine.exp_percentiles_by_day == theirs.exp_percentiles_by_day


def test_adding_an_archetype_leaves_the_others_unchanged():
    """Players draw from (seed, archetype name, number), so archetypes do not disturb each other."""
    chatter, creator = DEFAULT_ARCHETYPES[0], DEFAULT_ARCHETYPES[1]
    alone = simulate(archetypes=[Archetype("c", chatter.actions)], players=6, days=25, seed=3)
    both = simulate(
        archetypes=[Archetype("c", chatter.actions), Archetype("d", creator.actions)],
        players=12,
        days=25,
        seed=3,
    )
    assert both.archetypes[0].to_dict() == alone.archetypes[0].to_dict()


def test_players_are_split_by_weight_with_largest_remainders():
    """50/30/12/8 of 10 players gives 5/3/1/1; of 3 gives 2/1/0/0, and an empty one reports."""
    assert [a.players for a in simulate(players=10, days=2).archetypes] == [5, 3, 1, 1]
    report = simulate(players=3, days=2)
    assert [a.players for a in report.archetypes] == [2, 1, 0, 0]
    empty = report.archetypes[3].to_dict()
    assert empty["players"] == 0
    assert empty["final_exp"]["median"] is None
    assert empty["levels"][0]["days_median"] is None


def test_default_archetypes_account_for_every_nominal_exp_point():
    """For every archetype, awarded + lost to cap + lost to limits == nominal EXP."""
    report = simulate(players=20, days=40, seed=11)
    for part in report.archetypes:
        assert part.nominal_exp == part.awarded_exp + part.cap_lost + part.limit_lost
        assert part.awarded_exp == sum(part.final_exp)
        assert sum(part.final_levels.values()) == part.players
        assert part.mean_exp_by_day[-1] == pytest.approx(sum(part.final_exp) / part.players)
        assert list(part.mean_exp_by_day) == sorted(part.mean_exp_by_day)


def test_level_percentiles_count_players_who_never_got_there():
    """A percentile falls on "never" (None) exactly when too few players reached the level."""
    report = simulate(players=40, days=30, seed=2)
    for part in report.archetypes:
        for reach in part.levels:
            assert reach.reached + reach.never == part.players
            for percent, value in ((10, reach.p10), (50, reach.median), (90, reach.p90)):
                rank = max(1, math.ceil(percent / 100 * part.players))
                assert (value is None) == (rank > reach.reached), (part.archetype.name, reach)
    casual = report.archetypes[0]
    assert casual.levels[-1].never == casual.players  # Master is out of reach in 30 days


def test_poisson_means_come_out_on_average():
    """Mean-based rates draw that many attempts per day on average (small and large means)."""
    config = hand_config(daily_exp_caps={1: 10**6})
    for mean in (0.3, 3, 42):
        archetype = Archetype("m", {"post": Rate(mean=mean)})
        report = simulate(config, [archetype], players=40, days=50, seed=7)
        per_day = report.archetypes[0].attempts / (40 * 50)
        assert per_day == pytest.approx(mean, rel=0.06), mean


def test_chance_and_active_chance_thin_out_the_days():
    """chance=0.5 on days played with active_chance=0.5 attempts on about a quarter of days."""
    archetype = Archetype("q", {"chat": Rate(chance=0.5)}, active_chance=0.5)
    report = simulate(hand_config(), [archetype], players=50, days=40, seed=1)
    part = report.archetypes[0]
    assert part.attempts / (50 * 40) == pytest.approx(0.25, abs=0.03)
    assert part.active_days == part.attempts  # at most one chat a day


def test_an_archetype_that_never_plays_earns_nothing():
    """active_chance=0 means no attempt at all, every level never reached."""
    idle = Archetype("idle", {"chat": Rate(chance=1.0)}, active_chance=0.0)
    part = simulate(hand_config(), [idle], players=4, days=10).archetypes[0]
    assert (part.attempts, part.nominal_exp, part.active_days) == (0, 0, 0)
    assert all(r.never == 4 and r.median is None for r in part.levels)
    assert part.mean_exp_by_day == (0.0,) * 10


def test_progress_is_reported_up_to_all_the_work():
    """The progress callback sees a growing count that ends at the total, never changed."""
    seen: list[tuple[int, int]] = []
    simulate(players=30, days=3, progress=lambda done, total: seen.append((done, total)))
    total = seen[-1][1]
    assert seen[-1] == (total, total)
    assert {t for _, t in seen} == {total}
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_progress_tracks_the_work_done(monkeypatch):
    """Progress advances with the work done, not with the players: on a run where one
    archetype makes 80 times the attempts of the other, every report's share is within
    a tenth of the share of all attempts simulated so far."""
    from mikoshi_progression.simulation import _run

    attempts: list[int] = []
    chunk = _run.simulate_chunk

    def counted(*args):
        tally = chunk(*args)
        attempts.append(tally.attempts)
        return tally

    monkeypatch.setattr(_run, "simulate_chunk", counted)
    cheap = Archetype("cheap", {"daily_chat": Rate(chance=0.5)}, active_chance=0.5, weight=3)
    costly = Archetype(
        "costly", {"character_liked": Rate(mean=30), "forked": Rate(mean=10)}, weight=1
    )
    seen: list[float] = []
    report = simulate(
        DEFAULT_CONFIG,
        [cheap, costly],
        players=400,
        days=20,
        progress=lambda done, total: seen.append(done / total),
    )
    assert len(seen) == len(attempts) >= 8
    done = 0
    for share, made in zip(seen, attempts, strict=True):
        done += made
        assert abs(share - done / report.attempts) <= 0.1, (share, done / report.attempts)


@pytest.mark.parametrize("kept", [1 << 21, 50], ids=["remembered", "forgotten"])
def test_day_plans_are_the_attempts_drawn_in_their_order(kept, monkeypatch):
    """Behaviour.plans (what the day fold takes) draws what Behaviour.attempts draws, with
    the same seed: each day's actions in the same order and the same nominal EXP, for
    chances, small and large Poisson means (table and PTRS) and a streak habit, whether
    the days drawn are remembered or forgotten."""
    import random

    from mikoshi_progression.simulation import StreakHabit, _sampling
    from mikoshi_progression.simulation._sampling import Behaviour, ClockCalendar

    monkeypatch.setattr(_sampling, "_PLANS_KEPT", kept)  # days remembered, or soon forgotten

    archetype = Archetype(
        "mixed",
        {
            "daily_chat": Rate(chance=0.7),
            "create_scene": Rate(chance=0.3),
            "character_liked": Rate(mean=3),
            "forked": Rate(mean=45),
        },
        active_chance=0.6,
        streak_habit=StreakHabit(chance=0.8, pattern="1101"),
    )
    behaviour = Behaviour(archetype, DEFAULT_CONFIG)
    calendar = ClockCalendar(DEFAULT_CONFIG.day_boundary, date(2026, 1, 1), 60)
    for player in range(20):
        events, ends, nominal = behaviour.attempts(random.Random(player).random, 60, calendar)
        plans = behaviour.plans(random.Random(player).random, 60)
        starts = [0, *ends[:-1]]
        days = [tuple(a for _, a in events[b:e]) for b, e in zip(starts, ends, strict=True)]
        assert [actions for actions, _ in plans] == days
        assert [worth for _, worth in plans] == nominal


def test_start_date_is_reported():
    """The first simulated day is part of the report."""
    report = simulate(players=2, days=2, start=date(2027, 2, 28))
    assert report.to_dict()["start"] == "2027-02-28"


def test_bad_arguments_are_value_errors():
    """Players, days and jobs must be positive integers."""
    with pytest.raises(ValueError, match="players"):
        simulate(players=0)
    with pytest.raises(ValueError, match="days"):
        simulate(days=-1)
    with pytest.raises(ValueError, match="jobs"):
        simulate(jobs=0)
    with pytest.raises(ValueError, match="run past 9999-12-31"):
        simulate(days=10, start=date(9999, 12, 25))


def _many_actions_config() -> ProgressionConfig:
    actions = {f"a{i}": ActionRule(1) for i in range(70)}
    return hand_config(actions={**actions, **DEFAULT_CONFIG.actions})


def test_an_action_unknown_to_the_config_is_a_config_error():
    """Archetypes are checked against the config, naming the archetype and the action."""
    odd = Archetype("odd", {"teleport": Rate(chance=0.5)})
    with pytest.raises(ConfigError) as caught:
        simulate(DEFAULT_CONFIG, [odd, odd], players=2, days=2)
    problems = caught.value.problems
    assert any("'odd'" in p and "'teleport'" in p and "daily_chat" in p for p in problems)
    assert any("used twice" in p for p in problems)
    assert archetype_problems([]) == ["archetypes: at least one archetype is needed"]
    many = _many_actions_config()
    busy = Archetype("busy", {a: Rate(mean=1000) for a in DEFAULT_CONFIG.actions})
    flood = Archetype("flood", {a: Rate(mean=1000) for a in many.actions})
    assert archetype_problems([busy]) == []
    assert archetype_problems([flood], many) == [
        "archetype 'flood': expects 77,000 attempts a day, at most 60,000 can be simulated"
    ]
    assert archetype_problems(DEFAULT_ARCHETYPES) == []


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "exactly one of chance"),
        ({"chance": 0.5, "mean": 2}, "got both"),
        ({"chance": 1.5}, "chance: must be a number from 0 to 1"),
        ({"mean": -1}, "mean: must be a number from 0 to 1000"),
        ({"mean": float("nan")}, "mean: must be a number"),
        ({"chance": True}, "chance: must be a number"),
    ],
)
def test_rates_are_validated(kwargs, fragment):
    """A Rate has exactly one of chance (0..1) or mean (0..1000), numbers only."""
    with pytest.raises(ConfigError) as caught:
        Rate(**kwargs)
    assert any(fragment in p for p in caught.value.problems), caught.value.problems


def test_archetypes_are_validated_with_every_problem():
    """A bad Archetype lists all its problems at once."""
    with pytest.raises(ConfigError) as caught:
        Archetype(" ", {}, active_chance=2, weight=0)
    problems = "\n".join(caught.value.problems)
    for fragment in ("name", "actions", "active_chance", "weight"):
        assert f"Archetype.{fragment}" in problems


def test_example_file_holds_the_default_archetypes():
    """examples/archetypes.toml is the built-in archetypes, written out."""
    assert load_archetypes(EXAMPLES / "archetypes.toml") == DEFAULT_ARCHETYPES


def test_archetype_file_round_trips_through_to_dict():
    """Archetype.to_dict() is the file form that archetypes_from_dict reads back."""
    data = {"archetype": [a.to_dict() for a in DEFAULT_ARCHETYPES]}
    assert archetypes_from_dict(data) == DEFAULT_ARCHETYPES


def test_invalid_archetype_file_lists_every_problem_with_its_location(tmp_path):
    """All problems of a file are reported together, each located, with the file as source."""
    path = tmp_path / "bad.toml"
    path.write_text(
        """
colour = "blue"

[[archetype]]
name = "a"
weight = -2
active_chance = 1.5
speed = 3
[archetype.actions]
daily_chat = { chance = 2 }
forked = { mean = 1, chance = 0.5 }
create_scene = 3

[[archetype]]
name = "a"
[archetype.actions]
daily_chat = { often = true }

[[archetype]]
description = 7
actions = {}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_archetypes(path)
    assert caught.value.source == str(path)
    problems = caught.value.problems
    expected = [
        "colour: unknown key",
        "archetype[0].weight: must be a positive number",
        "archetype[0].active_chance: must be a number from 0 to 1",
        "archetype[0].speed: unknown key",
        "archetype[0].actions.daily_chat.chance: must be a number from 0 to 1",
        "archetype[0].actions.forked: give exactly one of chance",
        "archetype[0].actions.create_scene: must be a table",
        "archetype[1].name: 'a' is already the name of archetype[0]",
        "archetype[1].actions.daily_chat.often: unknown key",
        "archetype[2].name: missing",
        "archetype[2].description: must be a string",
        "archetype[2].actions: must be a non-empty table",
    ]
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)


def test_unreadable_and_malformed_archetype_files_are_file_problems(tmp_path):
    """A missing file or broken TOML is reported as a 'file:' problem, not a crash."""
    with pytest.raises(ConfigError) as missing:
        load_archetypes(tmp_path / "nope.toml")
    assert missing.value.problems[0].startswith("file: cannot read")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[archetype]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as malformed:
        load_archetypes(broken)
    assert malformed.value.problems[0].startswith("file: malformed TOML")
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError) as nothing:
        load_archetypes(empty)
    assert nothing.value.problems[0].startswith("archetype: must be a non-empty list")


def test_plot_writes_an_image(tmp_path):
    """plot_exp_curves draws a PNG (log and linear EXP axes)."""
    pytest.importorskip("matplotlib")
    report = simulate(players=8, days=10, seed=1)
    for log_scale in (True, False):
        out = plot_exp_curves(report, tmp_path / f"curves-{log_scale}.png", log_scale=log_scale)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_names_the_extra(monkeypatch, tmp_path):
    """Without matplotlib, plotting fails with an ImportError that says how to install it."""
    report = simulate(players=2, days=2)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"\[plot\] extra"):
        plot_exp_curves(report, tmp_path / "x.png")
