"""Comparing configs on the same players: per-player figures, named figures, conditions,
the paired bootstrap, the gate, and ``simulate --compare`` on the command line."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from mikoshi_progression import DEFAULT_CONFIG, InvalidArgumentError, Level, ProgressionConfig
from mikoshi_progression.cli import main
from mikoshi_progression.simulation import (
    DEFAULT_ARCHETYPES,
    FIGURE_FIELDS,
    archetype_metrics,
    compare,
    compare_reports,
    condition_holds,
    metric_names,
    parse_condition,
    simulate,
)

SMALL = {"players": 200, "days": 60, "seed": 7}


def changed(**edits: object) -> ProgressionConfig:
    """DEFAULT_CONFIG with dotted-path edits (``actions.create_character.exp=40``)."""
    data = DEFAULT_CONFIG.to_dict()
    for path, value in edits.items():
        *parents, leaf = path.split("__")
        target = data
        for key in parents:
            target = target[key]
        target[leaf] = value
    return ProgressionConfig.from_dict(data)


RICHER_CREATORS = changed(actions__create_character__exp=45)
TIGHTER_CAPS = changed(daily_exp_caps__3=200, daily_exp_caps__4=200)


@pytest.fixture(scope="module")
def default_report():
    return simulate(DEFAULT_CONFIG, **SMALL)


@pytest.fixture(scope="module")
def creator_comparison():
    return compare(DEFAULT_CONFIG, RICHER_CREATORS, resamples=300, **SMALL)


# --- each player's own figures -----------------------------------------------------------


def test_player_outcomes_add_up_to_the_report(default_report):
    """The per-player columns sum to the report's totals, in player order."""
    for part in default_report.archetypes:
        outcomes = part.outcomes
        assert len(outcomes.final_exp) == part.players
        assert sorted(outcomes.final_exp) == list(part.final_exp)
        assert sum(outcomes.final_exp) == part.awarded_exp
        assert sum(outcomes.active_days) == part.active_days
        assert sum(outcomes.capped_days) == part.capped_days
        assert sum(outcomes.cap_lost) == part.cap_lost
        assert sum(outcomes.limit_lost) == part.limit_lost
        for reach, column in zip(part.levels, outcomes.reach_days, strict=True):
            assert sum(1 for day in column if day) == reach.reached


def test_player_outcomes_do_not_depend_on_jobs():
    """Two worker processes give every player the same figures as one process."""
    alone = simulate(DEFAULT_CONFIG, players=60, days=20, seed=3, jobs=1)
    shared = simulate(DEFAULT_CONFIG, players=60, days=20, seed=3, jobs=2)
    for one, two in zip(alone.archetypes, shared.archetypes, strict=True):
        assert one.outcomes == two.outcomes
        assert one.exp_percentiles_by_day == two.exp_percentiles_by_day


def test_percentiles_by_day_are_the_players_exp(default_report):
    """The last day's percentiles are those of the final EXP; the median lies in the band."""
    for part in default_report.archetypes:
        summary = part.final_exp_summary()
        p10, median, p90 = part.exp_percentiles_by_day[-1]
        assert (p10, median, p90) == (summary["p10"], summary["median"], summary["p90"])
        assert all(low <= mid <= high for low, mid, high in part.exp_percentiles_by_day)
        assert len(part.exp_percentiles_by_day) == default_report.days


# --- named figures ---------------------------------------------------------------------


def test_named_figures_match_the_report(default_report):
    """Each named figure is the report's own number (never reached is inf)."""
    for part in default_report.archetypes:
        figures = archetype_metrics(part)
        assert list(figures) == metric_names(default_report.config)
        for reach in part.levels:
            for name in ("p10", "median", "p90"):
                expected = getattr(reach, name)
                got = figures[f"level{reach.level}.days.{name}"]
                assert got == (math.inf if expected is None else expected)
            assert figures[f"level{reach.level}.reached_share"] == reach.reached / part.players
        player_days = part.players * default_report.days
        assert figures["exp_per_day"] == pytest.approx(part.awarded_exp / player_days)
        assert figures["cap_lost_per_day"] == pytest.approx(part.cap_lost / player_days)
        assert figures["limit_lost_per_day"] == pytest.approx(part.limit_lost / player_days)
        assert figures["cap_hit_rate"] == pytest.approx(part.capped_days / part.active_days)
        assert figures["final_exp.median"] == part.final_exp_summary()["median"]


