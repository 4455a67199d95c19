"""One user's progression, as an immutable value.

The first six fields are named after the platform's ``users`` columns so that a store
maps them one to one; the rest hold what the designer levers keep (a user's time zone,
streak, milestones, lifetime counts). A brand-new user is ``ProgressState()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError, StateError, describe_value
from .days import FIRST_YEAR, LAST_YEAR, is_supported_moment, resolve_timezone

__all__ = [
    "EMPTY_COUNTS",
    "LEVER_FIELDS",
    "MAX_COUNT",
    "NO_LEVERS",
    "NO_MILESTONES",
    "PLATFORM_FIELDS",
    "STATE_FIELDS",
    "LeverState",
    "ProgressState",
]

MAX_COUNT = 2**63 - 1
"""The largest EXP, count or threshold the library handles: what a 64-bit column holds."""

EMPTY_COUNTS: Mapping[str, int] = MappingProxyType({})
"""The read-only, empty action-count mapping of a fresh day."""


NO_MILESTONES: frozenset[str] = frozenset()
"""The milestones of a user who has unlocked none."""


def _empty_counts() -> Mapping[str, int]:
    return EMPTY_COUNTS


PLATFORM_FIELDS: tuple[str, ...] = (
    "exp",
    "level",
    "daily_exp_gained",
    "last_exp_reset_date",
    "daily_action_counts",
    "last_chat_date",
)
"""The fields named after the platform's ``users`` progression columns."""
LEVER_FIELDS: tuple[str, ...] = (
    "timezone",
    "day_extended_until",
    "streak",
    "best_streak",
    "last_streak_day",
    "streak_freezes",
    "milestones",
    "lifetime_counts",
)
"""The fields the designer levers keep (:class:`LeverState`), also attributes of a state."""


@dataclass(frozen=True, slots=True)
class LeverState:
    """What the designer levers keep for one user (:attr:`ProgressState.levers`).

    Each field is also readable on the state itself (``state.streak``); a user no lever
    touched shares the one :data:`NO_LEVERS` value, which keeps the seed's award path
    free of the levers' cost.

    Attributes:
        timezone: The user's IANA time zone, whose local day boundary their days,
            limits, caps and streak follow; ``None`` follows the config's
            ``reset_timezone``. Change it with :func:`~mikoshi_progression.change_timezone`.
        day_extended_until: Set when a time-zone change lengthened the current day: no
            new day opens before this moment (aware), so a change never opens a day
            sooner than the old boundary would have. ``None`` otherwise.
        streak: Consecutive days on which the streak action was awarded.
        best_streak: The longest streak the user ever had.
        last_streak_day: The local day (in the user's time zone) the streak was last
            extended on, or ``None`` if never.
        streak_freezes: Freezes held: each covers one missed day of the streak.
        milestones: Names of the milestones unlocked (each is unlocked once).
        lifetime_counts: Awards ever of each action that a milestone counts (absent
            means 0); only actions some milestone counts are kept.
    """

    timezone: str | None = None
    day_extended_until: datetime | None = None
    streak: int = 0
    best_streak: int = 0
    last_streak_day: date | None = None
    streak_freezes: int = 0
    milestones: frozenset[str] = NO_MILESTONES
    lifetime_counts: Mapping[str, int] = field(default_factory=_empty_counts)

    def __post_init__(self) -> None:
        _check_moment("day_extended_until", self.day_extended_until)
        for name in ("streak", "best_streak", "streak_freezes"):
            _check_count(name, getattr(self, name))
        if self.best_streak < self.streak:
            raise StateError(
                "best_streak",
                f"must be at least the current streak ({self.streak}), got {self.best_streak}",
            )
        zone: object = self.timezone
        if zone is not None:
            if not isinstance(zone, str):
                raise StateError(
                    "timezone",
                    f"must be an IANA time zone name or None, got {describe_value(zone)}",
                )
            try:
                resolve_timezone(zone)
            except InvalidArgumentError:
                raise StateError(
                    "timezone", f"unknown time zone {zone!r} (use an IANA name like 'Asia/Tokyo')"
                ) from None
        day: object = self.last_streak_day
        if day is not None and (not isinstance(day, date) or isinstance(day, datetime)):
            raise StateError(
                "last_streak_day", f"must be a date or None, got {describe_value(day)}"
            )
        if isinstance(day, date) and not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise StateError(
                "last_streak_day",
                f"must lie in the years {FIRST_YEAR} to {LAST_YEAR}, got {day.isoformat()}",
            )
        unlocked: object = self.milestones
        if not isinstance(unlocked, frozenset | set | tuple | list) or not all(
            isinstance(name, str) for name in unlocked
        ):
            raise StateError(
                "milestones", f"must be a set of milestone names, got {describe_value(unlocked)}"
            )
        if not isinstance(unlocked, frozenset):
            object.__setattr__(self, "milestones", frozenset(unlocked))
        _freeze_counts(self, "lifetime_counts")

    def __hash__(self) -> int:
        return hash(
            (
                self.timezone,
                self.day_extended_until,
                self.streak,
                self.best_streak,
                self.last_streak_day,
                self.streak_freezes,
                self.milestones,
                frozenset(self.lifetime_counts.items()),
            )
        )


