"""The simulator with levers: boosts, streak habits, time zones and milestones, checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mikoshi_progression import DEFAULT_CONFIG, ActionRule, ConfigError, Level, ProgressionConfig
from mikoshi_progression.cli import main
from mikoshi_progression.simulation import (
    DEFAULT_ARCHETYPES,
    Archetype,
    Rate,
    StreakHabit,
    archetype_problems,
    archetypes_from_dict,
    load_archetypes,
    plot_exp_curves,
    simulate,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DAY_2 = ("2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00")


CHAT = ActionRule(20, daily_limit=1)


def lever_config(cap: int = 1000, chat: ActionRule = CHAT, **levers) -> ProgressionConfig:
    """Two levels (0, 100), a cap of ``cap``, four actions, and the levers given."""
    return ProgressionConfig(
        levels=(Level(1, "One", "-", 0), Level(2, "Two", "-", 100)),
        actions={
            "chat": chat,
            "post": ActionRule(40),
            "tip": ActionRule(30),
            "like": ActionRule(1, daily_limit=1, cap_exempt=True),
        },
        daily_exp_caps={1: cap},
        **levers,
    )


def boost(starts: str = DAY_2[0], ends: str = DAY_2[1], **fields) -> dict:
    """A boosts section with one window (x2 on every action unless told)."""
    window = {"name": "double", "starts": starts, "ends": ends, "multiplier": 2, **fields}
    return {"windows": [window]}


POSTER = Archetype("poster", {"chat": Rate(chance=1.0), "post": Rate(chance=1.0)})
"""Chats and posts once every day: 60 EXP a day, nothing random."""


def exact_accounting(part) -> bool:
    """Nominal + boosts + bonuses splits exactly into awarded + lost to the cap and limits."""
    return part.promised_exp == part.awarded_exp + part.cap_lost + part.limit_lost


# --- boosts ----------------------------------------------------------------------------------


def test_a_boost_doubles_the_rewards_of_its_day():
    """Chat and post (60 EXP) pay 120 on the boosted day 2; boosts add 60 per player."""
    report = simulate(lever_config(boosts=boost()), [POSTER], players=3, days=3, seed=1)
    (part,) = report.archetypes
    assert part.mean_exp_by_day == (60.0, 180.0, 240.0)
    assert part.mean_gain_by_day() == (60.0, 120.0, 60.0)
    assert (part.nominal_exp, part.boost_exp, part.awarded_exp) == (540, 180, 720)
    assert (part.cap_lost, part.limit_lost) == (0, 0)
    (window,) = report.boost_windows
    assert (window.first_day, window.last_day, window.label) == (2, 2, "double x2")
    assert report.boosted_days() == {2: ("double x2",)}


def test_a_boost_on_some_actions_multiplies_only_those():
    """A window for post alone adds post's 40 on day 2, not chat's 20."""
    config = lever_config(boosts=boost(actions=["post"]))
    part = simulate(config, [POSTER], players=2, days=3).archetypes[0]
    assert part.mean_gain_by_day() == (60.0, 100.0, 60.0)
    assert part.boost_exp == 2 * 40


@pytest.mark.parametrize(
    ("window", "boosted"),
    [
        (("2026-01-02T00:00:00+00:00", "2026-01-02T12:00:00+00:00"), False),
        (("2026-01-02T12:00:00+00:00", "2026-01-02T13:00:00+00:00"), True),
    ],
    ids=["morning-window", "noon-window"],
)
def test_attempts_fall_at_their_place_in_the_day(window, boosted):
    """A once-a-day attempt falls at noon: a morning window misses it, a noon window has it."""
    part = simulate(lever_config(boosts=boost(*window)), [POSTER], players=1, days=3).archetypes[0]
    assert part.mean_gain_by_day()[1] == (120.0 if boosted else 60.0)


def test_the_cap_cuts_boosted_rewards_and_refused_attempts_cost_their_boosted_reward():
    """Cap 50; chat 20, post 40, tip 30 each day, in that order. Day 1: chat 20, post cut
    to 30 (10 lost), tip refused (30 lost). Day 2 at x2: chat 40, post cut to 10 (70 lost),
    which makes 100 EXP, level 2; then tip refused (60 lost, at level 2). Day 3: 40 lost at
    level 2. Each day awards 50."""
    tipper = Archetype("tipper", {a: Rate(chance=1.0) for a in ("chat", "post", "tip")})
    config = lever_config(cap=50, boosts=boost())
    part = simulate(config, [tipper], players=2, days=3).archetypes[0]
    assert part.awarded_exp == 2 * 150
    assert dict(part.cap_loss) == {1: 2 * (40 + 70), 2: 2 * (60 + 40)}
    assert (part.nominal_exp, part.boost_exp) == (2 * 270, 2 * 90)
    assert part.capped_days == part.active_days == 2 * 3
    assert exact_accounting(part)


def test_raise_cap_lets_the_boosted_reward_through():
    """With raise_cap the cap doubles with the boost: day 2 pays 2 x 60 under a cap of 60."""
    config = lever_config(cap=60, boosts={**boost(), "raise_cap": True})
    part = simulate(config, [POSTER], players=1, days=3).archetypes[0]
    assert part.mean_gain_by_day() == (60.0, 120.0, 60.0)
    assert part.cap_lost == 0


def test_boost_days_are_the_configs_days():
    """A window from Saturday 00:00Z to Monday 00:00Z covers days 9 to 11 in New York
    (it starts Friday 19:00 there) and days 10 to 11 in UTC; one outside the run has none."""
    window = boost("2026-01-10T00:00:00Z", "2026-01-12T00:00:00Z")
    late = {"name": "late", "starts": "2027-01-01T00:00:00Z", "ends": "2027-01-02T00:00:00Z"}
    boosts = {"windows": [*window["windows"], {**late, "multiplier": 3}]}
    new_york = lever_config(boosts=boosts, reset_timezone="America/New_York")
    ny, ny_late = simulate(new_york, [POSTER], players=1, days=20).boost_windows
    utc, _ = simulate(lever_config(boosts=boosts), [POSTER], players=1, days=20).boost_windows
    assert (ny.first_day, ny.last_day, utc.first_day, utc.last_day) == (9, 11, 10, 11)
    assert (ny_late.first_day, ny_late.last_day) == (None, None)


# --- streaks and milestones --------------------------------------------------------------------

MILESTONES = (
    {"name": "three_days", "streak": 3, "bonus_exp": 5},
    {"name": "level_two", "level": 2},
    {"name": "five_chats", "action": "chat", "count": 5},
)
ON_OFF = Archetype("on-off", {"tip": Rate(chance=0.0)}, streak_habit=StreakHabit(pattern="1110"))
"""Chats three days out of four, every time: days 1-3 and 5-7 of the first eight."""


def test_a_streak_habit_breaks_on_its_days_off_and_pays_its_bonuses():
    """Days 1-3 make a streak of 3 (bonus 100, milestone +5); day 4 is missed, so day 5 breaks
    it; days 5-7 make 3 again (bonus 100). EXP ends the days at 20, 40, 165 (level 2, so
    level_two unlocks), 165, 185, 205 (fifth chat), 325, 325."""
    config = lever_config(streak={"action": "chat", "bonuses": {"3": 100}}, milestones=MILESTONES)
    players = 4
    part = simulate(config, [ON_OFF], players=players, days=8, seed=3).archetypes[0]
    assert part.mean_exp_by_day == (20.0, 40.0, 165.0, 165.0, 185.0, 205.0, 325.0, 325.0)
    streaks = part.streaks
    assert streaks is not None
    assert streaks.action == "chat"
    assert streaks.best == (3,) * players
    assert (streaks.breaks, streaks.freezes_used) == (players, 0)
    assert dict(streaks.bonuses) == {3: 2 * players}
    assert dict(streaks.reached) == {3: players}
    assert part.streak_bonus_exp == 200 * players
    assert part.milestone_bonus_exp == 5 * players
    reached = {r.milestone.name: (r.unlocked, r.share, r.median_day) for r in part.milestones}
    assert reached == {
        "three_days": (players, 1.0, 3),
        "level_two": (players, 1.0, 3),
        "five_chats": (players, 1.0, 6),
    }
    assert part.awarded_exp == 325 * players
    assert exact_accounting(part)


def test_a_freeze_covers_the_day_off():
    """A freeze earned at 2 days covers day 4: the streak runs 1-3, then 4, 5, 6 on days 5-7."""
    streak = {"action": "chat", "freeze_every": 2, "max_freezes": 1, "bonuses": {"3": 100}}
    part = simulate(lever_config(streak=streak), [ON_OFF], players=2, days=8).archetypes[0]
    assert part.streaks is not None
    assert part.streaks.best == (6, 6)
    assert (part.streaks.freezes_used, part.streaks.breaks) == (2, 0)
    assert dict(part.streaks.bonuses) == {3: 2}


def test_a_streak_bonus_under_the_cap_is_cut_and_the_cut_charged_to_the_cap():
    """Cap 30, bonus 50 at 2 days, not cap-exempt: day 2's chat (20) leaves room for 10 of
    the bonus, so 40 are lost to the cap at level 1. EXP ends the days at 20, 50, 70."""
    streak = {"action": "chat", "bonuses": {"2": 50}, "bonus_cap_exempt": False}
    keeper = Archetype("keeper", {"tip": Rate(chance=0)}, streak_habit=StreakHabit())
    part = simulate(lever_config(cap=30, streak=streak), [keeper], players=3, days=3).archetypes[0]
    assert part.mean_exp_by_day == (20.0, 50.0, 70.0)
    assert (part.streak_bonus_exp, dict(part.cap_loss)) == (3 * 50, {1: 3 * 40})
    assert part.capped_days == 3
    assert exact_accounting(part)


def test_the_cap_refusing_the_streak_action_costs_the_streak_unless_it_is_cap_exempt():
    """Post and tip (70 EXP) at noon fill a cap of 50, so a chat after noon is refused and
    the day counts as missed; with chat cap-exempt, every daily chat keeps the streak."""
    busy = Archetype(
        "busy", {"post": Rate(chance=1.0), "tip": Rate(chance=1.0)}, streak_habit=StreakHabit()
    )
    refused = simulate(
        lever_config(cap=50, streak={"action": "chat"}), [busy], players=10, days=20, seed=1
    ).archetypes[0]
    assert refused.streaks is not None
    assert refused.streaks.refused_by_cap > 0
    assert refused.streaks.breaks > 0
    assert max(refused.streaks.best) < 20
    exempt = lever_config(
        cap=50, chat=ActionRule(20, daily_limit=1, cap_exempt=True), streak={"action": "chat"}
    )
    kept = simulate(exempt, [busy], players=10, days=20, seed=1).archetypes[0]
    assert kept.streaks is not None
    assert (kept.streaks.refused_by_cap, kept.streaks.breaks) == (0, 0)
    assert kept.streaks.best == (20,) * 10


def test_a_grace_period_catches_the_night_owls():
    """Chatting every other day at a random moment, a streak never grows without grace;
    with an hour's grace, a chat in the first hour of a day counts for the missed one."""
    habit = Archetype("night owl", {"tip": Rate(chance=0)}, streak_habit=StreakHabit(pattern="10"))
    best = {}
    for grace in (0, 60):
        config = lever_config(streak={"action": "chat", "grace_minutes": grace})
        part = simulate(config, [habit], players=40, days=60, seed=2).archetypes[0]
        assert part.streaks is not None
        best[grace] = part.streaks.best
    assert set(best[0]) == {1}
    assert max(best[60]) >= 2


