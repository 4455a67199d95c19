"""Translation between database rows and :class:`ProgressState`, shared by the SQL stores.

Loading is forgiving, because the platform's own ``users`` rows are not clean:

- ``NULL`` in ``exp``, ``daily_exp_gained`` or ``daily_action_counts`` reads as 0 / empty,
  ``NULL`` in ``level`` as 1 (the next award raises it to what the EXP reaches);
- counts stored as strings (``{"create_character": "2"}``) read as integers; a count
  that is not a non-negative integer at all reads as 0 and is dropped;
- ``daily_action_counts`` given as JSON text (SQLite, or a ``json`` column) is parsed,
  and anything that is not a JSON object reads as empty;
- keys of removed actions (``chat_used_50``) are kept as they are: the rules ignore
  actions the config does not know, and the next day's reset clears them;
- a ``DATE`` (the platform's ``last_chat_date``) reads as midnight UTC of that day,
  and a naive timestamp as UTC; text that is no date at all, and a moment outside the
  years the library supports (1900 to 8999: a ``0001-01-01`` placeholder, a clock
  that ran to 9999), read as ``None`` (for ``last_exp_reset_date`` that means the
  next award opens a new day).

Saving writes plain values back; nothing here decides anything about the rules.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

from ..core.days import FIRST_YEAR, LAST_YEAR, is_supported_moment
from ..core.state import ProgressState
from ..errors import StoreError
from .base import EntryKind, LedgerEntry

ENTRY_FIELDS = (
    "kind",
    "action",
    "exp_delta",
    "level_before",
    "level_after",
    "key",
    "at",
    "config_fingerprint",
    "state_after",
    "outcome",
    "actor",
    "target",
    "reason",
)
"""A ledger row's columns after ``user_id`` and ``seq``, in :func:`entry_from_row`'s order
(SQLite names ``key`` ``idempotency_key``)."""

__all__ = [
    "ENTRY_FIELDS",
    "counts_from_db",
    "counts_to_json",
    "entry_from_row",
    "moment_from_db",
    "state_from_row",
]


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and text.isascii():
            return int(text)
    return None


def counts_from_db(value: object) -> dict[str, int]:
    """Normalise a stored ``daily_action_counts`` value to ``{action: count}``."""
    if value is None:
        return {}
    if isinstance(value, (str, bytes, bytearray)):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    counts: dict[str, int] = {}
    for action, raw in value.items():
        count = _count(raw)
        if count:
            counts[str(action)] = count
    return counts


def counts_to_json(counts: Any) -> str:
    """``daily_action_counts`` as compact JSON text, keys sorted (stable for comparisons)."""
    return json.dumps(dict(counts), sort_keys=True, separators=(",", ":"))


def moment_from_db(value: object) -> datetime | None:
    """A stored timestamp or date as an aware datetime (naive and dates taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                datetime.fromisoformat(text)
                if "T" in text or " " in text
                else date.fromisoformat(text)
            )
        except ValueError:
            return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment if moment.utcoffset() is None or is_supported_moment(moment) else None
    if isinstance(value, date):
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            return None
        return datetime.combine(value, time(0), tzinfo=UTC)
    raise TypeError(f"not a timestamp or date: {value!r}")


def state_from_row(
    *,
    exp: object,
    level: object,
    daily_exp_gained: object,
    last_exp_reset_date: object,
    daily_action_counts: object,
    last_chat_date: object,
) -> ProgressState:
    """Build a state from raw column values, normalising legacy data as the module says."""
    return ProgressState(
        exp=_count(exp) or 0,
        level=max(1, _count(level) or 1),
        daily_exp_gained=_count(daily_exp_gained) or 0,
        last_exp_reset_date=moment_from_db(last_exp_reset_date),
        daily_action_counts=counts_from_db(daily_action_counts),
        last_chat_date=moment_from_db(last_chat_date),
    )


def entry_from_row(
    user_id: str,
    seq: Any,
    kind: Any,
    action: Any,
    exp_delta: Any,
    level_before: Any,
    level_after: Any,
    key: Any,
    at: Any,
    config_fingerprint: Any,
    state_after: Any,
    outcome: Any,
    actor: Any,
    target: Any,
    reason: Any = None,
) -> LedgerEntry:
    """A ledger entry from its row's values, the ledger columns in their order.

    ``at`` may be a datetime or ISO 8601 text, ``state_after`` a mapping or JSON text (as
    SQLite keeps them). Ledger rows are the library's own, so nothing is normalised.

    Raises:
        StoreError: the row is not a ledger entry (the message names it and the user).
    """
    try:
        return LedgerEntry(
            user_id=user_id,
            kind=EntryKind(kind),
            action=action,
            exp_delta=int(exp_delta),
            level_before=int(level_before),
            level_after=int(level_after),
            key=key,
            at=datetime.fromisoformat(at) if isinstance(at, str) else at,
            config_fingerprint=config_fingerprint,
            state_after=ProgressState.from_dict(
                json.loads(state_after) if isinstance(state_after, str) else state_after
            ),
            outcome=outcome,
            actor=actor,
            target=target,
            reason=reason,
            seq=int(seq),
        )
    except (ValueError, TypeError, RecursionError) as exc:
        raise StoreError(f"ledger entry {seq} of user {user_id!r} is unreadable: {exc}") from exc
