"""Running a simulation: split the players, run the chunks here or in worker processes,
and merge their tallies into the report."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from itertools import accumulate, chain
from operator import itemgetter
from types import MappingProxyType

from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..errors import ConfigError
from ._archetypes import (
    DEFAULT_ARCHETYPES,
    Archetype,
    allocate,
    archetype_problems,
    archetypes_from_dict,
)
from ._levers import lever_figures
from ._players import Chunk, Tally, simulate_chunk
from ._report import ArchetypeReport, LevelReach, PlayerOutcomes, SimulationReport
from ._stats import nearest_rank, rank_index

__all__ = ["DEFAULT_START", "default_jobs", "simulate", "simulate_many"]


DEFAULT_START = date(2026, 1, 1)
"""The first simulated day unless told otherwise (the weekday plays no part)."""


_MAX_JOBS = 8

_WORKER_CONFIGS: dict[str, ProgressionConfig] = {}


def _ignore_interrupts() -> None:
    """Leave Ctrl-C to the parent, which stops the pool; a worker then dies quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _simulate_task_in_worker(task: tuple[int, Chunk]) -> tuple[int, Tally]:
    """:func:`simulate_chunk` in a worker process, rebuilding each config once per worker."""
    run, chunk = task
    config = _WORKER_CONFIGS.get(chunk.config_json)
    if config is None:
        config = ProgressionConfig.from_dict(json.loads(chunk.config_json))
        _WORKER_CONFIGS[chunk.config_json] = config
    (archetype,) = archetypes_from_dict({"archetype": [chunk.archetype]})
    return run, simulate_chunk(chunk, config, archetype)


def default_jobs() -> int:
    """Worker processes to use by default: the CPUs this process may run on, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_JOBS))


def simulate(
    config: ProgressionConfig = DEFAULT_CONFIG,
    archetypes: Sequence[Archetype] = DEFAULT_ARCHETYPES,
    *,
    players: int = 1000,
    days: int = 365,
    seed: int = 0,
    start: date = DEFAULT_START,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Simulate ``players`` players for ``days`` days under ``config``.

    Players are split among ``archetypes`` by weight (largest remainders). Each
    player starts as a new user on ``start`` (in their archetype's time zones, if it
    has some); their attempts for every day are drawn from their archetype and folded
    through :func:`~mikoshi_progression.apply_events`, so the config's levers (boosts,
    streaks, milestones) apply exactly as in production.

    Args:
        config: The rules to simulate.
        archetypes: The kinds of players (see :data:`DEFAULT_ARCHETYPES`).
        players: Players in all, at least 1.
        days: Days to simulate, at least 1.
        seed: Any integer; the same seed gives the same report.
        start: The first simulated day.
        jobs: Worker processes (1 runs in this process). The report does not
            depend on it.
        progress: Called as ``progress(done, total)`` as work completes, in units of
            expected work (players weighted by what their archetype does a day), so
            that ``done / total`` is the share of the work done.

    Raises:
        ConfigError: the archetypes cannot be simulated under ``config`` (an
            unknown action, a duplicate name).
        ValueError: ``players``, ``days`` or ``jobs`` is below 1, or the days
            run past the last date Python knows (9999-12-31).
    """
    ((_, report),) = simulate_many(
        (config,),
        archetypes,
        players=players,
        days=days,
        seed=seed,
        start=start,
        jobs=jobs,
        progress=progress,
    )
    return report


def simulate_many(
    configs: Sequence[ProgressionConfig],
    archetypes: Sequence[Archetype] = DEFAULT_ARCHETYPES,
    *,
    players: int = 1000,
    days: int = 365,
    seed: int = 0,
    start: date = DEFAULT_START,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    labels: Sequence[str] | None = None,
) -> Iterator[tuple[int, SimulationReport]]:
    """Simulate the same players under each of ``configs``, sharing one pool of workers.

    Each run is what :func:`simulate` would report for its config: the same seed
    plays the same players under every config, which is what makes a comparison
    paired. Yields ``(index, report)`` as each config's players are all done, in
    the order the runs finish (mostly the order given: the work is queued config
    by config). ``progress`` is called as ``progress(done, total)``, in units of
    expected work over all the runs (see :func:`simulate`). ``labels`` name the
    configs in errors (default ``configs[i]``).

    Everything is checked before anything runs.

    Raises:
        ConfigError: the archetypes cannot be simulated under one of the configs.
        ValueError: as for :func:`simulate`.
    """
    checks: tuple[tuple[str, object], ...] = (("players", players), ("days", days), ("jobs", jobs))
    for name, value in checks:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if days > (date.max - start).days:
        raise ValueError(f"{days:,} days from {start.isoformat()} run past {date.max.isoformat()}")
    names = list(labels) if labels is not None else [f"configs[{i}]" for i in range(len(configs))]
    problems = []
    for config, name in zip(configs, names, strict=True):
        found = archetype_problems(archetypes, config)
        problems += [f"{name}: {p}" for p in found] if len(configs) > 1 else found
    if problems:
        raise ConfigError(problems)
    return _simulate_many(configs, archetypes, players, days, seed, start, jobs, progress)