def test_a_habit_without_a_streak_still_chats_and_the_reports_stay_lever_free():
    """With no streak in the config, a habit performs daily_chat, and no lever key is shown."""
    chatter = Archetype("c", {"create_scene": Rate(chance=0.5)}, streak_habit=StreakHabit())
    part = simulate(archetypes=[chatter], players=3, days=5).archetypes[0]
    assert part.attempts >= 15  # a chat every day, played or not
    doc = part.to_dict()
    assert part.streaks is None
    assert not {"streaks", "milestones", "timezones"} & doc.keys()
    assert "boosts" not in doc["exp"]


# --- time zones ----------------------------------------------------------------------------


def test_players_are_split_among_time_zones_and_follow_their_local_day():
    """Tokyo's noon of day 2 falls in a 00:00-12:00Z window, Los Angeles' does not."""
    zones = {"Asia/Tokyo": 1, "America/Los_Angeles": 1}
    config = lever_config(boosts=boost(DAY_2[0], "2026-01-02T12:00:00+00:00"))
    mixed = Archetype("mixed", POSTER.actions, timezones=zones)
    tokyo = Archetype("tokyo", POSTER.actions, timezones={"Asia/Tokyo": 1})
    los_angeles = Archetype("la", POSTER.actions, timezones={"America/Los_Angeles": 1})
    report = simulate(config, [mixed, tokyo, los_angeles], players=12, days=3)
    parts = {part.archetype.name: part for part in report.archetypes}
    assert dict(parts["mixed"].timezones) == {"Asia/Tokyo": 2, "America/Los_Angeles": 2}
    assert parts["mixed"].to_dict()["timezones"] == {"Asia/Tokyo": 2, "America/Los_Angeles": 2}
    assert parts["tokyo"].boost_exp == 4 * 60
    assert parts["la"].boost_exp == 0
    assert parts["mixed"].boost_exp == 2 * 60


