"""Simulating a chunk of players: draw their attempts, fold them, tally what came out.

A chunk is the unit of work a worker process runs; its :class:`Tally` holds sums and
lists that add up in any grouping, so the report does not depend on how players were
split among processes.

Without levers the results are read back in bulk and only the days that gained less
than their attempts' worth are looked into; with levers every result is
(:mod:`._levers`).
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import add
from typing import Any, NamedTuple

from ..core.config import ProgressionConfig
from ..core.results import Outcome
from ..core.rules import apply_events
from ..core.state import ProgressState
from ..core.zones import boundary_for
from ._archetypes import Archetype
from ._levers import LeverTally, account_player
from ._sampling import Behaviour, Calendar, ClockCalendar

__all__ = ["Chunk", "Tally", "simulate_chunk"]


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


def simulate_chunk(chunk: Chunk, config: ProgressionConfig, archetype: Archetype) -> Tally:
    """Simulate one chunk of players: draw attempts, fold them with ``apply_events``, read back."""
    days = chunk.days
    rewards = {name: rule.exp for name, rule in config.actions.items()}
    behaviour = Behaviour(archetype, config)
    levers = LeverTally() if config.uses_levers else None
    calendars: dict[str | None, Calendar | ClockCalendar] = {}
    fresh_states: dict[str | None, ProgressState] = {}
    max_level = config.max_level
    thresholds = [level.exp_required for level in config.levels[1:]]
    reach: list[list[int]] = [[] for _ in range(max_level - 1)]
    final_exp: list[int] = []
    final_levels = dict.fromkeys(range(1, max_level + 1), 0)
    day_sums = [0] * days
    cap_loss: dict[int, int] = {}
    limit_loss: dict[str, int] = {}
    active_days = capped_days = attempts = nominal_total = awarded_total = 0
    rows: list[list[int]] = []
    player_active: list[int] = []
    player_capped: list[int] = []
    player_cap_lost: list[int] = []
    player_limit_lost: list[int] = []

    for player, zone in enumerate(chunk.zones, chunk.first):
        fresh = fresh_states.get(zone)
        if fresh is None:
            fresh = fresh_states[zone] = ProgressState(timezone=zone)
            # Where in the day an attempt falls matters only to levers: see the calendars.
            kind = Calendar if levers is None else ClockCalendar
            calendars[zone] = kind(boundary_for(fresh, config), chunk.start, days)
        rng = random.Random(f"{chunk.seed}:{archetype.name}:{player}")
        events, ends, nominal = behaviour.attempts(rng.random, days, calendars[zone])
        final, results = apply_events(fresh, events, config)
        exp_by_day, lossy_days = _exp_by_day(results.column("exp"), ends, nominal)
        cap_lost_before = sum(cap_loss.values())
        limit_lost_before = sum(limit_loss.values())
        capped = 0
        if levers is not None:
            capped = account_player(levers, results, ends, final, config, cap_loss, limit_loss)
        elif lossy_days:
            columns = _LossColumns(
                results.column("outcome"),
                results.column("exp_added"),
                results.column("previous_level"),
            )
            for day in lossy_days:
                start = ends[day - 1] if day else 0
                capped += _attribute_losses(
                    columns, events, rewards, start, ends[day], cap_loss, limit_loss
                )
        capped_days += capped
        active = sum(1 for a, b in zip(ends, [0, *ends], strict=False) if a != b)
        player_active.append(active)
        player_capped.append(capped)
        player_cap_lost.append(sum(cap_loss.values()) - cap_lost_before)
        player_limit_lost.append(sum(limit_loss.values()) - limit_lost_before)
        rows.append(exp_by_day)
        # EXP only grows here (nothing is revoked), so a level is reached on the
        # first day that ends with at least its threshold.
        for column, needed in zip(reach, thresholds, strict=True):
            day = bisect_left(exp_by_day, needed)
            column.append(day + 1 if day < days else 0)
        day_sums = list(map(add, day_sums, exp_by_day))
        active_days += active
        attempts += len(events)
        nominal_total += sum(nominal)
        awarded_total += final.exp
        final_exp.append(final.exp)
        final_levels[min(final.level, max_level)] += 1

    # Counting each day's EXP values (Counter.update counts in C) keeps what travels
    # back from a worker small and mergeable, and gives exact percentiles by day.
    day_counts = [Counter(column) for column in zip(*rows, strict=True)] if rows else []
    return Tally(
        chunk.position,
        chunk.first,
        chunk.stop - chunk.first,
        reach,
        final_exp,
        final_levels,
        active_days,
        capped_days,
        attempts,
        nominal_total,
        awarded_total,
        cap_loss,
        limit_loss,
        day_sums,
        day_counts,
        player_active,
        player_capped,
        player_cap_lost,
        player_limit_lost,
        levers,
    )


def _exp_by_day(
    exp_after: Sequence[int], ends: Sequence[int], nominal: Sequence[int]
) -> tuple[list[int], list[int]]:
    """EXP at the end of each day, and the days on which an attempt lost EXP.

    ``exp_after`` is the EXP after each attempt, ``ends[d]`` the index just past
    day ``d``'s attempts and ``nominal[d]`` the EXP those attempts were worth.
    """
    exp_by_day: list[int] = []
    lossy: list[int] = []
    before = 0
    for day, end in enumerate(ends):
        after = exp_after[end - 1] if end else 0
        exp_by_day.append(after)
        if after - before < nominal[day]:
            lossy.append(day)
        before = after
    return exp_by_day, lossy


@dataclass(frozen=True, slots=True)
class _LossColumns:
    """The per-attempt results a loss attribution reads (``AwardResults.column``)."""

    outcomes: Sequence[Outcome]
    exp_added: Sequence[int]
    previous_levels: Sequence[int]


def _attribute_losses(
    columns: _LossColumns,
    events: Sequence[tuple[datetime, str]],
    rewards: Mapping[str, int],
    start: int,
    end: int,
    cap_loss: dict[int, int],
    limit_loss: dict[str, int],
) -> bool:
    """Charge the EXP lost on one day (events ``start:end``) to the cap or to limits.

    Returns whether the daily cap cut or refused anything.
    """
    capped = False
    for index in range(start, end):
        outcome = columns.outcomes[index]
        if outcome is Outcome.AWARDED:
            continue
        action = events[index][1]
        reward = rewards[action]
        if outcome is Outcome.ACTION_LIMIT:
            limit_loss[action] = limit_loss.get(action, 0) + reward
        else:  # DAILY_CAP or PARTIAL: charged to the cap of the level at the attempt
            capped = True
            level = columns.previous_levels[index]
            cap_loss[level] = cap_loss.get(level, 0) + reward - columns.exp_added[index]
    return capped
