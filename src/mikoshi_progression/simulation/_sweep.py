"""Sweeps: the same seeded players under many variations of one config.

A sweep varies some numbers of a config's dict form (:meth:`ProgressionConfig.to_dict`),
each over a list of values (a :class:`~._sweep_spec.SweepParameter`, written
``PATH=START:STOP:STEP`` or ``PATH=V1,V2,...``), and simulates each point: every
combination of the values (a grid), a Latin hypercube sample of them, or a Morris
design. Every point plays the same players (the same ``seed``), so points differ only
by their config. The points run in one pool of workers (:func:`~._run.simulate_many`),
and with a checkpoint file each finished point is kept, so an interrupted sweep picks
up where it stopped.

This module chooses the points, runs them and holds what they found
(:class:`SweepResult`); the parameters and each point's config are
:mod:`._sweep_spec`'s, the checkpoint file :mod:`._sweep_checkpoint`'s.

>>> from mikoshi_progression.simulation import parse_sweep
>>> caps = parse_sweep("daily_exp_caps.1=100:200:50")
>>> caps.path, caps.values
('daily_exp_caps.1', (100, 150, 200))
>>> result = sweep(DEFAULT_CONFIG, [caps], players=8, days=10, seed=1)
>>> [point.values for point in result.points]
[(100,), (150,), (200,)]
>>> result.points[0].figures["casual chatter"]["exp_per_day"] > 0
True

Latin hypercube and Morris designs, and the sensitivity ranking (:mod:`._sensitivity`),
need numpy and SALib, the ``[analysis]`` extra; grids and targets need nothing more.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..errors import ConfigError, InvalidArgumentError
from ._archetypes import DEFAULT_ARCHETYPES, Archetype
from ._conditions import Condition, check_condition_names, condition_holds
from ._metrics import archetype_metrics, metric_names
from ._run import DEFAULT_START, simulate_many
from ._sensitivity import Sensitivity, latin_unit_sample, morris_unit_sample, sensitivity
from ._sweep_checkpoint import (
    checkpoint_settings,
    open_checkpoint,
    read_checkpoint,
    values_key,
    write_point,
)
from ._sweep_spec import MAX_POINTS, Number, SweepParameter, check_paths, point_config

__all__ = [
    "DESIGNS",
    "SweepPoint",
    "SweepResult",
    "TargetMatch",
    "sweep",
]

DESIGNS = ("grid", "lhs", "morris")
"""How the points are chosen: every combination, a Latin hypercube, Morris trajectories."""

MORRIS_LEVELS = 4
"""Levels of a Morris design (2 when a parameter has fewer than 4 values)."""


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One simulated config of a sweep.

    Attributes:
        index: Its number, from 0, in sweep order.
        values: The value of each parameter, in the parameters' order.
        fingerprint: The point's config fingerprint; ``None`` if it is invalid.
        figures: Each archetype's named figures (see
            :func:`~._metrics.archetype_metrics`), by archetype name; empty if skipped.
        problems: Why the point's config is invalid (the
            :class:`~mikoshi_progression.ConfigError` problems); empty if it ran.
    """

    index: int
    values: tuple[Number, ...]
    fingerprint: str | None
    figures: Mapping[str, Mapping[str, float]]
    problems: tuple[str, ...] = ()

    @property
    def skipped(self) -> bool:
        """Whether the point was not simulated, its config being invalid."""
        return bool(self.problems)