def test_a_players_streak_follows_their_own_days():
    """Chatting every local day at a random moment keeps an unbroken streak in any zone."""
    zones = {"Asia/Tokyo": 1, "America/Los_Angeles": 1, "Pacific/Kiritimati": 1}
    daily = Archetype("daily", {"tip": Rate(chance=0)}, streak_habit=StreakHabit(), timezones=zones)
    config = lever_config(streak={"action": "chat"})
    part = simulate(config, [daily], players=9, days=40, seed=5).archetypes[0]
    assert part.streaks is not None
    assert part.streaks.best == (40,) * 9
    assert part.streaks.breaks == 0


def test_a_zone_mix_without_levers_keeps_the_accounting_exact():
    """Players in their own zones under the seed's rules: every nominal EXP point is placed."""
    zones = {"Asia/Tokyo": 3, "Europe/Berlin": 1}
    archetypes = [
        Archetype(a.name, a.actions, a.active_chance, timezones=zones) for a in DEFAULT_ARCHETYPES
    ]
    for part in simulate(archetypes=archetypes, players=24, days=20, seed=4).archetypes:
        assert part.nominal_exp == part.awarded_exp + part.cap_lost + part.limit_lost
        assert sum(part.timezones.values()) == part.players


# --- reproducibility -----------------------------------------------------------------------


