"""Plots, tidy CSV tables and the HTML report of a simulation (issue #13)."""

from __future__ import annotations

import csv
import math
import re
import shutil
import struct
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from mikoshi_progression import load_config
from mikoshi_progression.cli import main
from mikoshi_progression.simulation import (
    DEFAULT_ARCHETYPES,
    load_archetypes,
    plot_exp_curves,
    simulate,
)
from mikoshi_progression.simulation._export import (
    COMPARISON_COLUMNS,
    EXP_BY_DAY_COLUMNS,
    FIGURE_COLUMNS,
    comparison_rows,
    exp_by_day_rows,
    tidy_rows,
    write_csv,
)
from mikoshi_progression.simulation._html import HtmlPage, html_comparison, html_report
from mikoshi_progression.simulation._metrics import archetype_metrics
from mikoshi_progression.simulation._plot import (
    BAND_NOTE,
    comparison_figure,
    exp_curves_figure,
    plot_comparison,
)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (CI installs it: see .ci/run)"
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report():
    """A small run of the built-in rules and archetypes."""
    return simulate(players=24, days=20, seed=3)


@pytest.fixture(scope="module")
def lever_report():
    """A small run of examples/levers.toml over its boost windows (December 2026)."""
    config = load_config(ROOT / "examples" / "levers.toml")
    archetypes = load_archetypes(ROOT / "examples" / "archetypes-levers.toml")
    return simulate(config, archetypes, players=15, days=30, seed=1, start=date(2026, 11, 20))


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, read from its header."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return struct.unpack(">II", data[16:24])


def test_figures_rows_are_the_report_figures(report):
    """figures.csv has one row per archetype and named figure, with the figure's value."""
    rows = tidy_rows(report, "built-in default")
    for part in report.archetypes:
        mine = {
            row["metric"]: row["value"] for row in rows if row["archetype"] == part.archetype.name
        }
        expected = archetype_metrics(part)
        assert list(mine) == list(expected)
        for name, value in expected.items():
            assert mine[name] == value or (math.isnan(value) and math.isnan(mine[name]))
    assert {row["config"] for row in rows} == {"built-in default"}
    assert {row["config_fingerprint"] for row in rows} == {report.config.fingerprint}
    assert all(tuple(row) == FIGURE_COLUMNS for row in rows)


def test_exp_by_day_rows_follow_the_report(report):
    """exp_by_day.csv: one row per archetype and day, mean and percentiles as reported."""
    rows = exp_by_day_rows(report, "x")
    assert len(rows) == len(report.archetypes) * report.days
    whale = report.archetypes[-1]
    last = [row for row in rows if row["archetype"] == "whale"][-1]
    assert last["day"] == report.days
    assert last["mean"] == round(whale.mean_exp_by_day[-1], 2)
    assert (last["p10"], last["median"], last["p90"]) == whale.exp_percentiles_by_day[-1]
    assert all(tuple(row) == EXP_BY_DAY_COLUMNS for row in rows)


def test_write_csv_round_trips_with_inf(tmp_path, report):
    """A written table reads back with csv, header first; never-reached days are 'inf'."""
    path = write_csv(tmp_path / "figures.csv", FIGURE_COLUMNS, tidy_rows(report, "cfg"))
    with path.open(encoding="utf-8", newline="") as source:
        read = list(csv.DictReader(source))
    assert tuple(read[0]) == FIGURE_COLUMNS
    assert len(read) == len(tidy_rows(report, "cfg"))
    values = {(r["archetype"], r["metric"]): r["value"] for r in read}
    assert values[("casual chatter", "level6.days.median")] == "inf"
    assert (
        float(values[("whale", "exp_per_day")])
        == archetype_metrics(report.archetypes[-1])["exp_per_day"]
    )


def test_html_report_is_self_contained_and_complete(report):
    """The page refers to no URL and names every archetype, level and the fingerprint."""
    pytest.importorskip("matplotlib")
    page = html_report(report, "built-in default")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "data:image/png;base64," in page
    assert report.config.fingerprint in page
    for part in report.archetypes:
        assert part.archetype.name in page
    for level in report.config.levels[1:]:
        assert f"{level.number} {level.name}" in page
    assert "matplotlib" not in page  # no note about missing charts


