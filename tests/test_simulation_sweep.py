"""Sweeps: parameter specs, designs, points equal to plain runs, checkpoints, sensitivity,
targets and the ``simulate --sweep`` command."""

from __future__ import annotations

import csv
import json
import sys

import pytest

from mikoshi_progression import DEFAULT_CONFIG, InvalidArgumentError
from mikoshi_progression.cli import main
from mikoshi_progression.simulation import (
    Archetype,
    Rate,
    SweepParameter,
    numeric_paths,
    parse_sweep,
    simulate,
    sweep,
)
from mikoshi_progression.simulation._conditions import parse_condition
from mikoshi_progression.simulation._metrics import archetype_metrics

# Chats and creates every day (80 EXP nominal a day, under the level-1 cap of 150);
# never sells a paid character, so paid_char_sold.exp cannot matter to them.
BUILDER = Archetype(
    "builder",
    {"daily_chat": Rate(chance=1.0), "create_character": Rate(mean=3)},
)
SELLER = Archetype("seller", {"daily_chat": Rate(chance=0.5), "paid_char_sold": Rate(mean=1)})
SMALL = {"players": 6, "days": 8, "seed": 5}

CAP = "daily_exp_caps.1=20:100:20"
IRRELEVANT = "actions.paid_char_sold.exp=10,30,50"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the tool in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- specs -----------------------------------------------------------------------------


def test_a_range_includes_its_stop_and_a_list_keeps_its_order():
    """START:STOP:STEP counts up to STOP inclusive; V1,V2 keeps the values as given."""
    assert parse_sweep("daily_exp_caps.3=200:400:50") == SweepParameter(
        "daily_exp_caps.3", (200, 250, 300, 350, 400)
    )
    assert parse_sweep("actions.create_character.exp=40,20,30").values == (40, 20, 30)
    assert parse_sweep("x.y=0.1:0.3:0.1").values == (0.1, 0.2, 0.3)
    assert parse_sweep("x.y=5:7:5").values == (5,)  # the stop need not be on the step


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("daily_exp_caps.3", "PATH=START:STOP:STEP"),
        ("=1,2", "PATH=START:STOP:STEP"),
        ("a..b=1", "PATH=START:STOP:STEP"),
        ("a=1:2", "three numbers"),
        ("a=1:5:0", "a STEP above 0"),
        ("a=5:1:1", "START at most STOP"),
        ("a=1,two", "'two' is not one"),
        ("a=1,1", "distinct values"),
        ("a=nan", "finite numbers"),
    ],
)
def test_a_malformed_spec_names_the_option_and_what_is_expected(spec, expected):
    """Each error starts with --sweep and says what form is wanted."""
    with pytest.raises(InvalidArgumentError, match=r"^--sweep: must be ") as caught:
        parse_sweep(spec)
    assert expected in str(caught.value)


def test_a_wrong_path_is_refused_with_did_you_mean():
    """A path naming no number of the config suggests the closest ones; a table lists some."""
    with pytest.raises(InvalidArgumentError, match=r"did you mean daily_exp_caps\.3"):
        sweep(DEFAULT_CONFIG, [parse_sweep("daily_exp_cap.3=1,2")], **SMALL)
    with pytest.raises(InvalidArgumentError, match=r"is a table.*create_character\.exp"):
        sweep(DEFAULT_CONFIG, [parse_sweep("actions.create_character=1,2")], **SMALL)
    with pytest.raises(InvalidArgumentError, match="given twice"):
        sweep(DEFAULT_CONFIG, [parse_sweep("reset_hour=1"), parse_sweep("reset_hour=2")], **SMALL)


def test_levels_are_entered_by_number_and_unset_numbers_are_sweepable():
    """levels.4 is the level numbered 4; a daily limit left unset (None) can be swept."""
    paths = numeric_paths(DEFAULT_CONFIG)
    assert paths["levels.4.exp_required"] == 700
    assert paths["actions.forked.daily_limit"] is None
    assert "levels.4.name" not in paths  # text is not a number


