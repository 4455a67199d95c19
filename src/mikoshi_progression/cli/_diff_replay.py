"""``diff --ledger``'s replay: every user's ledger re-decided under both configs.

Each user's entries are folded with :func:`~mikoshi_progression.service.replay_ledger`
(runs of awards through the core's :func:`~mikoshi_progression.apply_events`;
revocations, adjustments and day entries as they were recorded) once under OLD and once
under NEW, from the user's latest import. What differs is reported per user (EXP, level,
milestones, best streak) and in total. A ledger holds only the awards that were granted:
an attempt that OLD refused is not in it, so NEW cannot grant it either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.config import ProgressionConfig
from ..core.state import ProgressState
from ..service import replay_ledger
from ..stores import EntryKind, LedgerEntry
from ._common import format_table
from .ledger import by_user

__all__ = ["replay_diff", "replay_lines"]

_SHOWN = 20
"""Users listed in the text report (every user is in the JSON document)."""


def _outcome(state: ProgressState) -> dict[str, Any]:
    return {
        "exp": state.exp,
        "level": state.level,
        "milestones": sorted(state.milestones),
        "best_streak": state.best_streak,
    }


def replay_diff(
    entries: Sequence[LedgerEntry], old: ProgressionConfig, new: ProgressionConfig, source: str
) -> dict[str, Any]:
    """Every user's ledger replayed under ``old`` and ``new``, compared."""
    users: list[dict[str, Any]] = []
    holders: dict[str, list[int]] = {}
    for user_id, ledger in by_user(entries).items():
        before = _outcome(replay_ledger(ledger, old))
        after = _outcome(replay_ledger(ledger, new))
        for side, outcome in ((0, before), (1, after)):
            for name in outcome["milestones"]:
                holders.setdefault(name, [0, 0])[side] += 1
        users.append(
            {
                "user_id": user_id,
                "awards": sum(e.kind is EntryKind.AWARD for e in ledger),
                "old": before,
                "new": after,
                "exp_delta": after["exp"] - before["exp"],
                "milestones_gained": sorted(set(after["milestones"]) - set(before["milestones"])),
                "milestones_lost": sorted(set(before["milestones"]) - set(after["milestones"])),
                "changed": before != after,
            }
        )
    old_exp = sum(u["old"]["exp"] for u in users)
    new_exp = sum(u["new"]["exp"] for u in users)
    order = [m.name for m in (*old.milestones, *new.milestones)]
    return {
        "source": source,
        "users": len(users),
        "awards": sum(u["awards"] for u in users),
        "changed": sum(u["changed"] for u in users),
        "exp": {"old": old_exp, "new": new_exp, "delta": new_exp - old_exp},
        "levels": {
            "up": sum(u["new"]["level"] > u["old"]["level"] for u in users),
            "down": sum(u["new"]["level"] < u["old"]["level"] for u in users),
        },
        "milestones": [
            {"milestone": name, "old": holders[name][0], "new": holders[name][1]}
            for name in dict.fromkeys(order)
            if name in holders
        ],
        "ledger_fingerprints": sorted({e.config_fingerprint for e in entries}),
        "per_user": users,
    }


def _milestone_change(user: Mapping[str, Any]) -> str:
    changes = [f"+{m}" for m in user["milestones_gained"]]
    changes += [f"-{m}" for m in user["milestones_lost"]]
    return " ".join(changes) or "-"


def replay_lines(doc: Mapping[str, Any], old_fingerprint: str) -> list[str]:
    """The replay's report as text: totals, milestones, and the users that change."""
    exp, levels = doc["exp"], doc["levels"]
    out = [
        "",
        f"Replay of {doc['source']}: {doc['users']:,} users, {doc['awards']:,} awards "
        "re-decided under OLD and NEW",
        f"EXP in all {exp['old']:,} -> {exp['new']:,} ({exp['delta']:+,}); levels up "
        f"{levels['up']:,}, down {levels['down']:,}; users whose progression changes "
        f"{doc['changed']:,}",
    ]
    if doc["milestones"]:
        out.append(
            format_table(
                ["Milestone", "Users (OLD)", "Users (NEW)"],
                [[m["milestone"], m["old"], m["new"]] for m in doc["milestones"]],
                "lrr",
            )
        )
    changed = [u for u in doc["per_user"] if u["changed"]]
    if changed:
        shown = changed[:_SHOWN]
        title = f"Users whose progression changes ({len(shown)} of {len(changed)}"
        title += "; all in --json)" if len(changed) > len(shown) else ")"
        out += [
            "",
            title,
            format_table(
                ["User", "Awards", "EXP", "Delta", "Level", "Best streak", "Milestones"],
                [
                    [
                        u["user_id"],
                        u["awards"],
                        f"{u['old']['exp']:,} -> {u['new']['exp']:,}",
                        f"{u['exp_delta']:+,}",
                        f"{u['old']['level']} -> {u['new']['level']}",
                        f"{u['old']['best_streak']} -> {u['new']['best_streak']}",
                        _milestone_change(u),
                    ]
                    for u in shown
                ],
                "lrrrlll",
            ),
        ]
    if old_fingerprint not in doc["ledger_fingerprints"]:
        out += [
            "",
            "Note: no entry of the ledger was decided under OLD (fingerprints "
            f"{', '.join(doc['ledger_fingerprints']) or 'none'}): is OLD the rules it ran?",
        ]
    return out