def _simulate_many(
    configs: Sequence[ProgressionConfig],
    archetypes: Sequence[Archetype],
    players: int,
    days: int,
    seed: int,
    start: date,
    jobs: int,
    progress: Callable[[int, int], None] | None,
) -> Iterator[tuple[int, SimulationReport]]:
    counts = allocate(players, [a.weight for a in archetypes])
    # Chunks of about equal expected work, so that none is left long after the others,
    # queued config by config and, within a config, interleaved across archetypes so
    # that every archetype is about as far along as the others. Progress is counted in
    # each chunk's expected work, so that its share is the share of the work done.
    # Tallies add up in any order (integer sums, lists put back in player order): the
    # report is unchanged.
    cost = [_player_cost(a) for a in archetypes]
    total_cost = sum(c * n for c, n in zip(cost, counts, strict=True))
    per_chunk = total_cost / max(8, jobs * 24)
    tasks: list[tuple[int, Chunk]] = []
    order: list[tuple[int, float]] = []
    work: list[int] = []
    for run, config in enumerate(configs):
        config_json = json.dumps(config.to_dict())  # key order kept: it orders ties in a day
        for index, (archetype, count) in enumerate(zip(archetypes, counts, strict=True)):
            size = max(1, min(1000, round(per_chunk / cost[index])))
            zones = archetype.player_zones(count)
            for first in range(0, count, size):
                stop = min(first + size, count)
                chunk = Chunk(
                    config_json,
                    archetype.to_dict(),
                    index,
                    first,
                    stop,
                    days,
                    seed,
                    start,
                    zones[first:stop],
                )
                tasks.append((run, chunk))
                order.append((run, (first + stop) / 2 / count))
                work.append(max(1, round(cost[index] * (stop - first) * days)))
    queued = sorted(range(len(tasks)), key=order.__getitem__)
    tasks = [tasks[i] for i in queued]
    work = [work[i] for i in queued]
    left = [sum(1 for run, _ in tasks if run == i) for i in range(len(configs))]
    tallies: list[list[Tally]] = [[] for _ in configs]
    done = 0
    # Merging a run's tallies into its report costs about 0.12 of _player_cost's units
    # per player-day (measured): counted as work too, reported once the report is built.
    merging = max(1, round(_MERGE_COST * players * days))
    total = sum(work) + merging * len(configs)
    worth = {
        (run, chunk.position, chunk.first): units
        for (run, chunk), units in zip(tasks, work, strict=True)
    }
    for run, tally in _run(tasks, configs, archetypes, jobs):
        tallies[run].append(tally)
        done += worth[run, tally.position, tally.first]
        left[run] -= 1
        if left[run]:
            if progress is not None:
                progress(done, total)
            continue
        report = _report(configs[run], archetypes, counts, tallies[run], players, days, seed, start)
        tallies[run] = []
        done += merging
        if progress is not None:
            progress(done, total)
        yield run, report


_MERGE_COST = 0.12


def _player_cost(archetype: Archetype) -> float:
    """The expected work of simulating one player of ``archetype`` for a day, roughly:
    a little for every day, more for a day played, a little more for each attempt."""
    habit = archetype.streak_habit
    attempts = archetype.active_chance * sum(rate.expected for rate in archetype.actions.values())
    attempts += habit.expected if habit is not None else 0.0
    return 0.1 + archetype.active_chance + 0.2 * attempts