# --- designs and points ----------------------------------------------------------------


def test_a_grid_is_every_combination_with_the_first_parameter_slowest():
    """Points come in itertools.product order, each config really changed."""
    result = sweep(
        DEFAULT_CONFIG,
        [parse_sweep("daily_exp_caps.1=100,200"), parse_sweep("levels.2.exp_required=80,90,110")],
        [BUILDER],
        **SMALL,
    )
    assert [p.values for p in result.points] == [
        (100, 80), (100, 90), (100, 110), (200, 80), (200, 90), (200, 110)
    ]  # fmt: skip
    assert result.rows == tuple(range(6))
    config = result.config_of(result.points[4])
    assert config.daily_exp_caps[1] == 200
    assert config.levels[1].exp_required == 90


def test_a_grid_larger_than_the_limit_is_refused_before_running():
    """The message gives the grid's shape and size and the ways out."""
    parameters = [parse_sweep("daily_exp_caps.1=1:100:1"), parse_sweep("daily_exp_caps.2=1:200:1")]
    with pytest.raises(InvalidArgumentError, match=r"100 x 200 has 20,000.*--samples N"):
        sweep(DEFAULT_CONFIG, parameters, **SMALL)


def test_a_point_has_the_figures_of_a_plain_simulation_of_its_config():
    """The same players: a point is exactly a simulate() of its config."""
    result = sweep(DEFAULT_CONFIG, [parse_sweep(CAP)], [BUILDER, SELLER], **SMALL)
    for point in (result.points[0], result.points[3]):
        report = simulate(result.config_of(point), [BUILDER, SELLER], **SMALL)
        assert point.fingerprint == report.config.fingerprint
        for part in report.archetypes:
            assert dict(point.figures[part.archetype.name]) == archetype_metrics(part)


def test_a_point_whose_config_is_invalid_is_skipped_with_its_problems():
    """Level 3 below level 2 breaks a rule: that point is reported, the others run."""
    result = sweep(DEFAULT_CONFIG, [parse_sweep("levels.3.exp_required=50,300")], **SMALL)
    bad, good = result.points
    assert bad.skipped
    assert not good.skipped
    assert bad.problems == ("levels[2].exp_required: must be greater than levels[1] (100), got 50",)
    assert bad.figures == {}
    assert bad.fingerprint is None
    assert result.skipped == (bad,)
    assert result.to_dict()["points"][0]["problems"] == list(bad.problems)
    assert all(row["point"] == 1 for row in result.tidy_rows())


def test_a_latin_hypercube_is_seeded_and_snapped_to_the_values():
    """The same seed draws the same points; every value is one the parameter lists."""
    pytest.importorskip("SALib")
    parameters = [parse_sweep(CAP), parse_sweep(IRRELEVANT)]
    first = sweep(DEFAULT_CONFIG, parameters, [BUILDER], design="lhs", samples=10, **SMALL)
    again = sweep(DEFAULT_CONFIG, parameters, [BUILDER], design="lhs", samples=10, **SMALL)
    other = sweep(
        DEFAULT_CONFIG, parameters, [BUILDER], design="lhs", samples=10, **{**SMALL, "seed": 6}
    )
    assert first.to_dict() == again.to_dict()
    assert [first.points[r].values for r in first.rows] != [
        other.points[r].values for r in other.rows
    ]
    assert len(first.rows) == 10
    drawn = [first.points[row].values for row in first.rows]
    assert all(cap in parameters[0].values and exp in (10, 30, 50) for cap, exp in drawn)
    # A Latin hypercube gives each of the 5 caps the same share of the 10 draws.
    assert sorted(cap for cap, _ in drawn) == [20, 20, 40, 40, 60, 60, 80, 80, 100, 100]