# --- conditions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "holds"),
    [
        ("a.b > 1", {"a.b": 2.0}, True),
        ("30 <= x.median <= 45", {"x.median": 45.0}, True),
        ("30 <= x.median <= 45", {"x.median": 46.0}, False),
        ("a > 1 and not b < 2", {"a": 2.0, "b": 1.0}, False),
        ("a > 1 or b < 2", {"a": 0.0, "b": 1.0}, True),
        ("(a + b) / 2 >= 3", {"a": 2.0, "b": 4.0}, True),
        ("a / b > 0", {"a": 1.0, "b": 0.0}, False),  # a division by 0 is nan
        ("a == never", {"a": math.inf}, True),
        ("a < inf", {"a": math.inf}, False),
        ("a > 0", {"a": math.nan}, False),
        ("a <= 0", {"a": math.nan}, False),
        ("-a > 1", {"a": -2.0}, True),
    ],
)
def test_conditions_evaluate_like_python_arithmetic(text, values, holds):
    """Comparisons chain, and/or/not combine, nan compares false, never is infinity."""
    assert condition_holds(parse_condition(text), values) is holds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("__import__('os').system('true')", "not Call"),
        ("a[0] > 1", "not Subscript"),
        ("a > 'x'", "numbers as constants"),
        ("a > True", "numbers as constants"),
        ("lambda: 1", "a comparison"),
        ("level4.days.median", "a comparison"),
        ("a >", "invalid syntax"),
        ("  ", "a condition such as"),
        (": a > 1", "an archetype's name before ':'"),
    ],
)
def test_conditions_refuse_anything_but_arithmetic(text, expected):
    """Calls, subscripts, strings and malformed text are refused, naming the option."""
    with pytest.raises(InvalidArgumentError, match="--fail-if") as caught:
        parse_condition(text, option="--fail-if")
    assert expected in str(caught.value)


def test_a_condition_may_name_its_archetype():
    """Text before the last colon names the archetype; names are listed once, in order."""
    condition = parse_condition("daily creator: b > 1 and a < b")
    assert condition.archetype == "daily creator"
    assert condition.names == ("b", "a")


# --- the paired comparison -------------------------------------------------------------


def test_a_config_compared_with_itself_is_unchanged_everywhere():
    """Same config, same players: every figure is identical on every resample."""
    result = compare(DEFAULT_CONFIG, DEFAULT_CONFIG, resamples=100, **SMALL)
    for archetype in result.archetypes:
        for figure in archetype.figures:
            if math.isinf(figure.old):
                assert figure.verdict == "never in both"
                continue
            assert figure.verdict == "unchanged", figure
            assert figure.diff == figure.diff_low == figure.diff_high == 0


def test_the_old_and_new_figures_are_the_plain_runs(creator_comparison, default_report):
    """Each side of a comparison is exactly what simulate() reports for that config."""
    richer = simulate(RICHER_CREATORS, **SMALL)
    for archetype, before, after in zip(
        creator_comparison.archetypes, default_report.archetypes, richer.archetypes, strict=True
    ):
        old, new = archetype_metrics(before), archetype_metrics(after)
        for figure in archetype.figures:
            assert figure.old == old[figure.name]
            assert figure.new == new[figure.name]


def test_a_richer_reward_shows_as_higher_exp_with_an_interval_around_it(creator_comparison):
    """Creators earn more per day; casual chatters, who rarely create, barely move."""
    creator = creator_comparison.archetype("daily creator").figure("exp_per_day")
    assert creator.verdict == "higher"
    assert 0 < creator.diff_low <= creator.diff <= creator.diff_high
    assert creator.change_low <= creator.change <= creator.change_high
    assert creator.change == pytest.approx(creator.new / creator.old - 1)
    # Rewards only grow: no player of any archetype can end with less EXP.
    for archetype in creator_comparison.archetypes:
        assert archetype.figure("exp_per_day").diff_low >= 0


def test_tighter_caps_show_as_more_exp_lost_to_the_cap():
    """Lower caps at levels 3-4 cost the heavy archetypes EXP, and the verdict says so."""
    result = compare(DEFAULT_CONFIG, TIGHTER_CAPS, resamples=200, **SMALL)
    whale = result.archetype("whale")
    assert whale.figure("cap_lost_per_day").verdict == "higher"
    assert whale.figure("cap_hit_rate").verdict == "higher"
    assert whale.figure("exp_per_day").verdict == "lower"


