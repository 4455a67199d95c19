"""``simulate --csv DIR --html FILE``: a run's (or a comparison's) figures as files.

:func:`add_export_arguments` adds the options; :func:`check_export_targets` refuses a
target that cannot be written before anything is simulated; :func:`export_report` and
:func:`export_comparison` write the files after the run and return their paths.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..simulation import SimulationReport
from ..simulation._export import (
    COMPARISON_COLUMNS,
    EXP_BY_DAY_COLUMNS,
    FIGURE_COLUMNS,
    comparison_rows,
    exp_by_day_rows,
    tidy_rows,
    write_csv,
)
from ..simulation._html import html_comparison, html_report
from ._common import CliError

if TYPE_CHECKING:
    from ..simulation._compare import Comparison

__all__ = [
    "add_export_arguments",
    "check_export_targets",
    "export_comparison",
    "export_report",
]

FIGURES_CSV = "figures.csv"
EXP_BY_DAY_CSV = "exp_by_day.csv"
COMPARISON_CSV = "comparison.csv"


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--csv DIR`` and ``--html FILE``."""
    parser.add_argument(
        "--csv",
        metavar="DIR",
        help=f"also write tidy tables to DIR: {FIGURES_CSV} (config, archetype, metric, "
        f"value), {EXP_BY_DAY_CSV} (EXP by day: mean, p10, median, p90); with "
        "--compare, also comparison.csv; with --sweep, sweep.csv and sensitivity.csv "
        "instead (DIR is created if missing)",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="also write a self-contained HTML report of the run, comparison or sweep "
        "(charts need the [plot] extra; without it the page has the tables only)",
    )


def check_export_targets(args: argparse.Namespace) -> None:
    """Refuse, before a long run, targets that cannot be written: a ``--csv`` path that
    is a file, an ``--html`` file in a missing directory or that is a directory."""
    if args.csv is not None and Path(args.csv).exists() and not Path(args.csv).is_dir():
        raise CliError(f"--csv: not a directory: {args.csv}")
    if args.html is not None:
        target = Path(args.html)
        if target.is_dir():
            raise CliError(f"--html: is a directory, expected a file: {args.html}")
        if not target.parent.is_dir():
            raise CliError(f"--html: no such directory: {target.parent}")


def export_report(args: argparse.Namespace, report: SimulationReport, label: str) -> list[str]:
    """Write what ``--csv`` and ``--html`` ask for about one run; the paths written."""
    written: list[str] = []
    if args.csv is not None:
        directory = _csv_directory(args.csv)
        written += _write_run_tables(directory, [(report, label)])
    if args.html is not None:
        written.append(_write_html(args.html, html_report(report, label)))
    return written


def export_comparison(args: argparse.Namespace, comparison: Comparison) -> list[str]:
    """Write what ``--csv`` and ``--html`` ask for about a comparison; the paths written.

    The CSV directory gets both runs' tables (their rows named by config) and
    ``comparison.csv``.
    """
    written: list[str] = []
    if args.csv is not None:
        directory = _csv_directory(args.csv)
        runs = [
            (comparison.old, comparison.old_label),
            (comparison.new, comparison.new_label),
        ]
        written += _write_run_tables(directory, runs)
        rows = comparison_rows(comparison)
        written.append(
            _written(
                "--csv", lambda: write_csv(directory / COMPARISON_CSV, COMPARISON_COLUMNS, rows)
            )
        )
    if args.html is not None:
        written.append(_write_html(args.html, html_comparison(comparison)))
    return written


def _write_run_tables(directory: Path, runs: list[tuple[SimulationReport, str]]) -> list[str]:
    """figures.csv and exp_by_day.csv, with the rows of every run given."""
    figures = [row for report, label in runs for row in tidy_rows(report, label)]
    by_day = [row for report, label in runs for row in exp_by_day_rows(report, label)]
    return [
        _written("--csv", lambda: write_csv(directory / FIGURES_CSV, FIGURE_COLUMNS, figures)),
        _written(
            "--csv", lambda: write_csv(directory / EXP_BY_DAY_CSV, EXP_BY_DAY_COLUMNS, by_day)
        ),
    ]


def _csv_directory(value: str) -> Path:
    directory = Path(value)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--csv {value}: cannot create the directory: {exc}") from exc
    return directory


def _written(option: str, write: Callable[[], Path]) -> str:
    try:
        return str(write())
    except OSError as exc:
        raise CliError(f"{option}: {exc}") from exc


def _write_html(value: str, page: str) -> str:
    return _written("--html", lambda: _write_text(Path(value), page))


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