def full_config() -> ProgressionConfig:
    """Every lever at once, on the default actions: boosts, streak with freezes, milestones."""
    return ProgressionConfig.from_dict(
        {
            **DEFAULT_CONFIG.to_dict(),
            "boosts": boost("2026-01-03T00:00:00Z", "2026-01-05T00:00:00Z"),
            "streak": {
                "freeze_every": 7,
                "max_freezes": 1,
                "grace_minutes": 30,
                "bonuses": {"7": 50},
            },
            "milestones": [
                {"name": "week", "streak": 7, "bonus_exp": 20},
                {"name": "pro", "level": 4},
            ],
        }
    )


def lever_archetypes() -> list[Archetype]:
    """The built-in archetypes, the casual ones with a habit and a zone mix."""
    keeper = Archetype(
        "keeper",
        {"create_scene": Rate(mean=0.4), "character_liked": Rate(mean=25)},
        active_chance=0.6,
        streak_habit=StreakHabit(chance=0.9, pattern="1111110"),
        timezones={"Asia/Tokyo": 1, "Europe/Paris": 1},
        weight=20,
    )
    return [*DEFAULT_ARCHETYPES, keeper]


def test_a_run_with_levers_is_the_same_for_any_jobs_and_accounts_for_every_point():
    """Same seed, same report with 1 or 2 processes; the accounting is exact per archetype."""
    config = full_config()
    alone = simulate(config, lever_archetypes(), players=24, days=21, seed=9)
    assert simulate(config, lever_archetypes(), players=24, days=21, seed=9, jobs=2).to_dict() == (
        alone.to_dict()
    )
    assert simulate(config, lever_archetypes(), players=24, days=21, seed=10).to_dict() != (
        alone.to_dict()
    )
    for part in alone.archetypes:
        assert exact_accounting(part), part.archetype.name
        assert part.awarded_exp == sum(part.final_exp)
    doc = alone.to_dict()
    json.dumps(doc)
    assert [w["name"] for w in doc["boost_windows"]] == ["double"]
    keeper = doc["archetypes"][-1]
    assert keeper["exp"]["promised"] == (
        keeper["exp"]["nominal"]
        + keeper["exp"]["boosts"]
        + keeper["exp"]["streak_bonuses"]
        + keeper["exp"]["milestone_bonuses"]
    )
    assert set(keeper["streaks"]) == {
        "action",
        "best_streak",
        "reached",
        "freezes_used",
        "breaks",
        "refused_by_cap",
        "bonuses",
    }
    assert [m["name"] for m in keeper["milestones"]] == ["week", "pro"]


