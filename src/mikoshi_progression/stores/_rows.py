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

The designer levers' columns (a user's ``timezone``, ``streak``, milestones... named
after the state's fields) are read as forgivingly: a time zone that is no IANA name
reads as ``None`` (the config's zone), a streak day that is no date as ``None``, a best
streak below the streak as the streak, milestones that are not names are dropped.

Saving writes plain values back; nothing here decides anything about the rules. A
database whose schema predates the levers is written only with what it can hold
(:func:`refuse_levers` says what it cannot).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any, NoReturn

from ..core.days import FIRST_YEAR, LAST_YEAR, is_supported_moment, resolve_timezone
from ..core.events import EventKind, ProgressionEvent
from ..core.state import LEVER_FIELDS, ProgressState
from ..errors import ProgressionError, SchemaOutdatedError, StoreError
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
    "events",
)
"""A ledger row's columns after ``user_id`` and ``seq``, in :func:`entry_from_row`'s order
(SQLite names ``key`` ``idempotency_key``)."""
LEGACY_ENTRY_FIELDS = ENTRY_FIELDS[:-1]
"""The same, in a ledger of schema version 1 (no ``events``)."""
LEVER_COLUMNS = LEVER_FIELDS
"""The state columns of the designer levers, named after the state's fields."""

__all__ = [
    "ENTRY_FIELDS",
    "LEGACY_ENTRY_FIELDS",
    "LEVER_COLUMNS",
    "compact_json",
    "counts_from_db",
    "counts_to_json",
    "day_from_db",
    "entry_from_columns",
    "entry_from_row",
    "events_from_db",
    "events_to_json",
    "lever_values",
    "milestones_to_json",
    "moment_from_db",
    "refuse_feed",
    "refuse_levers",
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
    if value is None or value == "{}":
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


compact_json = json.JSONEncoder(separators=(",", ":")).encode
"""``json.dumps(value, separators=(",", ":"))`` with one encoder made once, not one a call
(an award encodes up to four values)."""
_SORTED_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def counts_to_json(counts: Any) -> str:
    """``daily_action_counts`` as compact JSON text, keys sorted (stable for comparisons)."""
    if not counts:  # most users' lifetime counts, and every day's first award
        return "{}"
    return _SORTED_JSON(dict(counts))


def milestones_to_json(milestones: Any) -> str:
    """Milestone names as a compact JSON array, sorted (stable for comparisons)."""
    if not milestones:
        return "[]"
    return compact_json(sorted(milestones))


def _milestones_from_db(value: object) -> frozenset[str]:
    if value == "[]":
        return frozenset()
    if isinstance(value, (str, bytes, bytearray)):
        try:
            value = json.loads(value)
        except ValueError:
            return frozenset()
    if not isinstance(value, list | tuple):
        return frozenset()
    return frozenset(name for name in value if isinstance(name, str))


def _zone_from_db(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        resolve_timezone(value)
    except ProgressionError:  # not a zone: the row keeps the config's
        return None
    return value


def day_from_db(value: object) -> date | None:
    """A stored local day (a ``DATE``, or ISO text on SQLite) as a date; ``None`` for
    anything else or a day outside the supported years."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date) or not FIRST_YEAR <= value.year <= LAST_YEAR:
        return None
    return value


def lever_values(state: ProgressState, *, as_text: bool = False) -> dict[str, object]:
    """The lever columns' values of ``state``, by column: JSON text for the milestones and
    lifetime counts, and with ``as_text`` (SQLite) ISO 8601 text for the moment and the day."""
    extended: object = state.day_extended_until
    day: object = state.last_streak_day
    if as_text:
        extended = (
            None if state.day_extended_until is None else state.day_extended_until.isoformat()
        )
        day = None if state.last_streak_day is None else state.last_streak_day.isoformat()
    return {
        "timezone": state.timezone,
        "day_extended_until": extended,
        "streak": state.streak,
        "best_streak": state.best_streak,
        "last_streak_day": day,
        "streak_freezes": state.streak_freezes,
        "milestones": milestones_to_json(state.milestones),
        "lifetime_counts": counts_to_json(state.lifetime_counts),
    }


def events_to_json(events: Sequence[ProgressionEvent]) -> str | None:
    """An entry's events as a compact JSON array; ``None`` (SQL ``NULL``) for none, so that
    the events feed's index holds only the entries it hands out."""
    if not events:
        return None
    return compact_json([event.to_dict() for event in events])


def events_from_db(value: object) -> tuple[ProgressionEvent, ...]:
    """An entry's stored events (a JSON array, or its text) as events; ``()`` for ``NULL``."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes, bytearray)):
        value = json.loads(value)
    if not isinstance(value, list):
        raise TypeError(f"the events are not a JSON array: {value!r}")
    return tuple(ProgressionEvent.from_dict(event) for event in value)


_SEED_EVENTS = frozenset({EventKind.LEVEL_UP, EventKind.DAILY_CAP_REACHED})
"""Events of the rules without levers: what a ledger's levels and the config say again."""


def refuse_levers(
    user_id: str, state: ProgressState, entries: Sequence[LedgerEntry], where: str
) -> None:
    """Raise :class:`SchemaOutdatedError` if a write to a schema of version 1 would lose
    something: a lever field of a state, an entry of a kind it does not admit, or an event
    of a lever. Level-ups and reached caps are not kept there: the entry's levels and the
    config tell them again.
    """
    for candidate in (state, *(entry.state_after for entry in entries)):
        if candidate.uses_levers:
            new_user = ProgressState()
            field = next(
                name for name in LEVER_FIELDS if getattr(candidate, name) != getattr(new_user, name)
            )
            _outdated(field, f"the {field!r} of user {user_id!r}", where)
    for entry in entries:
        if entry.kind is EntryKind.TIMEZONE:
            _outdated("kind", f"a time-zone change of user {user_id!r}", where)
        for event in entry.events:
            if event.kind not in _SEED_EVENTS:
                _outdated("events", f"a {event.kind.value} event of user {user_id!r}", where)


def refuse_feed(where: str) -> NoReturn:
    """Raise :class:`SchemaOutdatedError`: a ledger of schema version 1 keeps no events."""
    _outdated("events", "the events of its awards, which the events feed reads", where)


def _outdated(field: str, what: str, where: str) -> NoReturn:
    raise SchemaOutdatedError(
        field,
        f"{where} has the schema of an earlier release (version 1), which cannot keep "
        f"{what}; nothing was written. Bring it up to date with: "
        "mikoshi-progression schema migrate --store URL (or store.migrate())",
    )


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
    timezone: object = None,
    day_extended_until: object = None,
    streak: object = None,
    best_streak: object = None,
    last_streak_day: object = None,
    streak_freezes: object = None,
    milestones: object = None,
    lifetime_counts: object = None,
) -> ProgressState:
    """Build a state from raw column values, normalising legacy data as the module says
    (the lever columns are absent from a schema of version 1: a new user's then)."""
    current = _count(streak) or 0
    zone = _zone_from_db(timezone)
    extended = moment_from_db(day_extended_until)
    best = max(current, _count(best_streak) or 0)
    day = day_from_db(last_streak_day)
    freezes = _count(streak_freezes) or 0
    reached = _milestones_from_db(milestones)
    lifetime = counts_from_db(lifetime_counts)
    exp_ = _count(exp) or 0
    level_ = max(1, _count(level) or 1)
    gained = _count(daily_exp_gained) or 0
    reset = moment_from_db(last_exp_reset_date)
    counts = counts_from_db(daily_action_counts)
    chat = moment_from_db(last_chat_date)
    untouched = zone is None and extended is None and day is None
    if untouched and not (best or freezes or reached or lifetime):
        # No lever touched the user (most users): the state shares the one lever value of
        # such users instead of building and comparing one (a third of a load's decoding,
        # profiled by benchmarks/profile_postgres_award.py).
        return ProgressState(
            exp=exp_,
            level=level_,
            daily_exp_gained=gained,
            last_exp_reset_date=reset,
            daily_action_counts=counts,
            last_chat_date=chat,
        )
    return ProgressState(
        exp=exp_,
        level=level_,
        daily_exp_gained=gained,
        last_exp_reset_date=reset,
        daily_action_counts=counts,
        last_chat_date=chat,
        timezone=zone,
        day_extended_until=extended,
        streak=current,
        best_streak=best,
        last_streak_day=day,
        streak_freezes=freezes,
        milestones=reached,
        lifetime_counts=lifetime,
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
    events: Any = None,
) -> LedgerEntry:
    """A ledger entry from its row's values, the ledger columns in their order.

    ``at`` may be a datetime or ISO 8601 text, ``state_after`` and ``events`` mappings and
    lists or JSON text (as SQLite keeps them); ``events`` is absent from a ledger of
    schema version 1. Ledger rows are the library's own, so nothing is normalised.

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
            events=events_from_db(events),
            seq=int(seq),
        )
    except (ValueError, TypeError, RecursionError, ProgressionError) as exc:
        raise StoreError(f"ledger entry {seq} of user {user_id!r} is unreadable: {exc}") from exc


def entry_from_columns(user_id: str, row: Sequence[Any]) -> LedgerEntry:
    """A ledger entry from the PostgreSQL ledger's entry columns (the ledger's columns
    after ``user_id`` and ``seq``, then ``seq``)."""
    *values, seq = row
    return entry_from_row(user_id, seq, *values)
