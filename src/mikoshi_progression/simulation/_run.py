"""Running a simulation: split the players, run the chunks here or in worker processes,
and merge their tallies into the report."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
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
from ._report import ArchetypeReport, LevelReach, SimulationReport
from ._stats import nearest_rank

__all__ = ["DEFAULT_START", "default_jobs", "simulate"]


DEFAULT_START = date(2026, 1, 1)
"""The first simulated day unless told otherwise (the weekday plays no part)."""


_MAX_JOBS = 8

_WORKER_CONFIGS: dict[str, ProgressionConfig] = {}


def _ignore_interrupts() -> None:
    """Leave Ctrl-C to the parent, which stops the pool; a worker then dies quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _simulate_chunk_in_worker(chunk: Chunk) -> Tally:
    """:func:`simulate_chunk` in a worker process, rebuilding the config once per worker."""
    config = _WORKER_CONFIGS.get(chunk.config_json)
    if config is None:
        config = ProgressionConfig.from_dict(json.loads(chunk.config_json))
        _WORKER_CONFIGS[chunk.config_json] = config
    (archetype,) = archetypes_from_dict({"archetype": [chunk.archetype]})
    return simulate_chunk(chunk, config, archetype)


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
        progress: Called as ``progress(players_done, players)`` as work completes.

    Raises:
        ConfigError: the archetypes cannot be simulated under ``config`` (an
            unknown action, a duplicate name).
        ValueError: ``players``, ``days`` or ``jobs`` is below 1, or the days
            run past the last date Python knows (9999-12-31).
    """
    checks: tuple[tuple[str, object], ...] = (("players", players), ("days", days), ("jobs", jobs))
    for name, value in checks:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if days > (date.max - start).days:
        raise ValueError(f"{days:,} days from {start.isoformat()} run past {date.max.isoformat()}")
    problems = archetype_problems(archetypes, config)
    if problems:
        raise ConfigError(problems)
    counts = allocate(players, [a.weight for a in archetypes])
    config_json = json.dumps(config.to_dict())  # key order kept: it orders ties in a day
    size = max(1, min(100, math.ceil(players / (jobs * 8))))
    chunks = []
    for index, (archetype, count) in enumerate(zip(archetypes, counts, strict=True)):
        zones = archetype.player_zones(count)
        chunks += [
            Chunk(
                config_json,
                archetype.to_dict(),
                index,
                first,
                min(first + size, count),
                days,
                seed,
                start,
                zones[first : first + size],
            )
            for first in range(0, count, size)
        ]
    if jobs > 1:
        # Costliest first, so that no worker is left alone with a long last chunk.
        # Tallies add up in any order (integer sums, sorted lists): the report is unchanged.
        cost = [_attempts_per_day(a) for a in archetypes]
        chunks.sort(key=lambda c: -(c.stop - c.first) * (cost[c.position] + 1))
    tallies: list[Tally] = []
    done = 0
    for tally in _run(chunks, config, archetypes, jobs):
        tallies.append(tally)
        done += tally.players
        if progress is not None:
            progress(done, players)
    return _report(config, archetypes, counts, tallies, players, days, seed, start)


def _attempts_per_day(archetype: Archetype) -> float:
    """Expected attempts a player of ``archetype`` makes a day: the cost of simulating one."""
    habit = archetype.streak_habit
    played = archetype.active_chance * sum(rate.expected for rate in archetype.actions.values())
    return played + (habit.expected if habit is not None else 0.0)


def _run(
    chunks: list[Chunk], config: ProgressionConfig, archetypes: Sequence[Archetype], jobs: int
) -> Iterator[Tally]:
    """Run the chunks, here in order or in ``jobs`` worker processes as they finish."""
    workers = min(jobs, len(chunks))
    if workers <= 1:
        for chunk in chunks:
            yield simulate_chunk(chunk, config, archetypes[chunk.position])
        return
    # "spawn" behaves the same on every platform and never forks a threaded parent.
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=_ignore_interrupts)
    try:
        yield from pool.imap_unordered(_simulate_chunk_in_worker, chunks)
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
        parts = grouped[index]
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
            )
        )
    return SimulationReport(config, players, days, seed, start, tuple(reports))
