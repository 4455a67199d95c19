"""Speed of the pure core against a plain mutable-dict version of the same rules.

Run:  python benchmarks/bench_core.py [--repeat 7] [--number 200000] [--events 1000000]
                                      [--baseline-src PATH/src]

Everything is timed side by side, interleaved round by round (each round times every
contender once, in turn), so the ratios hold even on a noisy shared machine; medians of
``--repeat`` rounds are printed, with the load average before and after.

Contenders: the seed's rules (``award_exp_with_limits`` and ``apply_events`` with
``DEFAULT_CONFIG``) against the dict version of the same rules; and with every lever on
(``LEVERS``: two boost windows always in force, a streak with freezes and a bonus, four
milestones) against a dict version of the levered rules.

``--baseline-src`` (the ``src/`` of an older checkout, e.g. ``git archive d0ea3e8 src |
tar -x -C /tmp/base``) times the seed's rules of that code and of this one in two worker
processes (this script, ``--worker SRC``) asked back to back in each round, so their
ratio is the cost of the change alone. This is a measurement, never a test: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

if "--worker" in sys.argv:  # a worker times the package under the src/ it was given
    sys.path.insert(0, sys.argv[sys.argv.index("--worker") + 1])

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ProgressionConfig,
    ProgressState,
    apply_events,
    award_exp_with_limits,
)

HERE = Path(__file__).resolve()
CURRENT_SRC = HERE.parent.parent / "src"

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


# --- the levers on a mutable dict, as a backend would add them to the function above ---

LEVERS = {
    "boosts": {
        "stacking": "multiply",
        "windows": [
            {
                "name": "double_xp",
                "starts": "2026-01-01T00:00:00Z",
                "ends": "2999-01-01T00:00:00Z",
                "multiplier": 2,
            },
            {
                "name": "scene_week",
                "starts": "2026-01-01T00:00:00Z",
                "ends": "2999-01-01T00:00:00Z",
                "multiplier": "3/2",
                "actions": ["create_scene"],
            },
        ],
    },
    "streak": {"freeze_every": 7, "max_freezes": 2, "bonuses": {"7": 50}},
    "milestones": [
        {"name": "first_week", "streak": 7, "bonus_exp": 25},
        {"name": "chatty", "action": "daily_chat", "count": 30},
        {"name": "pro", "level": 4},
        {"name": "ten_thousand", "exp": 10000},
    ],
}
"""Every lever on, each window in force for every event of the bench (to 2999): the most a
lever-laden award does."""
# The dict version's own tables: integer multipliers (numerator, denominator) per window.
BOOSTS = [
    (datetime(2026, 1, 1, tzinfo=UTC), datetime(2999, 1, 1, tzinfo=UTC), None, 2, 1, "double_xp"),
    (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2999, 1, 1, tzinfo=UTC),
        {"create_scene"},
        3,
        2,
        "scene_week",
    ),
]
MILESTONES = [
    ("first_week", "streak", 7, None, 25),
    ("chatty", "count", 30, "daily_chat", 0),
    ("pro", "level", 4, None, 0),
    ("ten_thousand", "exp", 10000, None, 0),
]
COUNTED = {"daily_chat"}


def dict_award_levers(user: dict[str, Any], action: str, now: datetime) -> dict[str, Any]:
    """The levers' rules on a mutable dict: boosts multiplied, the streak kept, milestones
    checked, events listed; what a backend would write without this library."""
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
        return {"success": False, "reason": f"Daily limit reached for {action}", "exp_added": 0}
    cap = CAPS.get(user["level"], 500)
    gained = user["daily_exp_gained"]
    if gained >= cap:
        return {"success": False, "reason": "Daily EXP cap reached", "exp_added": 0}
    events = []
    num = den = 1
    names = []
    for starts, ends, actions, n, d, name in BOOSTS:
        if starts <= now < ends and (actions is None or action in actions):
            num, den = num * n, den * d
            names.append(name)
    reward = REWARDS[action]
    boosted = reward * num // den
    if names:
        events.append({"kind": "boost_applied", "boosts": names, "boosted_exp": boosted})
    added = min(boosted, cap - gained)
    bonus = 0
    if action == "daily_chat":
        today = now.date()
        last_day = user["last_streak_day"]
        if last_day != today:
            gap = (today - last_day).days if last_day is not None else 1
            if gap == 1:
                user["streak"] += 1
            elif 1 < gap <= user["streak_freezes"] + 1:
                user["streak_freezes"] -= gap - 1
                user["streak"] += 1
            else:
                user["streak"] = 1
            if user["streak"] % 7 == 0 and user["streak_freezes"] < 2:
                user["streak_freezes"] += 1
            bonus += 50 if user["streak"] == 7 else 0
            user["last_streak_day"] = today
            events.append({"kind": "streak_extended", "streak": user["streak"]})
    old_level = user["level"]
    user["exp"] += added + bonus
    user["level"] = dict_level_for_exp(user["exp"])
    user["daily_exp_gained"] = gained + added
    counts[action] = count + 1
    if action == "daily_chat":
        user["last_chat_date"] = now
    if action in COUNTED:
        lifetime = user["lifetime"]
        lifetime[action] = lifetime.get(action, 0) + 1
    for name, trigger, threshold, counted, extra in MILESTONES:
        if name in user["milestones"]:
            continue
        if trigger == "streak":
            value = user["streak"]
        elif trigger == "count":
            value = user["lifetime"].get(counted, 0)
        elif trigger == "level":
            value = user["level"]
        else:
            value = user["exp"]
        if value >= threshold:
            user["milestones"].add(name)
            user["exp"] += extra
            events.append({"kind": "milestone_unlocked", "milestone": name})
    if user["level"] > old_level:
        events.append({"kind": "level_up", "to_level": user["level"]})
    return {"success": True, "exp_added": added + bonus, "events": events}


def dict_user(exp: int = 0, level: int = 1) -> dict[str, Any]:
    return {
        "exp": exp,
        "level": level,
        "daily_exp_gained": 0,
        "last_exp_reset_date": None,
        "daily_action_counts": {},
        "last_chat_date": None,
        "streak": 0,
        "last_streak_day": None,
        "streak_freezes": 0,
        "lifetime": {},
        "milestones": set(),
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


def load_average() -> str:
    try:
        return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "load average unknown"


# --- the seed's rules in a worker process, for before/after comparisons -----------------

NOW = START + timedelta(hours=12)
ROOMY_USER = ProgressState(exp=120, level=2, last_exp_reset_date=START)
"""A user with room left under the cap, on the day of their last reset: the common award."""


def seed_award() -> object:
    return award_exp_with_limits(ROOMY_USER, "character_liked", now=NOW)


def worker(src: str) -> None:
    """Answer ``award N`` and ``fold N`` with the seconds per call, until stdin closes."""
    import mikoshi_progression

    where = Path(mikoshi_progression.__file__).resolve()
    if not where.is_relative_to(Path(src).resolve()):
        raise SystemExit(f"worker for {src} imported {where} instead")
    print(f"ready {where.parent}", flush=True)
    streams: dict[int, list[tuple[datetime, str]]] = {}
    for line in sys.stdin:
        what, count = line.split()
        number = int(count)
        if what == "award":
            print(repr(timeit.timeit(seed_award, number=number) / number), flush=True)
        else:
            stream = streams.setdefault(number, events(number))
            seconds = timeit.timeit(partial(apply_events, ProgressState(), stream), number=1)
            print(repr(seconds), flush=True)


class Worker:
    """A worker process timing the seed's rules of the package in ``src``."""

    def __init__(self, src: Path) -> None:
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), "--worker", str(src)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.where = self._read().removeprefix("ready ")

    def time(self, what: str, number: int) -> Callable[[], float]:
        def ask() -> float:
            assert self.process.stdin is not None
            self.process.stdin.write(f"{what} {number}\n")
            self.process.stdin.flush()
            return float(self._read())

        return ask

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def _read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"a worker died (exit code {self.process.wait()})")
        return line.strip()


