"""The plans that only read (the state, the ledger, the events feed, the monitoring rows),
and the claim of a request key: statements in, rows out, as :mod:`._plans`'s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, literal, literal_column, select, tuple_, type_coerce
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import NullType

from ..core.state import ProgressState
from ..errors import StoreError, UnknownUserError
from ..stores._feed import EventsPage, events_page, transaction_cursor
from ..stores._rows import refuse_feed
from ..stores.base import LedgerEntry
from ._plans import (
    PLATFORM_COLUMNS,
    Layout,
    Plan,
    Step,
    check_found_as,
    decode_entry,
    decode_state,
    entry_columns,
    insert_or_nothing,
    no_such_user,
    select_state,
)

__all__ = ["activity", "claim_key", "events", "ledger", "read_state"]


def events(layout: Layout, dialect: str, since: str | None, limit: int) -> Plan[EventsPage]:
    """The events of ledger entries committed after ``since`` (a cursor
    ``"<txid>:<seq>:<user_id>"``), in ``(txid, user_id, seq)`` order. On PostgreSQL only
    entries of transactions older than every one still running are handed out (so that a
    transaction that commits late is never passed: see ``AsyncPostgresStore.events``)."""
    if not layout.levers:
        refuse_feed(layout.where())
    txid, seq, user = transaction_cursor(since, "the SQLAlchemy store")
    ledger = layout.tables.ledger
    position = tuple_(ledger.c.txid, ledger.c.user_id, ledger.c.seq)
    query = select(ledger.c.txid, *entry_columns(layout)).where(
        ledger.c.events.isnot(None),
        ledger.c.txid.isnot(None),
        position > tuple_(literal(txid), literal(user), literal(seq)),
    )
    if dialect == "postgresql":
        horizon: ColumnElement[Any] = literal_column(
            "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        )
        query = query.where(ledger.c.txid < horizon)
    rows = yield Step(
        query.order_by(ledger.c.txid, ledger.c.user_id, ledger.c.seq).limit(limit),
        doing="read the events",
    )
    return events_page(
        (
            (
                f"{row.txid}:{row.seq}:{row.user_id}",
                decode_entry(layout, str(row.user_id), row),
            )
            for row in rows
        ),
        since,
        limit,
    )


# --- reads and claims -----------------------------------------------------------------------


def read_state(layout: Layout, user_id: str) -> Plan[ProgressState]:
    """The user's committed state, read without a lock (a new user's if unknown)."""
    rows = yield Step(select_state(layout, user_id, locked=False), doing="read a state")
    if not rows:
        if layout.in_place:
            raise UnknownUserError(no_such_user(layout, user_id))
        return ProgressState()
    check_found_as(layout, user_id, rows[0])
    return decode_state(layout, user_id, rows[0])


def ledger(layout: Layout, user_id: str) -> Plan[list[LedgerEntry]]:
    """The user's ledger, oldest first."""
    t = layout.tables
    rows = yield Step(
        select(*entry_columns(layout))
        .where(t.ledger.c.user_id == user_id)
        .order_by(t.ledger.c.seq),
        doing="read the ledger",
    )
    return [decode_entry(layout, user_id, row) for row in rows]


def claim_key(
    layout: Layout, dialect: str, scope: str, key: str, request: str, at: datetime
) -> Plan[str]:
    """Tie ``key`` of ``scope`` to ``request`` unless it is tied already; the request it
    is tied to (an ``INSERT ... ON CONFLICT DO NOTHING``, then a read if it was taken)."""
    k = layout.tables.request_keys
    rows = yield Step(
        insert_or_nothing(dialect, k)
        .values(scope=scope, key=key, request=request, at=at.astimezone(UTC))
        .on_conflict_do_nothing(index_elements=[k.c.scope, k.c.key])
        .returning(k.c.request),
        doing="claim a request key",
    )
    if not rows:
        rows = yield Step(
            select(k.c.request).where(k.c.scope == scope, k.c.key == key),
            doing="read a request key",
        )
    if not rows:  # pragma: no cover - a claimed key is never deleted
        raise StoreError(f"request key {key!r} of {scope!r} vanished after its claim")
    return str(rows[0][0])


def activity(layout: Layout, since: datetime) -> Plan[list[tuple[str, ProgressState]]]:
    """``(user_id, state)`` of users whose day opened about ``since`` or later.

    The SQL narrows by a day before ``since`` (legacy text stamps on SQLite compare by
    their date prefix); :func:`~mikoshi_progression.stores.base.rank_activity` then
    compares instants exactly. Unreadable rows are skipped (an award says why).
    """
    t = layout.tables
    source = t.users if t.users is not None else t.state
    assert source is not None
    uid = t.id_column if t.users is not None else "user_id"
    floor = (since - timedelta(days=1)).astimezone(UTC)
    rows = yield Step(
        select(
            cast(source.c[uid], Text).label("user_id"),
            *(type_coerce(source.c[c], NullType()).label(c) for c in PLATFORM_COLUMNS),
        ).where(source.c.last_exp_reset_date >= floor),
        doing="run a monitoring query",
    )
    states = []
    platform = Layout(layout.tables, layout.id_type, levers=False)  # what was selected
    for row in rows:
        try:
            states.append((str(row.user_id), decode_state(platform, str(row.user_id), row)))
        except StoreError:
            continue
    return states