def _run(
    tasks: list[tuple[int, Chunk]],
    configs: Sequence[ProgressionConfig],
    archetypes: Sequence[Archetype],
    jobs: int,
) -> Iterator[tuple[int, Tally]]:
    """Run the chunks, here in order or in ``jobs`` worker processes as they finish."""
    workers = min(jobs, len(tasks))
    if workers <= 1:
        for run, chunk in tasks:
            yield run, simulate_chunk(chunk, configs[run], archetypes[chunk.position])
        return
    # "spawn" behaves the same on every platform and never forks a threaded parent.
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=_ignore_interrupts)
    try:
        yield from pool.imap_unordered(_simulate_task_in_worker, tasks)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _report(
    config: ProgressionConfig,
    archetypes: Sequence[Archetype],
    counts: Sequence[int],
    tallies: Iterable[Tally],
    players: int,
    days: int,
    seed: int,
    start: date,
) -> SimulationReport:
    grouped: dict[int, list[Tally]] = {i: [] for i in range(len(archetypes))}
    for tally in tallies:
        grouped[tally.position].append(tally)
    reports = []
    for index, archetype in enumerate(archetypes):
        parts = sorted(grouped[index], key=lambda part: part.first)  # player order
        count = counts[index]
        reach_days: list[list[int]] = [[] for _ in range(config.max_level - 1)]
        final_exp: list[int] = []
        final_levels = dict.fromkeys(range(1, config.max_level + 1), 0)
        cap_loss: dict[int, int] = {}
        limit_loss: dict[str, int] = {}
        day_sums = [0] * days
        for part in parts:
            for column, values in zip(reach_days, part.reach, strict=True):
                column.extend(values)
            final_exp.extend(part.final_exp)
            for number, n in part.final_levels.items():
                final_levels[number] += n
            for number, exp in part.cap_loss.items():
                cap_loss[number] = cap_loss.get(number, 0) + exp
            for action, exp in part.limit_loss.items():
                limit_loss[action] = limit_loss.get(action, 0) + exp
            day_sums = [a + b for a, b in zip(day_sums, part.day_sums, strict=True)]
        levels = []
        for level, column in zip(config.levels[1:], reach_days, strict=True):
            reached = sorted(d for d in column if d)
            levels.append(
                LevelReach(
                    level=level.number,
                    name=level.name,
                    exp_required=level.exp_required,
                    reached=len(reached),
                    never=count - len(reached),
                    p10=nearest_rank(reached, 10, count),
                    median=nearest_rank(reached, 50, count),
                    p90=nearest_rank(reached, 90, count),
                )
            )
        # Per day, every part's counted EXP values: their percentiles, without a merge.
        day_counts: list[list[Counter[int]]] = [[] for _ in range(days)]
        for part in parts:
            for counted, part_counts in zip(day_counts, part.day_counts, strict=False):
                counted.append(part_counts)
        outcomes = PlayerOutcomes(
            reach_days=tuple(
                tuple(day for part in parts for day in part.reach[level])
                for level in range(config.max_level - 1)
            ),
            final_exp=tuple(exp for part in parts for exp in part.final_exp),
            active_days=tuple(n for part in parts for n in part.player_active_days),
            capped_days=tuple(n for part in parts for n in part.player_capped_days),
            cap_lost=tuple(n for part in parts for n in part.player_cap_lost),
            limit_lost=tuple(n for part in parts for n in part.player_limit_lost),
        )
        limit_order = {name: i for i, name in enumerate(config.actions)}
        levers = lever_figures(config, (p.levers for p in parts if p.levers), count)
        zones = archetype.player_zones(count)
        reports.append(
            ArchetypeReport(
                archetype=archetype,
                players=count,
                days=days,
                active_days=sum(p.active_days for p in parts),
                capped_days=sum(p.capped_days for p in parts),
                attempts=sum(p.attempts for p in parts),
                nominal_exp=sum(p.nominal for p in parts),
                awarded_exp=sum(p.awarded for p in parts),
                cap_loss=MappingProxyType(dict(sorted(cap_loss.items()))),
                limit_loss=MappingProxyType(
                    dict(sorted(limit_loss.items(), key=lambda kv: limit_order[kv[0]]))
                ),
                levels=tuple(levels),
                final_exp=tuple(sorted(final_exp)),
                final_levels=MappingProxyType(final_levels),
                mean_exp_by_day=tuple(s / count if count else 0.0 for s in day_sums),
                uses_levers=config.uses_levers,
                timezones={zone: zones.count(zone) for zone in archetype.timezones},
                boost_exp=levers.boost_exp,
                streak_bonus_exp=levers.streak_bonus_exp,
                milestone_bonus_exp=levers.milestone_bonus_exp,
                streaks=levers.streaks,
                milestones=levers.milestones,
                exp_percentiles_by_day=tuple(_percentiles(counts, count) for counts in day_counts),
                outcomes=outcomes,
            )
        )
    return SimulationReport(config, players, days, seed, start, tuple(reports))


def _percentiles(parts: Iterable[Counter[int]], total: int) -> tuple[int, int, int]:
    """The 10th, 50th and 90th nearest-rank percentiles of values counted in ``parts``
    (0s if none)."""
    if not total:
        return (0, 0, 0)
    # Sorted (value, count) pairs of all the parts: a value's pairs are side by side.
    values = sorted(chain.from_iterable(counted.items() for counted in parts))
    seen = list(accumulate(map(itemgetter(1), values)))
    found = [values[bisect_left(seen, rank_index(p, total) + 1)][0] for p in (10, 50, 90)]
    return (found[0], found[1], found[2])
