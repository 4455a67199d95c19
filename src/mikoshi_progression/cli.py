"""The ``mikoshi-progression`` command-line tool, for game designers and integrators.

Commands::

    validate CONFIG                 check a config file, listing every problem
    levels [CONFIG]                 the level table
    explain [CONFIG] --action A     one award, step by step
    diff OLD NEW [--states FILE]    what a retune changes, and for which users
    simulate [CONFIG]               the balance simulator

Every command prints aligned tables by default and one JSON document on stdout
with ``--json``. A CONFIG is a ``.toml`` or ``.json`` file, or the word
``default`` for the built-in rules; where it may be omitted, the built-in rules
are used.

Exit codes (:class:`ExitCode`):

    0    success
    1    an invalid config or archetype file (every problem is printed), or
         ``validate`` found problems
    2    usage error or bad input: an unknown option, a missing or unreadable
         file, malformed TOML or JSON, a bad timestamp, an unknown action, an
         invalid state
    3    a feature needs an optional extra that is not installed (``--plot``
         needs ``mikoshi-progression[plot]``)
    130  interrupted (Ctrl-C)

Errors are one line on stderr (an invalid config adds one line per problem);
a user error never prints a traceback.

Adding a command: write a ``configure(parser)`` function that adds its
arguments and a ``run(args) -> int`` function, and append a :class:`Command` to
:data:`COMMANDS`. A command with sub-commands (``schema init|check``) adds its
own sub-parsers in ``configure``, passing ``parents=[output_options()]`` to
each and setting ``run`` on each with ``set_defaults(run=...)``; its
:class:`Command` then has ``run=None``. Raise :class:`CliError` for bad input;
use :func:`load_config_argument`, :func:`print_json` and :func:`format_table`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .config import DEFAULT_CONFIG, ProgressionConfig, load_config
from .daily import is_new_day, reset_daily_limits_if_needed
from .errors import ConfigError, StateError
from .levels import level_progress
from .results import AwardResult, Outcome
from .rules import award_exp_with_limits
from .simulation import (
    DEFAULT_ARCHETYPES,
    DEFAULT_START,
    SimulationReport,
    default_jobs,
    load_archetypes,
    plot_exp_curves,
    simulate,
)
from .state import ProgressState

__all__ = [
    "COMMANDS",
    "CliError",
    "Command",
    "ExitCode",
    "build_parser",
    "format_table",
    "load_config_argument",
    "main",
    "output_options",
    "print_json",
]

PROG = "mikoshi-progression"
DEFAULT_WORD = "default"
"""A CONFIG argument naming the built-in rules instead of a file."""


class ExitCode(IntEnum):
    """The tool's exit statuses."""

    OK = 0
    INVALID = 1
    """An invalid config or archetype file; ``validate`` found problems."""
    USAGE = 2
    """Bad usage or bad input (argparse uses 2 too)."""
    MISSING_EXTRA = 3
    """An optional dependency is not installed."""
    INTERRUPTED = 130


class CliError(Exception):
    """A user error: printed as one line on stderr, and the tool exits with ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Command:
    """One sub-command of the tool.

    Attributes:
        name: What the user types (``levels``).
        help: One line for the command list.
        configure: Adds the command's arguments to its parser.
        run: Runs the command and returns the exit code; ``None`` for a command
            whose ``configure`` adds sub-commands that set their own ``run``.
        description: Longer text for ``<command> --help`` (defaults to ``help``).
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int] | None
    description: str = ""


# --- shared helpers ------------------------------------------------------------------


