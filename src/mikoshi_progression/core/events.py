"""Progression events: what an award caused, as values a notifier can act on.

Every :class:`~mikoshi_progression.AwardResult` carries the events its award caused, in
the order of :data:`EVENT_ORDER`; a store keeps them with the ledger entry, so a
notifier reads them after the award committed (``service.events(since=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ..errors import StateError, describe_value

__all__ = ["DETAILS", "EVENT_ORDER", "EventKind", "ProgressionEvent"]


class EventKind(StrEnum):
    """What happened. The value is the event's ``kind`` in JSON and in the ledger."""

    STREAK_FROZEN = "streak_frozen"
    """Missed days were covered by freezes: ``days`` covered, ``freezes_left``."""
    STREAK_BROKEN = "streak_broken"
    """Missed days broke the streak: ``streak`` is the length lost (a new one starts at 1)."""
    BOOST_APPLIED = "boost_applied"
    """Boosts multiplied the reward: ``boosts`` (names), ``multiplier`` (exact, as text
    like ``"3/2"``), ``base_exp`` and ``boosted_exp`` (before the daily cap)."""
    STREAK_EXTENDED = "streak_extended"
    """The streak grew to ``streak`` days; ``bonus_exp`` is the streak bonus granted (0 if none)."""
    DAILY_CAP_REACHED = "daily_cap_reached"
    """This award filled today's cap: ``cap``. Later capped awards are refused."""
    LEVEL_UP = "level_up"
    """The level rose ``from_level`` -> ``to_level`` (one event however many levels)."""
    MILESTONE_UNLOCKED = "milestone_unlocked"
    """A milestone was unlocked (once ever): ``milestone`` (its name), ``bonus_exp``."""


DETAILS: dict[EventKind, tuple[str, ...]] = {
    EventKind.STREAK_FROZEN: ("days", "freezes_left"),
    EventKind.STREAK_BROKEN: ("streak",),
    EventKind.BOOST_APPLIED: ("boosts", "multiplier", "base_exp", "boosted_exp"),
    EventKind.STREAK_EXTENDED: ("streak", "bonus_exp", "freezes"),
    EventKind.DAILY_CAP_REACHED: ("cap",),
    EventKind.LEVEL_UP: ("from_level", "to_level"),
    EventKind.MILESTONE_UNLOCKED: ("milestone", "bonus_exp"),
}
"""Each kind's details, by name, in the order the core lists them."""

EVENT_ORDER: tuple[EventKind, ...] = tuple(EventKind)
"""The order events of one award are listed in: the order the rules decide them in
(missed streak days are settled first; level-ups and milestones follow the EXP)."""


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProgressionEvent:
    """One thing an award caused.

    Attributes:
        kind: What happened (an :class:`EventKind`).
        details: The event's figures, by name (see each :class:`EventKind`): plain
            JSON values, read-only.
    """

    kind: EventKind
    details: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        try:
            kind = EventKind(self.kind)
        except ValueError:
            expected = ", ".join(k.value for k in EventKind)
            raise StateError(
                "kind", f"must be one of {expected}, got {describe_value(self.kind)}"
            ) from None
        object.__setattr__(self, "kind", kind)
        if not isinstance(self.details, Mapping):
            raise StateError("details", f"must be a mapping, got {describe_value(self.details)}")
        # Lists (from JSON) become tuples, so that an event read back is hashable and equal.
        details = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in self.details.items()
        }
        object.__setattr__(self, "details", MappingProxyType(details))

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self.details.items(), key=lambda kv: kv[0]))))

    def __getitem__(self, name: str) -> Any:
        return self.details[name]

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": ..., **details}``: what the ledger and the HTTP body hold."""
        return {"kind": self.kind.value, **_plain(self.details)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProgressionEvent:
        """Read :meth:`to_dict` output back.

        Raises:
            StateError: ``data`` is not a mapping with a known ``kind``.
        """
        given: object = data
        if not isinstance(given, Mapping) or "kind" not in given:
            raise StateError("event", f"must be a mapping with a kind, got {describe_value(given)}")
        details = {key: value for key, value in data.items() if key != "kind"}
        return cls(data["kind"], details)


def _plain(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in details.items()
    }


def event(kind: EventKind, **details: Any) -> ProgressionEvent:
    """An event built by the core from values it computed (tuples for lists)."""
    return ProgressionEvent(kind, details)
