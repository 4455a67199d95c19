"""Statements in, rows out: everything the SQLAlchemy stores do, without doing any I/O.

Each operation is a *plan*: a generator that yields a :class:`Step` (a statement, its
parameters and what it is doing, for error messages) and is sent back the rows the
statement returned, until it returns its result. The sync store runs a plan with
:func:`~mikoshi_progression.sqlalchemy.store.run` and the async store with
``await``-ing its twin; nothing else differs between them, so one set of statements and
one decoder of rows serve both.

Every dialect decision is made here too, from the connection's dialect name:

- PostgreSQL: the user's row is loaded ``FOR UPDATE`` (the lock lasts until the
  transaction, the store's or the caller's, ends), a new user is inserted with
  ``ON CONFLICT DO NOTHING`` (of two callers creating one user, the second gets no row
  back, so a :class:`StaleVersionError`, and its retry waits for the first to commit).
- SQLite: see :func:`begin`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Text,
    bindparam,
    cast,
    exists,
    false,
    func,
    insert,
    literal_column,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement, Executable
from sqlalchemy.types import NullType, UserDefinedType

from ..core.state import ProgressState
from ..errors import InvalidIdError, StoreError, StoreUnavailableError, UnknownUserError
from ..stores._postgres_ids import CAST_IN_SQL, TEXT_TYPES, IdType, canonical_id
from ..stores._rows import (
    ENTRY_FIELDS,
    LEGACY_ENTRY_FIELDS,
    entry_from_row,
    refuse_levers,
    state_from_row,
)
from ..stores._sqlite_driver import DUPLICATE
from ..stores._sqlite_driver import wrap as wrap_sqlite
from ..stores.base import (
    EntryKind,
    LedgerEntry,
    Snapshot,
    StaleVersionError,
)
from .schema import LEVER_COLUMNS, Tables

__all__ = ["DIALECTS", "Layout", "Plan", "Rows", "Step", "wrap"]

T = TypeVar("T")
Rows = Sequence[Any]
"""What a step is sent back: the rows its statement returned (none for a plain write)."""

DIALECTS = ("postgresql", "sqlite")
"""The databases the SQLAlchemy stores know how to lock a user's row on."""