def test_intervals_are_reproducible_and_narrow_with_more_players():
    """The bootstrap is seeded by the run's seed; more players give a narrower interval."""
    few = simulate(DEFAULT_CONFIG, players=100, days=40, seed=2)
    few_new = simulate(RICHER_CREATORS, players=100, days=40, seed=2)
    first = compare_reports(few, few_new, resamples=200)
    again = compare_reports(few, few_new, resamples=200)
    assert first.archetypes == again.archetypes
    many = compare(DEFAULT_CONFIG, RICHER_CREATORS, players=1600, days=40, seed=2, resamples=200)

    def width(result):
        figure = result.archetype("daily creator").figure("exp_per_day")
        return figure.diff_high - figure.diff_low

    assert width(many) < width(first)


def test_levels_only_one_config_has_are_left_out():
    """A seventh level in the new config is not compared: only levels both define are."""
    data = DEFAULT_CONFIG.to_dict()
    levels = [Level(**level) for level in data["levels"]]
    seventh = ProgressionConfig(
        levels=(*levels, Level(7, "Legend", "-", 9000)),
        actions=DEFAULT_CONFIG.actions,
        daily_exp_caps=DEFAULT_CONFIG.daily_exp_caps,
    )
    result = compare(DEFAULT_CONFIG, seventh, resamples=100, players=40, days=20)
    names = {figure.name for figure in result.archetypes[0].figures}
    assert "level6.days.median" in names
    assert not any(name.startswith("level7") for name in names)


def test_reports_of_other_players_are_refused():
    """A different seed (or player count) means other people: no paired comparison."""
    one = simulate(DEFAULT_CONFIG, players=20, days=5, seed=1)
    other = simulate(DEFAULT_CONFIG, players=20, days=5, seed=2)
    with pytest.raises(InvalidArgumentError, match="same seed"):
        compare_reports(one, other)
    with pytest.raises(InvalidArgumentError, match="same archetypes"):
        compare_reports(
            one, simulate(DEFAULT_CONFIG, DEFAULT_ARCHETYPES[:2], players=20, days=5, seed=1)
        )


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("confidence", 1.0),
        ("confidence", 0),
        ("confidence", True),
        ("resamples", 99),
        ("resamples", 1.5),
    ],
)
def test_bad_statistics_settings_are_refused(keyword, value):
    """The confidence level lies strictly between 0 and 1; resamples are at least 100."""
    report = simulate(DEFAULT_CONFIG, players=8, days=2)
    with pytest.raises(InvalidArgumentError, match=keyword):
        compare_reports(report, report, **{keyword: value})


def test_without_numpy_the_comparison_names_the_extra(monkeypatch):
    """numpy missing: an ImportError that says which extra to install, before simulating."""
    monkeypatch.setitem(sys.modules, "numpy", None)
    with pytest.raises(ImportError, match=r"\[analysis\]"):
        compare(DEFAULT_CONFIG, DEFAULT_CONFIG, players=8, days=2)


# --- the gate --------------------------------------------------------------------------


def test_the_gate_reports_each_archetype_a_condition_holds_for(creator_comparison):
    """Unprefixed conditions are checked on every archetype; a prefix limits them."""
    everywhere = parse_condition("exp_per_day.change > 0.05")
    whale_only = parse_condition("whale: exp_per_day.change > 0.05")
    never = parse_condition("exp_per_day.change < 0")
    hits = creator_comparison.gate([everywhere, whale_only, never])
    fired = {(hit.condition, hit.archetype) for hit in hits}
    expected = {
        (everywhere.text, a.name)
        for a in creator_comparison.archetypes
        if a.figure("exp_per_day").change > 0.05
    }
    assert ("exp_per_day.change > 0.05", "daily creator") in fired
    assert {pair for pair in fired if pair[0] == everywhere.text} == expected
    assert {pair for pair in fired if pair[0] == whale_only.text} <= {(whale_only.text, "whale")}
    assert not any(pair[0] == never.text for pair in fired)
    for hit in hits:
        assert set(hit.values) == {"exp_per_day.change"}


def test_the_gate_refuses_unknown_figures_and_archetypes(creator_comparison):
    """A misspelt figure gets a suggestion; an unknown archetype lists the known ones."""
    with pytest.raises(InvalidArgumentError, match=r"did you mean level4\.days\.median\.change"):
        creator_comparison.gate([parse_condition("level4.days.medain.change > 0")])
    with pytest.raises(InvalidArgumentError, match="is not one"):
        creator_comparison.gate([parse_condition("level4.days.median > 0")])
    with pytest.raises(InvalidArgumentError, match="casual chatter"):
        creator_comparison.gate([parse_condition("grinder: exp_per_day.diff > 0")])


