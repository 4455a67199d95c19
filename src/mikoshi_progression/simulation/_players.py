"""Simulating a chunk of players: draw their attempts, fold them, tally what came out.

A chunk is the unit of work a worker process runs; its :class:`Tally` holds sums and
lists that add up in any grouping, so the report does not depend on how players were
split among processes.

Without levers a player's days are drawn as plans (each day's action names in order,
:meth:`~._sampling.Behaviour.plans`) and folded a day at a time by the core's
:class:`~mikoshi_progression.core.day_fold.DayFolder`, which gives each day's EXP and
losses exactly as ``apply_events`` would, without moments or per-attempt results.
With levers the attempts are stamped with real moments, folded by ``apply_events``,
and every result is read back (:mod:`._levers`).
"""

from __future__ import annotations

import json
import random
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple

from ..core.config import ProgressionConfig
from ..core.day_fold import NO_LOSS, DayFolder, DayLosses
from ..core.rules import apply_events
from ..core.state import ProgressState
from ..core.zones import boundary_for
from ._archetypes import Archetype
from ._levers import LeverTally, account_player
from ._sampling import Behaviour, ClockCalendar

__all__ = ["Chunk", "Tally", "simulate_chunk"]

_Fold = Callable[[int, int, tuple[str, ...]], tuple[int, int, DayLosses]]


class Chunk(NamedTuple):
    """Players ``first`` to ``stop - 1`` of one archetype: a unit of work."""

    config_json: str
    archetype: dict[str, Any]  # to_dict() form: an Archetype holds a mappingproxy, unpicklable
    position: int  # the archetype's position in the list simulated
    first: int
    stop: int
    days: int
    seed: int
    start: date
    zones: tuple[str | None, ...]  # each player's time zone (None: the config's)


class Tally(NamedTuple):
    """What a chunk of players produced; tallies add up in any grouping.

    The per-player lists are in player order, from player ``first``: player ``i`` of
    an archetype is the same seeded player under any config, which is what pairs two
    configs' runs in a comparison.
    """

    position: int
    first: int
    players: int
    reach: list[list[int]]  # per level 2..N: the day each player reached it (0: never)
    final_exp: list[int]
    final_levels: dict[int, int]
    active_days: int
    capped_days: int
    attempts: int
    nominal: int
    awarded: int
    cap_loss: dict[int, int]
    limit_loss: dict[str, int]
    day_sums: list[int]
    day_counts: list[Counter[int]]  # per day: EXP at its end -> players there
    player_active_days: list[int]
    player_capped_days: list[int]
    player_cap_lost: list[int]
    player_limit_lost: list[int]
    levers: LeverTally | None  # None without levers


class _Sums:
    """What the players of a chunk add up to, as they are simulated, in player order."""

    def __init__(self, config: ProgressionConfig, days: int) -> None:
        self.days = days
        self.max_level = config.max_level
        self.thresholds = [level.exp_required for level in config.levels[1:]]
        self.reach: list[list[int]] = [[] for _ in range(self.max_level - 1)]
        self.final_exp: list[int] = []
        self.final_levels = dict.fromkeys(range(1, self.max_level + 1), 0)
        self.cap_loss: dict[int, int] = {}
        self.limit_loss: dict[str, int] = {}
        self.active_days = self.capped_days = self.attempts = self.nominal = 0
        self.rows: list[list[int]] = []
        self.player_active: list[int] = []
        self.player_capped: list[int] = []
        self.player_cap_lost: list[int] = []
        self.player_limit_lost: list[int] = []

    def add(
        self,
        exp_by_day: list[int],
        level: int,
        counts: tuple[int, int, int, int],
        cap_lost: int,
        limit_lost: int,
    ) -> None:
        """One player: EXP at each day's end, final level, (days active, days capped,
        attempts, nominal EXP) and the EXP they lost to the cap and to limits."""
        active, capped, attempts, nominal = counts
        self.player_active.append(active)
        self.player_capped.append(capped)
        self.player_cap_lost.append(cap_lost)
        self.player_limit_lost.append(limit_lost)
        self.rows.append(exp_by_day)
        # EXP only grows here (nothing is revoked), so a level is reached on the first
        # day that ends with at least its threshold.
        for column, needed in zip(self.reach, self.thresholds, strict=True):
            day = bisect_left(exp_by_day, needed)
            column.append(day + 1 if day < self.days else 0)
        self.active_days += active
        self.capped_days += capped
        self.attempts += attempts
        self.nominal += nominal
        exp = exp_by_day[-1] if exp_by_day else 0
        self.final_exp.append(exp)
        self.final_levels[min(level, self.max_level)] += 1

    def tally(self, chunk: Chunk, levers: LeverTally | None) -> Tally:
        rows = self.rows
        day_sums = [sum(column) for column in zip(*rows, strict=True)] if rows else []
        # Counting each day's EXP values (Counter counts in C) keeps what travels back
        # from a worker small and mergeable, and gives exact percentiles by day.
        day_counts = [Counter(column) for column in zip(*rows, strict=True)] if rows else []
        return Tally(
            chunk.position,
            chunk.first,
            chunk.stop - chunk.first,
            self.reach,
            self.final_exp,
            self.final_levels,
            self.active_days,
            self.capped_days,
            self.attempts,
            self.nominal,
            sum(self.final_exp),
            self.cap_loss,
            self.limit_loss,
            day_sums or [0] * self.days,
            day_counts,
            self.player_active,
            self.player_capped,
            self.player_cap_lost,
            self.player_limit_lost,
            levers,
        )


