"""A simulation's figures as tidy tables: one row per observation, for a spreadsheet,
pandas or a notebook (the CLI's ``--csv DIR``).

Every row names its config (the label and the fingerprint), so the tables of several
runs can be concatenated and still say which rules each row is about. Numbers are kept
as the report has them: days never reached are ``inf``, undefined figures ``nan``
(written ``inf`` and ``nan``, which spreadsheets and ``pandas.read_csv`` read as
floats).

>>> from mikoshi_progression.simulation import simulate
>>> report = simulate(players=8, days=5, seed=1)
>>> rows = tidy_rows(report, "built-in default")
>>> rows[0]["archetype"], rows[0]["metric"], rows[0]["value"]
('casual chatter', 'level2.days.p10', inf)
>>> exp_by_day_rows(report, "built-in default")[0]["day"]
1
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._compare import FIGURE_FIELDS
from ._metrics import archetype_metrics
from ._report import ArchetypeReport, SimulationReport

if TYPE_CHECKING:
    from ._compare import Comparison

__all__ = [
    "COMPARISON_COLUMNS",
    "EXP_BY_DAY_COLUMNS",
    "FIGURE_COLUMNS",
    "Row",
    "comparison_rows",
    "exp_by_day_rows",
    "tidy_rows",
    "write_csv",
]

Row = dict[str, str | int | float]
"""One row of a table: column -> value."""

FIGURE_COLUMNS = ("config", "config_fingerprint", "archetype", "metric", "value")
"""The columns of :func:`tidy_rows` (``figures.csv``)."""

EXP_BY_DAY_COLUMNS = (
    "config",
    "config_fingerprint",
    "archetype",
    "day",
    "mean",
    "p10",
    "median",
    "p90",
)
"""The columns of :func:`exp_by_day_rows` (``exp_by_day.csv``)."""


COMPARISON_COLUMNS = (
    "old_config",
    "old_fingerprint",
    "new_config",
    "new_fingerprint",
    "archetype",
    "metric",
    *FIGURE_FIELDS,
    "verdict",
    "confidence",
)
"""The columns of :func:`comparison_rows` (``comparison.csv``)."""


def tidy_rows(report: SimulationReport, label: str) -> list[Row]:
    """One row per archetype and named figure (:func:`~._metrics.archetype_metrics`),
    in report order: columns :data:`FIGURE_COLUMNS`. ``label`` names the config."""
    return [
        {**_whose(report, label, part), "metric": metric, "value": value}
        for part in report.archetypes
        for metric, value in archetype_metrics(part).items()
    ]


def exp_by_day_rows(report: SimulationReport, label: str) -> list[Row]:
    """One row per archetype and simulated day: the players' mean EXP at the day's end
    (rounded to 0.01, as in the JSON report) and its p10, median and p90; columns
    :data:`EXP_BY_DAY_COLUMNS`. An archetype without players has no rows."""
    return [
        {
            **_whose(report, label, part),
            "day": day,
            "mean": round(mean, 2),
            "p10": low,
            "median": median,
            "p90": high,
        }
        for part in report.archetypes
        for day, (mean, (low, median, high)) in enumerate(
            zip(part.mean_exp_by_day, part.exp_percentiles_by_day, strict=True), start=1
        )
    ]


def comparison_rows(comparison: Comparison) -> list[Row]:
    """One row per archetype and named figure of a comparison: old and new values, the
    difference new - old with its confidence interval, the relative change new/old - 1
    with its interval, and the verdict; columns :data:`COMPARISON_COLUMNS`."""
    head: Row = {
        "old_config": comparison.old_label,
        "old_fingerprint": comparison.old.config.fingerprint,
        "new_config": comparison.new_label,
        "new_fingerprint": comparison.new.config.fingerprint,
    }
    return [
        {
            **head,
            "archetype": part.name,
            "metric": change.name,
            **{field: getattr(change, field) for field in FIGURE_FIELDS},
            "verdict": change.verdict,
            "confidence": comparison.confidence,
        }
        for part in comparison.archetypes
        for change in part.figures
    ]


def _whose(report: SimulationReport, label: str, part: ArchetypeReport) -> Row:
    """The columns that say which config and archetype a row is about."""
    return {
        "config": label,
        "config_fingerprint": report.config.fingerprint,
        "archetype": part.archetype.name,
    }


def write_csv(
    path: str | Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]
) -> Path:
    """Write ``rows`` under a header of ``columns`` (comma-separated, UTF-8, ``\\n``
    line ends) and return the path. A row's keys must be exactly ``columns``."""
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
