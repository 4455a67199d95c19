"""The named outcome figures of a simulated archetype: what comparisons, sweeps, gates,
targets and exports speak of.

Every figure has a dotted name (``level4.days.median``, ``exp_per_day``) and is computed
from the archetype's :class:`~._report.PlayerOutcomes`, so a paired comparison can
recompute it on a resample of the same players. Days to a level a player never reached
count as infinitely many: a percentile that falls among such players is ``inf``
("never").

>>> from mikoshi_progression.simulation import simulate
>>> report = simulate(players=40, days=30, seed=1)
>>> figures = archetype_metrics(report.archetypes[1])
>>> figures["level2.days.median"] == report.archetypes[1].levels[0].median
True
>>> metric_names(report.config)[:4]
['level2.days.p10', 'level2.days.median', 'level2.days.p90', 'level2.reached_share']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.config import ProgressionConfig
from ._report import ArchetypeReport, PlayerOutcomes
from ._stats import rank_index

__all__ = [
    "METRIC_DESCRIPTIONS",
    "Metric",
    "archetype_metrics",
    "column_of",
    "metric_names",
    "metric_values",
    "metrics_for",
    "metrics_for_levels",
]

_PERCENTILES = (("p10", 10), ("median", 50), ("p90", 90))


@dataclass(frozen=True, slots=True)
class Metric:
    """One outcome figure of an archetype.

    Attributes:
        name: Its dotted name (``level4.days.median``).
        kind: How it is computed from each player's figures: ``"percentile"`` of
            ``column`` at ``percent``; ``"mean"`` of ``column`` divided by ``per``;
            ``"ratio"`` of the sums of ``column`` and ``denominator``; ``"share"`` of
            players whose ``column`` is above 0.
        column: The :class:`PlayerOutcomes` column it reads (``reach_days[3]`` is
            written ``("reach_days", 3)``).
        percent: For percentiles, 10, 50 or 90.
        denominator: For ratios, the column summed below the line.
        per_day: For means, whether the mean is divided by the days simulated.
    """

    name: str
    kind: str
    column: tuple[str, int | None]
    percent: int = 0
    denominator: str = ""
    per_day: bool = False


METRIC_DESCRIPTIONS: dict[str, str] = {
    "levelN.days.p10": "days by which the quickest 10% reached level N (inf: never)",
    "levelN.days.median": "days by which half the players reached level N (inf: never)",
    "levelN.days.p90": "days by which 90% of the players reached level N (inf: never)",
    "levelN.reached_share": "share of the players who reached level N at all",
    "exp_per_day": "mean EXP awarded per player per simulated day",
    "cap_hit_rate": "share of active player-days on which the daily cap cut or refused EXP",
    "cap_lost_per_day": "mean EXP lost to the daily cap per player per simulated day",
    "limit_lost_per_day": "mean EXP lost to action limits per player per simulated day",
    "final_exp.median": "the median player's EXP at the end",
}
"""Each figure's name pattern and what it means, for help texts and docs."""


def metrics_for(config: ProgressionConfig) -> tuple[Metric, ...]:
    """Every figure an archetype simulated under ``config`` has, in report order."""
    return metrics_for_levels([level.number for level in config.levels[1:]])


def metrics_for_levels(numbers: Sequence[int]) -> tuple[Metric, ...]:
    """Every figure of an archetype whose config has levels ``numbers`` above the first."""
    found: list[Metric] = []
    for offset, number in enumerate(numbers):
        prefix = f"level{number}"
        column = ("reach_days", offset)
        found += [
            Metric(f"{prefix}.days.{name}", "percentile", column, percent=percent)
            for name, percent in _PERCENTILES
        ]
        found.append(Metric(f"{prefix}.reached_share", "share", column))
    found += [
        Metric("exp_per_day", "mean", ("final_exp", None), per_day=True),
        Metric("cap_hit_rate", "ratio", ("capped_days", None), denominator="active_days"),
        Metric("cap_lost_per_day", "mean", ("cap_lost", None), per_day=True),
        Metric("limit_lost_per_day", "mean", ("limit_lost", None), per_day=True),
        Metric("final_exp.median", "percentile", ("final_exp", None), percent=50),
    ]
    return tuple(found)


def metric_names(config: ProgressionConfig) -> list[str]:
    """The names of :func:`metrics_for`, in order."""
    return [metric.name for metric in metrics_for(config)]


def column_of(outcomes: PlayerOutcomes, column: tuple[str, int | None]) -> Sequence[int]:
    """One column of each player's figures (``("reach_days", 2)``: days to level 4)."""
    name, index = column
    values: Sequence[Any] = getattr(outcomes, name)
    return values if index is None else values[index]


def metric_values(metrics: Sequence[Metric], outcomes: PlayerOutcomes, days: int) -> list[float]:
    """Each of ``metrics`` over all the players of ``outcomes`` (``nan`` when there are
    none); a column that several percentiles read is sorted once."""
    ordered: dict[tuple[str, int | None], list[float]] = {}
    return [_metric_value(metric, outcomes, days, ordered) for metric in metrics]


def _metric_value(
    metric: Metric,
    outcomes: PlayerOutcomes,
    days: int,
    ordered: dict[tuple[str, int | None], list[float]],
) -> float:
    values = column_of(outcomes, metric.column)
    players = len(values)
    if not players:
        return math.nan
    if metric.kind == "percentile":
        column = ordered.get(metric.column)
        if column is None:
            never = metric.column[0] == "reach_days"  # 0: never reached, so last
            column = ordered[metric.column] = sorted(
                math.inf if never and value == 0 else float(value) for value in values
            )
        return column[rank_index(metric.percent, players)]
    if metric.kind == "share":
        return sum(1 for value in values if value > 0) / players
    if metric.kind == "ratio":
        below = sum(getattr(outcomes, metric.denominator))
        return sum(values) / below if below else 0.0
    mean = sum(values) / players
    return mean / days if metric.per_day else mean


def archetype_metrics(report: ArchetypeReport) -> dict[str, float]:
    """Every figure of one archetype's report, by name (see :data:`METRIC_DESCRIPTIONS`).

    Days to a level never reached by the percentile's player are ``inf``; an
    archetype with no players has ``nan`` everywhere.
    """
    metrics = metrics_for_levels([reach.level for reach in report.levels])
    values = metric_values(metrics, report.outcomes, report.days)
    return {metric.name: value for metric, value in zip(metrics, values, strict=True)}
