"""``simulate --compare OLD NEW``: two configs on the same players, and a gate for CI.

The comparison itself is :func:`mikoshi_progression.simulation.compare`; this module
reads its options, prints the verdict table and turns ``--fail-if`` conditions that
hold into exit status 1.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InvalidArgumentError
from ..simulation import Archetype, Comparison, FigureChange, GateHit, compare
from ..simulation._conditions import Condition, parse_condition
from ._common import (
    CliError,
    ExitCode,
    config_source,
    format_table,
    int_at_least,
    load_config_argument,
    print_json,
)

__all__ = ["add_compare_arguments", "comparison_lines", "run_compare"]


def _confidence(text: str) -> float:
    """An argparse type: a confidence level strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 0.95, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--compare OLD NEW``, ``--fail-if``, ``--confidence`` and ``--resamples``."""
    group = parser.add_argument_group(
        "comparing two configs",
        "Simulate the same seeded players under OLD and NEW and report, per archetype, "
        "each figure's paired change with a bootstrap confidence interval (needs the "
        "[analysis] extra).",
    )
    group.add_argument(
        "--compare",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="the two configs (files, or 'default'); takes the place of CONFIG",
    )
    group.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="CONDITION",
        help="exit 1 if this holds for an archetype, e.g. 'level4.days.median.change > 0.2' "
        "or 'whale: exp_per_day.change_low > 0.1' (repeatable; see docs/simulation.md)",
    )
    group.add_argument(
        "--confidence",
        type=_confidence,
        default=0.95,
        help="the intervals' confidence level (default: 0.95)",
    )
    group.add_argument(
        "--resamples",
        type=int_at_least(100),
        default=1000,
        help="bootstrap resamples per archetype (default: 1000)",
    )


def parse_gates(texts: Sequence[str]) -> list[Condition]:
    """The ``--fail-if`` conditions; a malformed one is a usage error (exit 2)."""
    try:
        return [parse_condition(text, option="--fail-if") for text in texts]
    except InvalidArgumentError as exc:
        raise CliError(str(exc)) from exc


def run_compare(
    args: argparse.Namespace,
    archetypes: Sequence[Archetype],
    jobs: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, Comparison]:
    """Run ``--compare``, print it, and return the exit status and the comparison."""
    if args.config is not None:
        raise CliError("--compare OLD NEW takes the place of CONFIG: give one or the other")
    gates = parse_gates(args.fail_if)
    old, old_label = load_config_argument(args.compare[0])
    new, new_label = load_config_argument(args.compare[1])
    try:
        comparison = compare(
            old,
            new,
            archetypes,
            players=args.players,
            days=args.days,
            seed=args.seed,
            start=args.start,
            jobs=jobs,
            progress=progress,
            confidence=args.confidence,
            resamples=args.resamples,
            old_label=old_label,
            new_label=new_label,
        )
    except ImportError as exc:
        raise CliError(str(exc), ExitCode.MISSING_EXTRA) from exc
    try:
        hits = comparison.gate(gates)
    except InvalidArgumentError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print_json(
            {
                **comparison.to_dict(),
                "old": config_source(old_label, old),
                "new": config_source(new_label, new),
                "fail_if": [gate.text for gate in gates],
                "failed": [hit.to_dict() for hit in hits],
            }
        )
    else:
        print("\n".join(comparison_lines(comparison, gates, hits)))
    return (ExitCode.INVALID if hits else ExitCode.OK), comparison


def comparison_lines(
    comparison: Comparison, gates: Sequence[Condition] = (), hits: Sequence[GateHit] = ()
) -> list[str]:
    """The comparison as text: a verdict table per archetype, then the gate."""
    old, new = comparison.old, comparison.new
    level = f"{comparison.confidence:.0%}"
    out = [
        f"Compared {comparison.old_label} (fingerprint {old.config.fingerprint}) with "
        f"{comparison.new_label} (fingerprint {new.config.fingerprint}):",
        f"the same {old.players:,} players for {old.days:,} days from "
        f"{old.start.isoformat()} (seed {old.seed}); {level} intervals from "
        f"{comparison.resamples:,} paired bootstrap resamples.",
    ]
    for archetype in comparison.archetypes:
        out += ["", f"== {archetype.name}: {archetype.players:,} players =="]
        if not archetype.players:
            out.append("(no players: raise --players to compare this archetype)")
            continue
        quiet = ("unchanged", "never in both")
        shown = [f for f in archetype.figures if f.verdict not in quiet]
        same = [f.name for f in archetype.figures if f.verdict == "unchanged"]
        never = [f.name for f in archetype.figures if f.verdict == "never in both"]
        if shown:
            out.append(
                format_table(
                    ["Figure", "Old", "New", "Change", f"{level} interval", "Verdict"],
                    [
                        [
                            figure.name,
                            _value(figure.name, figure.old),
                            _value(figure.name, figure.new),
                            _change(figure.change),
                            _interval(figure),
                            figure.verdict,
                        ]
                        for figure in shown
                    ],
                    align="lrrrrl",
                )
            )
        if same:
            out.append(f"Unchanged for every player: {', '.join(same)}.")
        if never:
            out.append(f"Reached under neither config: {', '.join(never)}.")
    if gates:
        out += ["", "Gate (--fail-if):"]
        for gate in gates:
            fired = [hit for hit in hits if hit.condition == gate.text]
            if not fired:
                out.append(f"  passed: {gate.text}")
            for hit in fired:
                values = ", ".join(f"{name} = {_plain(v)}" for name, v in hit.values.items())
                out.append(f"  FAILED for {hit.archetype}: {gate.text} ({values})")
    return out


def _value(name: str, value: float) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never"
    if ".days." in name or name.startswith("final_exp"):
        return f"{value:,.0f}"
    if name.endswith(("share", "rate")):
        # Rare events (a cap hit on 0.3% of days) keep two significant digits.
        return f"{value:.1%}" if value == 0 or value >= 0.01 else f"{value:.2g}"
    return f"{value:,.2f}" if value == 0 or value >= 0.1 else f"{value:.2g}"


def _change(change: float) -> str:
    if math.isnan(change):
        return "-"
    if math.isinf(change):
        return "+inf" if change > 0 else "-inf"
    return f"{change:+.1%}"


def _interval(figure: FigureChange) -> str:
    if math.isnan(figure.change_low):
        return "-"
    return f"[{_change(figure.change_low)}, {_change(figure.change_high)}]"


def _plain(value: Any) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)
