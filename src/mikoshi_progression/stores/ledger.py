"""The ledger's entries: one change to a user's progression, as a store keeps it forever.

Every store appends them (see :mod:`.base`); replay, the events feed, ``--json`` exports
and ``replay --ledger`` read them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..core.days import require_aware
from ..core.events import ProgressionEvent
from ..core.identity import check_id, check_optional_id, check_reason
from ..core.state import ProgressState
from ..errors import InvalidArgumentError, StateError

__all__ = ["ADJUSTED", "CLOCK_FAULT", "MANUAL_RESET", "SET", "EntryKind", "LedgerEntry"]


class EntryKind(StrEnum):
    """What a ledger entry records."""

    IMPORT = "import"
    """A state adopted as-is (a legacy row met for the first time): replay starts here."""
    DAY = "day"
    """A new day was opened (or limits reset by an operator): counts and gained zeroed.

    Its ``outcome`` is :data:`CLOCK_FAULT` when the day was reopened because the stored
    one lay further ahead of the clock than ``max_clock_skew_minutes``."""
    AWARD = "award"
    """EXP granted by an action."""
    REVOKE = "revoke"
    """EXP of an earlier keyed award taken back."""
    ADJUST = "adjust"
    """An operator's adjustment: EXP granted, deducted or set, with a reason.

    Its ``actor`` is the operator, its ``reason`` why; its ``outcome`` is
    :data:`ADJUSTED` or :data:`SET`."""
    TIMEZONE = "timezone"
    """The user moved to another time zone (``ProgressionService.set_timezone``): the
    zone is the ``timezone`` of its ``state_after`` (``None``: the config's zone)."""


CLOCK_FAULT = "clock_fault"
"""The ``outcome`` of a day entry that reopened a day stamped too far ahead of the clock."""
MANUAL_RESET = "manual_reset"
"""The ``outcome`` of a day entry an operator made (``ProgressionService.reset_daily``)."""
ADJUSTED = "adjusted"
"""The ``outcome`` of an adjustment by a delta (``ProgressionService.adjust``)."""
SET = "set"
"""The ``outcome`` of an adjustment to a given EXP (``ProgressionService.set_exp``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One change to a user's progression, as the store keeps it forever.

    Attributes:
        user_id: Whose state changed.
        kind: What happened (an :class:`EntryKind`).
        action: The action awarded or revoked (``""`` for day and import entries).
        exp_delta: EXP added (positive) or taken back (negative).
        level_before: The level before the change.
        level_after: The level after it.
        key: The idempotency key of a keyed award, and of the revocation of that
            award; unique per user and kind.
        actor: Who acted, when it was not the user: the fan who liked or forked, the
            buyer of a sale, the operator of an adjustment or a manual reset (``None``
            otherwise). A revocation repeats its award's.
        target: What the award was for, as the caller named it (``"character:42"``),
            or ``None``. With ``action`` and ``actor`` it is the request a key names:
            the same key for another action, actor or target is refused.
        at: When it happened (aware).
        config_fingerprint: ``ProgressionConfig.fingerprint`` of the rules applied.
        state_after: The full state after the change, so that the first result of
            a keyed award can be returned again and an import can be replayed.
        outcome: For awards, ``"awarded"`` or ``"partial"``; for a day reopened after a
            clock fault, :data:`CLOCK_FAULT`; for an operator's reset,
            :data:`MANUAL_RESET`; for adjustments, :data:`ADJUSTED` or :data:`SET`; else ``""``.
        reason: Why an operator made the change (adjustments and manual resets), else
            ``None``.
        events: The progression events an award caused (level-ups, streaks, boosts,
            milestones...), in the order the core listed them; ``()`` for other entries.
            A notifier reads them after commit through ``service.events(since=...)``.
        seq: Position in the user's ledger, assigned by the store (``None`` before).
    """

    user_id: str
    kind: EntryKind
    action: str
    exp_delta: int
    level_before: int
    level_after: int
    key: str | None
    at: datetime
    config_fingerprint: str
    state_after: ProgressState
    outcome: str = ""
    actor: str | None = None
    target: str | None = None
    reason: str | None = None
    events: tuple[ProgressionEvent, ...] = ()
    seq: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (what ``--json`` exports and ``replay --ledger`` reads)."""
        return {
            "user_id": self.user_id,
            "kind": str(self.kind),
            "action": self.action,
            "exp_delta": self.exp_delta,
            "level_before": self.level_before,
            "level_after": self.level_after,
            "key": self.key,
            "at": self.at.isoformat(),
            "config_fingerprint": self.config_fingerprint,
            "state_after": self.state_after.to_dict(),
            "outcome": self.outcome,
            "actor": self.actor,
            "target": self.target,
            "reason": self.reason,
            "events": [event.to_dict() for event in self.events],
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """Read back :meth:`to_dict` output (entries exported before ``actor``,
        ``target`` and ``reason`` existed read them as ``None``, before ``events``
        as ``()``).

        Raises:
            InvalidArgumentError: a field is missing or of the wrong form (an unknown
                kind, a naive or malformed moment, a user id that is not canonical...);
                its ``field`` names it.
            StateError: ``state_after`` is not a valid state.
        """
        if not isinstance(data, Mapping):
            raise InvalidArgumentError("entry", "a mapping of field -> value", data)

        def required(name: str) -> Any:
            if name not in data:
                raise InvalidArgumentError(name, "present (a ledger entry field)")
            return data[name]

        def integer(name: str, value: object) -> int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidArgumentError(name, "an integer", value)
            return value

        def text(name: str) -> str:
            value = data.get(name, "")
            if not isinstance(value, str):
                raise InvalidArgumentError(name, "a string", value)
            return value

        user_id = check_id(required("user_id"), "user_id")
        kind = required("kind")
        if kind not in _KINDS:
            raise InvalidArgumentError("kind", f"one of {', '.join(_KINDS)}", kind)
        exp_delta = integer("exp_delta", required("exp_delta"))
        level_before = integer("level_before", required("level_before"))
        level_after = integer("level_after", required("level_after"))
        at = required("at")
        try:
            moment = datetime.fromisoformat(at) if isinstance(at, str) else at
        except ValueError:
            raise InvalidArgumentError("at", "an ISO 8601 moment with a time zone", at) from None
        seq = data.get("seq")
        events = data.get("events") or ()
        if not isinstance(events, list | tuple):
            raise InvalidArgumentError(
                "events", "a list of events (ProgressionEvent.to_dict())", events
            )
        state_after = required("state_after")
        if not isinstance(state_after, Mapping):
            raise StateError("state_after", "must be a mapping of field -> value")
        return cls(
            user_id=user_id,
            kind=EntryKind(kind),
            action=text("action"),
            exp_delta=exp_delta,
            level_before=level_before,
            level_after=level_after,
            key=check_optional_id(data.get("key"), "key"),
            at=require_aware(moment, "at"),
            config_fingerprint=text("config_fingerprint"),
            state_after=ProgressState.from_dict(state_after),
            outcome=text("outcome"),
            actor=check_optional_id(data.get("actor"), "actor"),
            target=check_optional_id(data.get("target"), "target"),
            reason=check_reason(data.get("reason"), optional=True),
            events=tuple(ProgressionEvent.from_dict(event) for event in events),
            seq=None if seq is None else integer("seq", seq),
        )


_KINDS = tuple(kind.value for kind in EntryKind)
