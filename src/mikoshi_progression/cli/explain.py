"""``explain [CONFIG] (--action A [--at ISO] | --history FILE) [--state JSON]``: awards,
step by step.

Each award is made with the real :func:`~mikoshi_progression.award_exp_with_limits`;
every verdict shown comes from its result, nothing about the rules is re-implemented.
With ``--history`` a user's awards are made one after the other, each explained, so a
designer sees a streak grow, break or freeze, boosts come and go, milestones unlock.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..core.config import ProgressionConfig
from ..core.daily import is_new_day, reset_daily_limits_if_needed
from ..core.levels import level_progress
from ..core.results import AwardResult, Outcome
from ..core.rules import award_exp_with_limits
from ..core.state import ProgressState
from ..core.zones import boundary_for, current_day
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
from ._explain_levers import (
    boost_doc,
    boost_text,
    milestone_doc,
    milestone_text,
    streak_doc,
    streak_text,
)
from ._history import read_history

__all__ = ["EXPLAIN"]


def _configure_explain(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--action", help="the action to award")
    what.add_argument(
        "--history",
        metavar="FILE",
        help="a user's awards to explain one after the other: JSON lines or a JSON array of "
        '{"at": ISO, "action": A} objects, or a ledger export (its award entries)',
    )
    parser.add_argument(
        "--state",
        metavar="JSON",
        help="the user's state as ProgressState.to_dict() JSON, inline or @file.json "
        "(default: a new user)",
    )
    parser.add_argument(
        "--at",
        metavar="ISO",
        help="with --action: when the award happens, an ISO 8601 timestamp with a time zone "
        "(default: now)",
    )
    parser.add_argument(
        "--user",
        metavar="ID",
        help="with --history: the user whose awards to explain, when the file has several",
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


def _uses_levers(state: ProgressState, config: ProgressionConfig) -> bool:
    """Whether the award takes the levers' path (and the explanation shows them)."""
    return config.uses_levers or state.timezone is not None or state.day_extended_until is not None


def _explain(
    state: ProgressState,
    action: str,
    at: datetime,
    config: ProgressionConfig,
    where: str = "--action",
) -> tuple[AwardResult, dict[str, Any]]:
    """Award once with the real rules, then describe each step from the result."""
    result = award_exp_with_limits(state, action, now=at, config=config)
    if result.outcome is Outcome.INVALID_ACTION:
        known = ", ".join(config.actions)
        raise CliError(f"{where}: {result.reason} (known actions: {known})")
    levers = _uses_levers(state, config)
    rule = config.actions[action]
    boundary = boundary_for(state, config)
    opened = reset_daily_limits_if_needed(state, now=at, config=config)
    new_day = is_new_day(state, now=at, config=config)
    last = state.last_exp_reset_date
    outcome = result.outcome
    count = opened.daily_action_counts.get(action, 0)
    limited = outcome is Outcome.ACTION_LIMIT
    level_cap = config.cap_for_level(opened.level)
    boosts = boost_doc(config, action, result, level_cap) if levers else None
    cap = level_cap if boosts is None else boosts["cap"]
    gained = opened.daily_exp_gained
    after = result.state
    # The user's current day: the one the moment falls on, or a day a time-zone change
    # lengthened (the streak counts days the same way).
    today = current_day(opened, config).isoformat()
    shown = today if opened.day_extended_until else boundary.day_of(at).isoformat()
    day: dict[str, Any] = {
        "today": shown,
        "last_reset": None if last is None else last.isoformat(),
        "last_reset_day": None if last is None else boundary.day_of(last).isoformat(),
        "new_day": new_day,
        "earlier_than_last_reset": last is not None and boundary.day_of(at) < boundary.day_of(last),
        "gained_before_reset": state.daily_exp_gained,
    }
    if levers:
        extended = state.day_extended_until
        day |= {
            "timezone": boundary.timezone_name,
            "users_own_timezone": state.timezone is not None,
            "reset_hour": boundary.hour,
            "extended_until": None if extended is None else extended.isoformat(),
        }
    award: dict[str, Any] = {
        "reward": rule.exp,
        "exp_added": result.exp_added,
        "partial": outcome is Outcome.PARTIAL,
        "cut_by_cap": 0,
        "creator_award": rule.creator_award,
    }
    if result.success:
        boosted = rule.exp if result.effects is None else result.effects.boosted_exp
        award["cut_by_cap"] = boosted - (result.exp_added - result.bonus_exp)
        if levers:
            award |= {"boosted_exp": boosted, "bonus_exp": result.bonus_exp}
    doc: dict[str, Any] = {
        "action": action,
        "at": at.isoformat(),
        "day": day,
        "limit": {
            "count_today": count,
            "daily_limit": rule.daily_limit,
            "reached": limited,
        },
        "cap": {
            "checked": not limited,
            "exempt": rule.cap_exempt,
            "level": opened.level,
            "daily_exp_cap": level_cap,
            "gained_today": gained,
            "room": max(0, cap - gained),
            "reached": outcome is Outcome.DAILY_CAP,
        },
        "award": award,
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
    if levers:
        doc["cap"]["raised_by_boost"] = cap != level_cap
        doc["cap"]["cap_in_force"] = cap
        doc |= {
            "boosts": boosts,
            "streak": streak_doc(config, action, opened, result, today),
            "milestones": milestone_doc(config, result),
            "events": [e.to_dict() for e in result.events],
        }
    return result, doc


def _day_text(day: Mapping[str, Any], at: str) -> str:
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
            f"{at} is on day {day['today']}, earlier than the last reset's day "
            f"{day['last_reset_day']}: days only move forward, no reset"
        )
    else:
        text = f"same day {day['today']} as the last reset ({day['last_reset']}): no reset"
    if day.get("users_own_timezone"):
        text += f"; the user's days begin at {day['reset_hour']:02d}:00 in {day['timezone']}"
    if day.get("extended_until") and not day["new_day"]:
        text += (
            f"; a time-zone change lengthened this day until {day['extended_until']} "
            "(no new day opens before it)"
        )
    return text


