"""Which swept parameter moves which figure most: SALib's RBD-FAST or Morris on a sweep.

RBD-FAST (random balance designs, Fourier amplitude sensitivity test; Tarantola et al.
2006, with Tissot and Prieur's bias correction) estimates each parameter's first-order
index ``S1``, the share of a figure's variance across the points that the parameter
alone explains, from any sample of points: a grid or a Latin hypercube. Morris
(``mu_star``, the mean absolute elementary effect, Campolongo et al. 2007) needs its
own design of trajectories, each moving one parameter at a time, so it is chosen when
the sweep runs (``design="morris"``).

Both come with a bootstrap confidence (half the width of a 95% interval). Both are
estimates from few points: with tens of points, an index below its confidence says
nothing, and only a clear ordering of large indices is worth reading.

numpy and SALib (the ``[analysis]`` extra) are imported only here, and only when used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from ..errors import InvalidArgumentError

__all__ = [
    "METHODS",
    "MIN_SAMPLES",
    "Sensitivity",
    "SensitivityIndex",
    "analysis_modules",
    "latin_unit_sample",
    "morris_unit_sample",
    "sensitivity",
]


class _Point(Protocol):
    @property
    def values(self) -> tuple[int | float, ...]: ...
    @property
    def figures(self) -> Mapping[str, Mapping[str, float]]: ...
    @property
    def skipped(self) -> bool: ...


class _Parameter(Protocol):
    @property
    def path(self) -> str: ...


class SweepResult(Protocol):
    """What the ranking reads of a sweep (``_sweep.SweepResult`` has it all): a protocol,
    so that this module does not import the sweep, which imports this module's samplers."""

    @property
    def design(self) -> str: ...
    @property
    def metrics(self) -> tuple[str, ...]: ...
    @property
    def days(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def archetypes(self) -> tuple[str, ...]: ...
    @property
    def points(self) -> Sequence[_Point]: ...
    @property
    def parameters(self) -> Sequence[_Parameter]: ...
    @property
    def rows(self) -> tuple[int, ...]: ...
    @property
    def unit_rows(self) -> tuple[tuple[float, ...], ...]: ...
    @property
    def morris_levels(self) -> int: ...


METHODS = ("rbd_fast", "morris")
"""The sensitivity methods: RBD-FAST on any sweep, Morris on a Morris design."""

MIN_SAMPLES = 10
"""The fewest simulated samples RBD-FAST is run on (Morris: 2 whole trajectories)."""

_RESAMPLES = 100
_CONFIDENCE = 0.95
_MISSING = (
    "{what} needs numpy and SALib, the [analysis] extra, which are not installed: "
    "pip install -e '.[analysis]' from a clone (or pip install 'mikoshi-progression[analysis]')"
)


@dataclass(frozen=True, slots=True)
class SensitivityIndex:
    """How much one parameter moves one figure of one archetype.

    Attributes:
        archetype: The archetype's name.
        metric: The figure's name (``exp_per_day``).
        parameter: The parameter's path.
        rank: 1 for the parameter that moves the figure most, and so on.
        index: ``S1`` (RBD-FAST: a share of the variance, 0 to 1; a small
            negative value is noise around 0) or ``mu_star`` (Morris: in the
            figure's units, for a move across the parameter's swept range).
        confidence: Half the width of the index's 95% bootstrap interval.
    """

    archetype: str
    metric: str
    parameter: str
    rank: int
    index: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """A sweep's sensitivity ranking.

    Attributes:
        method: ``"rbd_fast"`` or ``"morris"``.
        index_name: ``"S1"`` or ``"mu_star"``.
        samples: The samples analysed (skipped points left out; for Morris, whole
            trajectories only).
        indices: For each archetype and figure with some variation, each
            parameter's index, ranked (archetypes, then figures, in order).
        unvaried: The (archetype, figure) pairs left out: the same at every point,
            or not reckoned at some (an archetype without players).
        notes: Why nothing could be ranked, if so.
    """

    method: str
    index_name: str
    samples: int
    indices: tuple[SensitivityIndex, ...]
    unvaried: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def ranking(self, archetype: str, metric: str) -> tuple[SensitivityIndex, ...]:
        """The parameters ranked for one archetype's figure (empty if left out)."""
        return tuple(i for i in self.indices if i.archetype == archetype and i.metric == metric)

    def tidy_rows(self) -> list[dict[str, Any]]:
        """One row per archetype, figure and parameter, for CSV."""
        return [
            {
                "method": self.method,
                "archetype": i.archetype,
                "metric": i.metric,
                "parameter": i.parameter,
                "rank": i.rank,
                self.index_name: i.index,
                "confidence": i.confidence,
            }
            for i in self.indices
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "method": self.method,
            "index": self.index_name,
            "samples": self.samples,
            "indices": [
                {
                    "archetype": i.archetype,
                    "metric": i.metric,
                    "parameter": i.parameter,
                    "rank": i.rank,
                    "index": i.index,
                    "confidence": i.confidence,
                }
                for i in self.indices
            ],
            "unvaried": [list(pair) for pair in self.unvaried],
            "notes": list(self.notes),
        }


def analysis_modules(what: str) -> tuple[ModuleType, ModuleType]:
    """numpy and SALib, imported now.

    Raises:
        ImportError: naming ``what`` and the ``[analysis]`` extra, if either is missing.
    """
    try:
        import numpy
        import SALib
    except ImportError as exc:
        raise ImportError(_MISSING.format(what=what)) from exc
    return numpy, SALib


def latin_unit_sample(dimensions: int, samples: int, seed: int) -> list[list[float]]:
    """A Latin hypercube of ``samples`` points in the unit cube (SALib's, seeded)."""
    analysis_modules("A Latin hypercube sample (--samples)")
    from SALib.sample import latin

    problem = _unit_problem(dimensions)
    drawn = latin.sample(problem, samples, seed=seed)
    return [[float(u) for u in row] for row in drawn]


def morris_unit_sample(
    dimensions: int, trajectories: int, levels: int, seed: int
) -> list[list[float]]:
    """``trajectories`` Morris trajectories on ``levels`` levels of the unit cube."""
    analysis_modules("A Morris design (--method morris)")
    from SALib.sample import morris

    problem = _unit_problem(dimensions)
    drawn = morris.sample(problem, trajectories, num_levels=levels, seed=seed)
    return [[float(u) for u in row] for row in drawn]


def _unit_problem(dimensions: int) -> dict[str, Any]:
    return {
        "num_vars": dimensions,
        "names": [f"x{i}" for i in range(dimensions)],
        "bounds": [[0.0, 1.0]] * dimensions,
    }


def sensitivity(
    result: SweepResult, method: str | None = None, metrics: Sequence[str] | None = None
) -> Sensitivity:
    """Rank the swept parameters by how much each moves each figure of each archetype.

    ``method`` is ``"rbd_fast"`` (default for a grid or Latin hypercube) or
    ``"morris"`` (default for, and only for, a Morris design). ``metrics`` limits
    the figures analysed (default: all). A level never reached counts as reached
    the day after the last simulated day, so that "never" ranks after any day;
    a figure not reckoned at some point (``nan``) is left out.

    Raises:
        InvalidArgumentError: an unknown method, Morris on another design, or an
            unknown figure.
        ImportError: numpy or SALib is missing (the ``[analysis]`` extra).
    """
    chosen = method or ("morris" if result.design == "morris" else "rbd_fast")
    if chosen not in METHODS:
        raise InvalidArgumentError("method", f"one of {', '.join(METHODS)}", method)
    if chosen == "morris" and result.design != "morris":
        raise InvalidArgumentError(
            "method",
            "rbd_fast for a grid or Latin hypercube sweep (Morris needs its own design: "
            "sweep with design='morris', --method morris on the command line)",
            method,
        )
    names = tuple(metrics) if metrics is not None else result.metrics
    unknown = [name for name in names if name not in result.metrics]
    if unknown:
        raise InvalidArgumentError("metrics", "figures the sweep has", unknown[0])
    numpy, _ = analysis_modules("The sensitivity ranking")
    if chosen == "morris":
        return _morris(result, names, numpy)
    return _rbd_fast(result, names, numpy)


def _censored(value: float, days: int) -> float:
    """A level never reached (``inf``) as reached the day after the last."""
    return float(days + 1) if value == math.inf else value


def _outputs(
    result: SweepResult, rows: Sequence[int], archetype: str, metric: str, numpy: ModuleType
) -> Any:
    """The figure at each of ``rows`` (indexes of points), or ``None`` if unusable."""
    values = [_censored(result.points[row].figures[archetype][metric], result.days) for row in rows]
    if any(math.isnan(v) for v in values) or max(values) == min(values):
        return None
    return numpy.array(values, dtype=float)


def _ranked(
    archetype: str,
    metric: str,
    parameters: Sequence[str],
    index: Sequence[float],
    confidence: Sequence[float],
) -> list[SensitivityIndex]:
    order = sorted(range(len(parameters)), key=lambda i: (-index[i], i))
    return [
        SensitivityIndex(
            archetype, metric, parameters[i], rank, float(index[i]), float(confidence[i])
        )
        for rank, i in enumerate(order, 1)
    ]


def _each_figure(
    result: SweepResult,
    rows: Sequence[int],
    names: Sequence[str],
    paths: Sequence[str],
    numpy: ModuleType,
    analyze: Callable[[Any], tuple[Sequence[float], Sequence[float]]],
) -> tuple[tuple[SensitivityIndex, ...], tuple[tuple[str, str], ...]]:
    """``analyze`` each archetype's figures at ``rows``: the ranked indices, and the
    (archetype, figure) pairs left out."""
    indices: list[SensitivityIndex] = []
    unvaried: list[tuple[str, str]] = []
    for archetype in result.archetypes:
        for metric in names:
            outputs = _outputs(result, rows, archetype, metric, numpy)
            if outputs is None:
                unvaried.append((archetype, metric))
                continue
            index, confidence = analyze(outputs)
            indices += _ranked(archetype, metric, paths, index, confidence)
    return tuple(indices), tuple(unvaried)


def _rbd_fast(result: SweepResult, names: Sequence[str], numpy: ModuleType) -> Sensitivity:
    from SALib.analyze import rbd_fast

    rows = [row for row in result.rows if not result.points[row].skipped]
    varying = [
        i
        for i, parameter in enumerate(result.parameters)
        if len({result.points[row].values[i] for row in rows}) > 1
    ]
    paths = [result.parameters[i].path for i in varying]
    if len(rows) < MIN_SAMPLES or not varying:
        why = (
            f"RBD-FAST needs at least {MIN_SAMPLES} simulated samples, the sweep has {len(rows)}"
            if varying
            else "no parameter takes more than one value at the simulated points"
        )
        return Sensitivity("rbd_fast", "S1", len(rows), (), notes=(why,))
    # RBD-FAST reads a figure in the order of each parameter's values. On a grid, points
    # with equal values come in a regular pattern of the other parameters, which would
    # show up as a frequency of their own: a seeded shuffle breaks ties at random.
    generator = numpy.random.default_rng(result.seed)
    rows = [rows[i] for i in generator.permutation(len(rows))]
    inputs = numpy.array(
        [[float(result.points[row].values[i]) for i in varying] for row in rows], dtype=float
    )
    problem = {"num_vars": len(varying), "names": paths, "bounds": [[0.0, 1.0]] * len(varying)}
    # Harmonics summed (M): SALib's 10 wants hundreds of samples; the bias correction
    # needs 2M well below the samples, and few values per parameter carry their
    # effect in the lowest harmonics anyway.
    harmonics = max(1, min(10, len(rows) // 10))

    def analyze(outputs: Any) -> tuple[Sequence[float], Sequence[float]]:
        # A bootstrap half-sample can hold one value only (0/0): its index is nan,
        # and so is the confidence then, which says as much.
        with numpy.errstate(divide="ignore", invalid="ignore"):
            found = rbd_fast.analyze(
                problem,
                inputs,
                outputs,
                M=harmonics,
                num_resamples=_RESAMPLES,
                conf_level=_CONFIDENCE,
                seed=result.seed,
            )
        return found["S1"], found["S1_conf"]

    indices, unvaried = _each_figure(result, rows, names, paths, numpy, analyze)
    return Sensitivity("rbd_fast", "S1", len(rows), indices, unvaried)


def _morris(result: SweepResult, names: Sequence[str], numpy: ModuleType) -> Sensitivity:
    from SALib.analyze import morris

    size = len(result.parameters) + 1
    trajectories = [list(range(first, first + size)) for first in range(0, len(result.rows), size)]
    whole = [t for t in trajectories if not any(result.points[result.rows[i]].skipped for i in t)]
    samples = [i for t in whole for i in t]
    paths = [p.path for p in result.parameters]
    if len(whole) < 2:
        why = f"Morris needs at least 2 whole trajectories, the sweep has {len(whole)}"
        return Sensitivity("morris", "mu_star", len(samples), (), notes=(why,))
    inputs = numpy.array([result.unit_rows[i] for i in samples], dtype=float)
    problem = _unit_problem(len(paths)) | {"names": paths}
    rows = [result.rows[i] for i in samples]

    def analyze(outputs: Any) -> tuple[Sequence[float], Sequence[float]]:
        found = morris.analyze(
            problem,
            inputs,
            outputs,
            num_resamples=_RESAMPLES,
            conf_level=_CONFIDENCE,
            num_levels=result.morris_levels,
            seed=result.seed,
        )
        return found["mu_star"], found["mu_star_conf"]

    indices, unvaried = _each_figure(result, rows, names, paths, numpy, analyze)
    return Sensitivity("morris", "mu_star", len(samples), indices, unvaried)