def test_the_result_does_not_depend_on_jobs():
    """One worker or a pool of two: the same figures at every point."""
    parameters = [parse_sweep("daily_exp_caps.1=50,100,150")]
    alone = sweep(DEFAULT_CONFIG, parameters, **SMALL, jobs=1)
    pooled = sweep(DEFAULT_CONFIG, parameters, **SMALL, jobs=2)
    assert alone.to_dict() == pooled.to_dict()


# --- checkpoints -----------------------------------------------------------------------


class Interrupted(Exception):
    """Raised by a progress callback to stop a sweep part way."""


def test_an_interrupted_sweep_resumes_from_its_checkpoint(tmp_path):
    """Stopped after 2 points, the rerun simulates only the other 3, with the same result."""
    checkpoint = tmp_path / "sweep.jsonl"
    parameters = [parse_sweep(CAP)]

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        sweep(DEFAULT_CONFIG, parameters, **SMALL, checkpoint=checkpoint, progress=stop_after_two)
    assert len(checkpoint.read_text().splitlines()) == 2
    calls: list[tuple[int, int]] = []
    resumed = sweep(
        DEFAULT_CONFIG,
        parameters,
        **SMALL,
        checkpoint=checkpoint,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(2, 5), (3, 5), (4, 5), (5, 5)]  # the first two were taken as done
    assert len(checkpoint.read_text().splitlines()) == 5
    fresh = sweep(DEFAULT_CONFIG, parameters, **SMALL)
    assert resumed.to_dict() == fresh.to_dict()
    assert repr(resumed.points) == repr(fresh.points)  # inf, nan and order survive the file


def test_a_line_cut_short_by_an_interruption_runs_again(tmp_path):
    """A last line without its newline is dropped, and the file stays well formed."""
    checkpoint = tmp_path / "sweep.jsonl"
    parameters = [parse_sweep("daily_exp_caps.1=50,100")]
    sweep(DEFAULT_CONFIG, parameters, **SMALL, checkpoint=checkpoint)
    text = checkpoint.read_text()
    checkpoint.write_text(text[: len(text) - 40])  # the second line loses its end
    again = sweep(DEFAULT_CONFIG, parameters, **SMALL, checkpoint=checkpoint)
    lines = checkpoint.read_text().splitlines()
    assert len(lines) == 2
    assert all(json.loads(line) for line in lines)
    assert again.to_dict() == sweep(DEFAULT_CONFIG, parameters, **SMALL).to_dict()


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    """Other players or another base config: an error saying what differs, not a mix."""
    checkpoint = tmp_path / "sweep.jsonl"
    parameters = [parse_sweep("daily_exp_caps.1=50,100")]
    sweep(DEFAULT_CONFIG, parameters, **SMALL, checkpoint=checkpoint)
    with pytest.raises(InvalidArgumentError, match=r"^checkpoint: .*players 6 there, 7 here"):
        sweep(DEFAULT_CONFIG, parameters, **{**SMALL, "players": 7}, checkpoint=checkpoint)
    other = DEFAULT_CONFIG.from_dict({**DEFAULT_CONFIG.to_dict(), "reset_hour": 3})
    with pytest.raises(InvalidArgumentError, match="base_fingerprint"):
        sweep(other, parameters, **SMALL, checkpoint=checkpoint)
    checkpoint.write_text("not json\n{}\n")
    with pytest.raises(InvalidArgumentError, match=r"line 1 of .* is not one"):
        sweep(DEFAULT_CONFIG, parameters, **SMALL, checkpoint=checkpoint)


# --- sensitivity -----------------------------------------------------------------------


def test_rbd_fast_ranks_the_cap_above_an_action_the_archetype_never_does():
    """The builder is capped at level 1, and never sells: the cap must rank first."""
    pytest.importorskip("SALib")
    parameters = [parse_sweep(CAP), parse_sweep(IRRELEVANT)]
    result = sweep(DEFAULT_CONFIG, parameters, [BUILDER, SELLER], **SMALL)
    ranking = result.sensitivity(metrics=["exp_per_day"])
    assert ranking.method == "rbd_fast"
    assert ranking.samples == 15
    cap, sold = ranking.ranking("builder", "exp_per_day")
    assert (cap.parameter, cap.rank, sold.parameter) == ("daily_exp_caps.1", 1, IRRELEVANT[:26])
    assert cap.index > 0.5 > sold.index
    seller = ranking.ranking("seller", "exp_per_day")
    assert seller[0].parameter == "actions.paid_char_sold.exp"
    assert ranking.to_dict()["indices"][0]["parameter"] == "daily_exp_caps.1"