PLATFORM_COLUMNS = (
    "level",
    "exp",
    "last_chat_date",
    "daily_exp_gained",
    "last_exp_reset_date",
    "daily_action_counts",
)
_ENTRY_COLUMNS = ("seq", *ENTRY_FIELDS)
_LEGACY_ENTRY_COLUMNS = ("seq", *LEGACY_ENTRY_FIELDS)


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of a plan, and what it is doing (for the error if it fails).

    Attributes:
        statement: The statement.
        params: Its parameters (a list of mappings: executed once per mapping).
        doing: What it does, as ``"... cannot <doing>"`` reads.
        writing: A unique violation means another writer got there first.
    """

    statement: Executable
    params: Mapping[str, Any] | list[Mapping[str, Any]] | None = None
    doing: str = "run a statement"
    writing: bool = False


Plan = Generator[Step, Rows, T]


class _Declared(UserDefinedType[Any]):
    """A column type by its declared SQL name (in place: the id column's ``bigint``)."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a store keeps its rows: its :class:`Tables`, and in place how ids are spelled.

    Attributes:
        tables: The tables.
        id_type: In place, the id column's type (``None`` with own tables).
        levers: The tables are of the current schema; ``False``: of version 1 (no lever
            columns, no ledger ``events``): the plans read and write what they hold.
    """

    tables: Tables
    id_type: IdType | None = None
    levers: bool = True

    @property
    def in_place(self) -> bool:
        return self.tables.users is not None

    @property
    def state_columns(self) -> tuple[str, ...]:
        return (*PLATFORM_COLUMNS, *LEVER_COLUMNS) if self.levers else PLATFORM_COLUMNS

    @property
    def entry_columns(self) -> tuple[str, ...]:
        return _ENTRY_COLUMNS if self.levers else _LEGACY_ENTRY_COLUMNS

    def where(self) -> str:
        """The store's tables, for an error message."""
        t = self.tables
        ledger = t.ledger.fullname
        return f"the tables {ledger.removesuffix('ledger')}*" + (
            f" and {t.users.fullname!r}" if t.users is not None else ""
        )

    def user_matches(self, user_id: str) -> ColumnElement[bool]:
        """The state row of ``user_id`` (in place, cast to the id column's own type)."""
        t = self.tables
        if t.users is None:
            assert t.state is not None
            return t.state.c.user_id == user_id
        uid: ColumnElement[Any] = bindparam("uid", user_id, type_=Text)
        if self.id_type is not None and self.id_type.base not in TEXT_TYPES:
            uid = cast(uid, _Declared(self.id_type.declared))
        return t.users.c[t.id_column] == uid


# --- errors -------------------------------------------------------------------------------

_PERMANENT_SQLSTATES = frozenset({"55000", "55P02", "55P04"})
_UNAVAILABLE_SQLSTATES = frozenset({"25006"})


def wrap(exc: BaseException, doing: str, *, writing: bool = False) -> StoreError:
    """The library's error for a SQLAlchemy or driver error (raise it ``from exc``).

    Outages (a lost connection, a server shutting down, a lock wait or a pool that timed
    out) are :class:`StoreUnavailableError`; conflicts (serialization failures,
    deadlocks, and while ``writing`` a unique violation) :class:`StaleVersionError`;
    anything else a :class:`StoreError`.
    """
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if writing and code in DUPLICATE:
            return StaleVersionError(f"SQLite: a row of another writer: {orig}")
        return wrap_sqlite(orig, doing)
    text = f"{type(orig).__name__}: {orig}".strip()
    message = f"SQLAlchemy store: cannot {doing}: {text}"
    if len(message) > 500:  # a statement's parameters can be echoed back whole
        message = message[:497] + "..."
    sqlstate = str(getattr(orig, "sqlstate", None) or "")
    if sqlstate.startswith("40") or (writing and sqlstate == "23505"):
        return StaleVersionError(message)
    if sqlstate.startswith("54") or sqlstate in _PERMANENT_SQLSTATES:
        return StoreError(message)
    if (
        sqlstate.startswith(("08", "57P"))
        or sqlstate in _UNAVAILABLE_SQLSTATES
        or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)
        or isinstance(
            exc, sa_exc.OperationalError | sa_exc.TimeoutError | sa_exc.DisconnectionError
        )
    ):
        return StoreUnavailableError(message)
    if sqlstate in ("42P01", "3F000"):
        return StoreError(f"{message} (run create_schema() first?)")
    return StoreError(message)


# --- transactions -------------------------------------------------------------------------


def begin(layout: Layout, dialect: str) -> Plan[None]:
    """What a transaction does before it reads: on SQLite, take the write lock.

    SQLite has one writer at a time. Through pysqlite (and aiosqlite), a transaction
    begins deferred, with the first write: a read before it would hold only a shared
    lock, and two transactions that both read a user and then both try to write would
    either deadlock (in rollback-journal mode one waits for the other's shared lock to
    go, forever; SQLite refuses one with SQLITE_BUSY at once) or, in WAL mode, the later
    writer's snapshot is stale (SQLITE_BUSY_SNAPSHOT). So every transaction first makes
    a write that changes nothing: it waits (up to the busy timeout) for SQLite's write
    lock and keeps it until the transaction ends, the load and the decision that follow
    run alone, and no update can be lost. Inside a caller's transaction (``join``) the
    write comes before the SAVEPOINT, so that the savepoint nests in a real transaction
    (a SAVEPOINT opened outside one would start one, and its RELEASE would commit it).
    """
    if dialect == "sqlite":
        ledger = layout.tables.ledger
        yield Step(
            update(ledger).where(false()).values(seq=ledger.c.seq),
            doing="take the write lock",
        )