def test_html_without_matplotlib_has_tables_and_a_note(monkeypatch, report):
    """Without matplotlib the page still has every table, and says why there is no chart."""
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    page = html_report(report, "built-in default")
    assert "<img" not in page
    assert "install the [plot] extra" in page
    assert page.count("<table>") == 5


def test_html_page_escapes_text():
    """Every text given to the builder is escaped: a label cannot inject markup."""
    page = HtmlPage("<b>t</b>")
    page.add_table(["a&b"], [["<script>"]], classes=[["lower"]])
    html = page.render()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<td class="lower">' in html


@needs_chromium
def test_html_renders_in_chromium(tmp_path, report):
    """Headless Chromium loads the page: the tables are in the DOM, the chart has its size,
    and a screenshot is not blank."""
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    page = html_report(report, "built-in default")
    # A probe for the test only: after loading, write each image's natural size to the DOM.
    probe = (
        "<script>addEventListener('load', () => { document.body.dataset.images = "
        "[...document.images].map(i => i.naturalWidth + 'x' + i.naturalHeight).join(','); })"
        "</script></body>"
    )
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", probe), encoding="utf-8")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*command, "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count("<table>") == 5
    assert "whale" in dom
    (sizes,) = re.findall(r'data-images="([^"]*)"', dom)
    assert sizes == "1000x800"
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*command, f"--screenshot={shot}", "--window-size=1280,1600", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = imread(shot)
    assert pixels.shape[:2] == (1600, 1280)
    assert pixels.std() > 0.05  # not a blank page


def test_plot_has_a_band_and_a_median_per_archetype(tmp_path, report):
    """The EXP chart draws one p10-p90 band and one median line per archetype, says so,
    names the config in the title and the levels on a right-hand axis."""
    pytest.importorskip("matplotlib")
    from matplotlib.collections import FillBetweenPolyCollection, PolyCollection

    figure = exp_curves_figure(report, label="examples/mikoshi.toml")
    totals = figure.axes[0]
    bands = [
        c for c in totals.collections if isinstance(c, PolyCollection | FillBetweenPolyCollection)
    ]
    assert len(bands) == len(report.archetypes)
    medians = [line for line in totals.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in medians] == [a.archetype.name for a in report.archetypes]
    assert BAND_NOTE in totals.get_ylabel()
    assert "examples/mikoshi.toml" in figure.get_suptitle()
    right = [axes for axes in figure.axes if axes.yaxis.get_label_position() == "right"]
    names = [tick.get_text() for tick in right[0].get_yticklabels()]
    assert names == [f"level {lv.number} {lv.name}" for lv in report.config.levels[1:]]
    out = plot_exp_curves(report, tmp_path / "curves.png", label="examples/mikoshi.toml")
    assert png_size(out) == (1000, 800)


def test_plot_with_one_archetype_and_with_boosts(tmp_path, lever_report):
    """One archetype, and a config with boost windows, both draw (windows in the legend)."""
    pytest.importorskip("matplotlib")
    one = simulate(archetypes=DEFAULT_ARCHETYPES[1:2], players=5, days=6, seed=1)
    assert png_size(plot_exp_curves(one, tmp_path / "one.png")) == (1000, 800)
    figure = exp_curves_figure(lever_report, label="examples/levers.toml")
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "boost window" in labels
    assert (
        png_size(plot_exp_curves(lever_report, tmp_path / "levers.png", log_scale=False))[0] == 1000
    )


def test_cli_csv_and_html(tmp_path, capsys):
    """simulate --csv DIR --html FILE writes the tables and the page and names them."""
    out = tmp_path / "tables"
    page = tmp_path / "report.html"
    args = ["simulate", "--players", "8", "--days", "5", "--csv", str(out), "--html", str(page)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for path in (out / "figures.csv", out / "exp_by_day.csv", page):
        assert f"Written: {path}" in printed
        assert path.stat().st_size > 0
    assert main([*args, "--json"]) == 0
    streams = capsys.readouterr()
    assert "Written:" in streams.err
    assert "Written:" not in streams.out


def test_cli_refuses_bad_targets_before_simulating(tmp_path, capsys):
    """A --csv path that is a file, or an --html file in a missing directory, exits 2."""
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["simulate", "--players", "2", "--days", "2", "--csv", str(a_file)]) == 2
    assert "--csv: not a directory" in capsys.readouterr().err
    missing = tmp_path / "nowhere" / "r.html"
    assert main(["simulate", "--players", "2", "--days", "2", "--html", str(missing)]) == 2
    assert "--html: no such directory" in capsys.readouterr().err


