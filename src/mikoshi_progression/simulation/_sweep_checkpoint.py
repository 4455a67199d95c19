"""A sweep's checkpoint: the JSON-lines file that keeps each finished point.

Each line holds one simulated point: the settings that determine its figures besides
its values (:func:`checkpoint_settings`: the base config's fingerprint and a digest of
its dict form, a digest of the archetypes, players, days, seed and start), the point's
values (:func:`values_key`), its config's fingerprint and its figures, in strict JSON
(``inf`` and ``nan`` as strings). :func:`read_checkpoint` takes back the points of a
file written with the same settings and refuses one written with others;
:func:`open_checkpoint` and :func:`write_point` append to it, one flushed line a point,
so an interrupted sweep loses at most the line it was writing, which is dropped.

The file's format is kept here, apart from the sweep (:mod:`._sweep`), so that what is
written and what is read back are one place's business.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

from ..core.config import ProgressionConfig
from ..errors import InvalidArgumentError
from ._archetypes import Archetype
from ._sweep_spec import Number, SweepParameter, typed_number

__all__ = [
    "checkpoint_settings",
    "open_checkpoint",
    "read_checkpoint",
    "values_key",
    "write_point",
]


def checkpoint_settings(
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


def values_key(parameters: Sequence[SweepParameter], values: Sequence[Number]) -> str:
    """A point's values as the checkpoint keys them (whole floats written as ints)."""
    pairs = {p.path: typed_number(0, v) for p, v in zip(parameters, values, strict=True)}
    return json.dumps(dict(sorted(pairs.items())))


def _encode(value: float) -> float | str:
    """A figure in strict JSON: ``inf`` and ``nan`` as strings."""
    return value if math.isfinite(value) else str(value)


def _decode(value: object) -> float:
    return float(value) if isinstance(value, int | float | str) else math.nan


def read_checkpoint(
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


def open_checkpoint(path: Path) -> TextIO:
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


def write_point(
    out: TextIO,
    settings: dict[str, Any],
    values: str,
    fingerprint: str,
    figures: Mapping[str, Mapping[str, float]],
) -> None:
    """Append one finished point to ``out`` (a checkpoint from :func:`open_checkpoint`).

    ``values`` is the point's :func:`values_key`; the line is flushed at once.
    """
    line = {
        "settings": settings,
        "values": values,
        "fingerprint": fingerprint,
        "figures": {
            name: {k: _encode(v) for k, v in named.items()} for name, named in figures.items()
        },
    }
    out.write(json.dumps(line) + "\n")
    out.flush()
