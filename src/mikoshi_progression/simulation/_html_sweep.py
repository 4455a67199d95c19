"""A sweep as one self-contained HTML page: what was varied, each figure against each
parameter, the sensitivity ranking, the points meeting the targets, and every point.

The charts need matplotlib (the ``[plot]`` extra); without it the page has the tables
only, with a note saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._html import Chart, HtmlPage, add_charts, format_figure
from ._sensitivity import Sensitivity
from ._sweep import SweepResult, TargetMatch

__all__ = ["html_sweep"]

# Beyond this many points a scatter still reads; the table below holds every point.
_MAX_CHART_METRICS = 4


def html_sweep(
    result: SweepResult,
    label: str,
    metrics: Sequence[str],
    ranking: Sensitivity | None = None,
    matches: Sequence[TargetMatch] | None = None,
) -> str:
    """The sweep as a page; ``metrics`` are the figures shown (and charted, up to four)."""
    page = HtmlPage(f"Sweep of {label}")
    ran = [point for point in result.points if not point.skipped]
    page.add_facts(
        [
            ("config", f"{label} (fingerprint {result.base.fingerprint})"),
            ("varied", ", ".join(f"{p.path} = {_values(p.values)}" for p in result.parameters)),
            ("design", result.design),
            ("points", f"{len(ran):,} simulated, {len(result.skipped):,} skipped (invalid)"),
            ("players", f"{result.players:,} at every point (the same seeded players)"),
            ("days", f"{result.days:,} from {result.start.isoformat()}"),
            ("seed", result.seed),
        ]
    )
    page.add_heading("Each figure against each parameter")
    add_charts(page, lambda: _charts(result, metrics))
    page.add_heading("Which parameter moves which figure most")
    if ranking is None or not ranking.indices:
        page.add_note(
            "No sensitivity ranking: it needs the [analysis] extra and at least 10 points."
        )
    else:
        page.add_text(
            f"Method: {ranking.method} ({ranking.index_name}; larger moves the figure more), "
            f"on {ranking.samples:,} samples. Few samples give noisy indices: read the "
            "confidence beside each.",
            muted=True,
        )
        page.add_table(
            ["archetype", "figure", "rank", "parameter", ranking.index_name, "confidence"],
            [
                [
                    i.archetype,
                    i.metric,
                    i.rank,
                    i.parameter,
                    _number(i.index),
                    _number(i.confidence),
                ]
                for i in ranking.indices
            ],
            numeric=(2, 4, 5),
        )
    if matches is not None:
        page.add_heading("Points meeting the targets")
        if not matches:
            page.add_note("No point meets every target.")
        else:
            page.add_table(
                ["point", *[p.path for p in result.parameters], "target readings"],
                [
                    [
                        match.point.index,
                        *[_value(v) for v in match.point.values],
                        "; ".join(
                            f"{archetype}: "
                            + ", ".join(f"{n} = {format_figure(n, v)}" for n, v in read.items())
                            for _, archetype, read in match.readings
                        ),
                    ]
                    for match in matches
                ],
                numeric=range(len(result.parameters) + 1),
            )
    page.add_heading("Every point")
    for archetype in result.archetypes:
        page.add_table(
            ["point", *[p.path for p in result.parameters], *metrics],
            [
                [
                    point.index,
                    *[_value(v) for v in point.values],
                    *[format_figure(m, point.figures[archetype][m]) for m in metrics],
                ]
                for point in ran
            ],
            caption=archetype,
            numeric=range(1 + len(result.parameters) + len(metrics)),
        )
    if result.skipped:
        page.add_table(
            ["point", *[p.path for p in result.parameters], "why skipped"],
            [
                [point.index, *[_value(v) for v in point.values], "; ".join(point.problems)]
                for point in result.skipped
            ],
            caption="Skipped points (their config is invalid)",
        )
    return page.render()


def _charts(result: SweepResult, metrics: Sequence[str]) -> list[Chart]:
    """One grid of scatter plots: a row per figure, a column per parameter."""
    from matplotlib.figure import Figure

    shown = list(metrics)[:_MAX_CHART_METRICS]
    ran = [point for point in result.points if not point.skipped]
    columns = len(result.parameters)
    figure = Figure(figsize=(max(6.0, 4.0 * columns), 2.8 * len(shown) + 0.8), layout="constrained")
    grid: Any = figure.subplots(len(shown), columns, squeeze=False)
    for row, metric in enumerate(shown):
        for column, parameter in enumerate(result.parameters):
            axes = grid[row][column]
            for archetype in result.archetypes:
                pairs = [
                    (float(point.values[column]), point.figures[archetype][metric]) for point in ran
                ]
                finite = [(x, y) for x, y in pairs if y == y and abs(y) != float("inf")]
                dots = axes.plot(
                    [x for x, _ in finite],
                    [y for _, y in finite],
                    marker="o",
                    linestyle="none",
                    alpha=0.35,
                )
                # The mean at each value of this parameter, over the others: its main effect.
                by_x: dict[float, list[float]] = {}
                for x, y in finite:
                    by_x.setdefault(x, []).append(y)
                xs = sorted(by_x)
                axes.plot(
                    xs,
                    [sum(by_x[x]) / len(by_x[x]) for x in xs],
                    color=dots[0].get_color(),
                    label=archetype,
                )
            axes.set_xlabel(parameter.path)
            if column == 0:
                axes.set_ylabel(metric)
    handles, labels = grid[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)))
    figure.suptitle("Dots: each point; lines: the mean over the other parameters")
    return [
        (
            figure,
            "Scatter plots of each shown figure against each swept parameter",
            "A level never reached is left out of its chart (see the tables).",
        )
    ]


def _values(values: Sequence[int | float]) -> str:
    return ", ".join(_value(v) for v in values)


def _value(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _number(value: float) -> str:
    return "-" if value != value else f"{value:.3f}"
