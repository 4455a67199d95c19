"""``simulate --sweep``: the balance simulator over many variations of one config.

The sweep itself is :func:`mikoshi_progression.simulation.sweep`; this module reads
the options, runs it and prints the points, the sensitivity ranking and the points
meeting the targets (or writes them as JSON or CSV).
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError, did_you_mean
from ..simulation import (
    DEFAULT_START,
    MAX_POINTS,
    METHODS,
    Sensitivity,
    SweepParameter,
    SweepResult,
    TargetMatch,
    parse_sweep,
    sweep,
)
from ..simulation._conditions import Condition, parse_condition
from ..simulation._html_sweep import html_sweep
from ..simulation._sensitivity import analysis_modules
from ._common import (
    CliError,
    ExitCode,
    config_source,
    format_table,
    load_config_argument,
    percent,
    positive_int,
    print_json,
)
from ._simulate_common import archetypes_argument, jobs_for, progress_bar, simulation_errors

__all__ = ["add_sweep_arguments", "run_sweep", "uses_sweep"]

DEFAULT_METRICS = ("exp_per_day", "cap_hit_rate", "final_exp.median")
"""The figures shown and ranked unless ``--metric`` says otherwise."""

_SWEEP_ONLY = ("samples", "method", "checkpoint", "target", "metric", "max_points")


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--sweep`` and the options that go with it to ``simulate``."""
    group = parser.add_argument_group(
        "sweeps", "simulate the same players under many variations of the config"
    )
    group.add_argument(
        "--sweep",
        action="append",
        metavar="PATH=VALUES",
        help="vary one number of the config: PATH=START:STOP:STEP (stop included) or "
        "PATH=V1,V2,...; PATH is dotted into the config's dict form "
        "(daily_exp_caps.3, actions.create_character.exp, levels.4.exp_required); "
        "repeat for more (a grid: every combination)",
    )
    group.add_argument(
        "--samples",
        type=positive_int,
        metavar="N",
        help="a Latin hypercube of N points over the sweep's values instead of the grid "
        "(with --method morris: N Morris trajectories); needs the [analysis] extra",
    )
    group.add_argument(
        "--method",
        choices=METHODS,
        help="the sensitivity method: rbd_fast (default; on the grid or the Latin "
        "hypercube) or morris (runs its own design of --samples trajectories)",
    )
    group.add_argument(
        "--checkpoint",
        metavar="FILE.jsonl",
        help="keep each finished point in FILE; a rerun with the same settings skips "
        "the points already there",
    )
    group.add_argument(
        "--target",
        action="append",
        metavar="COND",
        help="list the points meeting COND, e.g. 'daily creator: 30 <= level4.days.median "
        "<= 45' (repeatable; all must hold)",
    )
    group.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="a figure to show and rank (repeatable; default: " + ", ".join(DEFAULT_METRICS) + ")",
    )
    group.add_argument(
        "--max-points",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"the most points to run (default: {MAX_POINTS:,})",
    )


def run_sweep(args: argparse.Namespace) -> int:
    """Run ``simulate --sweep`` and print what it found."""
    if args.sweep is None:
        used = next(name for name in _SWEEP_ONLY if getattr(args, name) is not None)
        raise CliError(f"--{used.replace('_', '-')} needs --sweep")
    if args.plot is not None:
        raise CliError("--plot cannot be used with --sweep (--html draws the sweep's charts)")
    if args.compare or args.fail_if:
        raise CliError("--sweep cannot be used with --compare or --fail-if")
    parameters = [_parameter(spec) for spec in args.sweep]
    design = "morris" if args.method == "morris" else ("lhs" if args.samples else "grid")
    if design == "morris" and args.samples is None:
        raise CliError("--method morris: give the number of trajectories with --samples N")
    wants_analysis = design != "grid" or args.method is not None
    if wants_analysis:
        try:
            analysis_modules("--samples" if design == "lhs" else f"--method {args.method}")
        except ImportError as exc:
            raise CliError(str(exc), ExitCode.MISSING_EXTRA) from exc
    config, label = load_config_argument(args.config)
    archetypes = archetypes_argument(args.archetypes)
    targets = [_condition(text) for text in args.target or ()]
    metrics = _metrics(args.metric, targets)
    points = args.samples or math.prod(len(p.values) for p in parameters)
    if design == "morris":
        points *= len(parameters) + 1
    jobs = jobs_for(args, args.players * args.days * points)
    bar = progress_bar(args, "sweeping")
    with simulation_errors(bar):
        try:
            result = sweep(
                config,
                parameters,
                archetypes,
                design=design,
                samples=args.samples,
                players=args.players,
                days=args.days,
                seed=args.seed,
                start=args.start or DEFAULT_START,
                jobs=jobs,
                work=bar,
                checkpoint=args.checkpoint,
                max_points=args.max_points or MAX_POINTS,
            )
            matches = result.meeting(targets) if targets else None
            _check_metrics(metrics, result)
        except InvalidArgumentError as exc:  # named by its option, not its parameter
            raise CliError(_option_message(exc)) from exc
    ranking, unranked = _sensitivity(result, args.method, metrics)
    if args.csv is not None:
        _write_csv(Path(args.csv), result, ranking)
    if args.html is not None:
        page = html_sweep(result, label, metrics, ranking, matches)
        Path(args.html).write_text(page, encoding="utf-8")
    if args.json:
        print_json(
            {
                "config": config_source(label, config),
                **result.to_dict(),
                "sensitivity": ranking.to_dict() if ranking is not None else None,
                "targets": None if matches is None else [_match_dict(m, result) for m in matches],
            }
        )
    else:
        print("\n".join(_lines(result, label, metrics, ranking, unranked, targets, matches)))
        if args.csv is not None:
            print(
                f"\nCSV written to {Path(args.csv) / 'sweep.csv'}"
                + (f" and {Path(args.csv) / 'sensitivity.csv'}" if ranking is not None else "")
            )
        if args.html is not None:
            print(f"HTML report written to {args.html}")
    return ExitCode.OK