def load(layout: Layout, dialect: str, user_id: str, key: str | None) -> Plan[Snapshot]:
    """Read the user's state and version (locking the row where the database can), and
    the ledger entries made with ``key``."""
    t = layout.tables
    rows = yield Step(
        select_state(layout, user_id, locked=True),
        doing=f"load user {user_id!r}",
    )
    award = revoke = None
    if key is not None:
        keyed = yield Step(
            select(*entry_columns(layout))
            .where(
                t.ledger.c.user_id == user_id,
                t.ledger.c.key == key,
                t.ledger.c.kind.in_(("award", "revoke", "adjust", "timezone")),
            )
            .order_by(t.ledger.c.seq),
            doing="look up a key",
        )
        for row in keyed:
            entry = decode_entry(layout, user_id, row)
            if entry.kind is EntryKind.REVOKE:
                revoke = entry
            else:  # the award made with the key, or the adjustment
                award = entry
    if not rows:
        if layout.in_place:
            raise UnknownUserError(no_such_user(layout, user_id))
        return Snapshot(ProgressState(), None, keyed_award=award, keyed_revoke=revoke)
    row = rows[0]
    check_found_as(layout, user_id, row)
    return Snapshot(
        decode_state(layout, user_id, row),
        row.version,
        exists=True,
        has_ledger=bool(row.has_ledger),
        keyed_award=award,
        keyed_revoke=revoke,
    )


def write(
    layout: Layout,
    dialect: str,
    user_id: str,
    state: ProgressState,
    version: object,
    entries: Sequence[LedgerEntry],
) -> Plan[object]:
    """Save ``state`` if the version is still ``version`` and append ``entries`` after the
    user's last ledger entry; returns the new version.

    Raises:
        StaleVersionError: the version changed, or another writer created the user or
            used one of the entries' keys first.
        SchemaOutdatedError: the tables are of version 1 and cannot hold what is written.
    """
    t = layout.tables
    if not layout.levers:
        refuse_levers(user_id, state, entries, layout.where())
    values = _state_values(layout, state)
    n = len(entries)
    stale = f"user {user_id!r} changed since it was loaded (version {version!r})"
    if t.users is not None:
        if version is None:
            raise UnknownUserError(no_such_user(layout, user_id))
        rows = yield Step(
            update(t.users)
            .where(layout.user_matches(user_id), literal_column("xmin::text") == str(version))
            .values(**values)
            .returning(literal_column("xmin::text")),
            doing=f"save user {user_id!r}",
            writing=True,
        )
        if not rows:
            raise StaleVersionError(stale)
        new_version: object = rows[0][0]
        if n:
            last = yield Step(
                select(func.coalesce(func.max(t.ledger.c.seq), 0)).where(
                    t.ledger.c.user_id == user_id
                ),
                doing="number ledger entries",
            )
            base = int(last[0][0])
    else:
        assert t.state is not None
        s = t.state
        if version is None:
            rows = yield Step(
                insert_or_nothing(dialect, s)
                .values(user_id=user_id, **values, version=1, seq=n)
                .on_conflict_do_nothing(index_elements=[s.c.user_id])
                .returning(s.c.version),
                doing=f"save new user {user_id!r}",
                writing=True,
            )
            if not rows:
                raise StaleVersionError(f"user {user_id!r} was created by another writer")
            base = 0
        elif not isinstance(version, int) or isinstance(version, bool):
            raise StoreError(f"not a version of a SQLAlchemy store: {version!r}")
        else:
            rows = yield Step(
                update(s)
                .where(s.c.user_id == user_id, s.c.version == version)
                .values(**values, version=s.c.version + 1, seq=s.c.seq + n)
                .returning(s.c.version, s.c.seq),
                doing=f"save user {user_id!r}",
                writing=True,
            )
            if not rows:
                raise StaleVersionError(stale)
            base = int(rows[0][1]) - n
        new_version = rows[0][0]
    if entries:
        statement = insert(t.ledger)
        if layout.levers:
            statement = statement.values(txid=_txid(layout, dialect))
        yield Step(
            statement,
            [_entry_values(layout, entry, base + i) for i, entry in enumerate(entries, 1)],
            doing=f"append to the ledger of user {user_id!r}",
            writing=True,
        )
    return new_version


def _txid(layout: Layout, dialect: str) -> ColumnElement[Any]:
    """The events feed's order of the rows written now: on PostgreSQL the writing
    transaction's id; on SQLite, which writes one transaction at a time, one more than the
    last (under the write lock :func:`begin` takes)."""
    if dialect == "postgresql":
        return literal_column("pg_current_xact_id()::text::bigint")
    ledger = layout.tables.ledger
    # Over the feed's rows only, so that the feed's index answers it (the number of a row
    # without events is never read).
    last = select(func.coalesce(func.max(ledger.c.txid), 0) + 1).where(
        ledger.c.events.isnot(None), ledger.c.txid.isnot(None)
    )
    return last.scalar_subquery()


