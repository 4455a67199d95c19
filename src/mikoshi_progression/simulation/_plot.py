"""Plotting a simulation's report (matplotlib, the ``[plot]`` extra).

The figures are built on :class:`matplotlib.figure.Figure` with the non-interactive Agg
canvas, never through ``pyplot``: no global state, no display needed, safe in threads.
:func:`exp_curves_figure` builds the figure without writing it, for the HTML report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._lever_report import day_position
from ._report import ArchetypeReport, SimulationReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._compare import Comparison

__all__ = [
    "comparison_figure",
    "exp_curves_figure",
    "plot_comparison",
    "plot_exp_curves",
    "run_subtitle",
]

_BOOST_COLOUR = "gold"
_BAND_ALPHA = 0.2
_LEVEL_COLOUR = "grey"
BAND_NOTE = "line: median, band: p10\N{EN DASH}p90"
"""What the curves and bands of an EXP chart are, said on every such chart."""


def new_figure(width: float, height: float) -> Figure:
    """An empty figure on the Agg canvas (constrained layout).

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
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def archetype_colour(index: int) -> str:
    """The colour of the ``index``-th archetype, the same on every chart of a run."""
    return f"C{index % 10}"


def run_subtitle(report: SimulationReport) -> str:
    """Players, days, start, seed and fingerprint: the small print under a chart's title."""
    return (
        f"{report.players:,} players, {report.days:,} days from {report.start.isoformat()}, "
        f"seed {report.seed}; config fingerprint {report.config.fingerprint}"
    )


def plot_exp_curves(
    report: SimulationReport,
    path: str | Path,
    *,
    label: str | None = None,
    log_scale: bool = True,
) -> Path:
    """Draw each archetype's EXP by day (median and p10-p90 band), and below it the
    mean EXP gained each day.

    ``label`` names the config in the title (its file name, or ``"built-in
    default"``); the fingerprint is in the small print under it. The upper chart
    names each level at its threshold on the right-hand axis, with a dashed line
    across; its EXP axis is logarithmic by default, since level thresholds usually
    grow geometrically (``log_scale=False`` draws it linear). The lower chart shows
    each day's mean gain as a step over the day. The config's boost windows are
    shaded on both, and named with their multiplier on the lower one.

    Writes an image (the format follows the file's extension, e.g. ``.png``) and
    returns its path.

    Raises:
        ImportError: matplotlib is not installed (the ``[plot]`` extra).
    """
    path = Path(path)
    exp_curves_figure(report, label=label, log_scale=log_scale).savefig(path)
    return path


def exp_curves_figure(
    report: SimulationReport, *, label: str | None = None, log_scale: bool = True
) -> Figure:
    """The figure :func:`plot_exp_curves` writes."""
    from matplotlib.patches import Patch

    figure = new_figure(10, 8)
    totals, gains = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    draw_exp_bands(totals, report.archetypes, report.days, colours=None)
    scale_exp_axis(totals, [report.archetypes], report, log_scale)
    name_levels(totals, report)
    _draw_gains(gains, report)
    _shade_boosts((totals, gains), report)
    gains.set_xlim(0, report.days)
    figure.suptitle(f"EXP by day: {label or 'config ' + report.config.fingerprint}")
    totals.set_title(run_subtitle(report), fontsize=9, color="dimgrey")
    handles = band_legend(totals)
    if any(window.first_day is not None for window in report.boost_windows):
        handles.append(Patch(color=_BOOST_COLOUR, alpha=0.3, label="boost window"))
    # Below the charts, not inside them: inside, a legend hides some archetype's curve.
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6))
    return figure


def draw_exp_bands(
    axes: Any,
    archetypes: Sequence[ArchetypeReport],
    days: int,
    *,
    colours: Sequence[str] | None,
    linestyle: str = "-",
    band_alpha: float = _BAND_ALPHA,
    hatch: str | None = None,
) -> None:
    """Each archetype's median EXP at each day's end as a line, its p10-p90 as a band.

    ``colours`` gives one colour per archetype (default: each archetype's own).
    """
    x = list(range(1, days + 1))
    for index, part in enumerate(archetypes):
        if not part.players or not part.exp_percentiles_by_day:
            continue
        colour = archetype_colour(index) if colours is None else colours[index]
        low, median, high = zip(*part.exp_percentiles_by_day, strict=True)
        axes.fill_between(
            x,
            low,
            high,
            color=colour,
            alpha=band_alpha,
            linewidth=0,
            hatch=hatch,
            edgecolor=colour if hatch else None,
        )
        axes.plot(x, median, color=colour, linestyle=linestyle, label=part.archetype.name)


def band_legend(axes: Any) -> list[Any]:
    """Legend handles: one line per archetype drawn, then what line and band mean."""
    from matplotlib.patches import Patch

    handles = [line for line in axes.get_lines() if not line.get_label().startswith("_")]
    handles.append(Patch(color="grey", alpha=0.35, label=BAND_NOTE))
    return handles