def simulate_chunk(chunk: Chunk, config: ProgressionConfig, archetype: Archetype) -> Tally:
    """Simulate one chunk of players: draw their attempts, fold them, read back."""
    if config.uses_levers:
        return _simulate_levered(chunk, config, archetype)
    behaviour, fold = _compiled(chunk, config, archetype)
    sums = _Sums(config, chunk.days)
    cap_loss, limit_loss = sums.cap_loss, sums.limit_loss
    fresh = ProgressState()  # every player starts new: the time zone only moves their days
    for player in range(chunk.first, chunk.stop):
        rng = random.Random(f"{chunk.seed}:{archetype.name}:{player}")
        exp, level = fresh.exp, fresh.level
        exp_by_day: list[int] = []
        keep = exp_by_day.append
        active = capped = cap_lost = limit_lost = tried = worth = 0
        for actions, nominal in behaviour.plans(rng.random, chunk.days):
            if actions:
                exp, level, losses = fold(exp, level, actions)
                active += 1
                tried += len(actions)
                worth += nominal
                if losses is not NO_LOSS:
                    if losses.capped:
                        capped += 1
                        cap_lost += losses.cap_lost
                        for number, lost in losses.cap_loss:
                            cap_loss[number] = cap_loss.get(number, 0) + lost
                    if losses.limit_loss:
                        limit_lost += losses.limit_lost
                        for action, lost in losses.limit_loss:
                            limit_loss[action] = limit_loss.get(action, 0) + lost
            keep(exp)
        sums.add(exp_by_day, level, (active, capped, tried, worth), cap_lost, limit_lost)
    return sums.tally(chunk, None)


# Per process: each (config, archetype)'s Behaviour and each config's DayFolder, kept
# across chunks so that the days they remember serve every chunk a worker runs.
_COMPILED: dict[tuple[str, str], tuple[Behaviour, DayFolder]] = {}
_COMPILED_KEPT = 32


def _compiled(
    chunk: Chunk, config: ProgressionConfig, archetype: Archetype
) -> tuple[Behaviour, _Fold]:
    key = (chunk.config_json, json.dumps(chunk.archetype, sort_keys=True))
    found = _COMPILED.get(key)
    if found is None:
        if len(_COMPILED) >= _COMPILED_KEPT:
            _COMPILED.clear()
        folder = next(
            (f for k, (_, f) in _COMPILED.items() if k[0] == chunk.config_json), None
        ) or DayFolder(config)
        found = _COMPILED[key] = (Behaviour(archetype, config), folder)
    return found[0], found[1].fold


def _simulate_levered(chunk: Chunk, config: ProgressionConfig, archetype: Archetype) -> Tally:
    """A chunk under a config with levers: real moments, folded by ``apply_events``.

    Boosts and a streak's grace depend on when in its day an attempt falls, so each
    attempt is stamped (:class:`ClockCalendar`) and every result is read back.
    """
    days = chunk.days
    behaviour = Behaviour(archetype, config)
    levers = LeverTally()
    calendars: dict[str | None, ClockCalendar] = {}
    fresh_states: dict[str | None, ProgressState] = {}
    sums = _Sums(config, days)
    cap_loss, limit_loss = sums.cap_loss, sums.limit_loss
    for player, zone in enumerate(chunk.zones, chunk.first):
        fresh = fresh_states.get(zone)
        if fresh is None:
            fresh = fresh_states[zone] = ProgressState(timezone=zone)
            calendars[zone] = ClockCalendar(boundary_for(fresh, config), chunk.start, days)
        rng = random.Random(f"{chunk.seed}:{archetype.name}:{player}")
        events, ends, nominal = behaviour.attempts(rng.random, days, calendars[zone])
        final, results = apply_events(fresh, events, config)
        exp_after = results.column("exp")
        capped, cap_lost, limit_lost = account_player(
            levers, results, ends, final, config, cap_loss, limit_loss
        )
        active = sum(1 for a, b in zip(ends, [0, *ends], strict=False) if a != b)
        sums.add(
            [exp_after[end - 1] if end else 0 for end in ends],
            final.level,
            (active, capped, len(events), sum(nominal)),
            cap_lost,
            limit_lost,
        )
    return sums.tally(chunk, levers)