NEEDS_A_QUERY = object()
"""What :func:`answered_without_io` gives for a plan that must run a statement."""


def answered_without_io(plan: Plan[T]) -> T | object:
    """The result of ``plan`` if it needs no statement, else :data:`NEEDS_A_QUERY` (so
    that a store takes a connection only when it must: in place, checking a text or an
    integer id is pure Python, and a request that holds a connection of the pool already
    must not need a second one for it)."""
    try:
        next(plan)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    plan.close()
    return NEEDS_A_QUERY


def canonical_spelling(layout: Layout, user_id: str) -> Plan[str | None]:
    """In place: the spelling the id column keeps ``user_id`` under (``None``: no value
    of the column), asking the database for types Python cannot spell."""
    id_type = layout.id_type
    if id_type is None or id_type.base in TEXT_TYPES:
        return user_id
    canonical = canonical_id(id_type.base, user_id)
    if canonical is not CAST_IN_SQL:
        return None if canonical is None else str(canonical)
    t = layout.tables
    assert t.users is not None
    column = t.users.c[t.id_column]
    value = cast(bindparam("v", user_id, type_=Text), _Declared(id_type.declared))
    found = select(cast(column, Text)).where(column == value).limit(1).scalar_subquery()
    rows = yield Step(select(func.coalesce(found, cast(value, Text))), doing="check a user id")
    return None if not rows or rows[0][0] is None else str(rows[0][0])


# --- rows -------------------------------------------------------------------------------


def decode_state(layout: Layout, user_id: str, row: Any) -> ProgressState:
    """A stored row's state columns as a state, legacy values normalised (see ``_rows``)."""
    try:
        return state_from_row(**{c: row._mapping[c] for c in layout.state_columns})
    except (ValueError, TypeError) as exc:
        raise StoreError(f"the stored state of user {user_id!r} is unreadable: {exc}") from exc


