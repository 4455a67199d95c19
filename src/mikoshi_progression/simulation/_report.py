"""The simulation's report: days to each level, where EXP goes, final EXP, per archetype;
and with levers, what they did (:mod:`._lever_report`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from ..core.config import ProgressionConfig
from ._archetypes import Archetype
from ._lever_report import BoostDays, MilestoneReach, StreakReport, boost_days
from ._stats import ratio, summary

__all__ = ["ArchetypeReport", "LevelReach", "PlayerOutcomes", "SimulationReport"]


def _no_zones() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LevelReach:
    """How many days an archetype's players took to reach one level.

    A level reached during day ``d`` (day 1 is the first simulated day) took
    ``d`` days. Percentiles are over *all* the archetype's players; one that
    falls among players who never reached the level is ``None`` ("never").

    Attributes:
        level: The level number.
        name: The level's name.
        exp_required: EXP at which the level is reached.
        reached: Players who reached it within the simulated days.
        never: Players who did not.
        p10: Days by which the quickest 10 percent had reached it.
        median: Days by which half had reached it.
        p90: Days by which 90 percent had reached it.
    """

    level: int
    name: str
    exp_required: int
    reached: int
    never: int
    p10: int | None
    median: int | None
    p90: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping of the fields."""
        return {
            "level": self.level,
            "name": self.name,
            "exp_required": self.exp_required,
            "reached": self.reached,
            "never": self.never,
            "days_p10": self.p10,
            "days_median": self.median,
            "days_p90": self.p90,
        }


@dataclass(frozen=True, slots=True)
class PlayerOutcomes:
    """Each of an archetype's players' own figures, in player order.

    Player ``i`` draws from the same seeded stream under any config, so two runs
    with the same archetypes, players, days and seed play the same people: a
    comparison pairs them by position.

    Attributes:
        reach_days: For each level above 1, in level order, the day each player
            reached it (day 1 is the first simulated day; 0: never).
        final_exp: Each player's EXP at the end.
        active_days: Days on which each player made at least one attempt.
        capped_days: Days on which the daily cap cut or refused one of their awards.
        cap_lost: EXP each player lost to the daily cap.
        limit_lost: EXP each player lost to action limits.
    """

    reach_days: tuple[tuple[int, ...], ...]
    final_exp: tuple[int, ...]
    active_days: tuple[int, ...]
    capped_days: tuple[int, ...]
    cap_lost: tuple[int, ...]
    limit_lost: tuple[int, ...]


def _no_outcomes() -> PlayerOutcomes:
    return PlayerOutcomes((), (), (), (), (), ())


