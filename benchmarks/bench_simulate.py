"""Speed of the balance simulator against its ceiling, the fold, measured side by side.

Run:  python benchmarks/bench_simulate.py [--players 10000] [--days 365] [--rounds 3] [--jobs 2]
                                         [--sample 10] [--config FILE] [--archetypes FILE.toml]

Each round times, one after the other on the same machine:

- the ceiling: ``apply_events`` alone, in this process (one core), over attempts drawn
  beforehand (outside the timing) for every ``--sample``-th player of each archetype,
  with the same seeds, moments and order as the simulator draws them: what folding
  the simulated attempts through the production rules costs a core, per attempt;
- ``simulate()`` end to end, ``--players`` x ``--days`` with ``--jobs`` worker processes
  (drawing, folding, tallying, starting the workers, merging the report): its wall
  time and CPU time (this process and its workers).

It prints each round and the medians: attempts per core-second of each (simulate:
attempts / CPU-seconds of all its processes), their ratio, and the load average
(``os.getloadavg()``) before and after each measurement: on a shared machine read the
ratio, which both sides share, more than the rates. Then, from the progress callback
of the ``simulate()`` runs, how far the CLI's progress bar estimate of the time left
was from the time that really was left, when 10%, 25% and 50% of the work was done.
This is a measurement, never a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

from mikoshi_progression import DEFAULT_CONFIG, ProgressionConfig, ProgressState, load_config
from mikoshi_progression.cli._simulate_common import ProgressBar
from mikoshi_progression.core.rules import apply_events
from mikoshi_progression.core.zones import boundary_for
from mikoshi_progression.simulation import (
    DEFAULT_ARCHETYPES,
    DEFAULT_START,
    Archetype,
    load_archetypes,
    simulate,
)
from mikoshi_progression.simulation._archetypes import allocate
from mikoshi_progression.simulation._sampling import Behaviour, Calendar, ClockCalendar

_MARKS = (0.10, 0.25, 0.50)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load() -> float:
    return os.getloadavg()[0]


class Run(NamedTuple):
    """What one measurement simulates."""

    config: ProgressionConfig
    archetypes: tuple[Archetype, ...]
    players: int
    days: int
    jobs: int
    seed: int


Folds = list[tuple[ProgressState, list]]


def predraw(run: Run, sample: int) -> Folds:
    """Every ``sample``-th player's attempts, drawn as the simulator draws them."""
    counts = allocate(run.players, [a.weight for a in run.archetypes])
    kind = ClockCalendar if run.config.uses_levers else Calendar
    folds: Folds = []
    for archetype, count in zip(run.archetypes, counts, strict=True):
        behaviour = Behaviour(archetype, run.config)
        zones = archetype.player_zones(count)
        calendars: dict[str | None, Calendar | ClockCalendar] = {}
        for player in range(0, count, sample):
            zone = zones[player]
            fresh = ProgressState(timezone=zone)
            if zone not in calendars:
                boundary = boundary_for(fresh, run.config)
                calendars[zone] = kind(boundary, DEFAULT_START, run.days)
            rng = random.Random(f"{run.seed}:{archetype.name}:{player}")
            events, _, _ = behaviour.attempts(rng.random, run.days, calendars[zone])
            folds.append((fresh, events))
    return folds


def fold_round(config: ProgressionConfig, folds: Folds) -> tuple[float, int]:
    """Seconds (one core) to fold every pre-drawn player through ``apply_events``."""
    attempts = sum(len(events) for _, events in folds)
    started = time.perf_counter()
    for state, events in folds:
        apply_events(state, events, config)
    return time.perf_counter() - started, attempts


class Simulated(NamedTuple):
    wall: float
    cpu: float
    attempts: int
    fingerprint: str
    eta_errors: dict[float, float]  # share done -> (estimated - real) / real time left