def output_options() -> argparse.ArgumentParser:
    """A parent parser with the options every command takes (``--json``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout instead of tables",
    )
    return parent


def print_json(document: Any) -> None:
    """Write ``document`` to stdout as indented JSON with a final newline."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    """Rows as an aligned text table under ``headers``.

    ``align`` has one letter per column, ``l`` or ``r`` (default: numbers right,
    text left). ``None`` shows as ``-``.

    >>> print(format_table(["Level", "Name"], [[1, "Newbie"], [10, "Master"]]))
    Level  Name
    -----  ------
        1  Newbie
       10  Master
    """
    body = [list(row) for row in rows]
    if not align:
        align = "".join(
            "r" if body and all(isinstance(r[i], int | float) for r in body) else "l"
            for i in range(len(headers))
        )
    cells = [[_cell(value) for value in row] for row in body]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if side == "r" else value.ljust(width)
            for value, width, side in zip(values, widths, align, strict=True)
        ]
        return "  ".join(parts).rstrip()

    header_line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([header_line, rule, *(line(row) for row in cells)])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def _is_file_problem(exc: ConfigError) -> bool:
    """Whether ``exc`` is about reading a file rather than about its content."""
    return bool(exc.problems) and all(p.startswith("file:") for p in exc.problems)


def _file_error(exc: ConfigError) -> CliError:
    detail = "; ".join(p.removeprefix("file:").strip() for p in exc.problems)
    return CliError(f"{exc.source}: {detail}" if exc.source else detail)


def load_config_argument(value: str | None) -> tuple[ProgressionConfig, str]:
    """The config a CONFIG argument names, and a label for it.

    ``None`` or ``"default"`` gives the built-in rules. A file that cannot be
    read or parsed raises :class:`CliError` (exit 2); a file describing an
    invalid config raises :class:`~mikoshi_progression.ConfigError` (exit 1).
    """
    if value is None or value == DEFAULT_WORD:
        return DEFAULT_CONFIG, "built-in default"
    try:
        return load_config(value), value
    except ConfigError as exc:
        if _is_file_problem(exc):
            raise _file_error(exc) from exc
        raise


def _config_source(label: str, config: ProgressionConfig) -> dict[str, str]:
    return {"source": label, "fingerprint": config.fingerprint}


def _add_config(parser: argparse.ArgumentParser, *, optional: bool = True) -> None:
    if optional:
        parser.add_argument(
            "config",
            nargs="?",
            metavar="CONFIG",
            help="a .toml or .json config file, or 'default' (default: the built-in rules)",
        )
    else:
        parser.add_argument(
            "config", metavar="CONFIG", help="a .toml or .json config file, or 'default'"
        )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"{option}: {text!r} is not an ISO 8601 timestamp (e.g. 2026-01-01T12:00:00Z)"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CliError(
            f"{option}: {text!r} has no time zone; add one (e.g. {text}Z or {text}+09:00)"
        )
    return moment


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{what} {path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{what} {path}: not UTF-8 text ({exc.reason})") from exc


# --- validate ---------------------------------------------------------------------------


def _configure_validate(parser: argparse.ArgumentParser) -> None:
    _add_config(parser, optional=False)


def _run_validate(args: argparse.Namespace) -> int:
    try:
        config, label = load_config_argument(args.config)
    except ConfigError as exc:
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


# --- levels -------------------------------------------------------------------------------


def _configure_levels(parser: argparse.ArgumentParser) -> None:
    _add_config(parser)


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
        print_json({"config": _config_source(label, config), "levels": rows})
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


# --- explain ------------------------------------------------------------------------------


def _configure_explain(parser: argparse.ArgumentParser) -> None:
    _add_config(parser)
    parser.add_argument("--action", required=True, help="the action to award")
    parser.add_argument(
        "--state",
        metavar="JSON",
        help="the user's state as ProgressState.to_dict() JSON, inline or @file.json "
        "(default: a new user)",
    )
    parser.add_argument(
        "--at",
        metavar="ISO",
        help="when the award happens, an ISO 8601 timestamp with a time zone (default: now)",
    )


def _parse_state(value: str | None) -> ProgressState:
    if value is None:
        return ProgressState()
    text = _read_text(value[1:], "--state") if value.startswith("@") else value
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"--state: malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CliError("--state: must be a JSON object (ProgressState.to_dict() form)")
    try:
        return ProgressState.from_dict(data)
    except (StateError, ValueError, TypeError) as exc:
        raise CliError(f"--state: {exc}") from exc


def _explain(
    state: ProgressState, action: str, at: datetime, config: ProgressionConfig
) -> tuple[AwardResult, dict[str, Any]]:
    """Award once with the real rules, then describe each step from the result."""
    result = award_exp_with_limits(state, action, now=at, config=config)
    if result.outcome is Outcome.INVALID_ACTION:
        known = ", ".join(config.actions)
        raise CliError(f"--action: {result.reason} (known actions: {known})")
    rule = config.actions[action]
    boundary = config.day_boundary
    opened = reset_daily_limits_if_needed(state, now=at, config=config)
    new_day = is_new_day(state, now=at, config=config)
    last = state.last_exp_reset_date
    outcome = result.outcome
    count = opened.daily_action_counts.get(action, 0)
    limited = outcome is Outcome.ACTION_LIMIT
    cap = config.cap_for_level(opened.level)
    gained = opened.daily_exp_gained
    after = result.state
    doc: dict[str, Any] = {
        "action": action,
        "at": at.isoformat(),
        "day": {
            "today": boundary.day_of(at).isoformat(),
            "last_reset": None if last is None else last.isoformat(),
            "last_reset_day": None if last is None else boundary.day_of(last).isoformat(),
            "new_day": new_day,
            "earlier_than_last_reset": last is not None
            and boundary.day_of(at) < boundary.day_of(last),
            "gained_before_reset": state.daily_exp_gained,
        },
        "limit": {
            "count_today": count,
            "daily_limit": rule.daily_limit,
            "reached": limited,
        },
        "cap": {
            "checked": not limited,
            "exempt": rule.cap_exempt,
            "level": opened.level,
            "daily_exp_cap": cap,
            "gained_today": gained,
            "room": max(0, cap - gained),
            "reached": outcome is Outcome.DAILY_CAP,
        },
        "award": {
            "reward": rule.exp,
            "exp_added": result.exp_added,
            "partial": outcome is Outcome.PARTIAL,
            "cut_by_cap": rule.exp - result.exp_added if result.success else 0,
            "creator_award": rule.creator_award,
        },
        "level": {
            "before": result.previous_level,
            "after": after.level,
            "leveled_up": result.leveled_up,
            "progress": level_progress(after.exp, config, level=after.level),
        },
        "outcome": outcome.value,
        "http_status": result.http_status,
        "reason": result.reason,
        "resets_at": result.resets_at.isoformat(),
        "state_before": state.to_dict(),
        "state_after": after.to_dict(),
        "response": result.to_dict(),
    }
    return result, doc


def _explain_lines(
    result: AwardResult, doc: Mapping[str, Any], config: ProgressionConfig
) -> list[str]:
    day, limit, cap, award, level = (doc[k] for k in ("day", "limit", "cap", "award", "level"))
    action = doc["action"]
    if day["last_reset"] is None:
        text = f"new user, no day opened yet: day {day['today']} opens"
    elif day["new_day"]:
        text = (
            f"new day {day['today']} opens (last reset {day['last_reset']}, day "
            f"{day['last_reset_day']}): daily EXP gained {day['gained_before_reset']} -> 0, "
            "action counts cleared"
        )
    elif day["earlier_than_last_reset"]:
        text = (
            f"{doc['at']} is on day {day['today']}, earlier than the last reset's day "
            f"{day['last_reset_day']}: days only move forward, no reset"
        )
    else:
        text = f"same day {day['today']} as the last reset ({day['last_reset']}): no reset"
    steps = [("Day", text)]

    if limit["daily_limit"] is None:
        text = f"{action} has no daily limit ({limit['count_today']} awarded today) -> allowed"
    elif limit["reached"]:
        text = (
            f"{action} already awarded {limit['count_today']} of {limit['daily_limit']} times "
            "today -> REJECTED"
        )
    else:
        text = (
            f"{action} awarded {limit['count_today']} of {limit['daily_limit']} times today "
            f"-> allowed (this is number {limit['count_today'] + 1})"
        )
    steps.append(("Limit", text))

    if not cap["checked"]:
        text = "not checked (rejected by the action limit)"
    elif cap["exempt"]:
        text = f"{action} is exempt from the daily cap: full reward, not counted toward today's EXP"
    else:
        text = (
            f"level {cap['level']} cap {cap['daily_exp_cap']} EXP/day, {cap['gained_today']} "
            f"gained today, room {cap['room']}"
        )
        text += " -> REJECTED" if cap["reached"] else " -> allowed"
    steps.append(("Cap", text))

    if result.success:
        if award["partial"]:
            text = (
                f"PARTIAL award: +{award['exp_added']} of {award['reward']} EXP (the cap cut "
                f"{award['cut_by_cap']})"
            )
        else:
            text = f"+{award['exp_added']} EXP (the full reward)"
        if not cap["exempt"]:
            text += (
                f"; daily EXP gained {cap['gained_today']} -> "
                f"{doc['state_after']['daily_exp_gained']}"
            )
        if award["creator_award"]:
            text += " (a creator award: it goes to the target's creator)"
    else:
        text = f"no EXP: {doc['reason']}"
    steps.append(("Award", text))

    progress = level["progress"]
    after = config.level(level["after"])
    if level["leveled_up"]:
        text = (
            f"LEVEL UP {level['before']} -> {level['after']} ({after.name}): unlocks {after.unlock}"
        )
    else:
        text = f"level {level['after']} ({after.name}), no level-up"
    if progress["is_max_level"]:
        text += "; the top level"
    else:
        text += (
            f"; {progress['exp_to_next_level']} EXP to level {level['after'] + 1} "
            f"({progress['progress_percentage']}%)"
        )
    steps.append(("Level", text))

    out = [f"{action} at {doc['at']}", ""]
    out += [f"{i}. {name:<6} {text}" for i, (name, text) in enumerate(steps, 1)]
    before, state_after = doc["state_before"], doc["state_after"]
    out += [
        "",
        f"Outcome: {doc['outcome']} (HTTP {doc['http_status']})"
        + (f": {doc['reason']}" if doc["reason"] else ""),
        f"EXP {before['exp']} -> {state_after['exp']}, level {before['level']} -> "
        f"{state_after['level']}, today's EXP {state_after['daily_exp_gained']}"
        f"/{config.cap_for_level(state_after['level'])}, next reset {doc['resets_at']}",
    ]
    if day["new_day"] and not result.success:
        out.append("The day's reset is in the new state even though the award was rejected.")
    return out


def _run_explain(args: argparse.Namespace) -> int:
    config, label = load_config_argument(args.config)
    state = _parse_state(args.state)
    at = datetime.now(UTC) if args.at is None else _moment(args.at, "--at")
    result, doc = _explain(state, args.action, at, config)
    if args.json:
        print_json({"config": _config_source(label, config), **doc})
    else:
        print("\n".join(_explain_lines(result, doc, config)))
    return ExitCode.OK


# --- diff ---------------------------------------------------------------------------------


def _configure_diff(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD", help="the config in force (file or 'default')")
    parser.add_argument("new", metavar="NEW", help="the retuned config (file or 'default')")
    parser.add_argument(
        "--states",
        metavar="FILE",
        help="users to check: a JSON array or JSON-lines file of objects with user_id and "
        "exp (and optionally level)",
    )


def _config_diff(old: ProgressionConfig, new: ProgressionConfig) -> dict[str, Any]:
    old_levels = {lv.number: lv for lv in old.levels}
    new_levels = {lv.number: lv for lv in new.levels}

    def level_dict(number: int, config: ProgressionConfig) -> dict[str, Any]:
        lv = config.level(number)
        return {
            "number": number,
            "name": lv.name,
            "unlock": lv.unlock,
            "exp_required": lv.exp_required,
        }

    both = sorted(old_levels.keys() & new_levels.keys())
    levels = {
        "added": [level_dict(n, new) for n in sorted(new_levels.keys() - old_levels.keys())],
        "removed": [level_dict(n, old) for n in sorted(old_levels.keys() - new_levels.keys())],
        "renamed": [
            {"number": n, "old": old_levels[n].name, "new": new_levels[n].name}
            for n in both
            if old_levels[n].name != new_levels[n].name
        ],
        "unlock_changed": [
            {"number": n, "old": old_levels[n].unlock, "new": new_levels[n].unlock}
            for n in both
            if old_levels[n].unlock != new_levels[n].unlock
        ],
        "thresholds": [
            {
                "number": n,
                "name": new_levels[n].name,
                "old": old_levels[n].exp_required,
                "new": new_levels[n].exp_required,
                "delta": new_levels[n].exp_required - old_levels[n].exp_required,
            }
            for n in both
            if old_levels[n].exp_required != new_levels[n].exp_required
        ],
    }
    old_actions, new_actions = old.actions, new.actions
    fields = ("exp", "daily_limit", "cap_exempt", "creator_award")

    def rule_dict(name: str, config: ProgressionConfig) -> dict[str, Any]:
        rule = config.actions[name]
        return {"action": name, **{f: getattr(rule, f) for f in fields}}

    actions = {
        "added": [rule_dict(a, new) for a in new_actions if a not in old_actions],
        "removed": [rule_dict(a, old) for a in old_actions if a not in new_actions],
        "changed": [
            {
                "action": a,
                "field": f,
                "old": getattr(old_actions[a], f),
                "new": getattr(new_actions[a], f),
            }
            for a in old_actions
            if a in new_actions
            for f in fields
            if getattr(old_actions[a], f) != getattr(new_actions[a], f)
        ],
    }
    caps = [
        {"level": n, "old": old.daily_exp_caps.get(n), "new": new.daily_exp_caps.get(n)}
        for n in sorted(old.daily_exp_caps.keys() | new.daily_exp_caps.keys())
        if old.daily_exp_caps.get(n) != new.daily_exp_caps.get(n)
    ]
    features = {
        "added": [
            {"feature": f, "level": n} for f, n in new.features.items() if f not in old.features
        ],
        "removed": [
            {"feature": f, "level": n} for f, n in old.features.items() if f not in new.features
        ],
        "moved": [
            {"feature": f, "old": n, "new": new.features[f]}
            for f, n in old.features.items()
            if f in new.features and new.features[f] != n
        ],
    }
    settings = [
        {"setting": s, "old": getattr(old, s), "new": getattr(new, s)}
        for s in ("reset_timezone", "reset_hour", "levels_can_drop")
        if getattr(old, s) != getattr(new, s)
    ]
    return {
        "identical": old == new,
        "levels": levels,
        "actions": actions,
        "daily_exp_caps": caps,
        "features": features,
        "settings": settings,
    }


@dataclass(frozen=True, slots=True)
class _UserExp:
    user_id: str
    exp: int
    level: int | None


def _read_states(path: str) -> list[_UserExp]:
    text = _read_text(path, "--states")
    records: list[tuple[str, object]] = []
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"--states {path}: malformed JSON: {exc}") from exc
        records = [(f"item {i}", item) for i, item in enumerate(data)]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise CliError(f"--states {path}: line {number}: malformed JSON: {exc}") from exc
    users = []
    for where, record in records:
        if not isinstance(record, dict):
            raise CliError(f"--states {path}: {where}: must be a JSON object")
        user_id = record.get("user_id")
        exp = record.get("exp")
        level = record.get("level")
        if not isinstance(user_id, str | int) or isinstance(user_id, bool):
            raise CliError(f"--states {path}: {where}: user_id must be a string, got {user_id!r}")
        if not isinstance(exp, int) or isinstance(exp, bool) or exp < 0:
            raise CliError(
                f"--states {path}: {where}: exp must be a non-negative integer, got {exp!r}"
            )
        if level is not None and (
            not isinstance(level, int) or isinstance(level, bool) or level < 1
        ):
            raise CliError(
                f"--states {path}: {where}: level must be a positive integer, got {level!r}"
            )
        users.append(_UserExp(str(user_id), exp, level))
    return users


_EXAMPLES = 10


def _states_diff(
    users: Sequence[_UserExp], old: ProgressionConfig, new: ProgressionConfig, source: str
) -> dict[str, Any]:
    transitions: dict[tuple[int, int], int] = {}
    up = down = 0
    examples: list[dict[str, Any]] = []
    mismatched = 0
    has_levels = False
    for user in users:
        before = old.level_for_exp(user.exp)
        after = new.level_for_exp(user.exp)
        if user.level is not None:
            has_levels = True
            mismatched += user.level != before
        if before == after:
            continue
        transitions[before, after] = transitions.get((before, after), 0) + 1
        if after > before:
            up += 1
        else:
            down += 1
        if len(examples) < _EXAMPLES:
            examples.append(
                {"user_id": user.user_id, "exp": user.exp, "old_level": before, "new_level": after}
            )
    return {
        "source": source,
        "users": len(users),
        "unchanged": len(users) - up - down,
        "up": up,
        "down": down,
        "transitions": [
            {"old_level": a, "new_level": b, "users": n}
            for (a, b), n in sorted(transitions.items())
        ],
        "stored_level_mismatch": mismatched if has_levels else None,
        "examples": examples,
    }


def _diff_lines(doc: Mapping[str, Any], new: ProgressionConfig) -> list[str]:
    out = [
        f"{doc['old']['source']} ({doc['old']['fingerprint']}) -> "
        f"{doc['new']['source']} ({doc['new']['fingerprint']})"
    ]
    if doc["identical"]:
        out.append("\nThe rules are identical.")
    levels, actions, features = doc["levels"], doc["actions"], doc["features"]
    rows: list[list[object]] = []
    rows += [
        ["added", f"{x['number']} {x['name']}", f"at {x['exp_required']:,} EXP"]
        for x in levels["added"]
    ]
    rows += [
        ["removed", f"{x['number']} {x['name']}", f"was at {x['exp_required']:,} EXP"]
        for x in levels["removed"]
    ]
    rows += [["renamed", str(x["number"]), f"{x['old']} -> {x['new']}"] for x in levels["renamed"]]
    rows += [
        ["unlock", str(x["number"]), f"{x['old']!r} -> {x['new']!r}"]
        for x in levels["unlock_changed"]
    ]
    if rows:
        out += ["", "Levels", format_table(["Change", "Level", "Detail"], rows, "lll")]
    if levels["thresholds"]:
        out += [
            "",
            "Thresholds",
            format_table(
                ["Level", "Old EXP", "New EXP", "Delta"],
                [
                    [f"{x['number']} {x['name']}", x["old"], x["new"], f"{x['delta']:+,}"]
                    for x in levels["thresholds"]
                ],
                "lrrr",
            ),
        ]

    def rule_text(x: Mapping[str, Any]) -> str:
        limit = "no limit" if x["daily_limit"] is None else f"{x['daily_limit']}/day"
        flags = [f for f in ("cap_exempt", "creator_award") if x[f]]
        return ", ".join([f"{x['exp']} EXP", limit, *flags])

    rows = [["added", x["action"], rule_text(x)] for x in actions["added"]]
    rows += [["removed", x["action"], rule_text(x)] for x in actions["removed"]]
    rows += [
        ["changed", x["action"], f"{x['field']}: {_cell(x['old'])} -> {_cell(x['new'])}"]
        for x in actions["changed"]
    ]
    if rows:
        out += ["", "Actions", format_table(["Change", "Action", "Detail"], rows, "lll")]
    if doc["daily_exp_caps"]:
        out += [
            "",
            "Daily EXP caps",
            format_table(
                ["Level", "Old cap", "New cap"],
                [[x["level"], x["old"], x["new"]] for x in doc["daily_exp_caps"]],
                "rrr",
            ),
        ]
    rows = [["added", x["feature"], f"level {x['level']}"] for x in features["added"]]
    rows += [["removed", x["feature"], f"was level {x['level']}"] for x in features["removed"]]
    rows += [["moved", x["feature"], f"level {x['old']} -> {x['new']}"] for x in features["moved"]]
    if rows:
        out += ["", "Features", format_table(["Change", "Feature", "Detail"], rows, "lll")]
    if doc["settings"]:
        out += [
            "",
            "Settings",
            format_table(
                ["Setting", "Old", "New"],
                [[x["setting"], _cell(x["old"]), _cell(x["new"])] for x in doc["settings"]],
                "lll",
            ),
        ]
    states = doc["states"]
    if states is not None:
        out += [
            "",
            f"Users in {states['source']}: {states['users']:,}; level unchanged "
            f"{states['unchanged']:,}, up {states['up']:,}, down {states['down']:,}",
        ]
        if states["transitions"]:
            out.append(
                format_table(
                    ["Old level", "New level", "Users"],
                    [[t["old_level"], t["new_level"], t["users"]] for t in states["transitions"]],
                    "rrr",
                )
            )
        if states["examples"]:
            out += [
                "",
                f"Examples (the first {len(states['examples'])} users whose level changes)",
                format_table(
                    ["User", "EXP", "Old level", "New level"],
                    [
                        [e["user_id"], e["exp"], e["old_level"], e["new_level"]]
                        for e in states["examples"]
                    ],
                    "lrrr",
                ),
            ]
        if states["down"] and not new.levels_can_drop:
            out.append("")
            out.append(
                f"Note: NEW keeps levels from dropping (levels_can_drop = false); the "
                f"{states['down']:,} users whose EXP now buys a lower level keep their stored "
                "level unless you migrate them."
            )
        if states["stored_level_mismatch"]:
            out.append(
                f"Note: {states['stored_level_mismatch']:,} users' stored level differs from "
                "what their EXP buys under OLD."
            )
    return out


def _run_diff(args: argparse.Namespace) -> int:
    old, old_label = load_config_argument(args.old)
    new, new_label = load_config_argument(args.new)
    doc: dict[str, Any] = {
        "old": _config_source(old_label, old),
        "new": _config_source(new_label, new),
        **_config_diff(old, new),
        "states": None,
    }
    if args.states is not None:
        doc["states"] = _states_diff(_read_states(args.states), old, new, args.states)
    if args.json:
        print_json(doc)
    else:
        print("\n".join(_diff_lines(doc, new)))
    return ExitCode.OK


# --- simulate -----------------------------------------------------------------------------

_SMALL_RUN = 200_000  # player-days under which a run stays in one process by default


def _configure_simulate(parser: argparse.ArgumentParser) -> None:
    _add_config(parser)
    parser.add_argument(
        "--players", type=_positive_int, default=1000, help="players in all (default: 1000)"
    )
    parser.add_argument(
        "--days", type=_positive_int, default=365, help="days to simulate (default: 365)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--start",
        type=_date,
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
        type=_positive_int,
        default=None,
        help="worker processes (default: the number of CPUs, at most 8; small runs use 1); "
        "the report does not depend on it",
    )


class _ProgressBar:
    """A one-line progress bar redrawn in place on a terminal."""

    def __init__(self, stream: TextIO, label: str = "simulating") -> None:
        self._stream = stream
        self._label = label
        self._started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = done / total if total else 1.0
        filled = round(30 * share)
        elapsed = now - self._started
        eta = f", {elapsed / share - elapsed:.0f}s left" if 0 < share < 1 else ""
        text = (
            f"\r{self._label} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} players{eta}"
        )
        self._width = max(self._width, len(text))
        self._stream.write(text.ljust(self._width))
        self._stream.flush()

    def close(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()


def _check_plot_target(path: str) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise CliError(
            "--plot needs matplotlib, which is not installed: "
            "pip install 'mikoshi-progression[plot]'",
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
    config, label = load_config_argument(args.config)
    if args.archetypes is None:
        archetypes = DEFAULT_ARCHETYPES
    else:
        try:
            archetypes = load_archetypes(args.archetypes)
        except ConfigError as exc:
            if _is_file_problem(exc):
                raise _file_error(exc) from exc
            raise
    if args.plot is not None:
        _check_plot_target(args.plot)
    jobs = args.jobs
    if jobs is None:
        jobs = 1 if args.players * args.days < _SMALL_RUN else default_jobs()
    bar = _ProgressBar(sys.stderr) if sys.stderr.isatty() and not args.json else None
    try:
        report = simulate(
            config,
            archetypes,
            players=args.players,
            days=args.days,
            seed=args.seed,
            start=args.start or DEFAULT_START,
            jobs=jobs,
            progress=bar,
        )
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise CliError(str(exc)) from exc
    finally:
        if bar is not None:
            bar.close()
    plot = None
    if args.plot is not None:
        try:
            plot = str(plot_exp_curves(report, args.plot))
        except ImportError as exc:
            raise CliError(str(exc), ExitCode.MISSING_EXTRA) from exc
        except (OSError, ValueError) as exc:
            raise CliError(f"--plot {args.plot}: {exc}") from exc
    if args.json:
        print_json({"config": _config_source(label, config), **report.to_dict(), "plot": plot})
    else:
        print("\n".join(_simulation_lines(report, label)))
        if plot is not None:
            print(f"\nPlot written to {plot}")
    return ExitCode.OK


def _simulation_lines(report: SimulationReport, label: str) -> list[str]:
    out = [
        f"Simulated {report.players:,} players for {report.days:,} days from "
        f"{report.start.isoformat()} (seed {report.seed}; {label}, fingerprint "
        f"{report.config.fingerprint}): {report.attempts:,} award attempts",
    ]
    for part in report.archetypes:
        out += ["", f"== {part.archetype.name}: {part.players:,} players =="]
        if part.archetype.description:
            out.append(part.archetype.description)
        if not part.players:
            out.append("(no players: raise --players to simulate this archetype)")
            continue
        never = f"never = not reached in {report.days:,} days"
        out += [
            "",
            f"Days to reach each level ({never})",
            format_table(
                ["Level", "EXP", "p10", "Median", "p90", "Reached", "Never"],
                [
                    [
                        f"{r.level} {r.name}",
                        r.exp_required,
                        _days(r.p10),
                        _days(r.median),
                        _days(r.p90),
                        r.reached,
                        r.never,
                    ]
                    for r in part.levels
                ],
                "lrrrrrr",
            ),
        ]
        rows: list[list[object]] = [
            ["nominal (all attempts)", part.nominal_exp, _percent(1.0 if part.nominal_exp else 0)],
            ["awarded", part.awarded_exp, _percent(part.share(part.awarded_exp))],
            ["lost to the daily cap", part.cap_lost, _percent(part.share(part.cap_lost))],
        ]
        rows += [
            [
                f"  at level {n} (cap {report.config.cap_for_level(n):,})",
                exp,
                _percent(part.share(exp)),
            ]
            for n, exp in part.cap_loss.items()
        ]
        rows.append(
            ["lost to action limits", part.limit_lost, _percent(part.share(part.limit_lost))]
        )
        rows += [
            [f"  {a} ({report.config.actions[a].daily_limit}/day)", exp, _percent(part.share(exp))]
            for a, exp in part.limit_loss.items()
        ]
        capped = _percent(part.capped_days / part.active_days) if part.active_days else "-"
        out += [
            "",
            "Where EXP goes",
            format_table(["", "EXP", "Share"], rows, "lrr"),
            f"The cap bit on {part.capped_days:,} of {part.active_days:,} days played ({capped}).",
        ]
        summary = part.final_exp_summary()
        out += [
            "",
            "Final EXP: " + ", ".join(f"{k} {_cell(v)}" for k, v in summary.items()),
            "Final level: "
            + ", ".join(f"{n}: {count:,}" for n, count in part.final_levels.items()),
        ]
    return out


def _days(value: int | None) -> str:
    return "never" if value is None else f"{value:,}"


# --- the command table and the entry point ----------------------------------------------

COMMANDS: list[Command] = [
    Command(
        "validate",
        "check a config file and list every problem",
        _configure_validate,
        _run_validate,
        "Check a config file. Prints every problem with its location and exits 1 if there "
        "is any; prints one OK line and exits 0 otherwise.",
    ),
    Command(
        "levels",
        "show the level table",
        _configure_levels,
        _run_levels,
        "Show each level: its number, name, unlock, total EXP required, EXP from the "
        "previous level and daily EXP cap.",
    ),
    Command(
        "explain",
        "explain one award step by step",
        _configure_explain,
        _run_explain,
        "Award one action to a user with the real rules and explain each step: the daily "
        "reset, the action's limit, the daily cap, a partial award, a level-up.",
    ),
    Command(
        "diff",
        "show what a retune changes",
        _configure_diff,
        _run_diff,
        "Compare two configs: levels, thresholds, rewards, limits, caps, features and "
        "settings. With --states, count the users whose level would change.",
    ),
    Command(
        "simulate",
        "simulate players under a config (balance check)",
        _configure_simulate,
        _run_simulate,
        "Simulate player archetypes day by day through the real award rules and report "
        "days to each level, EXP lost to the daily cap and to each action's limit, and "
        "final EXP.",
    ),
]
"""The sub-commands, in the order ``--help`` lists them. Append to add one."""


def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The tool's argument parser with ``commands`` (default: :data:`COMMANDS`)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="EXP, levels, daily limits and caps: check, explain and simulate configs.",
        epilog="exit codes: 0 ok, 1 invalid config, 2 usage or bad input, "
        "3 optional extra missing, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS if commands is None else commands:
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            parents=[output_options()],
        )
        command.configure(child)
        if command.run is not None:
            child.set_defaults(run=command.run)
    return parser


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Run the tool with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    try:
        return int(args.run(args))
    except CliError as exc:
        _error(str(exc))
        return exc.code
    except ConfigError as exc:
        count = len(exc.problems)
        where = f" in {exc.source}" if exc.source else ""
        _error(f"invalid configuration: {count} problem{'s' if count != 1 else ''}{where}")
        for problem in exc.problems:
            sys.stderr.write(f"  {problem}\n")
        return ExitCode.INVALID
    except KeyboardInterrupt:
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as other tools do.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return ExitCode.OK
