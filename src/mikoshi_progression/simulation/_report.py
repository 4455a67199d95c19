"""The simulation's report: days to each level, where EXP goes, final EXP, per archetype."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..core.config import ProgressionConfig
from ._archetypes import Archetype

__all__ = ["ArchetypeReport", "LevelReach", "SimulationReport", "nearest_rank"]


def nearest_rank(ordered: Sequence[float], percent: float, total: int | None = None) -> Any:
    """The nearest-rank percentile of ``ordered`` among ``total`` values.

    Values beyond ``len(ordered)`` (players who never got there) are unbounded:
    a percentile that falls among them is ``None``.
    """
    total = len(ordered) if total is None else total
    if total == 0:
        return None
    rank = max(1, math.ceil(percent / 100 * total))
    return ordered[rank - 1] if rank <= len(ordered) else None


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
class ArchetypeReport:
    """What the simulation found for one archetype.

    *Nominal* EXP is what every attempt would have earned with no limit and no
    cap: the sum of the rewards of all attempts. It splits exactly into EXP
    awarded, EXP lost to the daily cap and EXP lost to action limits.

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

    @property
    def cap_lost(self) -> int:
        """EXP lost to the daily cap, all levels together."""
        return sum(self.cap_loss.values())

    @property
    def limit_lost(self) -> int:
        """EXP lost to action limits, all actions together."""
        return sum(self.limit_loss.values())

    def share(self, exp: int) -> float:
        """``exp`` as a fraction of the nominal EXP (0.0 when nothing was attempted)."""
        return exp / self.nominal_exp if self.nominal_exp else 0.0

    def final_exp_summary(self) -> dict[str, float | int | None]:
        """Mean, min, 10th/25th/50th/75th/90th percentile and max of the final EXP."""
        values = self.final_exp
        return {
            "mean": round(sum(values) / len(values), 2) if values else None,
            "min": values[0] if values else None,
            "p10": nearest_rank(values, 10),
            "p25": nearest_rank(values, 25),
            "median": nearest_rank(values, 50),
            "p75": nearest_rank(values, 75),
            "p90": nearest_rank(values, 90),
            "max": values[-1] if values else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; shares are fractions of the nominal EXP, rounded to 1e-6."""
        player_days = self.players * self.days
        return {
            "name": self.archetype.name,
            "description": self.archetype.description,
            "players": self.players,
            "active_days": self.active_days,
            "active_share": _ratio(self.active_days, player_days),
            "capped_days": self.capped_days,
            "capped_share_of_active_days": _ratio(self.capped_days, self.active_days),
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
        }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


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
        }
