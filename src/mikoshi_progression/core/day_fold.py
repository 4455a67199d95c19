"""Whole days of award attempts folded at once, for a state without levers.

:func:`~mikoshi_progression.apply_events` folds timed events and reports every
attempt. A balance simulation needs less: each day's attempts in order (a day's
moments matter to the rules only through their day, when no lever is on) and, per
day, the EXP gained and what the daily cap and the action limits took. A
:class:`DayFolder` folds one day's action names at a time, starting from the EXP and
level at the day's start, with the same rules in the same order as
:func:`~mikoshi_progression.award_exp_with_limits` (the equivalence is
property-tested against ``apply_events``).

A day on which the level cannot change (the EXP it adds stays below the next
threshold, or the level is the last) gives the same result from any starting EXP,
so such days are remembered by ``(level, actions)`` and not folded again. On such a
day, if the awards that count toward the cap stay within it, the order of the
attempts does not matter either: each action's attempts up to its limit are awarded
and the rest refused, which is counted, not folded. And once the cap is spent on a
config whose every action counts toward it, nothing moves until the day ends: the
rest of the day's attempts are counted too.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple

from .config import ProgressionConfig
from .rules import _exp_overflow
from .state import MAX_COUNT

__all__ = ["NO_LOSS", "DayFolder", "DayLosses"]


class DayLosses(NamedTuple):
    """What one day's attempts lost to the rules.

    Attributes:
        capped: Whether the daily cap cut (a partial award) or refused an attempt.
        cap_loss: ``(level, exp)`` pairs: EXP the cap cut or refused, by the level at
            the attempt (``reward - exp_added`` of each partial or refused attempt).
        limit_loss: ``(action, exp)`` pairs: the rewards of the attempts refused by
            the action's daily limit. Both in no particular order.
        cap_lost: The sum of ``cap_loss``.
        limit_lost: The sum of ``limit_loss``.
    """

    capped: bool
    cap_loss: tuple[tuple[int, int], ...]
    limit_loss: tuple[tuple[str, int], ...]
    cap_lost: int
    limit_lost: int


NO_LOSS = DayLosses(False, (), (), 0, 0)
"""The losses of a day on which every attempt was awarded in full (or none was made)."""

# Attempts of the days remembered per folder (a reference, 8 bytes, each), all
# forgotten at once past it.
_MEMO_SIZE = 1 << 21


class DayFolder:
    """Folds days of attempts, each day's action names in order, under one config.

    ``fold(exp, level, actions)`` is what :func:`~mikoshi_progression.apply_events`
    gives for ``actions`` stamped in order within one day that opens after the
    state's last one, from a state with ``exp`` and ``level`` and no levers: the
    EXP and level at the day's end and the day's :class:`DayLosses`. An action the
    config does not know changes nothing, as an ``INVALID_ACTION`` result does not.

    >>> from mikoshi_progression import DEFAULT_CONFIG
    >>> folder = DayFolder(DEFAULT_CONFIG)
    >>> exp, level, losses = folder.fold(0, 1, ("daily_chat", "daily_chat", "create_character"))
    >>> exp, level, losses.limit_loss
    (50, 1, (('daily_chat', 20),))

    Raises (from ``fold``):
        StateError: an award would take EXP past 2**63 - 1.
    """

    __slots__ = (
        "_all_capped",
        "_beyond",
        "_bounds",
        "_can_drop",
        "_caps",
        "_kept",
        "_memo",
        "_rules",
        "_thresholds",
        "_worthless",
    )

    def __init__(self, config: ProgressionConfig) -> None:
        if config.uses_levers:
            raise ValueError("a DayFolder folds days without levers: use apply_events")
        self._rules = config._rule_table
        self._caps = config._caps
        self._thresholds = thresholds = config._thresholds
        self._can_drop = config.levels_can_drop
        # Per level: the EXP range, from the day's start to its end, in which every
        # award leaves the level as it is, so that the day folds the same from any EXP
        # in it. Levels only rise unless they can drop; then the start must be in range.
        never = (MAX_COUNT + 1, 0)
        self._bounds: list[tuple[int, int]] = [never]  # level 0: the first award moves it
        for level in range(1, len(thresholds) + 1):
            upper = thresholds[level] if level < len(thresholds) else MAX_COUNT + 1
            lower = thresholds[level - 1] if self._can_drop and level > 1 else -1
            self._bounds.append((lower, upper))
        # Past the last level: it never rises, and drops at the first award if it can.
        self._beyond = never if self._can_drop else (-1, MAX_COUNT + 1)
        self._memo: dict[tuple[int, tuple[str, ...]], tuple[int, DayLosses]] = {}
        self._kept = 0  # attempts in the days remembered
        rules = config._rule_table.values()
        # Whether an attempt worth 0 EXP counts toward the cap (refused once it is spent).
        self._worthless = any(not exempt and not reward for reward, _, exempt in rules)
        # Whether every action counts toward the cap: once it is spent, nothing moves.
        self._all_capped = not any(exempt for _, _, exempt in rules)

    def fold(self, exp: int, level: int, actions: tuple[str, ...]) -> tuple[int, int, DayLosses]:
        """EXP, level and losses at the end of a day of ``actions`` begun at ``exp``, ``level``."""
        bounds = self._bounds
        lower, upper = bounds[level] if 0 < level < len(bounds) else self._outside(level)
        key = (level, actions)
        memo = self._memo
        known = memo.get(key)
        if known is not None:
            gain, losses = known
            if lower <= exp and exp + gain < upper:
                return exp + gain, level, losses
            return self._fold(exp, level, actions)
        if lower <= exp:
            found = self._fold_uncapped(level, actions)
            if found is not None and exp + found[0] < upper:
                self._remember(key, found)
                return exp + found[0], level, found[1]
        end, end_level, losses = self._fold(exp, level, actions)
        if lower <= exp and end < upper:  # the level held all day: true from any EXP in range
            self._remember(key, (end - exp, losses))
        return end, end_level, losses

    def _remember(self, key: tuple[int, tuple[str, ...]], day: tuple[int, DayLosses]) -> None:
        self._kept += len(key[1]) + 1
        if self._kept > _MEMO_SIZE:
            self._memo.clear()
            self._kept = len(key[1]) + 1
        self._memo[key] = day

    def _outside(self, level: int) -> tuple[int, int]:
        """The bounds of a level outside the table (see ``_bounds``)."""
        return self._beyond if level > 0 else (MAX_COUNT + 1, 0)

    def _fold_uncapped(self, level: int, actions: tuple[str, ...]) -> tuple[int, DayLosses] | None:
        """The day's EXP gained and losses if the cap cannot bite, else ``None``.

        With the level held all day (the caller checks the EXP gained against the
        level's bounds), each action's attempts up to its limit are awarded in full and
        the rest refused by the limit, in any order, as long as the awards that count
        toward the cap stay within it: below it, or up to it if no such award is worth
        0 EXP (an attempt worth 0 at a spent cap is refused by the cap).
        """
        rules = self._rules
        caps = self._caps
        cap = caps[level] if level < len(caps) else caps[-1]
        capped_gain = free_gain = 0
        limit_loss: dict[str, int] | None = None
        for action in dict.fromkeys(actions):  # each action once (counted in C below)
            count = actions.count(action)
            rule = rules.get(action)
            if rule is None:
                continue
            reward, limit, cap_exempt = rule
            if limit is not None and count > limit:
                if limit_loss is None:
                    limit_loss = {}
                limit_loss[action] = (count - limit) * reward
                count = limit
            if cap_exempt:
                free_gain += count * reward
            else:
                capped_gain += count * reward
        if capped_gain > cap or (capped_gain == cap and self._worthless):
            return None
        if limit_loss is None:
            return capped_gain + free_gain, NO_LOSS
        losses = DayLosses(False, (), tuple(limit_loss.items()), 0, sum(limit_loss.values()))
        return capped_gain + free_gain, losses

    def _fold(self, exp: int, level: int, actions: tuple[str, ...]) -> tuple[int, int, DayLosses]:
        """The rules of ``award_exp_with_limits``, attempt by attempt, over one new day."""
        rules = self._rules
        caps = self._caps
        top_cap = caps[-1]
        cap_count = len(caps)
        thresholds = self._thresholds
        can_drop = self._can_drop
        counts: dict[str, int] = {}
        cap_loss: dict[int, int] = {}
        limit_loss: dict[str, int] = {}
        capped = False
        gained = 0
        attempts = iter(actions)
        for action in attempts:
            rule = rules.get(action)
            if rule is None:
                continue  # INVALID_ACTION: nothing changes
            reward, limit, cap_exempt = rule
            count = counts.get(action, 0)
            if limit is not None and count >= limit:
                limit_loss[action] = limit_loss.get(action, 0) + reward
                continue
            if cap_exempt:
                added = reward
            else:
                room = (caps[level] if level < cap_count else top_cap) - gained
                if room <= 0:
                    capped = True
                    cap_loss[level] = cap_loss.get(level, 0) + reward
                    if self._all_capped:
                        # Nothing can be awarded today any more, so nothing moves: each
                        # later attempt is refused by its limit if spent, else by the cap.
                        self._refuse_rest(attempts, counts, level, cap_loss, limit_loss)
                        break
                    continue
                if reward <= room:
                    added = reward
                else:
                    added = room
                    capped = True
                    cap_loss[level] = cap_loss.get(level, 0) + reward - room
                gained += added
            exp += added
            if exp > MAX_COUNT:
                raise _exp_overflow(exp - added, added)
            new_level = bisect_right(thresholds, exp) or 1
            if new_level > level or can_drop:
                level = new_level
            counts[action] = count + 1
        if not capped and not limit_loss:
            return exp, level, NO_LOSS
        losses = DayLosses(
            capped,
            tuple(cap_loss.items()),
            tuple(limit_loss.items()),
            sum(cap_loss.values()),
            sum(limit_loss.values()),
        )
        return exp, level, losses

    def _refuse_rest(
        self,
        attempts: Iterator[str],
        counts: dict[str, int],
        level: int,
        cap_loss: dict[int, int],
        limit_loss: dict[str, int],
    ) -> None:
        rules = self._rules
        for action, times in Counter(attempts).items():
            rule = rules.get(action)
            if rule is None:
                continue
            reward, limit, _ = rule
            if limit is not None and counts.get(action, 0) >= limit:
                limit_loss[action] = limit_loss.get(action, 0) + reward * times
            else:
                cap_loss[level] = cap_loss.get(level, 0) + reward * times