def simulate_round(run: Run) -> Simulated:
    """``simulate()`` end to end, with the CLI's progress bar estimating the time left."""
    bar = ProgressBar(io.StringIO())
    marks: dict[float, tuple[float, float]] = {}  # mark -> (when, estimated time left)

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        share = done / total
        remaining = getattr(bar, "remaining", None)
        if remaining is not None:
            left = remaining(now, share)
        else:  # the bar before it reckoned from the pace: elapsed time over the share
            elapsed = now - bar._started
            left = elapsed / share - elapsed if 0 < share < 1 else None
        for mark in _MARKS:
            if mark not in marks and share >= mark and left is not None:
                marks[mark] = (now, left)

    cpu = cpu_seconds()
    started = time.perf_counter()
    report = simulate(
        run.config,
        run.archetypes,
        players=run.players,
        days=run.days,
        jobs=run.jobs,
        seed=run.seed,
        progress=progress,
    )
    ended = time.monotonic()
    wall = time.perf_counter() - started
    errors = {}
    for mark, (when, left) in marks.items():
        real = ended - when
        errors[mark] = (left - real) / real if real > 0 else 0.0
    fingerprint = json.dumps(report.to_dict(), sort_keys=True)
    return Simulated(wall, cpu_seconds() - cpu, report.attempts, fingerprint, errors)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", "--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sample", type=int, default=10, help="fold every N-th player for the ceiling"
    )
    parser.add_argument("--config", help="a config file (default: the built-in rules)")
    parser.add_argument("--archetypes", help="an archetype file (default: the built-in ones)")
    args = parser.parse_args(argv)
    config = DEFAULT_CONFIG if args.config is None else load_config(args.config)
    archetypes = DEFAULT_ARCHETYPES if args.archetypes is None else load_archetypes(args.archetypes)
    run = Run(config, tuple(archetypes), args.players, args.days, args.jobs, args.seed)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"python {platform.python_version()} on {platform.machine()}, {sys.platform}, "
        f"{cpus} CPUs available; config {config.fingerprint}"
        f"{' (levers on)' if config.uses_levers else ''}; {args.rounds} rounds\n"
    )
    folds = predraw(run, args.sample)
    fold_rates: list[float] = []
    sim_rates: list[float] = []
    walls: list[float] = []
    cpus_used: list[float] = []
    ratios: list[float] = []
    loads: list[float] = []
    fingerprints: set[str] = set()
    errors: dict[float, list[float]] = {mark: [] for mark in _MARKS}
    attempts = 0
    print(f"{'round':>5} | {'fold alone':>22} | {'simulate()':>38} | {'ratio':>6} | load avg")
    for number in range(1, args.rounds + 1):
        before = load()
        seconds, folded = fold_round(config, folds)
        middle = load()
        sim = simulate_round(run)
        after = load()
        attempts = sim.attempts
        fold_rate = folded / seconds
        sim_rate = sim.attempts / sim.cpu
        fold_rates.append(fold_rate)
        sim_rates.append(sim_rate)
        walls.append(sim.wall)
        cpus_used.append(sim.cpu)
        ratios.append(sim_rate / fold_rate)
        loads += [before, middle, after]
        fingerprints.add(sim.fingerprint)
        for mark, error in sim.eta_errors.items():
            errors[mark].append(error)
        print(
            f"{number:>5} | {fold_rate:>11,.0f} attempts/s | {sim.wall:6.2f} s wall, "
            f"{sim.cpu:6.2f} CPU-s, {sim_rate:>9,.0f}/CPU-s | {sim_rate / fold_rate:5.2f}x | "
            f"{before:.2f} / {middle:.2f} / {after:.2f}"
        )
    median = statistics.median
    print()
    print(f"fold alone (ceiling)     {median(fold_rates):>12,.0f} attempts per core-second")
    print(
        f"                         ({sum(len(e) for _, e in folds):,} attempts of every "
        f"{args.sample}th player, one process)"
    )
    print(
        f"simulate()               {median(walls):>12.2f} s wall, {median(cpus_used):.2f} CPU-s "
        f"({args.players:,} x {args.days:,}, jobs={args.jobs}, {attempts:,} attempts)"
    )
    print(f"                         {median(sim_rates):>12,.0f} attempts per core-second")
    print(f"simulate / fold          {median(ratios):>12.2f}x  (median of the rounds' ratios)")
    print(f"load average             {min(loads):.2f} to {max(loads):.2f}")
    print(f"identical reports        {'yes' if len(fingerprints) == 1 else 'NO'}")
    print("progress bar's time left against the time really left (median of the rounds):")
    for mark in _MARKS:
        found = errors[mark]
        shown = f"{median(found):+.0%}" if found else "no report there"
        print(f"  at {mark:.0%} done            {shown}  ({', '.join(f'{e:+.0%}' for e in found)})")


if __name__ == "__main__":  # the workers import this module under another name
    main()
