"""Speed of the balance simulator on the built-in archetypes.

Run:  python benchmarks/bench_simulate.py [--players 10000] [--days 365] [--repeat 3] [--jobs N]
                                         [--config FILE] [--archetypes FILE.toml]

Times ``simulate()`` end to end (drawing attempts, folding them through
``apply_events``, reading the results back, starting worker processes, merging)
and prints each run's wall time and CPU time (this process and its workers),
then the median's player-days per second and award attempts per second. On a
shared machine the wall time depends on the neighbours; the CPU time does not,
and CPU time / jobs is what the wall time would be with the CPUs to itself.
With ``--single`` it also times one process on a tenth of the players. This is
a measurement, never a test: nothing here asserts a time. ``--config`` and
``--archetypes`` time other rules and players (a config with levers takes the levers'
path, which builds every result).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import NamedTuple

from mikoshi_progression import DEFAULT_CONFIG, ProgressionConfig, load_config
from mikoshi_progression.simulation import (
    DEFAULT_ARCHETYPES,
    Archetype,
    SimulationReport,
    default_jobs,
    load_archetypes,
    simulate,
)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Run(NamedTuple):
    """What one measurement simulates."""

    config: ProgressionConfig
    archetypes: tuple[Archetype, ...]
    players: int
    days: int
    jobs: int
    seed: int


def timed(run: Run) -> tuple[float, float, SimulationReport]:
    cpu = cpu_seconds()
    started = time.perf_counter()
    report = simulate(
        run.config,
        run.archetypes,
        players=run.players,
        days=run.days,
        jobs=run.jobs,
        seed=run.seed,
    )
    return time.perf_counter() - started, cpu_seconds() - cpu, report


def measure(run: Run, repeat: int) -> float:
    players, days, jobs = run.players, run.days, run.jobs
    print(f"{players:,} players x {days:,} days, jobs={jobs}:")
    times = []
    cpus = []
    fingerprints = set()
    attempts = 0
    for number in range(1, repeat + 1):
        seconds, cpu, report = timed(run)
        times.append(seconds)
        cpus.append(cpu)
        attempts = report.attempts
        fingerprints.add(json.dumps(report.to_dict(), sort_keys=True))
        print(f"  run {number}: {seconds:6.2f} s wall, {cpu:6.2f} s CPU")
    median = statistics.median(times)
    cpu = statistics.median(cpus)
    player_days = players * days
    print(f"  median wall time      {median:10.2f} s")
    print(f"  player-days/s         {player_days / median:10,.0f}")
    print(f"  award attempts/s      {attempts / median:10,.0f}  ({attempts:,} attempts)")
    print(f"  median CPU time       {cpu:10.2f} s  (all processes)")
    print(f"  player-days/CPU-s     {player_days / cpu:10,.0f}")
    print(f"  wall time if idle     {cpu / jobs:10.2f} s  (CPU time / jobs)")
    print(f"  identical reports     {'yes' if len(fingerprints) == 1 else 'NO'}\n")
    return median


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--single", action="store_true", help="also time jobs=1 on a tenth of the players"
    )
    parser.add_argument("--config", help="a config file (default: the built-in rules)")
    parser.add_argument("--archetypes", help="an archetype file (default: the built-in ones)")
    args = parser.parse_args(argv)
    config = DEFAULT_CONFIG if args.config is None else load_config(args.config)
    archetypes = DEFAULT_ARCHETYPES if args.archetypes is None else load_archetypes(args.archetypes)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"python {platform.python_version()} on {platform.machine()}, {sys.platform}, "
        f"{cpus} CPUs available; median of {args.repeat} runs; config {config.fingerprint}"
        f"{' (levers on)' if config.uses_levers else ''}\n"
    )
    run = Run(config, archetypes, args.players, args.days, args.jobs, args.seed)
    measure(run, args.repeat)
    if args.single:
        measure(run._replace(players=max(1, args.players // 10), jobs=1), args.repeat)


if __name__ == "__main__":  # the workers import this module under another name
    main()