def _explain_lines(
    result: AwardResult, doc: Mapping[str, Any], config: ProgressionConfig
) -> list[str]:
    day, limit, cap, award, level = (doc[k] for k in ("day", "limit", "cap", "award", "level"))
    action = doc["action"]
    steps = [("Day", _day_text(day, doc["at"]))]

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

    boosts = doc.get("boosts")
    if boosts is not None:
        steps.append(("Boost", boost_text(boosts, cap["daily_exp_cap"], result.success)))

    if not cap["checked"]:
        text = "not checked (rejected by the action limit)"
    elif cap["exempt"]:
        text = f"{action} is exempt from the daily cap: full reward, not counted toward today's EXP"
    else:
        in_force = cap.get("cap_in_force", cap["daily_exp_cap"])
        text = f"level {cap['level']} cap {in_force} EXP/day"
        if cap.get("raised_by_boost"):
            text += f" (raised from {cap['daily_exp_cap']})"
        text += f", {cap['gained_today']} gained today, room {cap['room']}"
        text += " -> REJECTED" if cap["reached"] else " -> allowed"
    steps.append(("Cap", text))

    if result.success:
        reward = award.get("boosted_exp", award["reward"])
        earned = award["exp_added"] - award.get("bonus_exp", 0)
        if award["partial"]:
            text = f"PARTIAL award: +{earned} of {reward} EXP (the cap cut {award['cut_by_cap']})"
        elif reward != award["reward"]:
            text = f"+{earned} EXP (the full boosted reward)"
        else:
            text = f"+{earned} EXP (the full reward)"
        if award.get("bonus_exp"):
            text += f", +{award['bonus_exp']} bonus EXP (below)"
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

    if doc.get("streak") is not None:
        steps.append(("Streak", streak_text(doc["streak"], result.success)))

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

    if doc.get("milestones") is not None:
        steps.append(("Milestones", milestone_text(doc["milestones"])))

    width = max(6, *(len(name) for name, _ in steps))
    out = [f"{action} at {doc['at']}", ""]
    out += [f"{i}. {name:<{width}} {text}" for i, (name, text) in enumerate(steps, 1)]
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


# --- a history ------------------------------------------------------------------------------


def _history_summary(
    docs: Sequence[Mapping[str, Any]], first: ProgressState, last: ProgressState
) -> list[str]:
    outcomes: dict[str, int] = {}
    for doc in docs:
        outcomes[doc["outcome"]] = outcomes.get(doc["outcome"], 0) + 1
    counted = ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items())
    out = [
        f"{len(docs)} award{'s' if len(docs) != 1 else ''}: {counted}",
        f"EXP {first.exp} -> {last.exp}, level {first.level} -> {last.level}",
    ]
    if last.streak or first.streak or last.best_streak:
        out.append(
            f"Streak {first.streak} -> {last.streak} (best {last.best_streak}), "
            f"{last.streak_freezes} freeze{'s' if last.streak_freezes != 1 else ''} held"
        )
    gained = sorted(last.milestones - first.milestones)
    if gained:
        out.append(f"Milestones unlocked: {', '.join(gained)}")
    return out


def _run_history(args: argparse.Namespace, config: ProgressionConfig, label: str) -> int:
    if args.at is not None:
        raise CliError("--at: give each award's moment in the --history file instead")
    history = read_history(args.history, "--history", user=args.user)
    if not history.events:
        raise CliError(f"--history {args.history}: no awards to explain")
    given = None if args.state is None else _parse_state(args.state)
    state = first = given or history.start or ProgressState()
    results: list[AwardResult] = []
    docs: list[dict[str, Any]] = []
    for event in history.events:
        result, doc = _explain(
            state, event.action, event.at, config, f"--history {args.history}: {event.where}"
        )
        results.append(result)
        docs.append(doc)
        state = result.state
    if args.json:
        print_json(
            {
                "config": config_source(label, config),
                "history": {
                    "source": args.history,
                    "user_id": history.user_id,
                    "skipped_entries": history.skipped,
                },
                "state_before": first.to_dict(),
                "state_after": state.to_dict(),
                "awards": docs,
            }
        )
        return ExitCode.OK
    who = f" of {history.user_id}" if history.user_id else ""
    out = [f"History{who} from {args.history} under {label} (fingerprint {config.fingerprint})"]
    if history.skipped:
        kinds = ", ".join(f"{n} {kind}" for kind, n in history.skipped.items())
        out.append(f"Only awards are explained; not replayed: {kinds}")
    for number, (result, doc) in enumerate(zip(results, docs, strict=True), 1):
        out += ["", f"[{number}/{len(docs)}] " + "\n".join(_explain_lines(result, doc, config))]
    out += ["", *_history_summary(docs, first, state)]
    print("\n".join(out))
    return ExitCode.OK


def _run_explain(args: argparse.Namespace) -> int:
    config, label = load_config_argument(args.config)
    if args.history is not None:
        return _run_history(args, config, label)
    if args.user is not None:
        raise CliError("--user: only with --history")
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
    "explain one award, or a user's awards, step by step",
    _configure_explain,
    _run_explain,
    "Award one action to a user with the real rules and explain each step: the daily "
    "reset, the action's limit, the boosts in force, the daily cap, a partial award, the "
    "streak, a level-up, milestones. With --history, explain a user's awards one after "
    "the other.",
)
