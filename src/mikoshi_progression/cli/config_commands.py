"""Reading a config: ``validate CONFIG`` and ``levels [CONFIG]``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from ..core.config import ProgressionConfig
from ..core.lint import ConfigWarning, config_warnings
from ..core.milestones import Milestone
from ..errors import ConfigError
from ._common import (
    Command,
    ExitCode,
    add_config_argument,
    config_source,
    format_table,
    load_config_argument,
    print_json,
)

__all__ = ["LEVELS", "VALIDATE"]


# --- validate ---------------------------------------------------------------------------


def _configure_validate(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser, optional=False)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings as problems: exit 1 if there is any",
    )


def _run_validate(args: argparse.Namespace) -> int:
    try:
        config, label = load_config_argument(args.config)
    except ConfigError as exc:  # a file that cannot be read at all is a CliError (exit 2)
        problems = list(exc.problems)
        if args.json:
            print_json({"source": args.config, "valid": False, "problems": problems})
        else:
            count = len(problems)
            print(f"{args.config}: {count} problem{'s' if count != 1 else ''}")
            for problem in problems:
                print(f"  {problem}")
        return ExitCode.INVALID
    levers = _levers_doc(config) if config.uses_levers else None
    warnings = config_warnings(config)
    _print_warnings(warnings)
    failed = args.strict and bool(warnings)
    if args.json:
        doc: dict[str, Any] = {
            "source": label,
            "valid": not failed,
            "problems": [],
            "fingerprint": config.fingerprint,
            "levels": config.max_level,
            "actions": len(config.actions),
        }
        if levers is not None:
            doc |= levers
        if warnings:
            doc["warnings"] = [asdict(warning) for warning in warnings]
        print_json(doc)
    elif failed:
        count = len(warnings)
        plural = "s" if count != 1 else ""
        print(f"{label}: {count} warning{plural}, and --strict makes warnings problems")
    else:
        print(
            f"OK: {label} is valid ({config.max_level} levels, {len(config.actions)} actions, "
            f"fingerprint {config.fingerprint})"
        )
        if levers is not None:
            print("\n".join(_levers_lines(levers)))
    return ExitCode.INVALID if failed else ExitCode.OK


def _print_warnings(warnings: tuple[ConfigWarning, ...]) -> None:
    """One line on stderr for each warning: stdout stays the report (or the JSON)."""
    for warning in warnings:
        sys.stderr.write(f"warning: {warning.path}: {warning.message}\n")


# --- the levers of a valid config --------------------------------------------------------


def _milestone_threshold(milestone: Milestone) -> str:
    if milestone.trigger == "count":
        return f"{milestone.action} x{milestone.threshold:,}"
    return f"{milestone.trigger} {milestone.threshold:,}"


def _levers_doc(config: ProgressionConfig) -> dict[str, Any]:
    """The lever sections, summarised, and what a designer should look at twice."""
    boosts, streak = config.boosts, config.streak
    notes = [
        f"milestone {m.name!r} is reached at a streak of {m.threshold}, but the config keeps "
        "no streak: it can never be unlocked"
        for m in config.milestones
        if m.trigger == "streak" and streak is None
    ]
    return {
        "boosts": None if boosts is None else boosts.to_dict(),
        "streak": None if streak is None else streak.to_dict(),
        "milestones": [m.to_dict() for m in config.milestones],
        "notes": notes,
    }


def _levers_lines(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    boosts = doc["boosts"]
    if boosts is not None:
        windows = boosts["windows"]
        cap = "the cap raised too" if boosts["raise_cap"] else "the cap not raised"
        out.append(
            f"  boosts: {len(windows)} window{'s' if len(windows) != 1 else ''} "
            f"(stacking {boosts['stacking']}, {cap})"
        )
        for w in windows:
            scope = ", ".join(w["actions"]) if "actions" in w else "every action"
            out.append(
                f"    {w['name']}: x{w['multiplier']} from {w['starts']} to {w['ends']}, {scope}"
            )
    streak = doc["streak"]
    if streak is not None:
        text = f"  streak: on {streak['action']}"
        if streak["grace_minutes"]:
            text += f", {streak['grace_minutes']} minutes of grace"
        if streak["freeze_every"]:
            text += (
                f", a freeze every {streak['freeze_every']} days (at most {streak['max_freezes']})"
            )
        bonuses = streak["bonuses"]
        if bonuses:
            listed = ", ".join(f"{n} days +{exp:,}" for n, exp in bonuses.items())
            cap = "" if streak["bonus_cap_exempt"] else ", within the daily cap"
            text += f"; bonuses {listed}{cap}"
        out.append(text)
    milestones = doc["milestones"]
    if milestones:
        out.append(f"  milestones: {len(milestones)}")
        for m in milestones:
            found = Milestone.from_dict(m)
            bonus = f", +{found.bonus_exp:,} EXP" if found.bonus_exp else ""
            out.append(f"    {found.name}: {_milestone_threshold(found)}{bonus}")
    out += [f"Note: {note}" for note in doc["notes"]]
    return out


VALIDATE = Command(
    "validate",
    "check a config file and list every problem",
    _configure_validate,
    _run_validate,
    "Check a config file. Prints every problem with its location and exits 1 if there "
    "is any; prints one OK line and exits 0 otherwise. What a valid config probably got "
    "wrong (a misspelt action or level name, an action of the platform's table left out) "
    "is a warning on stderr; --strict makes warnings problems (exit 1).",
)


# --- levels -------------------------------------------------------------------------------


def _configure_levels(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def _level_rows(config: ProgressionConfig) -> list[dict[str, Any]]:
    rows = []
    previous: int | None = None
    # Milestones reached at a level, or at a total EXP within it, listed with the level
    # (a config with none keeps the rows it always had).
    at_levels = [m for m in config.milestones if m.trigger in ("level", "exp")]
    for level in config.levels:
        row: dict[str, Any] = {
            "number": level.number,
            "name": level.name,
            "unlock": level.unlock,
            "exp_required": level.exp_required,
            "exp_from_previous": None if previous is None else level.exp_required - previous,
            "daily_exp_cap": config.cap_for_level(level.number),
            "features": sorted(f for f, n in config.features.items() if n == level.number),
        }
        if at_levels:
            row["milestones"] = [
                m.name
                for m in at_levels
                if (config.level_for_exp(m.threshold) if m.trigger == "exp" else m.threshold)
                == level.number
            ]
        rows.append(row)
        previous = level.exp_required
    return rows


def _run_levels(args: argparse.Namespace) -> int:
    config, label = load_config_argument(args.config)
    rows = _level_rows(config)
    if args.json:
        print_json({"config": config_source(label, config), "levels": rows})
        return ExitCode.OK
    print(f"Levels of {label} (fingerprint {config.fingerprint})\n")
    print(
        format_table(
            ["Level", "Name", "Unlock", "EXP required", "From previous", "Daily cap"],
            [
                [
                    r["number"],
                    r["name"],
                    r["unlock"],
                    r["exp_required"],
                    r["exp_from_previous"],
                    r["daily_exp_cap"],
                ]
                for r in rows
            ],
            "rllrrr",
        )
    )
    unlocks = [f"level {r['number']}: {', '.join(r['features'])}" for r in rows if r["features"]]
    if unlocks:
        print("\nFeatures unlocked: " + "; ".join(unlocks))
    reached = [
        f"level {r['number']}: {', '.join(r['milestones'])}" for r in rows if r.get("milestones")
    ]
    if reached:
        print("Milestones by level: " + "; ".join(reached))
    return ExitCode.OK


LEVELS = Command(
    "levels",
    "show the level table",
    _configure_levels,
    _run_levels,
    "Show each level: its number, name, unlock, total EXP required, EXP from the "
    "previous level and daily EXP cap, and the milestones that come with it.",
)
