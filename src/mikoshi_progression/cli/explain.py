"""``explain [CONFIG] --action A [--state JSON] [--at ISO]``: one award, step by step.

The award is made once with the real :func:`~mikoshi_progression.award_exp_with_limits`;
every verdict shown comes from its result, nothing about the rules is re-implemented.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..core.config import ProgressionConfig
from ..core.daily import is_new_day, reset_daily_limits_if_needed
from ..core.levels import level_progress
from ..core.results import AwardResult, Outcome
from ..core.rules import award_exp_with_limits
from ..core.state import ProgressState
from ..errors import StateError
from ._common import (
    CliError,
    Command,
    ExitCode,
    add_config_argument,
    config_source,
    load_config_argument,
    moment,
    print_json,
    read_text,
)

__all__ = ["EXPLAIN"]


def _configure_explain(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
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
    text = read_text(value[1:], "--state") if value.startswith("@") else value
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
    at = datetime.now(UTC) if args.at is None else moment(args.at, "--at")
    result, doc = _explain(state, args.action, at, config)
    if args.json:
        print_json({"config": config_source(label, config), **doc})
    else:
        print("\n".join(_explain_lines(result, doc, config)))
    return ExitCode.OK


EXPLAIN = Command(
    "explain",
    "explain one award step by step",
    _configure_explain,
    _run_explain,
    "Award one action to a user with the real rules and explain each step: the daily "
    "reset, the action's limit, the daily cap, a partial award, a level-up.",
)
