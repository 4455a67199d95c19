"""The events feed: the progression events of committed awards, handed out in order.

A notifier polls ``events(since=cursor)`` and stores the cursor it gets back. Each store
orders its feed so that a cursor never passes an award whose transaction commits later
than another's (see :class:`EventFeedStore` and each store's ``events``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..core.events import ProgressionEvent
from ..errors import InvalidArgumentError
from .base import LedgerEntry

__all__ = [
    "CommittedEvent",
    "EventFeedStore",
    "EventsPage",
    "bad_cursor",
    "events_page",
    "position_cursor",
    "transaction_cursor",
]


@dataclass(frozen=True, slots=True)
class CommittedEvent:
    """A progression event, as the events feed hands it out once its award committed.

    Attributes:
        user_id: Whose award caused it.
        seq: The position of the award's entry in the user's ledger.
        at: When the award was made.
        action: The action awarded.
        event: The event itself.
    """

    user_id: str
    seq: int
    at: datetime
    action: str
    event: ProgressionEvent


@dataclass(frozen=True, slots=True)
class EventsPage:
    """What one read of the events feed gave.

    Attributes:
        events: The events committed after the cursor asked with, oldest first; the
            events of one award together and in their order.
        cursor: Where the next read starts (``events(since=page.cursor)``): store it once
            the events are handled. The cursor asked with when nothing new committed.
    """

    events: tuple[CommittedEvent, ...]
    cursor: str | None


@runtime_checkable
class EventFeedStore(Protocol):
    """Optional: stores that hand out the progression events of committed awards, in order.

    A notifier polls ``events(since=cursor)`` and stores the cursor it gets back: every
    event is handed out at least once (exactly once while the cursor is stored after the
    events are handled), never before its award committed, and a cursor never passes an
    event whose transaction commits later than another's.
    """

    def events(self, since: str | None, limit: int) -> EventsPage:
        """The events of entries committed after ``since`` (``None``: from the first), at
        most ``limit`` of them, except that an award's events are never split.

        Raises:
            InvalidArgumentError: ``since`` is not a cursor of this store.
        """
        ...


def events_page(
    rows: Iterable[tuple[str, LedgerEntry]], since: str | None, limit: int
) -> EventsPage:
    """The page of events of ``rows``: ``(cursor after the entry, entry)`` in feed order,
    entries with events only. Whole entries are taken while the events stay within
    ``limit`` (at least one entry), so an award's events are never split across pages."""
    found: list[CommittedEvent] = []
    cursor = since
    for position, entry in rows:
        if found and len(found) + len(entry.events) > limit:
            break
        assert entry.seq is not None, "a stored entry has its position"
        found += [
            CommittedEvent(entry.user_id, entry.seq, entry.at, entry.action, event)
            for event in entry.events
        ]
        cursor = position
    return EventsPage(tuple(found), cursor)


def bad_cursor(since: object, store: str) -> InvalidArgumentError:
    """The error for a ``since`` that is no cursor of this store."""
    return InvalidArgumentError("since", f"None or a cursor an events page of {store} gave", since)


def position_cursor(since: str | None, store: str) -> int:
    """A cursor that is a position (``"42"``) as a number; ``None`` is 0, the start."""
    given: object = since
    if given is None:
        return 0
    if not isinstance(given, str) or not given.isdigit() or not given.isascii():
        raise bad_cursor(since, store)
    return int(given)


def transaction_cursor(since: str | None, store: str) -> tuple[int, int, str]:
    """A cursor ``"<txid>:<seq>:<user_id>"`` (the feed of the PostgreSQL stores) as its
    parts; ``None`` is before every entry."""
    given: object = since
    if given is None:
        return -1, -1, ""
    parts = given.split(":", 2) if isinstance(given, str) else []
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts[:2]):
        raise bad_cursor(since, store)
    return int(parts[0]), int(parts[1]), parts[2]