def retune_comparison(archetypes, players):
    """The built-in rules against examples/retune.toml, on a few players."""
    from mikoshi_progression.simulation import compare

    return compare(
        load_config(ROOT / "examples" / "mikoshi.toml"),
        load_config(ROOT / "examples" / "retune.toml"),
        archetypes,
        players=players,
        days=20,
        seed=3,
        start=date(2026, 1, 1),
        jobs=1,
        progress=None,
        resamples=200,
        old_label="examples/mikoshi.toml",
        new_label="examples/retune.toml",
    )


@pytest.fixture(scope="module")
def comparison():
    """The built-in rules against examples/retune.toml, the four built-in archetypes."""
    return retune_comparison(DEFAULT_ARCHETYPES, 24)


def test_comparison_rows_are_the_comparison_figures(comparison):
    """comparison.csv has one row per archetype and figure with its change and verdict."""
    rows = comparison_rows(comparison)
    assert len(rows) == sum(len(part.figures) for part in comparison.archetypes)
    assert all(tuple(row) == COMPARISON_COLUMNS for row in rows)
    part = comparison.archetypes[0]
    change = part.figure("level3.days.median")
    (row,) = [r for r in rows if r["archetype"] == part.name and r["metric"] == change.name]
    for column in ("old", "new", "diff", "diff_low", "diff_high", "verdict"):
        assert str(row[column]) == str(getattr(change, column))  # nan equals nan here
    assert (row["old_config"], row["new_config"]) == (
        "examples/mikoshi.toml",
        "examples/retune.toml",
    )


def test_comparison_html_is_self_contained_with_verdicts(comparison):
    """The comparison page names both configs and every archetype, refers to no URL and
    colours the verdicts."""
    pytest.importorskip("matplotlib")
    page = html_comparison(comparison)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    for text in (comparison.old.config.fingerprint, comparison.new.config.fingerprint):
        assert text in page
    for part in comparison.archetypes:
        assert f"{part.name}: every figure" in page
    verdicts = {change.verdict for part in comparison.archetypes for change in part.figures}
    for verdict in verdicts & {"higher", "lower"}:
        assert f'class="num {verdict}"' in page
    assert page.count("data:image/png;base64,") == 1


def test_plot_comparison_shares_axes_and_draws_both_runs(tmp_path, comparison):
    """One column per archetype, each with an old and a new band; rows share their y-axis."""
    pytest.importorskip("matplotlib")
    from matplotlib.collections import FillBetweenPolyCollection, PolyCollection

    figure = comparison_figure(comparison)
    columns = len(comparison.archetypes)
    exp_panels = figure.axes[:columns]
    for axes in exp_panels:
        bands = [
            c for c in axes.collections if isinstance(c, PolyCollection | FillBetweenPolyCollection)
        ]
        assert len(bands) == 2  # old and new
    assert len({axes.get_ylim() for axes in exp_panels}) == 1
    assert "examples/mikoshi.toml" in figure.get_suptitle()
    assert "examples/retune.toml" in figure.get_suptitle()
    width, height = png_size(plot_comparison(comparison, tmp_path / "compare.png"))
    assert width >= 1000
    assert height == 900
    single = retune_comparison(DEFAULT_ARCHETYPES[1:2], 4)
    assert len(comparison_figure(single).axes) == 3  # EXP, days to levels, level names


def test_export_comparison_writes_every_file(tmp_path, comparison):
    """export_comparison (what simulate --compare calls) writes the three tables and the page."""
    import argparse

    from mikoshi_progression.cli._simulate_export import export_comparison

    args = argparse.Namespace(csv=str(tmp_path / "t"), html=str(tmp_path / "c.html"))
    written = export_comparison(args, comparison)
    names = sorted(Path(path).name for path in written)
    assert names == ["c.html", "comparison.csv", "exp_by_day.csv", "figures.csv"]
    with (tmp_path / "t" / "figures.csv").open(newline="") as source:
        configs = {row["config"] for row in csv.DictReader(source)}
    assert configs == {"examples/mikoshi.toml", "examples/retune.toml"}