@dataclass(frozen=True, slots=True)
class TargetMatch:
    """A point meeting every target, and the figures the targets read there.

    Attributes:
        point: The point.
        readings: For each condition, in order: its text, the archetype it held
            for (the first, for a condition on any archetype), and the figures it
            read there, by name.
    """

    point: SweepPoint
    readings: tuple[tuple[str, str, Mapping[str, float]], ...]


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What a sweep found.

    Attributes:
        base: The config every point varies.
        parameters: What was varied.
        design: ``"grid"``, ``"lhs"`` or ``"morris"`` (see :data:`DESIGNS`).
        points: The distinct points, in sweep order.
        rows: For a sampled design, each sample's point (``points[rows[i]]``): a
            Latin hypercube or Morris design may draw one point more than once. For a
            grid, each point once, in order.
        unit_rows: For a Morris design, each sample in the unit cube, as drawn (the
            analysis reads it); else empty.
        morris_levels: For a Morris design, its number of levels; else 0.
        archetypes: The archetypes' names, in order.
        players: Players in all, at every point.
        days: Days simulated.
        seed: The players' seed (and the sampler's).
        start: The first simulated day.
    """

    base: ProgressionConfig
    parameters: tuple[SweepParameter, ...]
    design: str
    points: tuple[SweepPoint, ...]
    rows: tuple[int, ...]
    unit_rows: tuple[tuple[float, ...], ...]
    morris_levels: int
    archetypes: tuple[str, ...]
    players: int
    days: int
    seed: int
    start: date
    metrics: tuple[str, ...] = field(default=())

    @property
    def skipped(self) -> tuple[SweepPoint, ...]:
        """The points not simulated, their config being invalid."""
        return tuple(point for point in self.points if point.skipped)

    def config_of(self, point: SweepPoint) -> ProgressionConfig:
        """The config simulated at ``point``.

        Raises:
            ConfigError: the point was skipped, its config being invalid.
        """
        return point_config(self.base, self.parameters, point.values)

    def sensitivity(
        self, method: str | None = None, metrics: Sequence[str] | None = None
    ) -> Sensitivity:
        """Which parameter moves which figure most: see :func:`~._sensitivity.sensitivity`."""
        return sensitivity(self, method, metrics)

    def meeting(self, conditions: Sequence[Condition]) -> tuple[TargetMatch, ...]:
        """The points where every one of ``conditions`` holds, in sweep order.

        A condition with an ``ARCHETYPE:`` prefix must hold for that archetype; one
        without, for at least one archetype.

        Raises:
            InvalidArgumentError: a condition reads a figure the points do not have,
                or names an archetype the sweep did not simulate.
        """
        for condition in conditions:
            check_condition_names(condition, self.metrics, "target")
            if condition.archetype is not None and condition.archetype not in self.archetypes:
                close = difflib.get_close_matches(condition.archetype, self.archetypes, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise InvalidArgumentError(
                    "target",
                    f"a condition on a simulated archetype ({', '.join(self.archetypes)}); "
                    f"{condition.archetype!r} is not one{hint}",
                    condition.text,
                )
        found = []
        for point in self.points:
            if point.skipped:
                continue
            readings = []
            for condition in conditions:
                names = self.archetypes if condition.archetype is None else (condition.archetype,)
                holding = next(
                    (n for n in names if condition_holds(condition, point.figures[n])), None
                )
                if holding is None:
                    break
                read = {name: point.figures[holding][name] for name in condition.names}
                readings.append((condition.text, holding, MappingProxyType(read)))
            else:
                found.append(TargetMatch(point, tuple(readings)))
        return tuple(found)

    def tidy_rows(self) -> list[dict[str, Any]]:
        """One row per point, archetype and figure (skipped points have none), for CSV.

        Each row has ``point``, each parameter's path, ``archetype``, ``metric`` and
        ``value`` (``inf`` for a level never reached).
        """
        rows = []
        for point in self.points:
            values = dict(zip(self._paths(), point.values, strict=True))
            for archetype, figures in point.figures.items():
                for metric, value in figures.items():
                    rows.append(
                        {
                            "point": point.index,
                            **values,
                            "archetype": archetype,
                            "metric": metric,
                            "value": value,
                        }
                    )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (a level never reached, ``inf``, is ``null``)."""
        return {
            "design": self.design,
            "parameters": [{"path": p.path, "values": list(p.values)} for p in self.parameters],
            "base_fingerprint": self.base.fingerprint,
            "players": self.players,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "archetypes": list(self.archetypes),
            "points": [self._point_dict(point) for point in self.points],
            "rows": list(self.rows),
            "skipped": len(self.skipped),
        }

    def _paths(self) -> list[str]:
        return [parameter.path for parameter in self.parameters]

    def _point_dict(self, point: SweepPoint) -> dict[str, Any]:
        data: dict[str, Any] = {
            "point": point.index,
            "values": dict(zip(self._paths(), point.values, strict=True)),
            "fingerprint": point.fingerprint,
        }
        if point.skipped:
            data["problems"] = list(point.problems)
        else:
            data["figures"] = {
                archetype: {name: _json_number(v) for name, v in figures.items()}
                for archetype, figures in point.figures.items()
            }
        return data


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


# --- designs -----------------------------------------------------------------------------


def _grid(parameters: Sequence[SweepParameter]) -> list[tuple[Number, ...]]:
    """Every combination, the first parameter varying slowest."""
    return list(itertools.product(*(p.values for p in parameters)))


