"""Plotting a simulation's report (matplotlib, the ``[plot]`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._lever_report import day_position
from ._report import SimulationReport

__all__ = ["plot_exp_curves"]

_BOOST_COLOUR = "gold"


def plot_exp_curves(report: SimulationReport, path: str | Path, *, log_scale: bool = True) -> Path:
    """Draw each archetype's mean EXP by day, and below it the mean EXP gained each day.

    The upper chart has a dashed line at each level threshold; its EXP axis is
    logarithmic by default, since level thresholds usually grow geometrically
    (``log_scale=False`` draws it linear). The lower chart shows each day's gain as a
    step over the day. The config's boost windows are shaded on both, and named with
    their multiplier on the lower one.

    Writes an image (the format follows the file's extension, e.g. ``.png``) with
    matplotlib's non-interactive Agg backend, and returns its path.

    Raises:
        ImportError: matplotlib is not installed (the ``[plot]`` extra).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib, which is not installed: "
            "install the [plot] extra (pip install -e '.[plot]' from a clone)"
        ) from exc
    path = Path(path)
    figure = Figure(figsize=(10, 8), layout="constrained")
    FigureCanvasAgg(figure)
    totals, gains = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    _draw_totals(totals, report, log_scale)
    _draw_gains(gains, report)
    _shade_boosts((totals, gains), report)
    gains.set_xlim(0, report.days)
    totals.set_title(
        f"Mean EXP by day: {report.players:,} players, seed {report.seed}, "
        f"config {report.config.fingerprint}"
    )
    figure.savefig(path)
    return path


def _draw_totals(axes: Any, report: SimulationReport, log_scale: bool) -> None:
    """Each archetype's mean EXP at the end of each day, and the level thresholds."""
    days = list(range(1, report.days + 1))
    for archetype in report.archetypes:
        if archetype.players:
            axes.plot(days, archetype.mean_exp_by_day, label=archetype.archetype.name)
    thresholds = [level for level in report.config.levels[1:] if level.exp_required > 0]
    for level in thresholds:
        axes.axhline(level.exp_required, color="grey", linestyle="--", linewidth=0.8)
        axes.annotate(
            f"level {level.number} {level.name}",
            xy=(1, level.exp_required),
            xycoords=("axes fraction", "data"),
            xytext=(-3, 2),
            textcoords="offset points",
            horizontalalignment="right",
            fontsize=8,
            color="grey",
        )
    if log_scale:
        positive = [v for a in report.archetypes for v in a.mean_exp_by_day if v > 0]
        floor = min([*positive, *(lv.exp_required for lv in thresholds)], default=1.0)
        axes.set_yscale("log")
        axes.set_ylim(bottom=max(1.0, floor / 2))
        axes.set_ylabel("mean EXP (log scale)")
    else:
        axes.set_ylim(bottom=0)
        axes.set_ylabel("mean EXP")
    axes.legend(loc="upper left")


def _draw_gains(axes: Any, report: SimulationReport) -> None:
    """Each archetype's mean EXP gained on each day, as a step over the day."""
    edges = list(range(report.days + 1))
    for archetype in report.archetypes:
        if archetype.players:
            axes.stairs(archetype.mean_gain_by_day(), edges, label=archetype.archetype.name)
    axes.set_ylim(bottom=0)
    axes.set_ylabel("mean EXP gained that day")
    axes.set_xlabel("day (day d spans d-1 to d; the curve above is at its end)")


def _shade_boosts(charts: tuple[Any, Any], report: SimulationReport) -> None:
    """Shade every boost window that meets the run on both charts; name it on the lower."""
    for window in report.boost_windows:
        if window.first_day is None:
            continue
        begin = max(0.0, day_position(report.config, report.start, window.boost.starts))
        end = min(float(report.days), day_position(report.config, report.start, window.boost.ends))
        for axes in charts:
            axes.axvspan(begin, end, color=_BOOST_COLOUR, alpha=0.3, linewidth=0)
        charts[1].annotate(
            window.label,
            xy=(end, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            verticalalignment="top",
            fontsize=8,
            color="darkgoldenrod",
        )
