"""Sweeps: the same seeded players under many variations of one config.

A sweep varies some numbers of a config's dict form (:meth:`ProgressionConfig.to_dict`),
each over a list of values (a :class:`SweepParameter`, written ``PATH=START:STOP:STEP``
or ``PATH=V1,V2,...``), and simulates each point: every combination of the values (a
grid), a Latin hypercube sample of them, or a Morris design. Every point plays the same
players (the same ``seed``), so points differ only by their config. The points run in
one pool of workers (:func:`~._run.simulate_many`), and with a checkpoint file each
finished point is kept, so an interrupted sweep picks up where it stopped.

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

import copy
import difflib
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..errors import ConfigError, InvalidArgumentError
from ._archetypes import DEFAULT_ARCHETYPES, Archetype
from ._conditions import Condition, check_condition_names, condition_holds
from ._metrics import archetype_metrics, metric_names
from ._run import DEFAULT_START, simulate_many
from ._sensitivity import Sensitivity, latin_unit_sample, morris_unit_sample, sensitivity

__all__ = [
    "DESIGNS",
    "MAX_POINTS",
    "SweepParameter",
    "SweepPoint",
    "SweepResult",
    "TargetMatch",
    "numeric_paths",
    "parse_sweep",
    "point_config",
    "sweep",
]

MAX_POINTS = 10_000
"""The most points a sweep runs unless told otherwise (``max_points``)."""

DESIGNS = ("grid", "lhs", "morris")
"""How the points are chosen: every combination, a Latin hypercube, Morris trajectories."""

MORRIS_LEVELS = 4
"""Levels of a Morris design (2 when a parameter has fewer than 4 values)."""

_EXAMPLE = "PATH=START:STOP:STEP or PATH=V1,V2,... (e.g. daily_exp_caps.3=200:400:50)"

Number = int | float


@dataclass(frozen=True, slots=True)
class SweepParameter:
    """One number of the config and the values a sweep gives it.

    Attributes:
        path: Where the number is in the config's dict form, dotted
            (``daily_exp_caps.3``, ``actions.create_character.exp``,
            ``levels.4.exp_required`` with the level's number).
        values: The values, in sweep order (distinct).
    """

    path: str
    values: tuple[Number, ...]


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


# --- parameters --------------------------------------------------------------------------


def parse_sweep(spec: str, *, option: str = "--sweep") -> SweepParameter:
    """Parse ``PATH=START:STOP:STEP`` (the stop included) or ``PATH=V1,V2,...``.

    The path is checked against a config by :func:`sweep` (see :func:`numeric_paths`).

    >>> parse_sweep("actions.create_character.exp=20,30,40").values
    (20, 30, 40)
    >>> parse_sweep("levels.4.exp_required=600:800:100").values
    (600, 700, 800)

    Raises:
        InvalidArgumentError: naming ``option``, when ``spec`` is not of that form.
    """
    path, equals, text = spec.partition("=")
    path = path.strip()
    if not equals or not path or any(not part for part in path.split(".")):
        raise InvalidArgumentError(option, _EXAMPLE, spec)
    if ":" in text:
        values = _range_values(text, option, spec)
    else:
        values = tuple(_number(part, option, spec) for part in text.split(","))
        if len(set(values)) != len(values):
            raise InvalidArgumentError(option, "distinct values", spec)
    return SweepParameter(path, values)


def _number(text: str, option: str, spec: str) -> Number:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise InvalidArgumentError(
            option, f"numbers after '=' ({_EXAMPLE}); {text!r} is not one", spec
        ) from None
    if not math.isfinite(value):
        raise InvalidArgumentError(option, "finite numbers", spec)
    return value


def _range_values(text: str, option: str, spec: str) -> tuple[Number, ...]:
    parts = text.split(":")
    if len(parts) != 3:
        raise InvalidArgumentError(option, f"START:STOP:STEP, three numbers ({_EXAMPLE})", spec)
    start, stop, step = (_number(part, option, spec) for part in parts)
    if step <= 0:
        raise InvalidArgumentError(option, "a STEP above 0 in START:STOP:STEP", spec)
    if stop < start:
        raise InvalidArgumentError(option, "START at most STOP in START:STOP:STEP", spec)
    # A small tolerance keeps a float stop that is a whole number of steps away
    # (0.1:0.3:0.1) despite rounding.
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_POINTS:
        raise InvalidArgumentError(
            option, f"at most {MAX_POINTS:,} values (START:STOP:STEP gives {count:,})", spec
        )
    if all(isinstance(v, int) for v in (start, stop, step)):
        return tuple(int(start + i * step) for i in range(count))
    return tuple(round(start + i * step, 10) for i in range(count))


def numeric_paths(config: ProgressionConfig) -> dict[str, Number | None]:
    """Every number a sweep can vary in ``config``, by dotted path, with its value.

    A list of levels is entered by level number (``levels.4.exp_required``), any other
    list of tables by each table's ``name``, else by position. ``None`` stands for a
    number the config leaves unset (an action without a daily limit).

    >>> paths = numeric_paths(DEFAULT_CONFIG)
    >>> paths["daily_exp_caps.3"], paths["levels.4.exp_required"]
    (300, 700)
    """
    found: dict[str, Number | None] = {}
    _collect(config.to_dict(), "", found)
    return found


def _collect(data: object, prefix: str, found: dict[str, Number | None]) -> None:
    for key, value in _children(data):
        path = f"{prefix}{key}"
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            found[path] = value
        else:
            _collect(value, path + ".", found)


def _children(data: object) -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        yield from ((str(key), value) for key, value in data.items())
    elif isinstance(data, list):
        for position, item in enumerate(data):
            yield _item_key(item, position), item


def _item_key(item: object, position: int) -> str:
    if isinstance(item, dict):
        for key in ("number", "name"):
            if key in item:
                return str(item[key])
    return str(position)


def _check_paths(parameters: Sequence[SweepParameter], config: ProgressionConfig) -> None:
    known = numeric_paths(config)
    seen: set[str] = set()
    for parameter in parameters:
        if parameter.path in seen:
            raise InvalidArgumentError(
                "--sweep", f"each path once; {parameter.path!r} is given twice", parameter.path
            )
        seen.add(parameter.path)
        if parameter.path in known:
            continue
        below = [p for p in known if p.startswith(parameter.path + ".")]
        if below:
            what = f"{parameter.path!r} is a table, not a number (e.g. {', '.join(below[:3])})"
        else:
            close = difflib.get_close_matches(parameter.path, list(known), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            what = f"{parameter.path!r} is not one{hint}"
        raise InvalidArgumentError(
            "--sweep",
            "a path to a number of the config, such as daily_exp_caps.3, "
            f"actions.create_character.exp or levels.4.exp_required; {what}",
            parameter.path,
        )


def point_config(
    base: ProgressionConfig, parameters: Sequence[SweepParameter], values: Sequence[Number]
) -> ProgressionConfig:
    """``base`` with each parameter's number set to its value in ``values``.

    Raises:
        ConfigError: the resulting config is invalid (every problem listed).
    """
    data = copy.deepcopy(base.to_dict())
    for parameter, value in zip(parameters, values, strict=True):
        *parents, leaf = parameter.path.split(".")
        node: Any = data
        for part in parents:
            node = _child(node, part)
        if isinstance(node, list):
            index = next(i for i, (key, _) in enumerate(_children(node)) if key == leaf)
            node[index] = _typed(node[index], value)
        else:
            key = next(k for k in node if str(k) == leaf)
            node[key] = _typed(node[key], value)
    return ProgressionConfig.from_dict(data)


def _child(node: Any, part: str) -> Any:
    return next(value for key, value in _children(node) if key == part)


def _typed(current: object, value: Number) -> Number:
    """A whole float where the config holds an integer (or nothing) becomes an int."""
    if isinstance(value, float) and value.is_integer() and not isinstance(current, float):
        return int(value)
    return value


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
    as each point finishes (points already in the checkpoint count as done).

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
    _check_paths(parameters, base)
    rows, unit_rows, levels = _design(parameters, design, samples, seed, max_points)
    distinct = list(dict.fromkeys(rows))
    position = {values: i for i, values in enumerate(distinct)}
    archetype_names = tuple(a.name for a in archetypes)
    settings = _settings(base, archetypes, players, days, seed, start)
    kept = _read_checkpoint(Path(checkpoint), settings) if checkpoint is not None else {}

    points: dict[int, SweepPoint] = {}
    pending: list[tuple[int, ProgressionConfig]] = []
    for index, values in enumerate(distinct):
        try:
            config = point_config(base, parameters, values)
        except ConfigError as exc:
            points[index] = SweepPoint(index, values, None, MappingProxyType({}), exc.problems)
            continue
        figures = kept.get(_values_key(parameters, values))
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
        labels=labels,
    )
    out = _open_checkpoint(checkpoint) if checkpoint is not None else None
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
                line = {
                    "settings": settings,
                    "values": _values_key(parameters, values),
                    "fingerprint": config.fingerprint,
                    "figures": {
                        name: {k: _encode(v) for k, v in named.items()}
                        for name, named in figures.items()
                    },
                }
                out.write(json.dumps(line) + "\n")
                out.flush()
            if progress is not None:
                progress(len(points), total)
    finally:
        if isinstance(runs, Generator):
            runs.close()  # stops the workers at once if we are interrupted
        if out is not None:
            out.close()


def _label(parameters: Sequence[SweepParameter], values: Sequence[Number]) -> str:
    return ", ".join(f"{p.path}={v}" for p, v in zip(parameters, values, strict=True))


# --- checkpoints -------------------------------------------------------------------------


def _settings(
    base: ProgressionConfig,
    archetypes: Sequence[Archetype],
    players: int,
    days: int,
    seed: int,
    start: date,
) -> dict[str, Any]:
    """Everything besides a point's values that determines its figures."""
    # The key order of the config's dict form orders ties within a day, so it is
    # part of the digest (the fingerprint ignores it); it is kept for messages.
    base_json = json.dumps(base.to_dict())
    archetypes_json = json.dumps([a.to_dict() for a in archetypes])
    return {
        "base_fingerprint": base.fingerprint,
        "base_digest": hashlib.sha256(base_json.encode()).hexdigest()[:16],
        "archetypes": hashlib.sha256(archetypes_json.encode()).hexdigest()[:16],
        "players": players,
        "days": days,
        "seed": seed,
        "start": start.isoformat(),
    }


def _values_key(parameters: Sequence[SweepParameter], values: Sequence[Number]) -> str:
    """A point's values as the checkpoint keys them (whole floats written as ints)."""
    pairs = {p.path: _typed(0, v) for p, v in zip(parameters, values, strict=True)}
    return json.dumps(dict(sorted(pairs.items())))


def _encode(value: float) -> float | str:
    """A figure in strict JSON: ``inf`` and ``nan`` as strings."""
    return value if math.isfinite(value) else str(value)


def _decode(value: object) -> float:
    return float(value) if isinstance(value, int | float | str) else math.nan


def _read_checkpoint(
    path: Path, settings: dict[str, Any]
) -> dict[str, Mapping[str, Mapping[str, float]]]:
    """The figures of each point found in ``path``, by values key (none if no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidArgumentError("checkpoint", "a readable file", str(path)) from exc
    lines = text.splitlines()
    found: dict[str, Mapping[str, Mapping[str, float]]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(line)
            written, values, figures = record["settings"], record["values"], record["figures"]
        except (ValueError, KeyError):
            if number == len(lines) and not text.endswith("\n"):
                continue  # a line cut short by an interruption: its point runs again
            raise InvalidArgumentError(
                "checkpoint",
                f"a sweep checkpoint (JSON lines); line {number} of {path} is not one",
                line[:60],
            ) from None
        if written != settings:
            differ = [
                f"{key} {written.get(key)!r} there, {value!r} here"
                for key, value in settings.items()
                if written.get(key) != value
            ]
            raise InvalidArgumentError(
                "checkpoint",
                f"a checkpoint of a sweep with the same base config, archetypes, players, "
                f"days, seed and start; {path} was written with others ({'; '.join(differ)}): "
                "use another file, or delete it to start over",
                str(path),
            )
        found[values] = MappingProxyType(
            {
                archetype: MappingProxyType({k: _decode(v) for k, v in named.items()})
                for archetype, named in figures.items()
            }
        )
    return found


def _open_checkpoint(path: Path) -> TextIO:
    """``path`` opened to append lines, a last line cut short by an interruption removed."""
    try:
        if path.exists():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                with path.open("r+b") as trim:
                    trim.truncate(data.rfind(b"\n") + 1)
        return path.open("a", encoding="utf-8")
    except OSError as exc:
        raise InvalidArgumentError("checkpoint", "a writable file", str(path)) from exc