def uses_sweep(args: argparse.Namespace) -> bool:
    """Whether the command line asks for a sweep (``--sweep``, or an option of one)."""
    return args.sweep is not None or any(getattr(args, name) is not None for name in _SWEEP_ONLY)


# --- reading the options -------------------------------------------------------------------


_OPTIONS = {
    "checkpoint": "--checkpoint",
    "samples": "--samples",
    "method": "--method",
    "target": "--target",
    "metrics": "--metric",
    "parameters": "--sweep",
}


def _option_message(exc: InvalidArgumentError) -> str:
    """The library's error with its argument written as the option (``--checkpoint``)."""
    option = _OPTIONS.get(exc.field, exc.field)
    return option + str(exc).removeprefix(exc.field)


def _parameter(spec: str) -> SweepParameter:
    try:
        return parse_sweep(spec)
    except InvalidArgumentError as exc:
        raise CliError(str(exc)) from exc


def _condition(text: str) -> Condition:
    try:
        return parse_condition(text, option="--target")
    except InvalidArgumentError as exc:
        raise CliError(str(exc)) from exc


def _metrics(chosen: Sequence[str] | None, targets: Sequence[Condition]) -> list[str]:
    names = list(chosen) if chosen else list(DEFAULT_METRICS)
    for condition in targets:
        names += condition.names
    return list(dict.fromkeys(names))


def _check_metrics(metrics: Sequence[str], result: SweepResult) -> None:

    for name in metrics:
        if name not in result.metrics:
            hint = did_you_mean(name, result.metrics)
            raise InvalidArgumentError("--metric", f"a figure's name; {name!r} is not one{hint}")


def _sensitivity(
    result: SweepResult, method: str | None, metrics: Sequence[str]
) -> tuple[Sensitivity | None, str]:
    """The ranking, or ``None`` and why not (SALib missing on a grid)."""
    try:
        return result.sensitivity(method, metrics), ""
    except ImportError as exc:
        return None, str(exc)


# --- output --------------------------------------------------------------------------------


def figure_text(metric: str, value: float) -> str:
    """A figure as the tables show it: ``never`` for a level not reached, shares in %."""
    if math.isnan(value):
        return "-"
    if value == math.inf:
        return "never"
    if metric.endswith("share") or metric == "cap_hit_rate":
        return percent(value)
    if ".days." in metric:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _value_text(value: int | float) -> str:
    return f"{value:g}" if isinstance(value, float) else f"{value:,}"


def _design_text(result: SweepResult) -> str:
    if result.design == "grid":
        shape = " x ".join(str(len(p.values)) for p in result.parameters)
        return f"a grid of {shape}"
    if result.design == "lhs":
        return f"a Latin hypercube of {len(result.rows):,} samples"
    trajectories = len(result.rows) // (len(result.parameters) + 1)
    return f"{trajectories:,} Morris trajectories on {result.morris_levels} levels"