def scale_exp_axis(
    axes: Any,
    runs: Sequence[Sequence[ArchetypeReport]],
    report: SimulationReport,
    log_scale: bool,
) -> None:
    """A log (or linear) EXP axis from 1 (or 0) up to the highest p90 or threshold."""
    thresholds = [level.exp_required for level in report.config.levels[1:]]
    values = [
        value
        for archetypes in runs
        for part in archetypes
        for day in part.exp_percentiles_by_day
        for value in day
    ]
    top = max([*values, *thresholds, 1])
    if log_scale:
        positive = [v for v in [*values, *thresholds] if v > 0]
        floor = min(positive, default=1)
        axes.set_yscale("log")
        # Half the lowest value, so a band starting near it is visible, but never below 1:
        # EXP is an integer and a player with 0 EXP sits on the axis.
        axes.set_ylim(max(1.0, floor / 2), top * 1.3)
        axes.set_ylabel(f"EXP at the day's end (log scale)\n{BAND_NOTE}")
    else:
        axes.set_ylim(0, top * 1.05)
        axes.set_ylabel(f"EXP at the day's end\n{BAND_NOTE}")


def name_levels(axes: Any, report: SimulationReport) -> Any:
    """A dashed line at each level threshold, named on a right-hand axis outside the
    chart, where no curve can cover the name."""
    thresholds = [level for level in report.config.levels[1:] if level.exp_required > 0]
    for level in thresholds:
        axes.axhline(level.exp_required, color=_LEVEL_COLOUR, linestyle="--", linewidth=0.8)
    right = axes.twinx()
    right.set_yscale(axes.get_yscale())
    right.set_ylim(axes.get_ylim())
    right.set_yticks(
        [level.exp_required for level in thresholds],
        [f"level {level.number} {level.name}" for level in thresholds],
    )
    right.minorticks_off()
    right.tick_params(axis="y", labelsize=8, colors=_LEVEL_COLOUR, length=0)
    return right


def _draw_gains(axes: Any, report: SimulationReport) -> None:
    """Each archetype's mean EXP gained on each day, as a step over the day."""
    edges = list(range(report.days + 1))
    for index, archetype in enumerate(report.archetypes):
        if archetype.players:
            axes.stairs(
                archetype.mean_gain_by_day(),
                edges,
                color=archetype_colour(index),
                label=archetype.archetype.name,
            )
    axes.set_ylim(bottom=0)
    axes.set_ylabel("mean EXP gained that day")
    axes.set_xlabel("day (day d spans d-1 to d; the curves above are at its end)")


def _shade_boosts(charts: tuple[Any, Any], report: SimulationReport) -> None:
    """Shade every boost window that meets the run on both charts; name it on the lower."""
    shown = [window for window in report.boost_windows if window.first_day is not None]
    for index, window in enumerate(shown):
        begin = max(0.0, day_position(report.config, report.start, window.boost.starts))
        end = min(float(report.days), day_position(report.config, report.start, window.boost.ends))
        for axes in charts:
            axes.axvspan(begin, end, color=_BOOST_COLOUR, alpha=0.3, linewidth=0)
        charts[1].annotate(
            window.label,
            xy=(end, 1),
            xycoords=("data", "axes fraction"),
            # One line lower for each window before it: overlapping windows end close
            # together, and their names must not print over each other.
            xytext=(3, -3 - 11 * index),
            textcoords="offset points",
            verticalalignment="top",
            fontsize=8,
            color="darkgoldenrod",
        )


_OLD_COLOUR = "dimgrey"
_NEVER_ROOM = 1.12
"""Days axis of a comparison: "never" is drawn this far above the last simulated day."""


def plot_comparison(comparison: Comparison, path: str | Path, *, log_scale: bool = True) -> Path:
    """Draw a comparison side by side: one column per archetype, old and new together.

    Upper row: EXP by day, the old config's median dashed grey with a grey p10-p90
    band, the new one's solid in the archetype's colour with a band of that colour;
    levels (of the new config) named on the right of the last panel. Lower row: the
    median days to each level, old (hollow grey) and new (filled), with a whisker
    over the confidence interval of the paired difference placed on the old value:
    where the new median may lie; a level not reached by the median player is drawn
    on the "never" line. Each row shares its y-axis, so panels compare honestly.

    Writes an image (the format follows the file's extension) and returns its path.

    Raises:
        ImportError: matplotlib is not installed (the ``[plot]`` extra).
    """
    path = Path(path)
    comparison_figure(comparison, log_scale=log_scale).savefig(path)
    return path


