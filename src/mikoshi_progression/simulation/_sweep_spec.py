"""What a sweep varies: its parameters, and the config at each of its points.

A :class:`SweepParameter` is one number of a config's dict form
(:meth:`ProgressionConfig.to_dict`), named by a dotted path, and the values a sweep
gives it; :func:`parse_sweep` reads one from ``PATH=START:STOP:STEP`` or
``PATH=V1,V2,...``. :func:`numeric_paths` lists the numbers a config has (walking its
dict form, lists of tables by level number or name), :func:`check_paths` holds the
parameters against them, and :func:`point_config` writes a point's values into a copy
of the config.

This is the language of a sweep, apart from running one (:mod:`._sweep`) and from its
checkpoint file (:mod:`._sweep_checkpoint`): it needs no simulation, and the command
line parses ``--sweep`` with it before anything runs.

>>> caps = parse_sweep("daily_exp_caps.1=100:200:50")
>>> caps.path, caps.values
('daily_exp_caps.1', (100, 150, 200))
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.config import ProgressionConfig
from ..errors import InvalidArgumentError, did_you_mean

__all__ = [
    "MAX_POINTS",
    "Number",
    "SweepParameter",
    "check_paths",
    "numeric_paths",
    "parse_sweep",
    "point_config",
    "typed_number",
]

MAX_POINTS = 10_000
"""The most points a sweep runs unless told otherwise (``max_points``)."""

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


def parse_sweep(spec: str, *, option: str = "--sweep") -> SweepParameter:
    """Parse ``PATH=START:STOP:STEP`` (the stop included) or ``PATH=V1,V2,...``.

    The path is checked against a config by :func:`~._sweep.sweep` (see
    :func:`numeric_paths`).

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

    >>> from mikoshi_progression import DEFAULT_CONFIG
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


def check_paths(parameters: Sequence[SweepParameter], config: ProgressionConfig) -> None:
    """Check that each parameter names a number of ``config`` (see :func:`numeric_paths`).

    Raises:
        InvalidArgumentError: naming ``--sweep``, for a path given twice, or one that
            names a table or nothing (with the closest paths, if any).
    """
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
            what = f"{parameter.path!r} is not one{did_you_mean(parameter.path, known)}"
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
            node[index] = typed_number(node[index], value)
        else:
            key = next(k for k in node if str(k) == leaf)
            node[key] = typed_number(node[key], value)
    return ProgressionConfig.from_dict(data)


def _child(node: Any, part: str) -> Any:
    return next(value for key, value in _children(node) if key == part)


def typed_number(current: object, value: Number) -> Number:
    """A whole float where the config holds an integer (or nothing) becomes an int."""
    if isinstance(value, float) and value.is_integer() and not isinstance(current, float):
        return int(value)
    return value
