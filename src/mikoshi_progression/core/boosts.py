"""Boost events: windows of time in which actions pay a multiple of their reward.

A boost is a named window ``[starts, ends)`` of aware moments with an exact rational
multiplier (2, 1.5, "3/2"), for every action or for some. When windows overlap,
the config's ``stacking`` says how their multipliers combine:

- ``"max"`` (default): the largest multiplier applies;
- ``"multiply"``: the multipliers multiply (2 and 1.5 make 3);
- ``"add"``: the bonuses add (2 and 1.5 make 1 + 1 + 0.5 = 2.5).

EXP stays an integer: a boosted reward is ``floor(reward * multiplier)``, so a boost
never pays more than its multiplier allows. By default a boost raises only the reward,
which the daily cap still cuts; with ``raise_cap`` the day's cap is multiplied by the
same multiplier (also rounded down) for the boosted action.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal, cast

from ..errors import ConfigError
from ._checks import key_problems
from .days import is_supported_moment

__all__ = [
    "MAX_MULTIPLIER",
    "STACKING_MODES",
    "Boost",
    "BoostRules",
    "boost_problems",
    "combine",
    "multiplier_text",
    "parse_multiplier",
]

Stacking = Literal["max", "multiply", "add"]
STACKING_MODES: tuple[Stacking, ...] = ("max", "multiply", "add")
"""How overlapping boosts combine."""
MAX_MULTIPLIER = Fraction(100)
"""The largest multiplier a boost may have: a boost is a treat, not an exploit."""

_BOOST_KEYS = ("name", "starts", "ends", "multiplier", "actions")
_RULES_KEYS = ("stacking", "raise_cap", "windows")


def parse_multiplier(value: object) -> Fraction:
    """An exact multiplier from an int, a ``Fraction``, a ``Decimal`` or text (``"3/2"``,
    ``"1.5"``); a float is read by its shortest decimal text (``1.5`` is exactly 3/2).

    Raises:
        ValueError: ``value`` is none of those, or not a finite number.
    """
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | Fraction):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("not finite")
        return Fraction(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if "/" in text:
                return Fraction(text)
            return Fraction(Decimal(text)) if Decimal(text).is_finite() else _not_finite()
        except (ValueError, ZeroDivisionError, InvalidOperation):
            raise ValueError(f"not a number: {value!r}") from None
    raise ValueError(f"not a number: {value!r}")


def _not_finite() -> Fraction:
    raise ValueError("not finite")


def multiplier_text(multiplier: Fraction) -> str:
    """A multiplier as exact text: ``"2"``, ``"3/2"``."""
    return str(multiplier)


@dataclass(frozen=True, slots=True)
class Boost:
    """One boost window.

    Attributes:
        name: How designers and the ledger name it (``"double_xp_weekend"``).
        starts: The first moment it applies (aware).
        ends: The first moment it no longer applies (aware, after ``starts``).
        multiplier: The reward's multiplier, exact (``Fraction``; ints, decimals and
            ``"3/2"`` text are accepted), from 1 to :data:`MAX_MULTIPLIER`.
        actions: The actions it applies to, or ``None`` for every action.
    """

    name: str
    starts: datetime
    ends: datetime
    multiplier: Fraction
    actions: frozenset[str] | None = None

    def __post_init__(self) -> None:
        problems = _window_problems(_boost_to_raw(self), "Boost", None)
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "multiplier", parse_multiplier(self.multiplier))
        given: object = self.actions
        if given is not None and not isinstance(given, frozenset):
            object.__setattr__(self, "actions", frozenset(cast(Iterable[str], given)))

    def applies(self, action: str, now: datetime) -> bool:
        """Whether this boost multiplies ``action`` awarded at ``now``."""
        return self.starts <= now < self.ends and (self.actions is None or action in self.actions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO 8601 moments, the multiplier as exact text."""
        data: dict[str, Any] = {
            "name": self.name,
            "starts": self.starts.isoformat(),
            "ends": self.ends.isoformat(),
            "multiplier": multiplier_text(self.multiplier),
        }
        if self.actions is not None:
            data["actions"] = sorted(self.actions)
        return data