def decode_entry(layout: Layout, user_id: str, row: Any) -> LedgerEntry:
    """A ledger row as an entry (a moment SQLite gives back naive is UTC)."""
    m = row._mapping
    at = m["at"]
    if isinstance(at, datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return entry_from_row(user_id, *(at if c == "at" else m[c] for c in layout.entry_columns))


def entry_columns(layout: Layout) -> list[ColumnElement[Any]]:
    ledger = layout.tables.ledger
    return [ledger.c.user_id, *(ledger.c[c] for c in layout.entry_columns)]


def _entry_values(layout: Layout, entry: LedgerEntry, seq: int) -> dict[str, Any]:
    events: dict[str, Any] = {}
    if layout.levers:
        # NULL (not JSON null) for no events: the feed's index holds the entries with some.
        events["events"] = [e.to_dict() for e in entry.events] or None
    return events | {
        "user_id": entry.user_id,
        "seq": seq,
        "kind": str(entry.kind),
        "action": entry.action,
        "exp_delta": entry.exp_delta,
        "level_before": entry.level_before,
        "level_after": entry.level_after,
        "key": entry.key,
        "at": entry.at.astimezone(UTC),
        "config_fingerprint": entry.config_fingerprint,
        "state_after": entry.state_after.to_dict(),
        "outcome": entry.outcome,
        "actor": entry.actor,
        "target": entry.target,
        "reason": entry.reason,
    }


def _state_values(layout: Layout, state: ProgressState) -> dict[str, Any]:
    chat: datetime | date | None = _utc(state.last_chat_date)
    if layout.in_place and isinstance(chat, datetime):
        chat = chat.date()  # the platform's DATE column: the UTC day
    values: dict[str, Any] = {
        "level": state.level,
        "exp": state.exp,
        "last_chat_date": chat,
        "daily_exp_gained": state.daily_exp_gained,
        "last_exp_reset_date": _utc(state.last_exp_reset_date),
        "daily_action_counts": dict(sorted(state.daily_action_counts.items())),
    }
    if layout.levers:
        values |= {
            "timezone": state.timezone,
            "day_extended_until": _utc(state.day_extended_until),
            "streak": state.streak,
            "best_streak": state.best_streak,
            "last_streak_day": state.last_streak_day,
            "streak_freezes": state.streak_freezes,
            "milestones": sorted(state.milestones),
            "lifetime_counts": dict(sorted(state.lifetime_counts.items())),
        }
    return values


def _utc(moment: datetime | None) -> datetime | None:
    """In UTC: SQLite keeps a moment as the text of its wall time, without the offset."""
    return None if moment is None else moment.astimezone(UTC)


def select_state(layout: Layout, user_id: str, *, locked: bool) -> Executable:
    """The state columns as stored (no type processing: legacy values are normalised by
    ``state_from_row``), the version, whether the user has a ledger, and in place the id
    as the column spells it."""
    t = layout.tables
    raw = [type_coerce(c, NullType()).label(c.name) for c in _state_columns(layout)]
    if t.users is not None:
        has_ledger = exists().where(t.ledger.c.user_id == user_id)
        query = select(
            *raw,
            literal_column("xmin::text").label("version"),
            has_ledger.label("has_ledger"),
            cast(t.users.c[t.id_column], Text).label("found_as"),
        ).where(layout.user_matches(user_id))
        return query.with_for_update(of=t.users) if locked else query
    assert t.state is not None
    query = select(
        *raw, t.state.c.version.label("version"), (t.state.c.seq > 0).label("has_ledger")
    ).where(layout.user_matches(user_id))
    return query.with_for_update() if locked else query


def _state_columns(layout: Layout) -> list[Any]:
    t = layout.tables
    source = t.users if t.users is not None else t.state
    assert source is not None
    return [source.c[c] for c in layout.state_columns]


def insert_or_nothing(dialect: str, target: Any) -> Any:
    """An ``INSERT`` that can say ``ON CONFLICT DO NOTHING`` on this dialect."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(target)


def check_found_as(layout: Layout, user_id: str, row: Any) -> None:
    if layout.in_place and row.found_as != user_id:
        # In place on a non-text id column, the row was found under another spelling.
        raise spelling_error(layout, user_id, row.found_as)


def spelling_error(
    layout: Layout, user_id: str, canonical: object, field: str = "user_id"
) -> InvalidIdError:
    """The error for an id the store would find under another spelling (or none)."""
    users = layout.tables.users
    column = f"{'' if users is None else users.fullname}.{layout.tables.id_column}"
    declared = "text" if layout.id_type is None else layout.id_type.declared
    if isinstance(canonical, str):
        expected = f"the spelling {column} ({declared}) keeps this user under: {canonical!r}"
    else:
        expected = f"a value of {column} ({declared}) in its canonical spelling"
    return InvalidIdError(field, expected, user_id)


def no_such_user(layout: Layout, user_id: str) -> str:
    users = layout.tables.users
    name = "" if users is None else users.fullname
    return (
        f"no such user {user_id!r} in {name}: in place, the store only updates rows the "
        "platform created"
    )


def find_id_type(layout: Layout) -> Plan[IdType]:
    """In place: the type of the id column of ``users`` (checked when a store opens).

    Raises:
        StoreError: the table or its id column does not exist.
    """
    t = layout.tables
    assert t.users is not None
    schema = t.users.schema
    quoted = ".".join(
        '"' + part.replace('"', '""') + '"' for part in (schema, t.users.name) if part
    )
    rows = yield Step(
        text(
            "SELECT to_regclass(:t) IS NOT NULL, "
            "(SELECT b.typname::text FROM pg_attribute AS a "
            "JOIN pg_type AS y ON y.oid = a.atttypid "
            "JOIN pg_type AS b ON b.oid = CASE y.typtype WHEN 'd' THEN y.typbasetype "
            "ELSE y.oid END "
            "WHERE a.attrelid = to_regclass(:t) AND a.attname = :c "
            "AND a.attnum > 0 AND NOT a.attisdropped), "
            "(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
            "WHERE a.attrelid = to_regclass(:t) AND a.attname = :c "
            "AND a.attnum > 0 AND NOT a.attisdropped)"
        ).bindparams(t=quoted, c=t.id_column),
        doing="inspect the users table",
    )
    found, base, declared = rows[0] if rows else (False, None, None)
    label = t.users.fullname
    if not found:
        raise StoreError(
            f"in place: no table {label!r} (users_table); the store works on the platform's "
            "existing users table and never creates it"
        )
    if base is None:
        raise StoreError(f"in place: table {label!r} has no column {t.id_column!r} (id_column)")
    return IdType(str(base), str(declared))