_UNSET: Any = object()


@dataclass(frozen=True, slots=True, init=False)
class ProgressState:
    """A user's EXP, level and today's limits, as of their last award or reset.

    Construction validates every field; ``daily_action_counts`` accepts any
    mapping and keeps a read-only copy, so a state never changes once built. Every
    argument is a keyword: the six platform fields, and either ``levers`` or the lever
    fields one by one (``ProgressState(timezone="Asia/Tokyo", streak=3)``), which are
    then read as attributes too. ``dataclasses.replace(state, levers=...)`` replaces
    them (so does ``replace(state, streak=3)`` at run time, which type checkers refuse).

    Attributes:
        exp: Total EXP ever earned (minus revoked awards).
        level: The user's level (1 for a new user).
        daily_exp_gained: EXP counted toward today's cap.
        last_exp_reset_date: When the current day was opened (aware), or ``None``
            if no day has been opened yet.
        daily_action_counts: Awards of each action today (absent means 0).
        last_chat_date: When ``daily_chat`` was last awarded (aware), or ``None``.
        levers: What the designer levers keep (:class:`LeverState`): ``timezone``,
            ``day_extended_until``, ``streak``, ``best_streak``, ``last_streak_day``,
            ``streak_freezes``, ``milestones`` and ``lifetime_counts``, each also an
            attribute of the state.
    """

    exp: int
    level: int
    daily_exp_gained: int
    last_exp_reset_date: datetime | None
    daily_action_counts: Mapping[str, int]
    last_chat_date: datetime | None
    levers: LeverState

    def __init__(
        self,
        *,
        exp: int = 0,
        level: int = 1,
        daily_exp_gained: int = 0,
        last_exp_reset_date: datetime | None = None,
        daily_action_counts: Mapping[str, int] = EMPTY_COUNTS,
        last_chat_date: datetime | None = None,
        levers: LeverState | None = None,
        timezone: str | None = _UNSET,
        day_extended_until: datetime | None = _UNSET,
        streak: int = _UNSET,
        best_streak: int = _UNSET,
        last_streak_day: date | None = _UNSET,
        streak_freezes: int = _UNSET,
        milestones: frozenset[str] = _UNSET,
        lifetime_counts: Mapping[str, int] = _UNSET,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "exp", exp)
        set_(self, "level", level)
        set_(self, "daily_exp_gained", daily_exp_gained)
        set_(self, "last_exp_reset_date", last_exp_reset_date)
        set_(self, "daily_action_counts", daily_action_counts)
        set_(self, "last_chat_date", last_chat_date)
        given: dict[str, Any] = {
            name: value
            for name, value in (
                ("timezone", timezone),
                ("day_extended_until", day_extended_until),
                ("streak", streak),
                ("best_streak", best_streak),
                ("last_streak_day", last_streak_day),
                ("streak_freezes", streak_freezes),
                ("milestones", milestones),
                ("lifetime_counts", lifetime_counts),
            )
            if value is not _UNSET
        }
        if levers is None:
            levers = NO_LEVERS
        elif not isinstance(levers, LeverState):
            raise StateError("levers", f"must be a LeverState, got {describe_value(levers)}")
        if given:
            levers = replace(levers, **given)
        if levers is not NO_LEVERS and levers == NO_LEVERS:
            levers = NO_LEVERS  # the one value the seed's path recognises by identity
        set_(self, "levers", levers)
        self.__post_init__()

    def __post_init__(self) -> None:
        for name in ("exp", "daily_exp_gained"):
            _check_count(name, getattr(self, name))
        level: object = self.level
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= _MAX_LEVEL:
            raise StateError(
                "level", f"must be an integer from 1 to {_MAX_LEVEL:,}, got {describe_value(level)}"
            )
        for name in ("last_exp_reset_date", "last_chat_date"):
            _check_moment(name, getattr(self, name))
        _freeze_counts(self, "daily_action_counts")

    # The lever fields, read through: a state is one value to its users.
    @property
    def timezone(self) -> str | None:
        return self.levers.timezone

    @property
    def day_extended_until(self) -> datetime | None:
        return self.levers.day_extended_until

    @property
    def streak(self) -> int:
        return self.levers.streak

    @property
    def best_streak(self) -> int:
        return self.levers.best_streak

    @property
    def last_streak_day(self) -> date | None:
        return self.levers.last_streak_day

    @property
    def streak_freezes(self) -> int:
        return self.levers.streak_freezes

    @property
    def milestones(self) -> frozenset[str]:
        return self.levers.milestones

    @property
    def lifetime_counts(self) -> Mapping[str, int]:
        return self.levers.lifetime_counts

    def __hash__(self) -> int:
        return hash(
            (
                self.exp,
                self.level,
                self.daily_exp_gained,
                self.last_exp_reset_date,
                frozenset(self.daily_action_counts.items()),
                self.last_chat_date,
                self.levers,
            )
        )

    def __repr__(self) -> str:
        shown = [f"{name}={getattr(self, name)!r}" for name in PLATFORM_FIELDS]
        if self.levers is not NO_LEVERS:
            shown += [
                f"{name}={getattr(self.levers, name)!r}"
                for name in LEVER_FIELDS
                if getattr(self.levers, name) != getattr(NO_LEVERS, name)
            ]
        return f"ProgressState({', '.join(shown)})"

    @property
    def uses_levers(self) -> bool:
        """Whether any lever field differs from a new user's (what an old store cannot hold)."""
        return self.levers != NO_LEVERS

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (ISO 8601 datetimes and dates) that :meth:`from_dict` reads back.

        The lever fields (:data:`LEVER_FIELDS`) appear only where they differ from a new
        user's, so the state of a user no lever touched keeps the platform's six keys.
        """
        data: dict[str, Any] = {
            "exp": self.exp,
            "level": self.level,
            "daily_exp_gained": self.daily_exp_gained,
            "last_exp_reset_date": _iso(self.last_exp_reset_date),
            "daily_action_counts": dict(self.daily_action_counts),
            "last_chat_date": _iso(self.last_chat_date),
        }
        if self.levers is NO_LEVERS:  # no lever touched the user: none of the keys below
            return data
        if self.timezone is not None:
            data["timezone"] = self.timezone
        if self.day_extended_until is not None:
            data["day_extended_until"] = self.day_extended_until.isoformat()
        if self.streak:
            data["streak"] = self.streak
        if self.best_streak:
            data["best_streak"] = self.best_streak
        if self.last_streak_day is not None:
            data["last_streak_day"] = self.last_streak_day.isoformat()
        if self.streak_freezes:
            data["streak_freezes"] = self.streak_freezes
        if self.milestones:
            data["milestones"] = sorted(self.milestones)
        if self.lifetime_counts:
            data["lifetime_counts"] = dict(self.lifetime_counts)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProgressState:
        """Build a state from :meth:`to_dict` output (datetimes as ISO 8601 strings).

        Missing fields take a new user's value; unknown fields raise ``StateError``.
        """
        if not isinstance(data, Mapping):
            raise StateError(
                "state", f"must be a mapping of field -> value, got {describe_value(data)}"
            )
        for key in data:
            if key not in STATE_FIELDS:
                raise StateError(
                    str(key), f"unknown field (expected one of: {', '.join(sorted(STATE_FIELDS))})"
                )
        values = dict(data)
        raw_day = values.get("last_streak_day")
        if isinstance(raw_day, str):
            try:
                values["last_streak_day"] = date.fromisoformat(raw_day)
            except ValueError as exc:
                raise StateError(
                    "last_streak_day", f"not an ISO 8601 date: {describe_value(raw_day)}"
                ) from exc
        for name in ("last_exp_reset_date", "last_chat_date", "day_extended_until"):
            raw = values.get(name)
            if isinstance(raw, str):
                try:
                    values[name] = datetime.fromisoformat(raw)
                except ValueError as exc:
                    raise StateError(
                        name, f"not an ISO 8601 datetime: {describe_value(raw)}"
                    ) from exc
        return cls(**values)


_MAX_LEVEL = 2**31 - 1
"""The largest level: what the platform's ``integer`` column holds."""