@dataclass(frozen=True, slots=True)
class BoostRules:
    """The boost windows and how they combine.

    Attributes:
        windows: The boosts, in the order written.
        stacking: ``"max"``, ``"multiply"`` or ``"add"`` (see the module's doc).
        raise_cap: Whether a boost multiplies the daily cap too (default: no, only the
            reward, which the cap still cuts).
    """

    windows: Sequence[Boost] = ()
    stacking: Stacking = "max"
    raise_cap: bool = False
    _table: tuple[tuple[datetime, datetime, frozenset[str] | None, Fraction, str], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        problems = []
        if self.stacking not in STACKING_MODES:
            problems.append(
                f"boosts.stacking: must be one of {', '.join(STACKING_MODES)}, "
                f"got {self.stacking!r}"
            )
        raise_cap: object = self.raise_cap
        if not isinstance(raise_cap, bool):
            problems.append(f"boosts.raise_cap: must be true or false, got {raise_cap!r}")
        windows: tuple[object, ...] = tuple(self.windows)
        for i, window in enumerate(windows):
            if not isinstance(window, Boost):
                problems.append(f"boosts.windows[{i}]: must be a Boost, got {window!r}")
        names = [w.name for w in windows if isinstance(w, Boost)]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"boosts.windows: two boosts are named {name!r} (names are unique)")
        if problems:
            raise ConfigError(problems)
        boosts = cast(tuple[Boost, ...], windows)
        object.__setattr__(self, "windows", boosts)
        table = tuple((w.starts, w.ends, w.actions, w.multiplier, w.name) for w in boosts)
        object.__setattr__(self, "_table", table)

    def active(self, action: str, now: datetime) -> tuple[Boost, ...]:
        """The boosts that multiply ``action`` at ``now``, in the order written."""
        return tuple(w for w in self.windows if w.applies(action, now))

    def multiplier(self, action: str, now: datetime) -> tuple[Fraction, tuple[str, ...]]:
        """The combined multiplier for ``action`` at ``now``, and the boosts' names
        (``(1, ())`` when none applies)."""
        found: list[Fraction] = []
        names: list[str] = []
        for starts, ends, actions, multiplier, name in self._table:
            if starts <= now < ends and (actions is None or action in actions):
                found.append(multiplier)
                names.append(name)
        if not found:
            return _ONE, ()
        return combine(found, self.stacking), tuple(names)

    def boosted(self, amount: int, action: str, now: datetime) -> int:
        """``amount`` (a reward, or a cap when boosts raise it) multiplied by the boosts in
        force for ``action`` at ``now``, rounded down: the rule every boosted figure obeys.

        >>> from datetime import UTC
        >>> rules = BoostRules((Boost("w", datetime(2026, 1, 1, tzinfo=UTC),
        ...                           datetime(2026, 1, 2, tzinfo=UTC), Fraction(3, 2)),))
        >>> rules.boosted(15, "create_scene", datetime(2026, 1, 1, 12, tzinfo=UTC))
        22
        """
        multiplier, names = self.multiplier(action, now)
        return amount * multiplier.numerator // multiplier.denominator if names else amount

    def to_dict(self) -> dict[str, Any]:
        return {
            "stacking": self.stacking,
            "raise_cap": self.raise_cap,
            "windows": [w.to_dict() for w in self.windows],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BoostRules:
        """Build from the ``boosts`` section of a config (validated by :func:`boost_problems`)."""
        problems = boost_problems(data, None)
        if problems:
            raise ConfigError(problems)
        return cls(
            windows=tuple(_boost_from_raw(w) for w in data.get("windows", ())),
            stacking=data.get("stacking", "max"),
            raise_cap=data.get("raise_cap", False),
        )


_ONE = Fraction(1)


def combine(multipliers: Sequence[Fraction], stacking: Stacking) -> Fraction:
    """The multipliers of overlapping boosts combined by ``stacking``.

    >>> combine([Fraction(2), Fraction(3, 2)], "max"), combine([Fraction(2), Fraction(3, 2)], "add")
    (Fraction(2, 1), Fraction(5, 2))
    """
    if stacking == "max":
        return max(multipliers)
    if stacking == "multiply":
        product = _ONE
        for multiplier in multipliers:
            product *= multiplier
        return product
    return 1 + sum((m - 1 for m in multipliers), Fraction(0))


def _boost_to_raw(boost: Boost) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": boost.name,
        "starts": boost.starts,
        "ends": boost.ends,
        "multiplier": boost.multiplier,
    }
    if boost.actions is not None:
        data["actions"] = boost.actions
    return data


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _boost_from_raw(data: Mapping[str, Any]) -> Boost:
    actions = data.get("actions")
    starts, ends = _moment(data["starts"]), _moment(data["ends"])
    assert starts is not None  # validated
    assert ends is not None
    return Boost(
        name=data["name"],
        starts=starts,
        ends=ends,
        multiplier=parse_multiplier(data["multiplier"]),
        actions=None if actions is None else frozenset(actions),
    )


