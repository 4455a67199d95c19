"""``simulate [CONFIG]``: the balance simulator on the command line.

The simulation itself is :mod:`mikoshi_progression.simulation`; this module reads
the options, draws a progress bar on a terminal and prints the report.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from ..simulation import (
    DEFAULT_START,
    plot_comparison,
    plot_exp_curves,
    simulate,
)
from ._common import (
    CliError,
    Command,
    ExitCode,
    add_config_argument,
    config_source,
    iso_date,
    load_config_argument,
    positive_int,
    print_json,
)
from ._simulate_common import archetypes_argument, jobs_for, progress_bar, simulation_errors
from ._simulate_compare import add_compare_arguments, run_compare
from ._simulate_export import (
    add_export_arguments,
    check_export_targets,
    export_comparison,
    export_report,
)
from ._simulate_sweep import add_sweep_arguments, run_sweep, uses_sweep
from ._simulation_text import simulation_lines

__all__ = ["SIMULATE"]


def _configure_simulate(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--players", type=positive_int, default=1000, help="players in all (default: 1000)"
    )
    parser.add_argument(
        "--days", type=positive_int, default=365, help="days to simulate (default: 365)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--start",
        type=iso_date,
        default=None,
        metavar="DATE",
        help="the first simulated day, YYYY-MM-DD (default: 2026-01-01)",
    )
    parser.add_argument(
        "--archetypes",
        metavar="FILE.toml",
        help="player archetypes to simulate (default: the four built-in ones)",
    )
    parser.add_argument(
        "--plot",
        metavar="OUT.png",
        help="also draw mean EXP by day per archetype (needs the [plot] extra)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        help="worker processes (default: the number of CPUs, at most 8; small runs use 1); "
        "the report does not depend on it",
    )
    add_compare_arguments(parser)
    add_export_arguments(parser)
    add_sweep_arguments(parser)


def _check_plot_target(path: str) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise CliError(
            "--plot needs matplotlib, which is not installed: "
            "install the [plot] extra (pip install -e '.[plot]' from a clone)",
            ExitCode.MISSING_EXTRA,
        )
    target = Path(path)
    if not target.parent.is_dir():
        raise CliError(f"--plot: no such directory: {target.parent}")
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = target.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise CliError(
            f"--plot: cannot draw a {suffix or 'file without extension'!r} image; use one of: "
            + ", ".join(f".{f}" for f in sorted(formats))
        )


def _run_simulate(args: argparse.Namespace) -> int:
    check_export_targets(args)
    if uses_sweep(args):
        return run_sweep(args)
    archetypes = archetypes_argument(args.archetypes)
    if args.plot is not None:
        _check_plot_target(args.plot)
    if args.fail_if and not args.compare:
        raise CliError("--fail-if gates a comparison: use it with --compare OLD NEW")
    runs = 2 if args.compare else 1
    jobs = jobs_for(args, runs * args.players * args.days)
    args.start = args.start or DEFAULT_START
    bar = progress_bar(args)
    if args.compare:
        with simulation_errors(bar):
            status, comparison = run_compare(args, archetypes, jobs, bar)
        written = (
            [] if args.plot is None else [_plot(lambda: plot_comparison(comparison, args.plot))]
        )
        written += export_comparison(args, comparison)
        for path in written:
            print(f"Written: {path}", file=sys.stderr if args.json else sys.stdout)
        return status
    config, label = load_config_argument(args.config)
    with simulation_errors(bar):
        report = simulate(
            config,
            archetypes,
            players=args.players,
            days=args.days,
            seed=args.seed,
            start=args.start,
            jobs=jobs,
            progress=bar,
        )
    plot = None
    if args.plot is not None:
        plot = _plot(lambda: plot_exp_curves(report, args.plot, label=label))
    if args.json:
        print_json({"config": config_source(label, config), **report.to_dict(), "plot": plot})
    else:
        print("\n".join(simulation_lines(report, label)))
        if plot is not None:
            print(f"\nPlot written to {plot}")
    # With --json, stdout is the JSON document alone.
    for path in export_report(args, report, label):
        print(f"Written: {path}", file=sys.stderr if args.json else sys.stdout)
    return ExitCode.OK


def _plot(draw: Callable[[], Path]) -> str:
    """Draw a ``--plot`` image; the path written."""
    try:
        return str(draw())
    except ImportError as exc:
        raise CliError(str(exc), ExitCode.MISSING_EXTRA) from exc
    except (OSError, ValueError) as exc:
        raise CliError(f"--plot: {exc}") from exc


SIMULATE = Command(
    "simulate",
    "simulate players under a config (balance check)",
    _configure_simulate,
    _run_simulate,
    "Simulate player archetypes day by day through the real award rules and report "
    "days to each level, EXP lost to the daily cap and to each action's limit, and "
    "final EXP; with the config's levers, also streaks kept, milestones unlocked and "
    "EXP by day around the boost windows.",
)
