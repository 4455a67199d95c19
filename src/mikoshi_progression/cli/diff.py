"""``diff OLD NEW [--states FILE | --ledger FILE]``: what a retune changes, and for whom.

The rules are compared field by field, the lever sections too; with a state or ledger
export, each user's EXP is run through both configs' ``level_for_exp`` to count who
would change level, and a ledger export is also replayed under both configs (every
award re-decided) to show what the new rules would have made of each user.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.config import ProgressionConfig
from ..stores import LedgerEntry
from ._common import (
    CliError,
    Command,
    ExitCode,
    cell,
    config_source,
    format_table,
    load_config_argument,
    print_json,
    read_json_records,
)
from ._diff_levers import levers_diff, levers_lines
from ._diff_replay import replay_diff, replay_lines
from .ledger import latest_entries, read_ledger

__all__ = ["DIFF"]


def _configure_diff(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD", help="the config in force (file or 'default')")
    parser.add_argument("new", metavar="NEW", help="the retuned config (file or 'default')")
    users = parser.add_mutually_exclusive_group()
    users.add_argument(
        "--states",
        metavar="FILE",
        help="users to check: a JSON array or JSON-lines file of objects with user_id and "
        "exp (and optionally level)",
    )
    users.add_argument(
        "--ledger",
        metavar="FILE",
        help="users to check: a ledger export (mikoshi-progression ledger --json); each "
        "user's latest entry gives their EXP and level, and their ledger is replayed under "
        "both configs",
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
        **levers_diff(old, new),
    }


@dataclass(frozen=True, slots=True)
class _UserExp:
    user_id: str
    exp: int
    level: int | None


def _read_states(path: str) -> list[_UserExp]:
    records = read_json_records(path, "--states")
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


def _ledger_users(entries: Sequence[LedgerEntry]) -> list[_UserExp]:
    """Each user's EXP and level after their latest entry in a ledger export."""
    return [
        _UserExp(entry.user_id, entry.state_after.exp, entry.state_after.level)
        for entry in latest_entries(entries)
    ]


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
        ["changed", x["action"], f"{x['field']}: {cell(x['old'])} -> {cell(x['new'])}"]
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
                [[x["setting"], cell(x["old"]), cell(x["new"])] for x in doc["settings"]],
                "lll",
            ),
        ]
    out += levers_lines(doc)
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
    if doc["replay"] is not None:
        out += replay_lines(doc["replay"], doc["old"]["fingerprint"])
    return out


def _run_diff(args: argparse.Namespace) -> int:
    old, old_label = load_config_argument(args.old)
    new, new_label = load_config_argument(args.new)
    doc: dict[str, Any] = {
        "old": config_source(old_label, old),
        "new": config_source(new_label, new),
        **_config_diff(old, new),
        "states": None,
        "replay": None,
    }
    if args.states is not None:
        doc["states"] = _states_diff(_read_states(args.states), old, new, args.states)
    elif args.ledger is not None:
        entries = read_ledger(args.ledger, "--ledger")
        doc["states"] = _states_diff(_ledger_users(entries), old, new, args.ledger)
        doc["replay"] = replay_diff(entries, old, new, args.ledger)
    if args.json:
        print_json(doc)
    else:
        print("\n".join(_diff_lines(doc, new)))
    return ExitCode.OK


DIFF = Command(
    "diff",
    "show what a retune changes",
    _configure_diff,
    _run_diff,
    "Compare two configs: levels, thresholds, rewards, limits, caps, features, settings, "
    "boosts, streak and milestones. With --states or --ledger, count the users whose level "
    "would change; with --ledger, also replay every user's ledger under both configs.",
)
