"""Speed of the balance simulator on the built-in archetypes.

Run:  python benchmarks/bench_simulate.py [--players 10000] [--days 365] [--repeat 3] [--jobs N]

Times ``simulate()`` end to end (drawing attempts, folding them through
``apply_events``, reading the results back, starting worker processes, merging)
and prints each run's wall time and CPU time (this process and its workers),
then the median's player-days per second and award attempts per second. On a
shared machine the wall time depends on the neighbours; the CPU time does not,
and CPU time / jobs is what the wall time would be with the CPUs to itself.
With ``--single`` it also times one process on a tenth of the players. This is
a measurement, never a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

from mikoshi_progression.simulation import SimulationReport, default_jobs, simulate


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(players: int, days: int, jobs: int, seed: int) -> tuple[float, float, SimulationReport]:
    cpu = cpu_seconds()
    started = time.perf_counter()
    report = simulate(players=players, days=days, jobs=jobs, seed=seed)
    return time.perf_counter() - started, cpu_seconds() - cpu, report


def measure(players: int, days: int, jobs: int, repeat: int, seed: int) -> float:
    print(f"{players:,} players x {days:,} days, jobs={jobs}:")
    times = []
    cpus = []
    fingerprints = set()
    attempts = 0
    for run in range(1, repeat + 1):
        seconds, cpu, report = timed(players, days, jobs, seed)
        times.append(seconds)
        cpus.append(cpu)
        attempts = report.attempts
        fingerprints.add(json.dumps(report.to_dict(), sort_keys=True))
        print(f"  run {run}: {seconds:6.2f} s wall, {cpu:6.2f} s CPU")
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
    args = parser.parse_args(argv)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"python {platform.python_version()} on {platform.machine()}, {sys.platform}, "
        f"{cpus} CPUs available; median of {args.repeat} runs\n"
    )
    measure(args.players, args.days, args.jobs, args.repeat, args.seed)
    if args.single:
        measure(max(1, args.players // 10), args.days, 1, args.repeat, args.seed)


if __name__ == "__main__":  # the workers import this module under another name
    main()
