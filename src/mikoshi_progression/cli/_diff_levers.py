"""``diff``'s comparison of the lever sections: boost windows added, removed or changed,
how boosts stack and whether they raise the cap; the streak's rules and bonuses; the
milestones added, removed or changed.

A section that is off compares as the section's defaults, so turning one on lists
what it sets (and its ``on`` flag says it was turned on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from ..core.boosts import BoostRules
from ..core.config import ProgressionConfig
from ..core.milestones import Milestone
from ..core.streaks import StreakRules
from ._common import cell, format_table

__all__ = ["levers_diff", "levers_lines"]

_BOOST_FIELDS = ("starts", "ends", "multiplier", "actions")
_STREAK_FIELDS = ("action", "grace_minutes", "freeze_every", "max_freezes", "bonus_cap_exempt")
_MILESTONE_FIELDS = ("description", "level", "exp", "streak", "action", "count", "bonus_exp")


def _json(value: object) -> Any:
    """A field's value as the config file writes it (exact text, ISO moments, sorted names)."""
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Fraction):
        return str(value)
    return value


def _boosts_diff(old: BoostRules | None, new: BoostRules | None) -> dict[str, Any]:
    before, after = old or BoostRules(), new or BoostRules()
    old_windows = {w.name: w for w in before.windows}
    new_windows = {w.name: w for w in after.windows}
    return {
        "on": {"old": old is not None, "new": new is not None},
        "settings": [
            {"setting": s, "old": getattr(before, s), "new": getattr(after, s)}
            for s in ("stacking", "raise_cap")
            if getattr(before, s) != getattr(after, s)
        ],
        "added": [w.to_dict() for name, w in new_windows.items() if name not in old_windows],
        "removed": [w.to_dict() for name, w in old_windows.items() if name not in new_windows],
        "changed": [
            {
                "boost": name,
                "field": f,
                "old": _json(getattr(w, f)),
                "new": _json(getattr(new_windows[name], f)),
            }
            for name, w in old_windows.items()
            if name in new_windows
            for f in _BOOST_FIELDS
            if getattr(w, f) != getattr(new_windows[name], f)
        ],
    }


def _streak_diff(old: StreakRules | None, new: StreakRules | None) -> dict[str, Any]:
    before, after = old or StreakRules(), new or StreakRules()
    lengths = sorted(before.bonuses.keys() | after.bonuses.keys())
    return {
        "on": {"old": old is not None, "new": new is not None},
        "changed": [
            {"field": f, "old": getattr(before, f), "new": getattr(after, f)}
            for f in _STREAK_FIELDS
            if getattr(before, f) != getattr(after, f)
        ],
        "bonuses": [
            {"length": n, "old": before.bonuses.get(n), "new": after.bonuses.get(n)}
            for n in lengths
            if before.bonuses.get(n) != after.bonuses.get(n)
        ],
    }


def _milestones_diff(old: Sequence[Milestone], new: Sequence[Milestone]) -> dict[str, Any]:
    before = {m.name: m for m in old}
    after = {m.name: m for m in new}
    return {
        "added": [m.to_dict() for name, m in after.items() if name not in before],
        "removed": [m.to_dict() for name, m in before.items() if name not in after],
        "changed": [
            {
                "milestone": name,
                "field": f,
                "old": getattr(m, f),
                "new": getattr(after[name], f),
            }
            for name, m in before.items()
            if name in after
            for f in _MILESTONE_FIELDS
            if getattr(m, f) != getattr(after[name], f)
        ],
    }


def levers_diff(old: ProgressionConfig, new: ProgressionConfig) -> dict[str, Any]:
    """The changes to the lever sections between ``old`` and ``new``."""
    return {
        "boosts": _boosts_diff(old.boosts, new.boosts),
        "streak": _streak_diff(old.streak, new.streak),
        "milestones": _milestones_diff(old.milestones, new.milestones),
    }


# --- text ------------------------------------------------------------------------------------


def _switch(on: Mapping[str, bool]) -> list[object] | None:
    if on["old"] == on["new"]:
        return None
    if on["new"]:
        return ["turned on", "-", "the section is new in NEW"]
    return ["turned off", "-", "NEW has no such section"]


def _boost_text(window: Mapping[str, Any]) -> str:
    actions = window.get("actions")
    scope = "every action" if actions is None else ", ".join(actions)
    return f"x{window['multiplier']} from {window['starts']} to {window['ends']}, {scope}"


def _milestone_text(milestone: Mapping[str, Any]) -> str:
    trigger = next(k for k in ("level", "exp", "streak", "count") if k in milestone)
    text = f"{trigger} {milestone[trigger]:,}"
    if trigger == "count":
        text = f"{milestone['action']} x{milestone['count']:,}"
    if milestone.get("bonus_exp"):
        text += f", +{milestone['bonus_exp']:,} EXP"
    return text


def _value(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return cell(value)


def levers_lines(doc: Mapping[str, Any]) -> list[str]:
    """The lever sections' changes as tables (nothing when none changed)."""
    out: list[str] = []
    boosts = doc["boosts"]
    rows: list[list[object]] = []
    switch = _switch(boosts["on"])
    if switch:
        rows.append(switch)
    rows += [
        ["setting", x["setting"], f"{cell(x['old'])} -> {cell(x['new'])}"]
        for x in boosts["settings"]
    ]
    rows += [["added", x["name"], _boost_text(x)] for x in boosts["added"]]
    rows += [["removed", x["name"], _boost_text(x)] for x in boosts["removed"]]
    rows += [
        ["changed", x["boost"], f"{x['field']}: {_value(x['old'])} -> {_value(x['new'])}"]
        for x in boosts["changed"]
    ]
    if rows:
        out += ["", "Boosts", format_table(["Change", "Boost", "Detail"], rows, "lll")]
    streak = doc["streak"]
    rows = []
    switch = _switch(streak["on"])
    if switch:
        rows.append(switch)
    rows += [
        ["changed", x["field"], f"{cell(x['old'])} -> {cell(x['new'])}"] for x in streak["changed"]
    ]
    rows += [
        ["bonus", f"{x['length']} days", f"{cell(x['old'])} -> {cell(x['new'])} EXP"]
        for x in streak["bonuses"]
    ]
    if rows:
        out += ["", "Streak", format_table(["Change", "Rule", "Detail"], rows, "lll")]
    milestones = doc["milestones"]
    rows = [["added", x["name"], _milestone_text(x)] for x in milestones["added"]]
    rows += [["removed", x["name"], _milestone_text(x)] for x in milestones["removed"]]
    rows += [
        ["changed", x["milestone"], f"{x['field']}: {cell(x['old'])} -> {cell(x['new'])}"]
        for x in milestones["changed"]
    ]
    if rows:
        out += ["", "Milestones", format_table(["Change", "Milestone", "Detail"], rows, "lll")]
    return out
