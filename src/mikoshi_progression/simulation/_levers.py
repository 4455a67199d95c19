"""What the designer levers did to simulated players: boosts, streaks and milestones.

Under a config with levers every attempt's result is read back (the seed's shortcut,
charging only the days that gained less than their attempts' worth, no longer holds:
boosts and bonuses add EXP). An attempt's EXP is accounted for exactly:

    nominal + boosts + streak bonuses + milestone bonuses
        == awarded + lost to the daily cap + lost to action limits

where *nominal* is the attempts' base rewards, *boosts* what the boosts in force added
to them (for refused attempts too: what they would have paid), and the bonuses what
the streak and milestone rules promised. The cap's losses include the boosted part of
cut and refused rewards and the cut part of streak bonuses that are not cap-exempt.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from ..core.config import ProgressionConfig
from ..core.events import EventKind
from ..core.results import AwardResults, Outcome
from ..core.state import ProgressState
from ._lever_report import MilestoneReach, StreakReport, streak_lengths

__all__ = ["LeverFigures", "LeverTally", "account_player", "lever_figures"]


class LeverTally:
    """The levers' sums over some players; tallies add up in any grouping (:meth:`add`).

    Attributes:
        boost_exp: EXP the boosts added to the attempts' rewards (before the cap).
        streak_bonus_exp: Streak bonuses the rules paid or cut (before the cap).
        milestone_bonus_exp: Milestone bonuses granted (cap-exempt).
        best_streaks: Each player's best streak (empty without a streak).
        freezes_used: Missed days that freezes covered.
        breaks: Streaks broken (settled when the player came back).
        streak_refused: Streak actions the daily cap refused (the day then counts as missed).
        streak_bonuses: Streak length -> times a player's streak reached it and the
            bonus for it was due.
        milestone_days: Milestone -> the day each player who unlocked it did (day 1 is
            the first simulated day).
    """

    __slots__ = (
        "best_streaks",
        "boost_exp",
        "breaks",
        "freezes_used",
        "milestone_bonus_exp",
        "milestone_days",
        "streak_bonus_exp",
        "streak_bonuses",
        "streak_refused",
    )

    def __init__(self) -> None:
        self.boost_exp = 0
        self.streak_bonus_exp = 0
        self.milestone_bonus_exp = 0
        self.best_streaks: list[int] = []
        self.freezes_used = 0
        self.breaks = 0
        self.streak_refused = 0
        self.streak_bonuses: dict[int, int] = {}
        self.milestone_days: dict[str, list[int]] = {}

    def add(self, other: LeverTally) -> None:
        """Add ``other``'s players to these."""
        self.boost_exp += other.boost_exp
        self.streak_bonus_exp += other.streak_bonus_exp
        self.milestone_bonus_exp += other.milestone_bonus_exp
        self.best_streaks += other.best_streaks
        self.freezes_used += other.freezes_used
        self.breaks += other.breaks
        self.streak_refused += other.streak_refused
        _add_counts(self.streak_bonuses, other.streak_bonuses)
        for name, days in other.milestone_days.items():
            self.milestone_days.setdefault(name, []).extend(days)


def _add_counts(into: dict[int, int], counts: Mapping[int, int]) -> None:
    for key, count in counts.items():
        into[key] = into.get(key, 0) + count