# --- archetype files -------------------------------------------------------------------------


def test_habits_and_zones_round_trip_through_files(tmp_path):
    """streak_habit and timezones are read from a file and written back by to_dict()."""
    path = tmp_path / "levers.toml"
    path.write_text(
        """
[[archetype]]
name = "keeper"
streak_habit = { chance = 0.9, pattern = "1111100" }
timezones = { "Asia/Tokyo" = 2, "UTC" = 1 }
[archetype.actions]
create_scene = { mean = 0.5 }
""",
        encoding="utf-8",
    )
    (keeper,) = load_archetypes(path)
    assert keeper.streak_habit == StreakHabit(chance=0.9, pattern="1111100")
    assert dict(keeper.timezones) == {"Asia/Tokyo": 2, "UTC": 1}
    assert keeper.player_zones(3) == ("Asia/Tokyo", "Asia/Tokyo", "UTC")
    assert archetypes_from_dict({"archetype": [keeper.to_dict()]}) == (keeper,)
    assert "streak_habit" not in DEFAULT_ARCHETYPES[0].to_dict()


def test_the_lever_example_file_loads_and_simulates():
    """examples/archetypes-levers.toml is valid and runs under the default config."""
    archetypes = load_archetypes(EXAMPLES / "archetypes-levers.toml")
    assert any(a.streak_habit for a in archetypes)
    assert any(a.timezones for a in archetypes)
    report = simulate(archetypes=archetypes, players=len(archetypes) * 2, days=3)
    assert len(report.archetypes) == len(archetypes)