def _window_problems(data: Mapping[str, Any], where: str, actions: object) -> list[str]:
    problems = [
        f"{where}.{key}: unknown key (expected one of: {', '.join(_BOOST_KEYS)})"
        for key in data
        if key not in _BOOST_KEYS
    ]
    problems += [
        f"{where}.{key}: missing"
        for key in ("name", "starts", "ends", "multiplier")
        if key not in data
    ]
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not name.strip()):
        problems.append(f"{where}.name: must be a non-empty string, got {name!r}")
    moments: dict[str, datetime] = {}
    for key in ("starts", "ends"):
        if key not in data:
            continue
        moment = _moment(data[key])
        if moment is None:
            problems.append(
                f"{where}.{key}: must be an aware moment (ISO 8601 with an offset, "
                f"like 2026-12-05T00:00:00Z), got {data[key]!r}"
            )
        elif moment.tzinfo is None or moment.utcoffset() is None:
            problems.append(
                f"{where}.{key}: must carry a UTC offset (a boost is a moment, not a local "
                f"time), got {data[key]!r}"
            )
        elif not is_supported_moment(moment):
            problems.append(f"{where}.{key}: must lie in the years 1900 to 8999, got {data[key]!r}")
        else:
            moments[key] = moment
    if len(moments) == 2 and moments["ends"] <= moments["starts"]:
        problems.append(
            f"{where}.ends: must be after starts ({data['starts']!r}), got {data['ends']!r}"
        )
    if "multiplier" in data:
        try:
            multiplier = parse_multiplier(data["multiplier"])
        except ValueError:
            problems.append(
                f'{where}.multiplier: must be a number like 2, 1.5 or "3/2", '
                f"got {data['multiplier']!r}"
            )
        else:
            if not 1 <= multiplier <= MAX_MULTIPLIER:
                problems.append(
                    f"{where}.multiplier: must be from 1 to {MAX_MULTIPLIER}, "
                    f"got {data['multiplier']!r}"
                )
    if "actions" in data:
        listed = data["actions"]
        if isinstance(listed, str) or not isinstance(listed, Sequence | frozenset | set):
            problems.append(f"{where}.actions: must be a list of action names, got {listed!r}")
        elif not listed:
            problems.append(
                f"{where}.actions: must name at least one action (omit it for every action)"
            )
        else:
            for action in listed:
                if not isinstance(action, str):
                    problems.append(
                        f"{where}.actions: action names must be strings, got {action!r}"
                    )
                elif isinstance(actions, Mapping) and action not in actions:
                    problems.append(f"{where}.actions: no such action {action!r}")
    return problems


def boost_problems(data: object, actions: object) -> list[str]:
    """Every problem with a config's ``boosts`` section (``actions``: the config's actions,
    to check the names a boost lists; ``None`` to skip that check)."""
    if not isinstance(data, Mapping):
        return [f"boosts: must be a table with windows, stacking and raise_cap, got {data!r}"]
    problems = key_problems(data, _RULES_KEYS, (), "boosts.")
    stacking = data.get("stacking", "max")
    if stacking not in STACKING_MODES:
        problems.append(
            f"boosts.stacking: must be one of {', '.join(STACKING_MODES)}, got {stacking!r}"
        )
    raise_cap = data.get("raise_cap", False)
    if not isinstance(raise_cap, bool):
        problems.append(f"boosts.raise_cap: must be true or false, got {raise_cap!r}")
    windows = data.get("windows", ())
    if isinstance(windows, str) or not isinstance(windows, Sequence):
        problems.append(f"boosts.windows: must be a list of boost windows, got {windows!r}")
        return problems
    names: set[str] = set()
    for i, window in enumerate(windows):
        where = f"boosts.windows[{i}]"
        if not isinstance(window, Mapping):
            problems.append(f"{where}: must be a table with name, starts, ends and multiplier")
            continue
        problems += _window_problems(window, where, actions)
        name = window.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(f"{where}.name: another boost is named {name!r} (names are unique)")
            names.add(name)
    return problems