def timed(stmt: Callable[[], object], number: int) -> Callable[[], float]:
    """Seconds per call of ``stmt``, timed over ``number`` calls."""
    return lambda: timeit.timeit(stmt, number=number) / number


def interleaved_by(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median of each contender's figure, asked in turn, round by round."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, measure in contenders.items():
            samples[name].append(measure())
    return {name: statistics.median(times) for name, times in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (medians are printed)")
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-src", type=Path, help="src/ of an older checkout")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return

    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    print(f"median of {args.repeat} rounds, every contender timed in turn in each round")
    print(f"before: {load_average()}\n")

    levers = ProgressionConfig.from_dict(DEFAULT_CONFIG.to_dict() | LEVERS)
    streaking = ProgressState(
        exp=120,
        level=2,
        last_exp_reset_date=START,
        streak=3,
        best_streak=3,
        last_streak_day=date(2025, 12, 31),
    )

    def dict_setup() -> dict[str, Any]:
        user = dict_user(120, 2)  # a fresh copy: otherwise the limit is reached at once
        user["last_exp_reset_date"] = START
        return user

    def dict_streaking() -> dict[str, Any]:
        user = dict_setup()
        user["streak"] = 3
        user["last_streak_day"] = date(2025, 12, 31)
        return user

    stream = events(args.events)

    def fold() -> None:
        apply_events(ProgressState(), stream)

    def lever_fold() -> None:
        apply_events(ProgressState(), stream, levers)

    def dict_fold() -> None:
        user = dict_user()
        for at, action in stream:
            dict_award(user, action, at)

    def dict_lever_fold() -> None:
        user = dict_user()
        for at, action in stream:
            dict_award_levers(user, action, at)

    def naive_fold() -> None:
        state = ProgressState()
        for at, action in stream:
            state = award_exp_with_limits(state, action, now=at).state

    n, number = len(stream), args.number
    contenders: dict[str, Callable[[], float]] = {
        "award": timed(seed_award, number),
        "dict": timed(lambda: dict_award(dict_setup(), "character_liked", NOW), number),
        "dict setup": timed(dict_setup, number),
        "levers liked": timed(
            lambda: award_exp_with_limits(ROOMY_USER, "character_liked", now=NOW, config=levers),
            number,
        ),
        "dict levers liked": timed(
            lambda: dict_award_levers(dict_setup(), "character_liked", NOW), number
        ),
        "levers chat": timed(
            lambda: award_exp_with_limits(streaking, "daily_chat", now=NOW, config=levers),
            number,
        ),
        "dict levers chat": timed(
            lambda: dict_award_levers(dict_streaking(), "daily_chat", NOW), number
        ),
        "dict streaking setup": timed(dict_streaking, number),
        "apply_events": timed(fold, 1),
        "dict fold": timed(dict_fold, 1),
        "award loop": timed(naive_fold, 1),
        "levers fold": timed(lever_fold, 1),
        "dict levers fold": timed(dict_lever_fold, 1),
    }
    workers: dict[str, Worker] = {}
    if args.baseline_src is not None:
        workers = {"before": Worker(args.baseline_src), "after": Worker(CURRENT_SRC)}
        for name, w in workers.items():
            print(f"  {name} (worker): {w.where}")
            contenders[f"{name} award"] = w.time("award", number)
            contenders[f"{name} fold"] = w.time("fold", args.events)
        print()
    medians = interleaved_by(contenders, args.repeat)
    for w in workers.values():
        w.close()

    dict_only = medians["dict"] - medians["dict setup"]
    print("single award (character_liked, room left):")
    print(f"  dict version          {dict_only * 1e6:6.3f} us/call (user setup subtracted)")
    print(f"  award_exp_with_limits {medians['award'] * 1e6:6.3f} us/call")
    print(f"  ratio                 {medians['award'] / dict_only:6.2f}x  (target <= 2x)\n")
    print(f"replay of {n:,} events (12 a day, limits and cap biting):")
    print(
        f"  apply_events                 {n / medians['apply_events']:12,.0f} awards/s  "
        "(target >= 1,000,000)"
    )
    print(f"  award_exp_with_limits loop   {n / medians['award loop']:12,.0f} awards/s")
    print(f"  dict version loop            {n / medians['dict fold']:12,.0f} awards/s")
    print(f"  apply_events / dict loop     {medians['dict fold'] / medians['apply_events']:6.2f}x")

    print("\nwith every lever on (two boosts in force, a streak, four milestones):")
    for label, ours, theirs, setup in (
        ("character_liked", "levers liked", "dict levers liked", "dict setup"),
        ("daily_chat, a streak day", "levers chat", "dict levers chat", "dict streaking setup"),
    ):
        reference = medians[theirs] - medians[setup]
        print(f"  {label}:")
        print(f"    dict version          {reference * 1e6:6.3f} us/call (setup subtracted)")
        print(f"    award_exp_with_limits {medians[ours] * 1e6:6.3f} us/call")
        print(f"    ratio                 {medians[ours] / reference:6.2f}x  (target <= 2x)")
    print(
        f"  apply_events                 {n / medians['levers fold']:12,.0f} awards/s  "
        "(target >= 800,000)"
    )
    print(f"  dict version loop            {n / medians['dict levers fold']:12,.0f} awards/s")

    if workers:
        print("\nthe seed's rules, this code against --baseline-src (workers, same rounds):")
        for what, unit in (("award", "us/call"), ("fold", "s per replay")):
            before, after = medians[f"before {what}"], medians[f"after {what}"]
            scale = 1e6 if what == "award" else 1
            print(
                f"  {what:6} before {before * scale:8.3f} {unit}, after {after * scale:8.3f} "
                f"{unit}: after/before {after / before:.3f}  (target <= 1.10)"
            )
    print(f"\nafter: {load_average()}")


if __name__ == "__main__":
    main()