@dataclass(frozen=True, slots=True)
class ArchetypeReport:
    """What the simulation found for one archetype.

    *Nominal* EXP is what every attempt would have earned with no limit and no
    cap: the sum of the rewards of all attempts. With levers, the boosts add to it
    what they multiplied the rewards by, and the streak and milestone rules their
    bonuses: the *promised* EXP. The promised EXP splits exactly into EXP awarded,
    EXP lost to the daily cap and EXP lost to action limits (without levers, it is
    the nominal EXP).

    Attributes:
        archetype: The archetype simulated.
        players: How many players it had.
        days: Days simulated.
        active_days: Player-days with at least one attempt.
        capped_days: Player-days on which the daily cap cut or refused an award.
        attempts: Award attempts made.
        nominal_exp: EXP all attempts would have earned without limits or cap.
        awarded_exp: EXP actually awarded.
        cap_loss: Level -> EXP lost to that level's daily cap (rejections and
            the cut part of partial awards).
        limit_loss: Action -> EXP lost to the action's daily limit.
        levels: Days to reach each level above 1, in level order.
        final_exp: Every player's EXP at the end, sorted.
        final_levels: Level -> players ending at that level (every level listed).
        mean_exp_by_day: Mean EXP of the players at the end of each day.
        uses_levers: Whether the config simulated turns a lever on (then
            :meth:`to_dict` holds the levers' figures).
        timezones: Time zone -> players living there (empty: all in the config's).
        boost_exp: EXP the boosts added to the attempts' rewards, before the cap (for
            refused attempts, what they would have added).
        streak_bonus_exp: Streak bonuses due, before the cap.
        milestone_bonus_exp: Milestone bonuses granted.
        streaks: How the players kept their streaks, or ``None`` if the config keeps none.
        milestones: Each of the config's milestones and who unlocked it, in its order.
        exp_percentiles_by_day: For each day, the players' EXP at its end at the
            10th, 50th and 90th percentile (nearest rank): the spread around the mean.
        outcomes: Each player's own figures, in player order (what a comparison pairs).
    """

    archetype: Archetype
    players: int
    days: int
    active_days: int
    capped_days: int
    attempts: int
    nominal_exp: int
    awarded_exp: int
    cap_loss: Mapping[int, int]
    limit_loss: Mapping[str, int]
    levels: tuple[LevelReach, ...]
    final_exp: tuple[int, ...] = field(repr=False)
    final_levels: Mapping[int, int]
    mean_exp_by_day: tuple[float, ...] = field(repr=False)
    uses_levers: bool = False
    timezones: Mapping[str, int] = field(default_factory=_no_zones)
    boost_exp: int = 0
    streak_bonus_exp: int = 0
    milestone_bonus_exp: int = 0
    streaks: StreakReport | None = None
    milestones: tuple[MilestoneReach, ...] = ()
    exp_percentiles_by_day: tuple[tuple[int, int, int], ...] = field(default=(), repr=False)
    outcomes: PlayerOutcomes = field(default_factory=_no_outcomes, repr=False)

    @property
    def promised_exp(self) -> int:
        """Nominal EXP plus what boosts and bonuses added: what the cap and limits cut from."""
        return self.nominal_exp + self.boost_exp + self.streak_bonus_exp + self.milestone_bonus_exp

    @property
    def cap_lost(self) -> int:
        """EXP lost to the daily cap, all levels together."""
        return sum(self.cap_loss.values())

    @property
    def limit_lost(self) -> int:
        """EXP lost to action limits, all actions together."""
        return sum(self.limit_loss.values())

    def share(self, exp: int) -> float:
        """``exp`` as a fraction of the promised EXP (0.0 when nothing was attempted)."""
        return exp / self.promised_exp if self.promised_exp else 0.0

    def mean_gain_by_day(self) -> tuple[float, ...]:
        """The players' mean EXP gained on each day."""
        ends = self.mean_exp_by_day
        return tuple(after - before for before, after in pairwise((0.0, *ends)))

    def final_exp_summary(self) -> dict[str, float | int | None]:
        """Mean, min, 10th/25th/50th/75th/90th percentile and max of the final EXP."""
        return summary(self.final_exp)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; shares are fractions of the promised EXP, rounded to 1e-6.

        The levers' keys (``timezones``; ``boosts``, ``streak_bonuses``,
        ``milestone_bonuses`` and ``promised`` in ``exp``; ``streaks``; ``milestones``)
        are there only where the archetype or the config has them.
        """
        player_days = self.players * self.days
        data: dict[str, Any] = {
            "name": self.archetype.name,
            "description": self.archetype.description,
            "players": self.players,
            "active_days": self.active_days,
            "active_share": ratio(self.active_days, player_days),
            "capped_days": self.capped_days,
            "capped_share_of_active_days": ratio(self.capped_days, self.active_days),
            "attempts": self.attempts,
            "levels": [reach.to_dict() for reach in self.levels],
            "exp": {
                "nominal": self.nominal_exp,
                "awarded": self.awarded_exp,
                "lost_to_cap": self.cap_lost,
                "lost_to_limits": self.limit_lost,
                "awarded_share": round(self.share(self.awarded_exp), 6),
                "cap_share": round(self.share(self.cap_lost), 6),
                "limit_share": round(self.share(self.limit_lost), 6),
            },
            "cap_loss_by_level": {
                str(level): {"exp": exp, "share": round(self.share(exp), 6)}
                for level, exp in self.cap_loss.items()
            },
            "limit_loss_by_action": {
                action: {"exp": exp, "share": round(self.share(exp), 6)}
                for action, exp in self.limit_loss.items()
            },
            "final_exp": self.final_exp_summary(),
            "final_levels": {str(level): n for level, n in self.final_levels.items()},
            "mean_exp_by_day": [round(v, 2) for v in self.mean_exp_by_day],
            "exp_percentiles_by_day": {
                name: [day[i] for day in self.exp_percentiles_by_day]
                for i, name in enumerate(("p10", "median", "p90"))
            },
        }
        if self.timezones:
            data["timezones"] = dict(self.timezones)
        if self.uses_levers:
            data["exp"].update(
                boosts=self.boost_exp,
                streak_bonuses=self.streak_bonus_exp,
                milestone_bonuses=self.milestone_bonus_exp,
                promised=self.promised_exp,
            )
        if self.streaks is not None:
            data["streaks"] = self.streaks.to_dict()
        if self.milestones:
            data["milestones"] = [reach.to_dict() for reach in self.milestones]
        return data


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """The result of :func:`simulate`.

    Attributes:
        config: The rules simulated.
        players: Players simulated, all archetypes together.
        days: Days simulated.
        seed: The seed the run was drawn from.
        start: The first simulated day.
        archetypes: One report per archetype, in the order given.
    """

    config: ProgressionConfig = field(repr=False)
    players: int
    days: int
    seed: int
    start: date
    archetypes: tuple[ArchetypeReport, ...]

    @property
    def attempts(self) -> int:
        """Award attempts made, all archetypes together."""
        return sum(a.attempts for a in self.archetypes)

    @property
    def boost_windows(self) -> tuple[BoostDays, ...]:
        """The config's boost windows, each with the simulated days it overlaps."""
        return boost_days(self.config, self.start, self.days)

    def boosted_days(self) -> dict[int, tuple[str, ...]]:
        """Simulated day -> the labels of the boost windows that overlap it (only such days)."""
        found: dict[int, tuple[str, ...]] = {}
        for window in self.boost_windows:
            if window.first_day is not None and window.last_day is not None:
                for day in range(window.first_day, window.last_day + 1):
                    found[day] = (*found.get(day, ()), window.label)
        return dict(sorted(found.items()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping, the same for any number of jobs."""
        return {
            "players": self.players,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "attempts": self.attempts,
            "config_fingerprint": self.config.fingerprint,
            "levels": [
                {"number": lv.number, "name": lv.name, "exp_required": lv.exp_required}
                for lv in self.config.levels
            ],
            "archetypes": [a.to_dict() for a in self.archetypes],
            **self._boost_keys(),
        }

    def _boost_keys(self) -> dict[str, Any]:
        if self.config.boosts is None:
            return {}
        return {"boost_windows": [window.to_dict() for window in self.boost_windows]}