def test_invalid_habits_and_zones_are_listed_with_their_location():
    """Every problem of a habit or a zone mix is reported, located."""
    table = {
        "name": "a",
        "actions": {"create_scene": {"chance": 0.5}},
        "streak_habit": {"chance": 2, "pattern": "1121", "often": True},
        "timezones": {"Mars/Olympus": 1, "UTC": 0},
    }
    with pytest.raises(ConfigError) as caught:
        archetypes_from_dict({"archetype": [table, {**table, "name": "b", "streak_habit": 3}]})
    problems = caught.value.problems
    expected = [
        "archetype[0].streak_habit.often: unknown key",
        "archetype[0].streak_habit.chance: must be a number from 0 to 1",
        "archetype[0].streak_habit.pattern: must be 1 to 366 days on",
        "archetype[0].timezones: 'Mars/Olympus' is not an IANA time zone name",
        "archetype[0].timezones.UTC: must be a positive number",
        "archetype[1].streak_habit: must be a table",
    ]
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)
    with pytest.raises(ConfigError):
        StreakHabit(pattern="")


def test_a_habit_is_checked_against_the_config():
    """The habit's action must exist in the config and not be listed under actions too."""
    both = Archetype("both", {"daily_chat": Rate(chance=1.0)}, streak_habit=StreakHabit())
    assert archetype_problems([both]) == [
        "archetype 'both': 'daily_chat' is the streak habit's action: give it under actions "
        "or as the streak_habit, not both"
    ]
    lone = Archetype("lone", {"post": Rate(chance=1.0)}, streak_habit=StreakHabit())
    (problem,) = archetype_problems([lone], lever_config())
    assert problem.startswith("archetype 'lone': the streak habit performs 'daily_chat', which")
    assert archetype_problems([lone], lever_config(streak={"action": "chat"})) == []


# --- the command line and the plot -------------------------------------------------------------

ARCHETYPE_FILE = """
[[archetype]]
name = "keeper"
streak_habit = { chance = 0.95 }
timezones = { "Asia/Tokyo" = 1, "America/New_York" = 1 }
[archetype.actions]
post = { mean = 0.5 }
"""


def test_the_text_report_shows_the_levers(tmp_path, capsys):
    """simulate prints the boost windows, streaks, milestones and EXP by day around windows."""
    config = lever_config(
        boosts=boost("2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z"),
        streak={"action": "chat", "bonuses": {"3": 10}},
        milestones=MILESTONES,
    )
    config_path = tmp_path / "levers.json"
    config_path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    archetypes = tmp_path / "keeper.toml"
    archetypes.write_text(ARCHETYPE_FILE, encoding="utf-8")
    argv = ["simulate", str(config_path), "--archetypes", str(archetypes), "--players", "4"]
    assert main([*argv, "--days", "12"]) == 0
    out = capsys.readouterr().out
    for fragment in (
        "Boost windows (days of UTC from 00:00",
        "double  x2          all      2026-01-05T00:00:00+00:00",
        "Players by time zone: Asia/Tokyo 2, America/New_York 2.",
        "Streak habit: the streak action on 95.0% of days",
        "+ boosts",
        "promised (all of the above)",
        "Streaks (chat)",
        "Milestones (median day: among the players who unlocked it)",
        "five_chats  5 x chat",
        "* double x2",
        "in windows",
    ):
        assert fragment in out, fragment
    assert main([*argv, "--days", "12", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["boost_windows"][0]["first_day"] == 5
    assert doc["archetypes"][0]["streaks"]["action"] == "chat"


def test_the_plot_shades_the_boost_windows(tmp_path):
    """plot_exp_curves draws both charts and a shaded, named band per boost window."""
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    config = lever_config(boosts=boost("2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z"))
    report = simulate(config, [POSTER], players=2, days=10)
    out = plot_exp_curves(report, tmp_path / "boost.png")
    image = imread(out)
    # The band's gold (about 1.0, 0.84, 0.0 at 30% over white) is in the picture.
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    gold = (red > 0.95) & (green > 0.9) & (green < 0.97) & (blue < 0.8) & (blue > 0.6)
    assert gold.sum() > 1000