def account_player(
    tally: LeverTally,
    results: AwardResults,
    ends: Sequence[int],
    final: ProgressState,
    config: ProgressionConfig,
    cap_loss: dict[int, int],
    limit_loss: dict[str, int],
) -> tuple[int, int, int]:
    """Account for one player's results (``ends[d]``: the index just past day ``d``'s).

    Adds the boosts, bonuses, streak and milestone figures to ``tally`` and the EXP
    lost to ``cap_loss`` (by level at the attempt) and ``limit_loss`` (by action).
    Returns the player's own figures: the days on which the daily cap cut or refused
    something, the EXP lost to the cap and the EXP lost to limits.
    """
    rewards = {name: rule.exp for name, rule in config.actions.items()}
    streak_rules = config.streak
    bonuses = streak_rules.bonuses if streak_rules is not None else {}
    streak_action = streak_rules.action if streak_rules is not None else None
    capped_days = cap_lost = limit_lost = 0
    capped_day = -1
    day = 0
    # Read by column: no result object is built for the millions of attempts.
    columns = zip(
        results.column("action"),
        results.column("previous_level"),
        results.column("exp_added"),
        results.column("outcome"),
        results.column("now"),
        results.column("effects"),
        strict=True,
    )
    for index, (action, level, exp_added, outcome, now, effects) in enumerate(columns):
        while index >= ends[day]:
            day += 1
        base = rewards[action]
        cut = 0
        if effects is not None:  # awarded, perhaps in part
            boosted = effects.boosted_exp
            cut = boosted - (exp_added - effects.bonus_exp)
            for event in effects.events:
                kind = event.kind
                if kind is EventKind.STREAK_EXTENDED:
                    due = bonuses.get(event["streak"], 0)
                    if due:
                        tally.streak_bonuses[event["streak"]] = (
                            tally.streak_bonuses.get(event["streak"], 0) + 1
                        )
                        tally.streak_bonus_exp += due
                        cut += due - event["bonus_exp"]
                elif kind is EventKind.MILESTONE_UNLOCKED:
                    tally.milestone_days.setdefault(event["milestone"], []).append(day + 1)
                    tally.milestone_bonus_exp += event["bonus_exp"]
                elif kind is EventKind.STREAK_FROZEN:
                    tally.freezes_used += event["days"]
                elif kind is EventKind.STREAK_BROKEN:
                    tally.breaks += 1
        else:  # refused: it would have paid its boosted reward
            boosted = _boosted(config, action, base, now)
            if outcome is Outcome.ACTION_LIMIT:
                limit_loss[action] = limit_loss.get(action, 0) + boosted
                limit_lost += boosted
            else:
                cut = boosted
                if action == streak_action:
                    tally.streak_refused += 1
        tally.boost_exp += boosted - base
        if cut:
            cap_loss[level] = cap_loss.get(level, 0) + cut
            cap_lost += cut
            if capped_day != day:
                capped_days += 1
                capped_day = day
    if streak_rules is not None:
        tally.best_streaks.append(final.best_streak)
    return capped_days, cap_lost, limit_lost


def _boosted(config: ProgressionConfig, action: str, reward: int, now: datetime) -> int:
    """``reward`` multiplied by the boosts in force at ``now``, as the rules round it."""
    boosts = config.boosts
    return reward if boosts is None else boosts.boosted(reward, action, now)


class LeverFigures(NamedTuple):
    """The levers' figures of one archetype, as its report holds them."""

    boost_exp: int
    streak_bonus_exp: int
    milestone_bonus_exp: int
    streaks: StreakReport | None
    milestones: tuple[MilestoneReach, ...]


def lever_figures(
    config: ProgressionConfig, tallies: Iterable[LeverTally], players: int
) -> LeverFigures:
    """The figures of an archetype's ``players`` players from the tallies of all of them."""
    total = LeverTally()
    for tally in tallies:
        total.add(tally)
    streaks = None
    if config.streak is not None:
        best = sorted(total.best_streaks)
        streaks = StreakReport(
            action=config.streak.action,
            best=tuple(best),
            freezes_used=total.freezes_used,
            breaks=total.breaks,
            refused_by_cap=total.streak_refused,
            reached={n: len(best) - bisect_left(best, n) for n in streak_lengths(config)},
            bonuses={n: total.streak_bonuses.get(n, 0) for n in config.streak.bonuses},
        )
    milestones = tuple(
        MilestoneReach(m, players, tuple(sorted(total.milestone_days.get(m.name, ()))))
        for m in config.milestones
    )
    return LeverFigures(
        total.boost_exp,
        total.streak_bonus_exp,
        total.milestone_bonus_exp,
        streaks,
        milestones,
    )
