"""The designer levers of a config compiled for the award path and the fold.

A :class:`LeverPlan` is worked out once per config (:func:`plan_for`): the boost windows
cut into time segments in which the same windows are in force, each action's boost in a
segment kept as integers with its event, and the lowest thresholds of the milestones
still locked. :func:`settle_milestones` unlocks what an award reached.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from ..errors import StateError
from ._frozen import trusted_factory
from .boosts import combine
from .config import ProgressionConfig
from .events import EventKind, ProgressionEvent
from .state import MAX_COUNT

__all__ = [
    "AFTER_ALL",
    "PLANS",
    "Boosted",
    "LeverPlan",
    "event_of",
    "overflow",
    "plan_for",
    "settle_milestones",
]

_build_event = trusted_factory(ProgressionEvent)
_BOOST_APPLIED = EventKind.BOOST_APPLIED
_MILESTONE_UNLOCKED = EventKind.MILESTONE_UNLOCKED
_LEVEL, _EXP, _STREAK, _COUNT = range(4)
_TRIGGER_CODES = {"level": _LEVEL, "exp": _EXP, "streak": _STREAK, "count": _COUNT}


class LeverPlan:
    """A config's levers compiled once per config, for the award path and the fold.

    Boosts: the windows' starts and ends cut time into segments in which the same windows
    are in force. For each segment and action the boost is worked out once, with exact
    fractions, then kept as integers (numerator, denominator) with the boost's event and
    the effects of an award that causes no other event, so an award finds its boost with
    one search among the edges (a fold, moving forward in time, with one comparison).
    """

    __slots__ = ("edges", "latest", "milestones", "pending", "raise_cap", "segments", "windows")

    def __init__(self, config: ProgressionConfig) -> None:
        boosts = config.boosts
        self.windows = () if boosts is None else tuple(boosts.windows)
        self.raise_cap = boosts is not None and boosts.raise_cap
        self.edges = sorted({w.starts for w in self.windows} | {w.ends for w in self.windows})
        self.segments: dict[int, dict[str, Boosted]] = {}
        # The segment the last award fell in: awards mostly come in time order.
        self.latest: tuple[datetime, datetime, dict[str, Boosted]] = (AFTER_ALL, AFTER_ALL, {})
        self.milestones = tuple(
            (m.name, _TRIGGER_CODES[m.trigger], m.threshold, m.action, m.bonus_exp)
            for m in config.milestones
        )
        self.pending: dict[frozenset[str], _Pending] = {}

    def segment(self, now: datetime) -> tuple[datetime, datetime, dict[str, Boosted]]:
        """The segment ``now`` lies in: its first moment and the first after it (the ends
        of ``datetime``'s range at either end of time), and its boosts by action (filled
        as actions come)."""
        index = bisect_right(self.edges, now)
        low = self.edges[index - 1] if index else _BEFORE_ALL
        high = self.edges[index] if index < len(self.edges) else AFTER_ALL
        self.latest = found = (low, high, self.segments.setdefault(index, {}))
        return found

    def boosted(
        self,
        segment: dict[str, Boosted],
        action: str,
        reward: int,
        now: datetime,
        config: ProgressionConfig,
    ) -> Boosted:
        """The boost of ``action`` in ``segment`` (``now`` lies in it): worked out once."""
        in_force = [w for w in self.windows if w.applies(action, now)]
        streak = config.streak
        # An action whose award touches no lever state (not the streak's, not counted).
        plain = (streak is None or action != streak.action) and action not in (
            config._counted_actions
        )
        if not in_force:
            found: Boosted = (1, 1, (), "", ((), reward, reward, (), 0), reward, plain, None)
        else:
            boosts = config.boosts
            assert boosts is not None
            multiplier = combine([w.multiplier for w in in_force], boosts.stacking)
            names = tuple(w.name for w in in_force)
            text = str(multiplier)
            boosted = reward * multiplier.numerator // multiplier.denominator
            event = (_BOOST_APPLIED, names, text, reward, boosted)
            common = ((event,), reward, boosted, names, 0)
            # Events are immutable values: every award this boost multiplies shares this one.
            built = event_of(
                _BOOST_APPLIED,
                {"boosts": names, "multiplier": text, "base_exp": reward, "boosted_exp": boosted},
            )
            found = (
                multiplier.numerator,
                multiplier.denominator,
                names,
                text,
                common,
                boosted,
                plain,
                built,
            )
        if len(segment) < 4096:  # as many as the config has actions; stay bounded anyway
            segment[action] = found
        return found

    def lowest(self, unlocked: frozenset[str]) -> _Pending:
        """The lowest level, EXP, streak and per-action count that would unlock one of the
        milestones not in ``unlocked``: one comparison each rules out the common award
        that unlocks nothing."""
        found = self.pending.get(unlocked)
        if found is None:
            lowest = [_NEVER, _NEVER, _NEVER]
            counts: dict[str, int] = {}
            for name, trigger, threshold, counted, _ in self.milestones:
                if name in unlocked:
                    continue
                if trigger == _COUNT:
                    assert counted is not None
                    counts[counted] = min(counts.get(counted, _NEVER), threshold)
                else:
                    lowest[trigger] = min(lowest[trigger], threshold)
            found = (lowest[_LEVEL], lowest[_EXP], lowest[_STREAK], counts)
            if len(self.pending) < 4096:  # users hold few distinct sets; stay bounded anyway
                self.pending[unlocked] = found
        return found


Boosted = tuple[
    int, int, tuple[str, ...], str, tuple[Any, ...], int, bool, "ProgressionEvent | None"
]
"""A boost worked out: numerator, denominator, the boosts' names, the multiplier as text,
a fold's effects for an award that causes no other event than the boost's, the boosted
reward, whether the action touches no lever state (neither the streak's nor counted by
a milestone), and the boost's event for a single award."""
_NEVER = MAX_COUNT + 1
_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)
AFTER_ALL = datetime.max.replace(tzinfo=UTC)
_Pending = tuple[int, int, int, dict[str, int]]
# The plans of the configs in use, by config (a config hashes by its fingerprint).
PLANS: dict[ProgressionConfig, LeverPlan] = {}


