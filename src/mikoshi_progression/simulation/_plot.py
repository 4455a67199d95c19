"""Plotting a simulation's report (matplotlib, the ``[plot]`` extra)."""

from __future__ import annotations

from pathlib import Path

from ._report import SimulationReport

__all__ = ["plot_exp_curves"]


def plot_exp_curves(report: SimulationReport, path: str | Path, *, log_scale: bool = True) -> Path:
    """Draw each archetype's mean EXP by day, with a dashed line at each level threshold.

    Writes an image (the format follows the file's extension, e.g. ``.png``)
    with matplotlib's non-interactive Agg backend, and returns its path. The
    EXP axis is logarithmic by default, since level thresholds usually grow
    geometrically; ``log_scale=False`` draws it linear.

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
    figure = Figure(figsize=(10, 6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
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
    axes.set_xlabel("day")
    axes.set_xlim(1, max(report.days, 2))
    if log_scale:
        positive = [v for a in report.archetypes for v in a.mean_exp_by_day if v > 0]
        floor = min([*positive, *(lv.exp_required for lv in thresholds)], default=1.0)
        axes.set_yscale("log")
        axes.set_ylim(bottom=max(1.0, floor / 2))
        axes.set_ylabel("mean EXP (log scale)")
    else:
        axes.set_ylim(bottom=0)
        axes.set_ylabel("mean EXP")
    axes.set_title(
        f"Mean EXP by day: {report.players:,} players, seed {report.seed}, "
        f"config {report.config.fingerprint}"
    )
    axes.legend(loc="upper left")
    figure.savefig(path)
    return path