def test_morris_runs_its_own_design_and_ranks_the_same_truth():
    """Trajectories move one parameter at a time; the cap still ranks first for the builder."""
    pytest.importorskip("SALib")
    parameters = [parse_sweep(CAP), parse_sweep(IRRELEVANT)]
    result = sweep(DEFAULT_CONFIG, parameters, [BUILDER], design="morris", samples=4, **SMALL)
    assert len(result.rows) == 4 * 3
    assert result.morris_levels == 2  # even, and no more than the fewest values
    ranking = result.sensitivity()
    first, second = ranking.ranking("builder", "exp_per_day")
    assert ranking.index_name == "mu_star"
    assert first.parameter == "daily_exp_caps.1"
    assert second.index == 0.0
    with pytest.raises(InvalidArgumentError, match="Morris needs its own design"):
        sweep(DEFAULT_CONFIG, parameters[:1], [BUILDER], **SMALL).sensitivity("morris")


def test_too_few_points_give_a_note_instead_of_a_ranking():
    """RBD-FAST on 3 points would be noise: the ranking says so and ranks nothing."""
    pytest.importorskip("SALib")
    result = sweep(DEFAULT_CONFIG, [parse_sweep("daily_exp_caps.1=50,100,150")], **SMALL)
    ranking = result.sensitivity()
    assert ranking.indices == ()
    assert "at least 10" in ranking.notes[0]


# --- targets ---------------------------------------------------------------------------


def test_targets_list_the_points_where_every_condition_holds():
    """An archetype's condition holds for it; one without a prefix for any archetype."""
    result = sweep(DEFAULT_CONFIG, [parse_sweep(CAP)], [BUILDER, SELLER], **SMALL)
    targets = [
        parse_condition("builder: exp_per_day >= 60", option="--target"),
        parse_condition("cap_hit_rate > 0.2", option="--target"),
    ]
    matches = result.meeting(targets)
    expected = [
        p.index
        for p in result.points
        if p.figures["builder"]["exp_per_day"] >= 60
        and max(f["cap_hit_rate"] for f in p.figures.values()) > 0.2
    ]
    assert [m.point.index for m in matches] == expected
    assert len(expected) >= 2
    for match in matches:
        builder, capped = match.readings
        assert builder[:2] == ("builder: exp_per_day >= 60", "builder")
        assert capped[2]["cap_hit_rate"] > 0.2
        assert match.point.figures[capped[1]]["cap_hit_rate"] == capped[2]["cap_hit_rate"]
    # Where the builder is no longer capped often, the seller still is: "any" holds.
    assert {match.readings[1][1] for match in matches} == {"builder", "seller"}
    with pytest.raises(InvalidArgumentError, match="did you mean 'builder'"):
        result.meeting([parse_condition("bilder: exp_per_day > 1")])
    with pytest.raises(InvalidArgumentError, match="did you mean exp_per_day"):
        result.meeting([parse_condition("exp_per_dya > 1")])


# --- the command -----------------------------------------------------------------------

ARGS = ("simulate", "--players", "6", "--days", "8", "--seed", "5")