def comparison_figure(comparison: Comparison, *, log_scale: bool = True) -> Figure:
    """The figure :func:`plot_comparison` writes."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    old, new = comparison.old, comparison.new
    drawn = [
        index
        for index, part in enumerate(new.archetypes)
        if part.players and old.archetypes[index].players
    ]
    columns = max(1, len(drawn))
    figure = new_figure(max(10.0, 3.4 * columns + 1.2), 9)
    grid = figure.subplots(2, columns, squeeze=False, sharey="row", height_ratios=(3, 2))
    for column, index in enumerate(drawn):
        totals, reach = grid[0][column], grid[1][column]
        colour = archetype_colour(index)
        draw_exp_bands(
            totals, [old.archetypes[index]], old.days, colours=[_OLD_COLOUR], linestyle="--"
        )
        draw_exp_bands(totals, [new.archetypes[index]], new.days, colours=[colour])
        totals.set_title(new.archetypes[index].archetype.name, color=colour, fontweight="bold")
        _draw_reach(reach, comparison, index, colour)
    scale_exp_axis(grid[0][0], [old.archetypes, new.archetypes], new, log_scale)
    for axes in grid[0]:
        for level in new.config.levels[1:]:
            axes.axhline(level.exp_required, color=_LEVEL_COLOUR, linestyle="--", linewidth=0.6)
        axes.set_xlim(0, new.days)
        axes.set_xlabel("day")
    levels = name_levels(grid[0][-1], new)
    if old.config.levels != new.config.levels:
        levels.set_ylabel("levels of the new config", color=_LEVEL_COLOUR, fontsize=8)
    for axes in grid[0][1:]:
        axes.set_ylabel("")
    grid[1][0].set_ylabel("median days to reach the level")
    # Title and small print in one suptitle: constrained layout makes room for it alone.
    figure.suptitle(
        f"{comparison.old_label} (old, dashed grey) vs {comparison.new_label} (new, solid)\n"
        f"{new.players:,} players, {new.days:,} days from {new.start.isoformat()}, seed "
        f"{new.seed}; fingerprints {old.config.fingerprint} (old), "
        f"{new.config.fingerprint} (new)\nwhiskers: {comparison.confidence:.0%} CI of the "
        f"paired difference ({comparison.resamples:,} resamples), placed on the old value",
        fontsize=10.5,
    )
    handles = [
        Line2D([], [], color=_OLD_COLOUR, linestyle="--", label=f"old: {comparison.old_label}"),
        Line2D([], [], color="black", label=f"new: {comparison.new_label} (archetype's colour)"),
        Patch(color="grey", alpha=0.35, label=BAND_NOTE),
        Line2D(
            [],
            [],
            color=_OLD_COLOUR,
            marker="o",
            markerfacecolor="white",
            linestyle="",
            label="old median days",
        ),
        Line2D(
            [],
            [],
            color="black",
            marker="o",
            linestyle="-",
            label=f"new median days, whisker: {comparison.confidence:.0%} CI",
        ),
    ]
    figure.legend(
        handles=handles, loc="outside lower center", ncols=3 if columns > 2 else 2, fontsize=9
    )
    return figure


def _draw_reach(axes: Any, comparison: Comparison, index: int, colour: str) -> None:
    """Median days to each level, old and new, on a days axis topped by a "never" line."""
    days = comparison.new.days
    never = days * _NEVER_ROOM
    name = comparison.new.archetypes[index].archetype.name
    part = next(part for part in comparison.archetypes if part.name == name)
    levels = [reach.level for reach in comparison.new.archetypes[index].levels]

    def shown(value: float) -> float:
        return never if math.isinf(value) else value

    for position, level in enumerate(levels):
        change = part.figure(f"level{level}.days.median")
        if math.isnan(change.old) or math.isnan(change.new):
            continue
        old_y, new_y = shown(change.old), shown(change.new)
        axes.plot(
            position - 0.12,
            old_y,
            marker="o",
            color=_OLD_COLOUR,
            markerfacecolor="white",
            linestyle="",
        )
        axes.plot(position + 0.12, new_y, marker="o", color=colour, linestyle="")
        if (
            math.isfinite(change.old)
            and math.isfinite(change.diff_low)
            and math.isfinite(change.diff_high)
        ):
            low = min(never, max(0.0, change.old + change.diff_low))
            high = min(never, change.old + change.diff_high)
            axes.vlines(position + 0.12, low, high, color=colour, linewidth=1.5)
    axes.axhline(never, color=_LEVEL_COLOUR, linestyle=":", linewidth=0.8)
    axes.set_ylim(0, days * (_NEVER_ROOM + 0.08))
    ticks = [tick for tick in axes.get_yticks() if 0 <= tick <= days]
    axes.set_yticks([*ticks, never], [*(f"{tick:g}" for tick in ticks), "never"])
    axes.set_xticks(range(len(levels)), [str(level) for level in levels])
    axes.set_xlim(-0.6, len(levels) - 0.4)
    axes.set_xlabel("level")
