"""Comparing two configs on the same players: paired differences with bootstrap intervals.

Both configs play the same seeded players (player ``i`` of an archetype draws the
same attempts under either, as long as the configs know the same actions), so the
noise of *who* was simulated cancels out of the difference: what is left is what
the retune did. Each figure of :mod:`._metrics` is reckoned under both configs; its
confidence interval comes from a paired bootstrap, resampling the archetype's
players with replacement and reckoning the figure under both configs on the same
resample (percentile intervals). The bootstrap needs numpy (the ``[analysis]``
extra); the simulations do not.

>>> from mikoshi_progression import DEFAULT_CONFIG, ProgressionConfig
>>> data = DEFAULT_CONFIG.to_dict()
>>> data["daily_exp_caps"]["1"] = 100
>>> result = compare(DEFAULT_CONFIG, ProgressionConfig.from_dict(data),
...                  players=400, days=60, seed=1, resamples=200)
>>> casual = result.archetype("casual chatter").figure("exp_per_day")
>>> casual.verdict, casual.diff_low <= casual.diff <= casual.diff_high
('unchanged', True)
>>> creator = result.archetype("daily creator").figure("cap_lost_per_day")
>>> creator.verdict
'higher'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from ..core.config import ProgressionConfig
from ..errors import InvalidArgumentError
from ._archetypes import DEFAULT_ARCHETYPES, Archetype
from ._conditions import Condition, check_condition_names, condition_holds
from ._metrics import Metric, column_of, metric_values, metrics_for_levels
from ._report import ArchetypeReport, PlayerOutcomes, SimulationReport
from ._run import DEFAULT_START, simulate_many
from ._stats import rank_index

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "FIGURE_FIELDS",
    "ArchetypeComparison",
    "Comparison",
    "FigureChange",
    "GateHit",
    "compare",
    "compare_reports",
]

FIGURE_FIELDS = (
    "old",
    "new",
    "diff",
    "diff_low",
    "diff_high",
    "change",
    "change_low",
    "change_high",
)
"""What a condition may read of a compared figure: ``level4.days.median.change``."""

# Resampled rows reckoned at once: bounds the bootstrap's memory at a few tens of MB.
_BLOCK_CELLS = 2_000_000


@dataclass(frozen=True, slots=True)
class FigureChange:
    """One figure of one archetype under the old and the new config.

    Days to a level never reached are ``inf``; a value that cannot be reckoned
    (a change from 0, "never" against "never") is ``nan``.

    Attributes:
        name: The figure (``level4.days.median``; see ``METRIC_DESCRIPTIONS``).
        old: Its value under the old config.
        new: Its value under the new config.
        diff: ``new - old``.
        diff_low: The lower bound of the confidence interval of ``diff``.
        diff_high: The upper bound.
        change: The relative change, ``new / old - 1`` (``0.2``: 20 percent more).
        change_low: The lower bound of the confidence interval of ``change``.
        change_high: The upper bound.
        verdict: ``"higher"`` or ``"lower"`` when the interval of ``diff`` lies
            wholly above or below 0; ``"unchanged"`` when every resample gave the
            same value under both; ``"never in both"`` for days to a level neither
            config reaches; else ``"no clear change"``.
    """

    name: str
    old: float
    new: float
    diff: float
    diff_low: float
    diff_high: float
    change: float
    change_low: float
    change_high: float
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``inf`` as the string ``"inf"``, ``nan`` as ``None``)."""
        data: dict[str, Any] = {"name": self.name}
        data.update({name: _json_number(getattr(self, name)) for name in FIGURE_FIELDS})
        data["verdict"] = self.verdict
        return data


@dataclass(frozen=True, slots=True)
class ArchetypeComparison:
    """Every compared figure of one archetype.

    Attributes:
        name: The archetype's name.
        players: Its players (the same people under both configs).
        figures: Each figure, in report order.
    """

    name: str
    players: int
    figures: tuple[FigureChange, ...]

    def figure(self, name: str) -> FigureChange:
        """The figure called ``name``.

        Raises:
            KeyError: there is no such figure.
        """
        for figure in self.figures:
            if figure.name == name:
                return figure
        raise KeyError(name)

    def values(self) -> dict[str, float]:
        """Every field of every figure by its dotted name (what a condition reads)."""
        return {
            f"{figure.name}.{name}": getattr(figure, name)
            for figure in self.figures
            for name in FIGURE_FIELDS
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "name": self.name,
            "players": self.players,
            "figures": [figure.to_dict() for figure in self.figures],
        }


