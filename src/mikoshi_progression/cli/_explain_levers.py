"""What ``explain`` says about the designer levers of one award: the boosts in force, the
streak, the milestones.

Every figure is read from the award's own result (its state, its events, its
``effects``) or asked of the core's rules objects; the only arithmetic is the boost's
documented rounding, shown so that a designer sees where EXP was rounded away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from fractions import Fraction
from typing import Any

from ..core.config import ProgressionConfig
from ..core.events import EventKind, ProgressionEvent
from ..core.results import AwardResult
from ..core.state import ProgressState

__all__ = [
    "boost_doc",
    "boost_text",
    "milestone_doc",
    "milestone_text",
    "streak_doc",
    "streak_text",
]


def exact(value: Fraction) -> str:
    """A rational as a designer reads it: ``2``, ``1.5``, ``80/3``.

    >>> exact(Fraction(2)), exact(Fraction(3, 2)), exact(Fraction(80, 3))
    ('2', '1.5', '80/3')
    """
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    if denominator != 1:
        return str(value)
    places = 1
    while (value * 10**places).denominator != 1:
        places += 1
    return f"{float(value):.{places}f}"


# --- boosts ----------------------------------------------------------------------------------


def boost_doc(
    config: ProgressionConfig, action: str, result: AwardResult, level_cap: int
) -> dict[str, Any] | None:
    """The boosts in force for ``action`` at the award's moment, and what they did
    (``None`` when the config has no boosts)."""
    rules = config.boosts
    if rules is None:
        return None
    at = result.now
    active = rules.active(action, at)
    multiplier, _ = rules.multiplier(action, at)
    reward = config.actions[action].exp
    exact_boosted = reward * multiplier
    raised = bool(active) and rules.raise_cap
    return {
        "stacking": rules.stacking,
        "active": [
            {"name": b.name, "multiplier": str(b.multiplier), "ends": b.ends.isoformat()}
            for b in active
        ],
        "multiplier": str(multiplier),
        "base_exp": reward,
        "exact_exp": str(exact_boosted),
        "boosted_exp": rules.boosted(reward, action, at),
        "rounded_down": exact_boosted.denominator != 1,
        "applied": bool(result.boosts),
        "raise_cap": rules.raise_cap,
        "cap_raised": raised,
        "cap": rules.boosted(level_cap, action, at) if raised else level_cap,
    }


def boost_text(doc: Mapping[str, Any], level_cap: int, applied: bool) -> str:
    """The Boost step: which boosts, their combined multiplier, the rounding, the cap."""
    active = doc["active"]
    if not active:
        return "no boost in force for this action at this moment: the plain reward"
    names = ", ".join(f"{b['name']} x{exact(Fraction(b['multiplier']))}" for b in active)
    multiplier = exact(Fraction(doc["multiplier"]))
    if len(active) > 1:
        how = {"max": "the largest", "multiply": "multiplied", "add": "bonuses added"}
        text = f"{names} ({how[doc['stacking']]}: x{multiplier})"
    else:
        text = names
    exact_exp = exact(Fraction(doc["exact_exp"]))
    text += f": {doc['base_exp']} x {multiplier} = {exact_exp}"
    if doc["rounded_down"]:
        text += f", rounded down to {doc['boosted_exp']}"
    text += " EXP"
    if doc["cap_raised"]:
        text += f"; the cap is raised too: {level_cap} -> {doc['cap']}"
    else:
        text += "; the cap is not raised (raise_cap = false)"
    if not applied:
        text += " (not applied: the award was rejected)"
    return text


# --- streak ----------------------------------------------------------------------------------


def _streak_values(state: ProgressState) -> dict[str, Any]:
    day = state.last_streak_day
    return {
        "streak": state.streak,
        "best_streak": state.best_streak,
        "last_streak_day": None if day is None else day.isoformat(),
        "streak_freezes": state.streak_freezes,
    }


def _details(events: Sequence[ProgressionEvent], kind: EventKind) -> dict[str, Any] | None:
    found = next((e for e in events if e.kind is kind), None)
    return None if found is None else dict(found.to_dict())


def streak_doc(
    config: ProgressionConfig, action: str, opened: ProgressState, result: AwardResult, today: str
) -> dict[str, Any] | None:
    """What the award did to the streak (``None`` when the config keeps no streak)."""
    rules = config.streak
    if rules is None:
        return None
    after = result.state
    events = result.events
    extended = _details(events, EventKind.STREAK_EXTENDED)
    frozen = _details(events, EventKind.STREAK_FROZEN)
    broken = _details(events, EventKind.STREAK_BROKEN)
    used = 0 if frozen is None else frozen["days"]
    last = opened.last_streak_day
    missed = None if last is None else (date.fromisoformat(today) - last).days - 1
    rule_bonus = rules.bonuses.get(after.streak, 0) if extended else 0
    granted = 0 if extended is None else extended["bonus_exp"]
    return {
        "action": rules.action,
        "applies": action == rules.action,
        "today": today,
        "before": _streak_values(opened),
        "after": _streak_values(after),
        "extended": extended is not None,
        "frozen_days": used,
        "broken": None if broken is None else broken["streak"],
        "missed_days": missed if broken is not None or frozen is not None else 0,
        "freezes_earned": after.streak_freezes - (opened.streak_freezes - used),
        "bonus_exp": granted,
        "bonus_cut_by_cap": rule_bonus - granted,
        "grace_minutes": rules.grace_minutes,
    }


def streak_text(doc: Mapping[str, Any], success: bool) -> str:
    """The Streak step: extended, frozen, broken, the bonus, a freeze earned."""
    before, after = doc["before"], doc["after"]
    if not doc["applies"]:
        return f"not the streak action ({doc['action']}): streak stays {before['streak']}"
    if not success:
        return f"not extended (the award was rejected): streak stays {before['streak']}"
    if not doc["extended"]:
        return (
            f"day {doc['today']} is already counted (last streak day "
            f"{before['last_streak_day']}): streak stays {before['streak']}"
        )
    parts = []
    if doc["frozen_days"]:
        days = doc["frozen_days"]
        parts.append(
            f"{days} missed day{'s' if days != 1 else ''} covered by "
            f"{'freezes' if days != 1 else 'a freeze'} ({before['streak_freezes'] - days} left)"
        )
    if doc["broken"] is not None:
        missed, held = doc["missed_days"], before["streak_freezes"]
        parts.append(
            f"{missed} missed day{'s' if missed != 1 else ''} and {held} "
            f"freeze{'s' if held != 1 else ''}: the {doc['broken']}-day streak is BROKEN, "
            "a new one starts"
        )
    text = f"streak {before['streak']} -> {after['streak']} (best {after['best_streak']})"
    if after["last_streak_day"] != doc["today"]:
        text += (
            f", counted for {after['last_streak_day']} (within the {doc['grace_minutes']}-minute "
            "grace after a missed day)"
        )
    parts.append(text)
    if doc["bonus_exp"] or doc["bonus_cut_by_cap"]:
        bonus = f"+{doc['bonus_exp']} EXP streak bonus at {after['streak']} days"
        if doc["bonus_cut_by_cap"]:
            bonus += f" (the cap cut {doc['bonus_cut_by_cap']})"
        parts.append(bonus)
    if doc["freezes_earned"] > 0:
        parts.append(f"a freeze earned ({after['streak_freezes']} held)")
    return "; ".join(parts)


# --- milestones ------------------------------------------------------------------------------


def milestone_doc(config: ProgressionConfig, result: AwardResult) -> dict[str, Any] | None:
    """The milestones the award unlocked (``None`` when the config has none)."""
    if not config.milestones:
        return None
    unlocked = [
        {"name": e["milestone"], "bonus_exp": e["bonus_exp"]}
        for e in result.events
        if e.kind is EventKind.MILESTONE_UNLOCKED
    ]
    held = result.state.milestones
    return {
        "unlocked": unlocked,
        "held": [m.name for m in config.milestones if m.name in held],
        "locked": [m.name for m in config.milestones if m.name not in held],
    }


def milestone_text(doc: Mapping[str, Any]) -> str:
    """The Milestones step: each one unlocked, with its bonus; how many remain."""
    locked = len(doc["locked"])
    rest = f"{locked} still locked" if locked else "all unlocked"
    if not doc["unlocked"]:
        return f"none reached ({rest})"
    names = ", ".join(
        f"{m['name']} (+{m['bonus_exp']} EXP)" if m["bonus_exp"] else m["name"]
        for m in doc["unlocked"]
    )
    return f"UNLOCKED {names}; {rest}"