def test_every_figure_has_every_field(creator_comparison):
    """A condition can read old, new, diff, change and both bounds of each."""
    names = creator_comparison.figure_names()
    for figure in creator_comparison.archetypes[0].figures:
        for field in FIGURE_FIELDS:
            assert f"{figure.name}.{field}" in names


def test_to_dict_is_json_with_inf_and_nan_spelt_out(creator_comparison):
    """The document survives json.dumps without NaN or Infinity tokens."""
    text = json.dumps(creator_comparison.to_dict(), allow_nan=False)
    document = json.loads(text)
    assert document["players"] == SMALL["players"]
    assert [a["name"] for a in document["archetypes"]] == [a.name for a in DEFAULT_ARCHETYPES]


# --- the command line ------------------------------------------------------------------


def write_config(path: Path, config: ProgressionConfig) -> str:
    path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    return str(path)


@pytest.fixture
def configs(tmp_path) -> tuple[str, str]:
    return (
        write_config(tmp_path / "old.json", DEFAULT_CONFIG),
        write_config(tmp_path / "new.json", RICHER_CREATORS),
    )


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


SMALL_ARGS = ("--players", "200", "--days", "60", "--seed", "7", "--resamples", "200")


def test_cli_prints_a_verdict_table_per_archetype(capsys, configs):
    """The text names both files, each archetype, and the figures that changed."""
    code, out, err = run(capsys, "simulate", "--compare", *configs, *SMALL_ARGS)
    assert code == 0, err
    assert f"Compared {configs[0]}" in out
    assert configs[1] in out
    for archetype in DEFAULT_ARCHETYPES:
        assert f"== {archetype.name}:" in out
    assert "exp_per_day" in out
    assert "higher" in out


def test_cli_gate_exits_1_when_a_condition_holds(capsys, configs):
    """--fail-if that holds: exit 1 and a FAILED line; one that does not: passed, exit 0."""
    code, out, _ = run(
        capsys,
        "simulate",
        "--compare",
        *configs,
        *SMALL_ARGS,
        "--fail-if",
        "daily creator: exp_per_day.change > 0.01",
    )
    assert code == 1
    assert "FAILED for daily creator: daily creator: exp_per_day.change > 0.01" in out
    code, out, _ = run(
        capsys,
        "simulate",
        "--compare",
        *configs,
        *SMALL_ARGS,
        "--fail-if",
        "exp_per_day.change < 0",
    )
    assert code == 0
    assert "passed: exp_per_day.change < 0" in out


def test_cli_json_carries_the_gate(capsys, configs):
    """--json: the comparison, both sources, the conditions and what failed."""
    code, out, _ = run(
        capsys,
        "simulate",
        "--compare",
        *configs,
        *SMALL_ARGS,
        "--json",
        "--fail-if",
        "whale: exp_per_day.change > 0",
    )
    document = json.loads(out)
    assert document["old"]["source"] == configs[0]
    assert document["new"]["fingerprint"] == RICHER_CREATORS.fingerprint
    assert document["fail_if"] == ["whale: exp_per_day.change > 0"]
    assert code == (1 if document["failed"] else 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--fail-if", "a > 1"), "use it with --compare"),
        (("default", "--compare", "default", "default"), "takes the place of CONFIG"),
        (("--compare", "default", "default", "--fail-if", "open('x')"), "not Call"),
        (("--compare", "default", "default", "--fail-if", "exp_per_dya.diff > 0"), "did you mean"),
    ],
)
def test_cli_usage_errors_exit_2(capsys, argv, message):
    """Misuse is one line on stderr and exit 2, before or right after simulating."""
    code, _, err = run(capsys, "simulate", *argv, "--players", "8", "--days", "2")
    assert code == 2
    assert message in err


def test_cli_confidence_and_resamples_are_checked(capsys):
    """argparse refuses a confidence outside (0, 1) and fewer than 100 resamples."""
    for option, value, message in (
        ("--confidence", "1.5", "must be between 0 and 1"),
        ("--resamples", "10", "must be at least 100"),
    ):
        code, _, err = run(capsys, "simulate", "--compare", "default", "default", option, value)
        assert code == 2
        assert message in err