@dataclass(frozen=True, slots=True)
class GateHit:
    """A condition that held for an archetype.

    Attributes:
        condition: The condition as written.
        archetype: The archetype it held for.
        values: The figures it read, with their values there.
    """

    condition: str
    archetype: str
    values: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "condition": self.condition,
            "archetype": self.archetype,
            "values": {name: _json_number(value) for name, value in self.values.items()},
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two configs simulated on the same players, figure by figure.

    Attributes:
        old: The old config's report.
        new: The new config's report.
        old_label: What the old config is called (its file name, say).
        new_label: What the new config is called.
        confidence: The intervals' confidence level (0.95: 95 percent).
        resamples: Bootstrap resamples drawn for each archetype.
        archetypes: Each archetype's figures, in the order simulated.
    """

    old: SimulationReport = field(repr=False)
    new: SimulationReport = field(repr=False)
    old_label: str
    new_label: str
    confidence: float
    resamples: int
    archetypes: tuple[ArchetypeComparison, ...]

    def archetype(self, name: str) -> ArchetypeComparison:
        """The comparison of the archetype called ``name``.

        Raises:
            KeyError: no archetype has that name.
        """
        for archetype in self.archetypes:
            if archetype.name == name:
                return archetype
        raise KeyError(name)

    def figure_names(self) -> list[str]:
        """Every name a condition may read (``level4.days.median.change``...)."""
        return list(self.archetypes[0].values()) if self.archetypes else []

    def check(self, conditions: Iterable[Condition], option: str = "--fail-if") -> None:
        """Make sure every condition reads known figures of known archetypes.

        Raises:
            InvalidArgumentError: naming ``option``, the figure or the archetype.
        """
        known = set(self.figure_names())
        names = [archetype.name for archetype in self.archetypes]
        for condition in conditions:
            check_condition_names(condition, known, option)
            if condition.archetype is not None and condition.archetype not in names:
                raise InvalidArgumentError(
                    option, f"a condition on one of the archetypes {names}", condition.text
                )

    def gate(self, conditions: Iterable[Condition]) -> tuple[GateHit, ...]:
        """Every (condition, archetype) for which a condition holds: a retune's failures.

        A condition without an ``ARCHETYPE:`` prefix is checked on every archetype.
        Archetypes without players are skipped (their figures are all ``nan``).

        Raises:
            InvalidArgumentError: a condition reads an unknown figure or archetype.
        """
        conditions = list(conditions)
        self.check(conditions)
        hits = []
        for condition in conditions:
            for archetype in self.archetypes:
                if not archetype.players:
                    continue
                if condition.archetype not in (None, archetype.name):
                    continue
                values = archetype.values()
                if condition_holds(condition, values):
                    read = {name: values[name] for name in condition.names}
                    hits.append(GateHit(condition.text, archetype.name, read))
        return tuple(hits)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping of the comparison (not of the two full reports)."""
        return {
            "old": {"label": self.old_label, "fingerprint": self.old.config.fingerprint},
            "new": {"label": self.new_label, "fingerprint": self.new.config.fingerprint},
            "players": self.old.players,
            "days": self.old.days,
            "seed": self.old.seed,
            "start": self.old.start.isoformat(),
            "confidence": self.confidence,
            "resamples": self.resamples,
            "archetypes": [archetype.to_dict() for archetype in self.archetypes],
        }