def _grid_size(parameters: Sequence[SweepParameter]) -> int:
    return math.prod(len(p.values) for p in parameters)


def _snap(unit: float, count: int) -> int:
    """The value index of a unit-interval draw, each value owning an equal stratum."""
    return min(count - 1, int(unit * count))


def _lhs(parameters: Sequence[SweepParameter], samples: int, seed: int) -> list[list[float]]:
    return latin_unit_sample(len(parameters), samples, seed)


# --- running -----------------------------------------------------------------------------


def sweep(
    base: ProgressionConfig = DEFAULT_CONFIG,
    parameters: Sequence[SweepParameter] = (),
    archetypes: Sequence[Archetype] = DEFAULT_ARCHETYPES,
    *,
    design: str = "grid",
    samples: int | None = None,
    players: int = 1000,
    days: int = 365,
    seed: int = 0,
    start: date = DEFAULT_START,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: str | Path | None = None,
    max_points: int = MAX_POINTS,
    work: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Simulate the same players under each point of a sweep of ``base``.

    ``design`` chooses the points: ``"grid"``, every combination of the parameters'
    values (the first parameter varying slowest); ``"lhs"``, a Latin hypercube of
    ``samples`` draws, each parameter's draw snapped to one of its values (each
    value owns an equal share of the unit interval); ``"morris"``, ``samples``
    Morris trajectories (of ``len(parameters) + 1`` points each) on up to
    :data:`MORRIS_LEVELS` levels, a level mapped to the nearest of the parameter's
    values. The samplers are SALib's, seeded with ``seed``. A point drawn twice is
    simulated once.

    A point whose config is invalid is skipped, with its problems. Valid points run
    through one pool of ``jobs`` workers (:func:`~._run.simulate_many`); the
    result does not depend on ``jobs``. ``progress(points_done, points)`` is called
    as each point finishes (points already in the checkpoint count as done);
    ``work(done, total)`` as the points still to simulate progress, in the units
    of :func:`~._run.simulate_many` (what a progress bar's time left needs).

    With ``checkpoint`` (a JSON-lines file), each finished point is appended as
    one line, keyed by everything that determines it; a later sweep with the same
    settings takes the points it finds there instead of simulating them again.

    Raises:
        InvalidArgumentError: a parameter names no number of ``base``; no
            parameter; ``design`` or ``samples`` unfit; more than ``max_points``
            points; a checkpoint written with other settings, or not a checkpoint.
        ImportError: ``"lhs"`` or ``"morris"`` without numpy and SALib (the
            ``[analysis]`` extra).
        ConfigError, ValueError: as for :func:`~._run.simulate_many`.
    """
    parameters = tuple(parameters)
    if not parameters:
        raise InvalidArgumentError("parameters", "at least one parameter to sweep", parameters)
    check_paths(parameters, base)
    rows, unit_rows, levels = _design(parameters, design, samples, seed, max_points)
    distinct = list(dict.fromkeys(rows))
    position = {values: i for i, values in enumerate(distinct)}
    archetype_names = tuple(a.name for a in archetypes)
    settings = checkpoint_settings(base, archetypes, players, days, seed, start)
    kept = read_checkpoint(Path(checkpoint), settings) if checkpoint is not None else {}

    points: dict[int, SweepPoint] = {}
    pending: list[tuple[int, ProgressionConfig]] = []
    for index, values in enumerate(distinct):
        try:
            config = point_config(base, parameters, values)
        except ConfigError as exc:
            points[index] = SweepPoint(index, values, None, MappingProxyType({}), exc.problems)
            continue
        figures = kept.get(values_key(parameters, values))
        if figures is not None and tuple(figures) == archetype_names:
            points[index] = SweepPoint(index, values, config.fingerprint, figures)
        else:
            pending.append((index, config))
    total = len(distinct)
    if progress is not None and points:
        progress(len(points), total)
    if pending:
        _run_points(
            pending,
            distinct,
            parameters,
            archetypes,
            points,
            settings,
            None if checkpoint is None else Path(checkpoint),
            progress,
            total,
            players=players,
            days=days,
            seed=seed,
            start=start,
            jobs=jobs,
            work=work,
        )
    return SweepResult(
        base=base,
        parameters=parameters,
        design=design,
        points=tuple(points[i] for i in range(len(distinct))),
        rows=tuple(position[values] for values in rows),
        unit_rows=unit_rows,
        morris_levels=levels,
        archetypes=archetype_names,
        players=players,
        days=days,
        seed=seed,
        start=start,
        metrics=tuple(metric_names(base)),
    )


def _design(
    parameters: Sequence[SweepParameter],
    design: str,
    samples: int | None,
    seed: int,
    max_points: int,
) -> tuple[list[tuple[Number, ...]], tuple[tuple[float, ...], ...], int]:
    """The design's rows of values, its unit-cube rows (Morris) and levels (Morris)."""
    if design not in DESIGNS:
        raise InvalidArgumentError("design", f"one of {', '.join(DESIGNS)}", design)
    if design == "grid":
        if samples is not None:
            raise InvalidArgumentError("samples", "None for a grid (every combination)", samples)
        size = _grid_size(parameters)
        if size > max_points:
            shape = " x ".join(str(len(p.values)) for p in parameters)
            raise InvalidArgumentError(
                "--sweep",
                f"at most {max_points:,} points; the grid of {shape} has {size:,} (sample "
                "it with --samples N, or raise --max-points)",
                size,
            )
        return _grid(parameters), (), 0
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise InvalidArgumentError("samples", f"a positive number of samples for {design}", samples)
    if design == "lhs":
        if samples > max_points:
            raise InvalidArgumentError(
                "--samples", f"at most {max_points:,} points (or raise --max-points)", samples
            )
        units = _lhs(parameters, samples, seed)
        rows = [
            tuple(p.values[_snap(u, len(p.values))] for p, u in zip(parameters, row, strict=True))
            for row in units
        ]
        return rows, (), 0
    short = [p.path for p in parameters if len(p.values) < 2]
    if short:
        raise InvalidArgumentError(
            "--sweep", "at least two values per parameter for a Morris design", short[0]
        )
    size = samples * (len(parameters) + 1)
    if size > max_points:
        raise InvalidArgumentError(
            "--samples",
            f"at most {max_points:,} points; {samples} Morris trajectories of "
            f"{len(parameters) + 1} points are {size:,} (or raise --max-points)",
            samples,
        )
    # SALib wants an even number of levels (an odd one biases the sample).
    levels = min(MORRIS_LEVELS, *(len(p.values) for p in parameters)) // 2 * 2
    units = morris_unit_sample(len(parameters), samples, levels, seed)
    # A level maps to the nearest value: with at least as many values as levels,
    # distinct levels stay distinct values, as Morris's elementary effects need.
    rows = [
        tuple(
            p.values[round(u * (len(p.values) - 1))] for p, u in zip(parameters, row, strict=True)
        )
        for row in units
    ]
    return rows, tuple(tuple(row) for row in units), levels


def _run_points(
    pending: Sequence[tuple[int, ProgressionConfig]],
    distinct: Sequence[tuple[Number, ...]],
    parameters: Sequence[SweepParameter],
    archetypes: Sequence[Archetype],
    points: dict[int, SweepPoint],
    settings: dict[str, Any],
    checkpoint: Path | None,
    progress: Callable[[int, int], None] | None,
    total: int,
    *,
    work: Callable[[int, int], None] | None,
    players: int,
    days: int,
    seed: int,
    start: date,
    jobs: int,
) -> None:
    """Simulate the pending points, recording each in ``points`` (and the checkpoint)."""
    configs = [config for _, config in pending]
    labels = [_label(parameters, distinct[index]) for index, _ in pending]
    runs = simulate_many(
        configs,
        archetypes,
        players=players,
        days=days,
        seed=seed,
        start=start,
        jobs=jobs,
        progress=work,
        labels=labels,
    )
    out = open_checkpoint(checkpoint) if checkpoint is not None else None
    try:
        for run, report in runs:
            index, config = pending[run]
            figures = MappingProxyType(
                {
                    part.archetype.name: MappingProxyType(archetype_metrics(part))
                    for part in report.archetypes
                }
            )
            values = distinct[index]
            points[index] = SweepPoint(index, values, config.fingerprint, figures)
            if out is not None:
                key = values_key(parameters, values)
                write_point(out, settings, key, config.fingerprint, figures)
            if progress is not None:
                progress(len(points), total)
    finally:
        if isinstance(runs, Generator):
            runs.close()  # stops the workers at once if we are interrupted
        if out is not None:
            out.close()


def _label(parameters: Sequence[SweepParameter], values: Sequence[Number]) -> str:
    return ", ".join(f"{p.path}={v}" for p, v in zip(parameters, values, strict=True))