def plan_for(config: ProgressionConfig) -> LeverPlan:
    """The compiled :class:`LeverPlan` of ``config`` (kept for the configs in use)."""
    plan = PLANS.get(config)
    if plan is None:
        if len(PLANS) >= 64:  # a process rarely holds more configs: never grow without bound
            PLANS.clear()
        plan = PLANS[config] = LeverPlan(config)
    return plan


def event_of(kind: EventKind, details: dict[str, Any]) -> ProgressionEvent:
    return _build_event(kind, MappingProxyType(details))


def settle_milestones(
    plan: LeverPlan,
    thresholds: tuple[int, ...],
    unlocked: frozenset[str],
    exp: int,
    level: int,
    streak: int,
    lifetime: Mapping[str, int],
) -> tuple[frozenset[str], int, int, int, list[tuple[Any, ...]]]:
    """Unlock every milestone reached and not yet unlocked, in the config's order, until
    none is new (a bonus may reach a later threshold).

    Returns the unlocked names, the EXP and level after the bonuses, the bonus EXP, and
    a ``(kind, name, bonus_exp)`` tuple per unlock. Called only when some threshold is
    met (:meth:`LeverPlan.lowest` rules the rest out), so its cost is rare.
    """
    unlocks: list[tuple[Any, ...]] = []
    bonus = 0
    found = True
    while found:
        found = False
        for name, trigger, threshold, counted, extra in plan.milestones:
            if name in unlocked:
                continue
            if trigger == _LEVEL:
                value = level
            elif trigger == _EXP:
                value = exp
            elif trigger == _STREAK:
                value = streak
            else:
                value = lifetime.get(counted, 0)  # type: ignore[arg-type]
            if value < threshold:
                continue
            unlocked = unlocked | {name}
            if extra:
                if exp + extra > MAX_COUNT:
                    raise overflow(exp, extra)
                exp += extra
                bonus += extra
                reached = bisect_right(thresholds, exp) or 1
                level = reached if reached > level else level
                found = True
            unlocks.append((_MILESTONE_UNLOCKED, name, extra))
    return unlocked, exp, bonus, level, unlocks


def overflow(exp: int, added: int) -> StateError:
    return StateError(
        "exp", f"an award of {added} would take {exp} EXP past 2**63 - 1, what a store can hold"
    )