def compare(
    old: ProgressionConfig,
    new: ProgressionConfig,
    archetypes: Sequence[Archetype] = DEFAULT_ARCHETYPES,
    *,
    players: int = 1000,
    days: int = 365,
    seed: int = 0,
    start: date = DEFAULT_START,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    confidence: float = 0.95,
    resamples: int = 1000,
    old_label: str = "old",
    new_label: str = "new",
) -> Comparison:
    """Simulate the same players under ``old`` and ``new`` and compare every figure.

    Both runs share one pool of ``jobs`` workers; ``progress(done, total)`` sees
    both runs' work, as :func:`simulate_many` reports it. See :func:`compare_reports`
    for the statistics.

    Raises:
        ConfigError: the archetypes cannot be simulated under one of the configs.
        InvalidArgumentError: ``confidence`` is not between 0 and 1, or ``resamples``
            is below 100.
        ImportError: numpy (the ``[analysis]`` extra) is not installed.
        ValueError: as for :func:`simulate`.
    """
    _check_statistics(confidence, resamples)
    _numpy()  # before the simulations, not after
    runs = dict(
        simulate_many(
            (old, new),
            archetypes,
            players=players,
            days=days,
            seed=seed,
            start=start,
            jobs=jobs,
            progress=progress,
            labels=(old_label, new_label),
        )
    )
    return compare_reports(
        runs[0],
        runs[1],
        confidence=confidence,
        resamples=resamples,
        old_label=old_label,
        new_label=new_label,
    )


def compare_reports(
    old: SimulationReport,
    new: SimulationReport,
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    old_label: str = "old",
    new_label: str = "new",
) -> Comparison:
    """Compare two reports of the same players (same archetypes, players, days, seed, start).

    For each archetype and each figure both configs have (days to the levels both
    define, by number), the difference and relative change are reckoned on all the
    players, and their intervals from ``resamples`` paired bootstrap resamples
    (seeded from the reports' seed: the same inputs give the same intervals).

    Raises:
        InvalidArgumentError: the reports are not of the same players, or
            ``confidence`` / ``resamples`` is out of range.
        ImportError: numpy (the ``[analysis]`` extra) is not installed.
    """
    _check_statistics(confidence, resamples)
    np = _numpy()
    for what in ("players", "days", "seed", "start"):
        if getattr(old, what) != getattr(new, what):
            raise InvalidArgumentError(
                "new", f"a report of the same players as old (same {what})", getattr(new, what)
            )
    if [a.archetype for a in old.archetypes] != [a.archetype for a in new.archetypes]:
        raise InvalidArgumentError("new", "a report of the same archetypes as old", new)
    shared = sorted(
        {level.number for level in old.config.levels[1:]}
        & {level.number for level in new.config.levels[1:]}
    )
    compared = []
    for index, (before, after) in enumerate(zip(old.archetypes, new.archetypes, strict=True)):
        rng = np.random.default_rng([old.seed & (2**63 - 1), index])
        compared.append(
            ArchetypeComparison(
                before.archetype.name,
                before.players,
                _compare_archetype(np, rng, before, after, shared, confidence, resamples),
            )
        )
    return Comparison(old, new, old_label, new_label, confidence, resamples, tuple(compared))


