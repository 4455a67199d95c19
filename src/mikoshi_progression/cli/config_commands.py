"""Reading a config: ``validate CONFIG`` and ``levels [CONFIG]``."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.config import ProgressionConfig
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
    if args.json:
        print_json(
            {
                "source": label,
                "valid": True,
                "problems": [],
                "fingerprint": config.fingerprint,
                "levels": config.max_level,
                "actions": len(config.actions),
            }
        )
    else:
        print(
            f"OK: {label} is valid ({config.max_level} levels, {len(config.actions)} actions, "
            f"fingerprint {config.fingerprint})"
        )
    return ExitCode.OK


VALIDATE = Command(
    "validate",
    "check a config file and list every problem",
    _configure_validate,
    _run_validate,
    "Check a config file. Prints every problem with its location and exits 1 if there "
    "is any; prints one OK line and exits 0 otherwise.",
)


# --- levels -------------------------------------------------------------------------------


def _configure_levels(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def _level_rows(config: ProgressionConfig) -> list[dict[str, Any]]:
    rows = []
    previous: int | None = None
    for level in config.levels:
        rows.append(
            {
                "number": level.number,
                "name": level.name,
                "unlock": level.unlock,
                "exp_required": level.exp_required,
                "exp_from_previous": None if previous is None else level.exp_required - previous,
                "daily_exp_cap": config.cap_for_level(level.number),
                "features": sorted(f for f, n in config.features.items() if n == level.number),
            }
        )
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
    return ExitCode.OK


LEVELS = Command(
    "levels",
    "show the level table",
    _configure_levels,
    _run_levels,
    "Show each level: its number, name, unlock, total EXP required, EXP from the "
    "previous level and daily EXP cap.",
)
