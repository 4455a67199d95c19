"""Speed of the pure core against a plain mutable-dict version of the same rules.

Run:  python benchmarks/bench_core.py [--repeat 7] [--number 200000]

Everything is timed side by side in one process, so the ratios hold even on a
noisy shared machine; medians of ``--repeat`` runs are printed. This is a
measurement, never a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ProgressState,
    apply_events,
    award_exp_with_limits,
)

# --- the baseline: the platform's rules on a mutable dict, as a backend would write them ---

REWARDS = {name: rule.exp for name, rule in DEFAULT_CONFIG.actions.items()}
LIMITS = {name: rule.daily_limit for name, rule in DEFAULT_CONFIG.actions.items()}
CAPS = {1: 150, 2: 150, 3: 300, 4: 300, 5: 500, 6: 500}
THRESHOLDS = [(lv.number, lv.exp_required) for lv in reversed(DEFAULT_CONFIG.levels)]


def dict_level_for_exp(exp: int) -> int:
    for number, required in THRESHOLDS:
        if exp >= required:
            return number
    return 1


def dict_award(user: dict[str, Any], action: str, now: datetime) -> dict[str, Any]:
    last = user["last_exp_reset_date"]
    if last is None or now.date() > last.date():
        user["daily_exp_gained"] = 0
        user["daily_action_counts"] = {}
        user["last_exp_reset_date"] = now
    if action not in REWARDS:
        return {"success": False, "reason": f"Invalid action: {action}", "exp_added": 0}
    counts = user["daily_action_counts"]
    count = counts.get(action, 0)
    limit = LIMITS[action]
    if limit is not None and count >= limit:
        return {
            "success": False,
            "reason": f"Daily limit reached for {action} ({limit}/day)",
            "exp_added": 0,
        }
    cap = CAPS.get(user["level"], 500)
    gained = user["daily_exp_gained"]
    if gained >= cap:
        return {"success": False, "reason": "Daily EXP cap reached", "exp_added": 0}
    added = min(REWARDS[action], cap - gained)
    old_level = user["level"]
    user["exp"] += added
    user["level"] = dict_level_for_exp(user["exp"])
    user["daily_exp_gained"] = gained + added
    counts[action] = count + 1
    if action == "daily_chat":
        user["last_chat_date"] = now
    return {"success": True, "exp_added": added, "leveled_up": user["level"] > old_level}


def dict_user(exp: int = 0, level: int = 1) -> dict[str, Any]:
    return {
        "exp": exp,
        "level": level,
        "daily_exp_gained": 0,
        "last_exp_reset_date": None,
        "daily_action_counts": {},
        "last_chat_date": None,
    }


# --- workloads ----------------------------------------------------------------------

START = datetime(2026, 1, 1, tzinfo=UTC)
# A day of a busy user: the limits and the cap bite, as they do in production.
DAY = [
    "daily_chat",
    "create_character",
    "create_scene",
    "character_liked",
    "create_persona",
    "create_character",
    "forked",
    "character_liked",
    "create_character",  # over its limit
    "paid_char_sold",
    "character_liked",
    "paid_char_sold",  # over the cap
]


def events(count: int) -> list[tuple[datetime, str]]:
    """``count`` events, a dozen a day, one second apart within each day."""
    out = []
    for i in range(count):
        day, slot = divmod(i, len(DAY))
        out.append((START + timedelta(days=day, seconds=slot), DAY[slot]))
    return out


def median_seconds(stmt: Callable[[], object], number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(stmt, number=number, repeat=repeat)) / number


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    print(f"median of {args.repeat} runs\n")

    # Single award on a user with room left (the common case), same day as its reset.
    now = START + timedelta(hours=12)
    frozen_user = ProgressState(exp=120, level=2, last_exp_reset_date=START)

    def frozen_call() -> object:
        return award_exp_with_limits(frozen_user, "character_liked", now=now)

    def dict_call() -> object:
        user = dict_user(120, 2)  # a fresh copy: otherwise the limit is reached at once
        user["last_exp_reset_date"] = START
        return dict_award(user, "character_liked", now)

    def dict_copy_only() -> object:
        user = dict_user(120, 2)
        user["last_exp_reset_date"] = START
        return user

    frozen = median_seconds(frozen_call, args.number, args.repeat)
    dict_total = median_seconds(dict_call, args.number, args.repeat)
    dict_setup = median_seconds(dict_copy_only, args.number, args.repeat)
    dict_only = dict_total - dict_setup
    print("single award (character_liked, room left):")
    print(f"  dict version          {dict_only * 1e6:6.3f} us/call (user setup subtracted)")
    print(f"  award_exp_with_limits {frozen * 1e6:6.3f} us/call")
    print(f"  ratio                 {frozen / dict_only:6.2f}x  (target <= 2x)\n")

    stream = events(args.events)
    fold = statistics.median(
        timeit.repeat(lambda: apply_events(ProgressState(), stream), number=1, repeat=args.repeat)
    )

    def dict_fold() -> None:
        user = dict_user()
        for at, action in stream:
            dict_award(user, action, at)

    dict_fold_s = statistics.median(timeit.repeat(dict_fold, number=1, repeat=args.repeat))

    def naive_fold() -> None:
        state = ProgressState()
        for at, action in stream:
            state = award_exp_with_limits(state, action, now=at).state

    naive_s = statistics.median(
        timeit.repeat(naive_fold, number=1, repeat=max(3, args.repeat // 2))
    )
    n = len(stream)
    print(f"replay of {n:,} events (12 a day, limits and cap biting):")
    print(f"  apply_events                 {n / fold:12,.0f} awards/s  (target >= 1,000,000)")
    print(f"  award_exp_with_limits loop   {n / naive_s:12,.0f} awards/s")
    print(f"  dict version loop            {n / dict_fold_s:12,.0f} awards/s")


if __name__ == "__main__":
    main()