def _check_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
        raise StateError(
            name,
            f"must be a non-negative integer of at most 2**63 - 1, got {describe_value(value)}",
        )


def _check_moment(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise StateError(name, f"must be an aware datetime or None, got {describe_value(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise StateError(
            name, f"must be timezone-aware, got naive {value.isoformat()} (attach a tzinfo)"
        )
    if not is_supported_moment(value):
        raise StateError(
            name,
            f"must lie in the years {FIRST_YEAR} to {LAST_YEAR} (UTC), got {value.isoformat()}",
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


STATE_FIELDS: tuple[str, ...] = (*PLATFORM_FIELDS, *LEVER_FIELDS)
"""Every field of a state, in order: the platform's six, then the levers'."""


def _freeze_counts(value: object, name: str) -> None:
    """Check a mapping of action -> count, and keep a read-only copy of it."""
    counts = getattr(value, name)
    if not isinstance(counts, Mapping):
        raise StateError(name, f"must be a mapping of action -> count, got {type(counts).__name__}")
    if counts is not EMPTY_COUNTS:
        for action, count in counts.items():
            if not isinstance(action, str):
                raise StateError(name, f"action names must be strings, got {action!r}")
            _check_count(f"{name}[{action!r}]", count)
        object.__setattr__(value, name, MappingProxyType(dict(counts)))


NO_LEVERS = LeverState()
"""The lever fields of a user no lever touched: every state without them shares it."""