def _lines(
    result: SweepResult,
    label: str,
    metrics: Sequence[str],
    ranking: Sensitivity | None,
    unranked: str,
    targets: Sequence[Condition],
    matches: Sequence[TargetMatch] | None,
) -> list[str]:
    skipped = len(result.skipped)
    out = [
        f"Swept {len(result.points):,} points ({_design_text(result)}) of {result.players:,} "
        f"players for {result.days:,} days from {result.start.isoformat()} (seed "
        f"{result.seed}; {label}, fingerprint {result.base.fingerprint}): "
        f"{len(result.points) - skipped:,} simulated, {skipped:,} skipped",
        "",
        "Parameters",
    ]
    out += [f"  {p.path}: {', '.join(_value_text(v) for v in p.values)}" for p in result.parameters]
    paths = [p.path for p in result.parameters]
    for archetype in result.archetypes:
        out += ["", f"== {archetype} =="]
        rows = [
            [
                str(point.index),
                *(_value_text(v) for v in point.values),
                *(figure_text(m, point.figures[archetype][m]) for m in metrics),
            ]
            for point in result.points
            if not point.skipped
        ]
        headers = ["Point", *paths, *metrics]
        out.append(format_table(headers, rows, "r" * len(headers)))
    if skipped:
        out += ["", "Skipped points (their config is invalid)"]
        for point in result.skipped:
            pairs = zip(paths, point.values, strict=True)
            values = ", ".join(f"{path}={_value_text(v)}" for path, v in pairs)
            out.append(f"  point {point.index} ({values}): {'; '.join(point.problems)}")
    out += ["", *_sensitivity_lines(ranking, unranked, metrics)]
    if matches is not None:
        out += ["", *_target_lines(result, targets, matches)]
    return out


def _sensitivity_lines(
    ranking: Sensitivity | None, unranked: str, metrics: Sequence[str]
) -> list[str]:
    if ranking is None:
        return [f"Sensitivity: not ranked. {unranked}"]
    if ranking.method == "rbd_fast":
        head = (
            "Sensitivity (RBD-FAST first-order index S1: the share of the figure's variance the "
            f"parameter explains; +- half a 95% bootstrap interval; {ranking.samples:,} samples)"
        )
    else:
        head = (
            f"Sensitivity (Morris mu*: the mean absolute change of the figure for a move across "
            f"the parameter's range; +- half a 95% bootstrap interval; {ranking.samples:,} samples)"
        )
    if ranking.notes:
        return [head, *(f"Not ranked: {note}." for note in ranking.notes)]
    rows = [
        [
            i.archetype if i.rank == 1 else "",  # named once, above its ranking
            i.metric if i.rank == 1 else "",
            i.rank,
            i.parameter,
            f"{i.index:.3g}",
            _plus_minus(i.confidence),
        ]
        for i in ranking.indices
    ]
    headers = ["Archetype", "Figure", "Rank", "Parameter", ranking.index_name, "+-"]
    out = [head, format_table(headers, rows, "llrlrr")]
    unvaried = [f"{a}: {m}" for a, m in ranking.unvaried if m in metrics]
    if unvaried:
        out.append("The same at every point (not ranked): " + ", ".join(unvaried) + ".")
    return out


def _plus_minus(confidence: float) -> str:
    return "-" if math.isnan(confidence) else f"{confidence:.2g}"


def _target_lines(
    result: SweepResult, targets: Sequence[Condition], matches: Sequence[TargetMatch]
) -> list[str]:
    simulated = len(result.points) - len(result.skipped)
    out = [
        f"Points meeting every target (in sweep order): {len(matches):,} of {simulated:,}",
        *(f"  {condition.text}" for condition in targets),
    ]
    if not matches:
        return out
    paths = [p.path for p in result.parameters]
    headers = ["Point", *paths]
    for condition in targets:
        who = condition.archetype or "any"
        headers += [f"{who}: {name}" for name in condition.names]
    rows = []
    for match in matches:
        row = [str(match.point.index), *(_value_text(v) for v in match.point.values)]
        for condition, (_, archetype, read) in zip(targets, match.readings, strict=True):
            suffix = "" if condition.archetype else f" ({archetype})"
            row += [figure_text(name, read[name]) + suffix for name in condition.names]
        rows.append(row)
    out.append(format_table(headers, rows, "r" * len(headers)))
    return out


def _match_dict(match: TargetMatch, result: SweepResult) -> dict[str, Any]:
    return {
        "point": match.point.index,
        "values": dict(zip((p.path for p in result.parameters), match.point.values, strict=True)),
        "readings": [
            {
                "target": text,
                "archetype": archetype,
                "figures": {k: v if math.isfinite(v) else None for k, v in read.items()},
            }
            for text, archetype, read in match.readings
        ],
    }


def _write_csv(directory: Path, result: SweepResult, ranking: Sensitivity | None) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_rows(
            directory / "sweep.csv",
            result.tidy_rows(),
            ["point", *(p.path for p in result.parameters), "archetype", "metric", "value"],
        )
        if ranking is not None:
            _write_rows(
                directory / "sensitivity.csv",
                ranking.tidy_rows(),
                [
                    "method",
                    "archetype",
                    "metric",
                    "parameter",
                    "rank",
                    ranking.index_name,
                    "confidence",
                ],
            )
    except OSError as exc:
        raise CliError(f"--csv {directory}: {exc.strerror or exc}") from exc


def _write_rows(path: Path, rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)
