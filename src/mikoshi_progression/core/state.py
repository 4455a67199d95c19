"""One user's progression, as an immutable value.

The fields are named after the platform's ``users`` columns so that a store maps
them one to one. A brand-new user is ``ProgressState()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ..errors import StateError, describe_value
from .days import FIRST_YEAR, LAST_YEAR, is_supported_moment

__all__ = ["EMPTY_COUNTS", "MAX_COUNT", "STATE_FIELDS", "ProgressState"]

MAX_COUNT = 2**63 - 1
"""The largest EXP, count or threshold the library handles: what a 64-bit column holds."""

EMPTY_COUNTS: Mapping[str, int] = MappingProxyType({})
"""The read-only, empty action-count mapping of a fresh day."""


def _empty_counts() -> Mapping[str, int]:
    return EMPTY_COUNTS


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressState:
    """A user's EXP, level and today's limits, as of their last award or reset.

    Construction validates every field; ``daily_action_counts`` accepts any
    mapping and keeps a read-only copy, so a state never changes once built.

    Attributes:
        exp: Total EXP ever earned (minus revoked awards).
        level: The user's level (1 for a new user).
        daily_exp_gained: EXP counted toward today's cap.
        last_exp_reset_date: When the current day was opened (aware), or ``None``
            if no day has been opened yet.
        daily_action_counts: Awards of each action today (absent means 0).
        last_chat_date: When ``daily_chat`` was last awarded (aware), or ``None``.
    """

    exp: int = 0
    level: int = 1
    daily_exp_gained: int = 0
    last_exp_reset_date: datetime | None = None
    daily_action_counts: Mapping[str, int] = field(default_factory=_empty_counts)
    last_chat_date: datetime | None = None

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
        counts = self.daily_action_counts
        if not isinstance(counts, Mapping):
            raise StateError(
                "daily_action_counts",
                f"must be a mapping of action -> count, got {type(counts).__name__}",
            )
        if counts is not EMPTY_COUNTS:
            for action, count in counts.items():
                if not isinstance(action, str):
                    raise StateError(
                        "daily_action_counts", f"action names must be strings, got {action!r}"
                    )
                _check_count(f"daily_action_counts[{action!r}]", count)
            object.__setattr__(self, "daily_action_counts", MappingProxyType(dict(counts)))

    def __hash__(self) -> int:
        return hash(
            (
                self.exp,
                self.level,
                self.daily_exp_gained,
                self.last_exp_reset_date,
                frozenset(self.daily_action_counts.items()),
                self.last_chat_date,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (ISO 8601 datetimes) that :meth:`from_dict` reads back."""
        return {
            "exp": self.exp,
            "level": self.level,
            "daily_exp_gained": self.daily_exp_gained,
            "last_exp_reset_date": _iso(self.last_exp_reset_date),
            "daily_action_counts": dict(self.daily_action_counts),
            "last_chat_date": _iso(self.last_chat_date),
        }

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
        for name in ("last_exp_reset_date", "last_chat_date"):
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


STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProgressState))
"""The state's fields in order: also the platform's progression column names."""