def _compare_archetype(
    np: Any,
    rng: Any,
    old: ArchetypeReport,
    new: ArchetypeReport,
    levels: Sequence[int],
    confidence: float,
    resamples: int,
) -> tuple[FigureChange, ...]:
    metrics = metrics_for_levels(levels)
    old_outcomes = _select_levels(old, levels)
    new_outcomes = _select_levels(new, levels)
    players, days = old.players, old.days
    old_points = metric_values(metrics, old_outcomes, days)
    new_points = metric_values(metrics, new_outcomes, days)
    if not players:
        nan = math.nan
        return tuple(
            FigureChange(m.name, nan, nan, nan, nan, nan, nan, nan, nan, "no clear change")
            for m in metrics
        )
    old_draws = np.empty((len(metrics), resamples))
    new_draws = np.empty((len(metrics), resamples))
    old_columns = _Columns(np, old_outcomes)
    new_columns = _Columns(np, new_outcomes)
    block = max(1, _BLOCK_CELLS // players)
    for first in range(0, resamples, block):
        rows = min(block, resamples - first)
        picks = rng.integers(0, players, size=(rows, players))
        for m, metric in enumerate(metrics):
            old_draws[m, first : first + rows] = old_columns.statistic(metric, picks, days)
            new_draws[m, first : first + rows] = new_columns.statistic(metric, picks, days)
    alpha = (1 - confidence) / 2
    figures = []
    with np.errstate(invalid="ignore", divide="ignore"):
        diffs = new_draws - old_draws
        changes = new_draws / old_draws - 1
    for m, metric in enumerate(metrics):
        before, after = old_points[m], new_points[m]
        diff = _difference(after, before)
        change = _relative(after, before)
        if math.isinf(before) and math.isinf(after):  # never in both: nothing to bound
            diff_low = diff_high = change_low = change_high = math.nan
        else:
            diff_low, diff_high = _interval(np, diffs[m], alpha)
            change_low, change_high = _interval(np, changes[m], alpha)
        figures.append(
            FigureChange(
                metric.name,
                before,
                after,
                diff,
                diff_low,
                diff_high,
                change,
                change_low,
                change_high,
                _verdict(np, before, after, diffs[m], diff_low, diff_high),
            )
        )
    return tuple(figures)


class _Columns:
    """An archetype's per-player columns as arrays, and each figure on a resample of them."""

    def __init__(self, np: Any, outcomes: PlayerOutcomes) -> None:
        self._np = np
        self._outcomes = outcomes
        self._arrays: dict[tuple[str, int | None], NDArray[np.float64]] = {}

    def _array(self, column: tuple[str, int | None]) -> NDArray[np.float64]:
        array = self._arrays.get(column)
        if array is None:
            values = self._np.asarray(column_of(self._outcomes, column), dtype=float)
            if column[0] == "reach_days":
                values[values == 0] = math.inf  # never reached
            array = self._arrays[column] = values
        return array

    def statistic(self, metric: Metric, picks: Any, days: int) -> Any:
        """``metric`` on each resample: ``picks`` holds one resample's player indices a row."""
        np = self._np
        values = self._array(metric.column)[picks]
        players = picks.shape[1]
        if metric.kind == "percentile":
            rank = rank_index(metric.percent, players)
            return np.partition(values, rank, axis=1)[:, rank]
        if metric.kind == "share":  # days to a level: never reached is inf here
            return ((values > 0) & np.isfinite(values)).mean(axis=1)
        if metric.kind == "ratio":
            below = self._array((metric.denominator, None))[picks].sum(axis=1)
            above = values.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(below > 0, above / below, 0.0)
        mean = values.mean(axis=1)
        return mean / days if metric.per_day else mean


def _select_levels(report: ArchetypeReport, numbers: Sequence[int]) -> PlayerOutcomes:
    """``report``'s outcomes with days to the levels ``numbers`` only, in that order."""
    outcomes = report.outcomes
    position = {reach.level: i for i, reach in enumerate(report.levels)}
    return PlayerOutcomes(
        tuple(outcomes.reach_days[position[number]] for number in numbers),
        outcomes.final_exp,
        outcomes.active_days,
        outcomes.capped_days,
        outcomes.cap_lost,
        outcomes.limit_lost,
    )


def _difference(new: float, old: float) -> float:
    return math.nan if math.isinf(new) and math.isinf(old) else new - old


def _relative(new: float, old: float) -> float:
    if old == 0 or (math.isinf(new) and math.isinf(old)) or math.isnan(old) or math.isnan(new):
        return math.nan
    return new / old - 1


def _interval(np: Any, draws: Any, alpha: float) -> tuple[float, float]:
    """The percentile interval of the resampled values, ignoring ones that cannot be reckoned."""
    kept = draws[~np.isnan(draws)]
    if not kept.size:
        return (math.nan, math.nan)
    low, high = np.quantile(kept, [alpha, 1 - alpha], method="inverted_cdf")
    return (float(low), float(high))


def _verdict(np: Any, old: float, new: float, diffs: Any, low: float, high: float) -> str:
    if math.isinf(old) and math.isinf(new):
        return "never in both"
    if old == new and not np.any(diffs[~np.isnan(diffs)]):
        return "unchanged"
    if low > 0:
        return "higher"
    if high < 0:
        return "lower"
    return "no clear change"


def _check_statistics(confidence: object, resamples: object) -> None:
    """Callers pass anything at run time: check the types as well as the ranges."""
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 < confidence < 1
    ):
        raise InvalidArgumentError("confidence", "a number between 0 and 1", confidence)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise InvalidArgumentError("resamples", "an integer of at least 100", resamples)


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:
        raise ImportError(
            "comparing configs needs numpy, which is not installed: "
            "install the [analysis] extra (pip install -e '.[analysis]' from a clone)"
        ) from exc
    return numpy


def _json_number(value: float) -> float | str | None:
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value