def test_the_command_prints_points_sensitivity_and_targets(capsys):
    """Tables per archetype, a ranking when SALib is there, and the matching points."""
    pytest.importorskip("SALib")
    code, out, err = run(
        capsys, *ARGS, "--sweep", CAP, "--sweep", "actions.paid_char_sold.exp=10,50",
        "--target", "daily creator: exp_per_day > 50",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("Swept 10 points (a grid of 5 x 2) of 6 players for 8 days")
    assert "== whale ==" in out
    assert "Sensitivity (RBD-FAST" in out
    assert "Points meeting every target (in sweep order):" in out
    assert "daily creator: exp_per_day" in out


def test_the_command_writes_json_and_csv(capsys, tmp_path):
    """--json holds points, sensitivity and targets; --csv writes the tidy tables."""
    pytest.importorskip("SALib")
    code, out, err = run(
        capsys, *ARGS, "--sweep", CAP, "--sweep", "actions.paid_char_sold.exp=10,50",
        "--csv", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    assert document["design"] == "grid"
    assert len(document["points"]) == 10
    assert document["sensitivity"]["method"] == "rbd_fast"
    assert document["targets"] is None
    with (tmp_path / "out" / "sweep.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "point", "daily_exp_caps.1", "actions.paid_char_sold.exp", "archetype", "metric", "value"
    ]  # fmt: skip
    assert len(rows) == 10 * 4 * len(document["points"][0]["figures"]["whale"])
    with (tmp_path / "out" / "sensitivity.csv").open() as f:
        assert next(csv.DictReader(f))["method"] == "rbd_fast"


def test_without_salib_a_grid_runs_and_sampling_exits_3(capsys, monkeypatch):
    """The [analysis] extra is named; a grid and its targets do not need it."""
    monkeypatch.setitem(sys.modules, "SALib", None)  # import SALib now fails
    code, out, err = run(capsys, *ARGS, "--sweep", "daily_exp_caps.1=50,100")
    assert code == 0, err
    assert "Sensitivity: not ranked. The sensitivity ranking needs numpy and SALib" in out
    code, _, err = run(capsys, *ARGS, "--sweep", CAP, "--samples", "4")
    assert code == 3
    assert "pip install -e '.[analysis]'" in err
    code, _, err = run(capsys, *ARGS, "--sweep", CAP, "--method", "rbd_fast")
    assert code == 3
    assert "[analysis] extra" in err


def test_command_errors_exit_2_naming_the_option(capsys, tmp_path):
    """A bad spec, a wrong path, a sweep option without --sweep, a bad checkpoint."""
    code, _, err = run(capsys, *ARGS, "--sweep", "daily_exp_caps.1")
    assert code == 2
    assert "--sweep: must be PATH=START:STOP:STEP" in err
    code, _, err = run(capsys, *ARGS, "--sweep", "daily_exp_cap.1=1,2")
    assert code == 2
    assert "did you mean daily_exp_caps.1" in err
    code, _, err = run(capsys, *ARGS, "--samples", "4")
    assert code == 2
    assert "--samples needs --sweep" in err
    code, _, err = run(capsys, *ARGS, "--sweep", "reset_hour=1", "--metric", "exp_per_dya")
    assert code == 2
    assert "did you mean exp_per_day" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nonsense\n")
    code, _, err = run(capsys, *ARGS, "--sweep", "reset_hour=1", "--checkpoint", str(bad))
    assert code == 2
    assert "--checkpoint: must be a sweep checkpoint" in err


def test_work_progress_covers_every_point_to_be_simulated():
    """``work`` hears the simulations' progress across all points, ending at its total."""
    from mikoshi_progression import DEFAULT_CONFIG
    from mikoshi_progression.simulation import parse_sweep, sweep

    heard: list[tuple[int, int]] = []
    points: list[tuple[int, int]] = []
    sweep(
        DEFAULT_CONFIG,
        [parse_sweep("daily_exp_caps.1=100:200:50")],
        players=12,
        days=5,
        seed=2,
        work=lambda done, total: heard.append((done, total)),
        progress=lambda done, total: points.append((done, total)),
    )
    assert points[-1] == (3, 3)
    totals = {total for _, total in heard}
    assert len(totals) == 1
    dones = [done for done, _ in heard]
    assert dones == sorted(dones)
    assert dones[-1] == totals.pop()
