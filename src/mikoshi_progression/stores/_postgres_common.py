"""What the sync and the async PostgreSQL store share: everything but the I/O.

:class:`~mikoshi_progression.stores.postgres.PostgresStore` and
:class:`~mikoshi_progression.stores.postgres_async.AsyncPostgresStore` are two shells around
this module: the async one is written by hand, the sync one generated from it
(``tools/async_to_sync.py``). Each shell borrows connections and sends statements; this
module checks the options, renders the statements (:mod:`._postgres_sql`), keeps the
in-process bookkeeping (adaptive locking's hot users, the snapshot cache), and turns rows
into the library's values and values into statement parameters, once for both.

The bookkeeping is guarded by ``threading.Lock``\\ s, in the async store too: each is held
for a few dictionary operations and never across an ``await``, so it never blocks an event
loop for longer than that, and a store shared by threads stays safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from ..core.days import require_aware
from ..core.identity import check_id
from ..core.state import ProgressState
from ..errors import InvalidArgumentError, InvalidIdError, StoreError
from . import _postgres_schema
from ._feed import (
    EventsPage,
    events_page,
    transaction_cursor,
)
from ._postgres_batch_sql import BatchStatements
from ._postgres_driver import BAD_VALUE_SQLSTATES, wrap
from ._postgres_ids import TEXT_TYPES, IdType, canonical_id
from ._postgres_sql import Names, Statements, render
from ._rows import (
    counts_from_db,
    counts_to_json,
    entry_from_columns,
    milestones_to_json,
    refuse_feed,
    state_from_row,
)
from ._snapshots import SnapshotCache, SnapshotCacheInfo
from .base import (
    SCHEMA_VERSION,
    SchemaReport,
    Snapshot,
    UserActivity,
)

__all__ = [
    "DEFAULT_SNAPSHOT_CACHE",
    "SCHEMA_LOCK",
    "Locking",
    "PostgresCommon",
    "VersionToken",
]

Locking = Literal["optimistic", "row", "adaptive"]
VersionToken = Literal["xmin", "counter"]

SCHEMA_LOCK = 0x6D696B6F73686931
"""The advisory lock that serialises concurrent ``create_schema`` calls (b"mikoshi1")."""

_HOT_SECONDS = 5.0
"""Adaptive locking: how long a user stays row-locked after a write lost a race."""
_HOT_USERS_MAX = 10_000
"""Adaptive locking: at most this many users marked."""
DEFAULT_SNAPSHOT_CACHE = 10_000
"""Users whose last snapshot a store remembers by default (a few MB)."""


class PostgresCommon:
    """The options, statements and bookkeeping of a PostgreSQL store, and its steps that do
    no I/O. The shells subclass it and add the connections."""

    def __init__(
        self,
        *,
        schema: str | None,
        users_table: str | None,
        id_column: str,
        locking: Locking,
        timeout: float,
        table_prefix: str,
        create: bool,
        snapshot_cache: int,
        version_token: VersionToken,
    ) -> None:
        if locking not in ("optimistic", "row", "adaptive"):
            raise InvalidArgumentError("locking", "'optimistic', 'row' or 'adaptive'", locking)
        cache: object = snapshot_cache
        if not isinstance(cache, int) or isinstance(cache, bool) or cache < 0:
            raise InvalidArgumentError("snapshot_cache", "0 (off) or a positive integer", cache)
        if version_token not in ("xmin", "counter"):
            raise InvalidArgumentError("version_token", "'xmin' or 'counter'", version_token)
        if version_token == "counter" and users_table is not None:
            raise InvalidArgumentError(
                "version_token",
                "'xmin' in place: the platform's table has no version column, so there the "
                "version is the row's xmin ('counter' needs the library's own tables)",
                version_token,
            )
        self.version_token: VersionToken = version_token
        self.schema = schema
        self.users_table = users_table
        self.id_column = id_column
        self.locking: Locking = locking
        self._timeout = timeout
        self._create = create
        self._closed = False
        self._names = Names(schema, users_table, id_column, table_prefix)
        counter = version_token == "counter"
        # The statements of the current schema, and of tables of version 1 (no levers),
        # which the store runs until they are migrated (see :meth:`_use`).
        self._current_sql = Statements(self._names, counter=counter)
        self._legacy_sql = Statements(self._names, counter=counter, levers=False)
        self._batch_sql = BatchStatements(self._names, counter=counter)
        # On Citus, a batch names one user per statement, so that each is routed to the
        # worker of that user's shard (see ``_postgres_batch_async``).
        self._routed_batches = False
        self._sql = self._current_sql
        # Never held across an await (see the module docstring).
        self._hot: dict[str, float] = {}
        self._hot_lock = threading.Lock()
        self._snapshots = SnapshotCache(snapshot_cache) if snapshot_cache else None
        self._id_type: IdType | None = None

    def __repr__(self) -> str:
        where = f"users_table={self.users_table!r}" if self.users_table else "own tables"
        return f"<{type(self).__name__} {where} schema={self.schema!r} locking={self.locking!r}>"

    # --- public, and free of I/O -------------------------------------------------------

    def stored_form(self, state: ProgressState) -> ProgressState:
        """``state`` as this store reads it back after writing it.

        In place, ``last_chat_date`` is the platform's ``DATE`` column, so it comes
        back as midnight UTC of its UTC day; with the library's own tables, every
        field comes back as written. A replay compares through this.
        """
        chat = state.last_chat_date
        if self.users_table is None or chat is None:
            return state
        day = chat.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return replace(state, last_chat_date=day)

    def snapshot_cache_info(self) -> SnapshotCacheInfo | None:
        """How the snapshot cache is doing (``None`` when it is off)."""
        return None if self._snapshots is None else self._snapshots.info()

    # --- schema: what to ask, and what the answers mean --------------------------------

    def _schema_tables(self) -> tuple[list[str], list[str]]:
        """The regclasses whose columns, and whose unique indexes, :meth:`check_schema` reads."""
        wanted = self._names.required_columns()
        keys = self._names.unique_keys()
        return [r for r, _, _ in wanted], sorted({r for r, _, _ in keys})

    def _schema_report(
        self, column_rows: Sequence[Sequence[Any]], index_rows: Sequence[Sequence[Any]]
    ) -> SchemaReport:
        """What is missing, from the rows of the ``columns`` and ``unique_indexes`` queries."""
        wanted = self._names.required_columns()
        keys = self._names.unique_keys()
        present: dict[str, set[str]] = {}
        for regclass, column in column_rows:
            names = present.setdefault(str(regclass), set())
            if column is not None:
                names.add(str(column))
        missing_tables: list[str] = []
        missing_columns: list[str] = []
        for regclass, label, columns in wanted:
            found = present.get(regclass, set())
            if not found:
                missing_tables.append(label)
                continue
            missing_columns += [f"{label}.{c}" for c in columns if c not in found]
        unique: dict[str, set[frozenset[str]]] = {}
        for regclass, columns in index_rows:
            unique.setdefault(str(regclass), set()).add(frozenset(columns))
        missing_indexes = [
            f"{label} ({', '.join(columns)})"
            for regclass, label, columns in keys
            if label not in missing_tables and frozenset(columns) not in unique.get(regclass, ())
        ]
        version = _postgres_schema.schema_version(
            {table: names for table, names in present.items() if names}, self._names
        )
        return SchemaReport(
            tuple(missing_tables),
            tuple(missing_columns),
            tuple(missing_indexes),
            schema_version=version,
        )

    def _use(self, found: _postgres_schema.Found) -> None:
        """Run the statements of the schema version the tables are at (a store opened on
        tables of version 1 keeps working for everything they hold; see ``refuse_levers``)."""
        self._routed_batches = found.citus
        version = _postgres_schema.schema_version(found.columns, self._names)
        sql = self._current_sql if version in (0, SCHEMA_VERSION) else self._legacy_sql
        if sql is not self._sql:
            self._sql = sql
            if self._snapshots is not None:  # read with the other columns: drop them all
                self._snapshots.clear()

    def _where(self) -> str:
        """The store's tables, for an error message."""
        tables = f"the PostgreSQL tables {self._names.label(self._names.prefix)}*"
        return tables if self.users_table is None else f"{tables} and {self.users_table!r}"

    # --- the events feed -----------------------------------------------------------------

    def _feed_params(self, since: str | None, limit: int) -> dict[str, Any]:
        """The feed query's parameters from a cursor ``"<txid>:<seq>:<user_id>"``."""
        if not self._sql.levers:
            refuse_feed(self._where())
        txid, seq, user = transaction_cursor(since, type(self).__name__)
        return {"txid": txid, "seq": seq, "user": user, "limit": limit}

    def _feed_page(
        self, rows: Sequence[Sequence[Any]], since: str | None, limit: int
    ) -> EventsPage:
        """An events page from the feed query's rows (``txid, user_id``, the entry)."""
        return events_page(
            (
                (f"{txid}:{row[-1]}:{user_id}", entry_from_columns(user_id, row))
                for txid, user_id, *row in rows
            ),
            since,
            limit,
        )

    def _id_type_params(self) -> dict[str, str]:
        users = render(self._names.users) if self._names.users is not None else ""
        return {"t": users, "c": self.id_column}

    def _id_type_from(self, rows: Sequence[Sequence[Any]]) -> IdType:
        """In place: how ``id_column`` spells an id, from the ``id_type`` query's rows."""
        exists, base, declared = rows[0] if rows else (False, None, None)
        if not exists:
            raise StoreError(
                f"in place: no table {self.users_table!r} (users_table); the store works on "
                "the platform's existing users table and never creates it"
            )
        if base is None:
            raise StoreError(
                f"in place: table {self.users_table!r} has no column {self.id_column!r} (id_column)"
            )
        return IdType(str(base), str(declared))

    # --- ids -----------------------------------------------------------------------------

    def _canonical(self, user_id: str) -> object:
        """The spelling the id column keeps ``user_id`` under (``user_id`` itself with own
        tables or a text column), ``None`` if it cannot hold it, or :data:`CAST_IN_SQL`."""
        id_type = self._id_type
        if id_type is None or id_type.base in TEXT_TYPES:
            return user_id
        return canonical_id(id_type.base, user_id)

    def _cast_query(self) -> sql.Composed:
        """The spelling of the row equal to ``%(v)s`` under the column's own equality
        (``numeric`` 5.0 = 5), or of the value itself when no row has it."""
        assert self._id_type is not None
        assert self._names.users is not None
        return sql.SQL(
            "SELECT COALESCE((SELECT s.{id}::text FROM {users} AS s "
            "WHERE s.{id} = CAST(%(v)s AS {type}) LIMIT 1), CAST(%(v)s AS {type})::text)"
        ).format(
            id=self._names.id_column,
            users=self._names.users,
            type=sql.SQL(self._id_type.declared),
        )

    def _spelling_error(self, user_id: str, canonical: object, field: str) -> InvalidIdError:
        """The error for an id the store would find under another spelling (or none)."""
        id_type = self._id_type
        column = f"{self.users_table}.{self.id_column}"
        declared = "text" if id_type is None else id_type.declared
        if isinstance(canonical, str):
            expected = f"the spelling {column} ({declared}) keeps this user under: {canonical!r}"
        else:
            expected = f"a value of {column} ({declared}) in its canonical spelling"
        return InvalidIdError(field, expected, user_id)

    def _wrap_id_error(
        self, exc: psycopg.Error, user_id: str, doing: str, field: str = "user_id"
    ) -> StoreError | InvalidIdError:
        """A driver error; in place, a value the id column cannot read is the id's fault."""
        if self._id_type is not None and (exc.sqlstate or "") in BAD_VALUE_SQLSTATES:
            return self._spelling_error(user_id, None, field)
        return wrap(exc, doing)

    def _no_such_user(self, user_id: str) -> str:
        return (
            f"no such user {user_id!r} in {self._names.users_label}: in place, the store "
            "only updates rows the platform created"
        )

    # --- parameters and rows -------------------------------------------------------------

    @staticmethod
    def _claim_params(scope: str, key: str, request: str, at: datetime) -> dict[str, Any]:
        return {
            "scope": check_id(scope, "scope"),
            "key": check_id(key, "key"),
            "request": request,
            "at": require_aware(at, "at"),
        }

    @staticmethod
    def _activity_params(
        caps: Mapping[int, int], since: datetime, limit: int | None
    ) -> dict[str, Any]:
        if not caps:
            raise ValueError("caps must map at least one level to its cap")
        levels = sorted(caps)
        return {
            "levels": levels,
            "caps": [caps[level] for level in levels],
            "last": caps[levels[-1]],
            "since": since,
            "limit": limit,
        }

    @staticmethod
    def _activity_from(rows: Sequence[Sequence[Any]]) -> list[UserActivity]:
        return [
            UserActivity(str(uid), int(level), int(gained), int(cap), counts_from_db(counts))
            for uid, level, gained, cap, counts in rows
        ]

    def _state_params(self, user_id: str, state: ProgressState) -> dict[str, Any]:
        return {
            "user": user_id,
            "uid": user_id,
            "level": state.level,
            "exp": state.exp,
            "gained": state.daily_exp_gained,
            "reset": state.last_exp_reset_date,
            "counts": counts_to_json(state.daily_action_counts),
            "chat": state.last_chat_date,
            "tz": state.timezone,
            "extended": state.day_extended_until,
            "streak": state.streak,
            "best": state.best_streak,
            "streak_day": state.last_streak_day,
            "freezes": state.streak_freezes,
            "milestones": milestones_to_json(state.milestones),
            "lifetime": counts_to_json(state.lifetime_counts),
        }

    def _state_from_columns(self, user_id: str, values: Mapping[str, Any]) -> ProgressState:
        """A state row's columns (by name) as a state, or :class:`StoreError` naming the user."""
        try:
            return state_from_row(**values)
        except (ValueError, TypeError) as exc:
            raise StoreError(f"the stored state of user {user_id!r} is unreadable: {exc}") from exc

    @property
    def batches(self) -> bool:
        """Whether batches run in one transaction here: on the library's own tables at the
        current schema (in place, or on tables of version 1, each award of a batch runs in
        a transaction of its own)."""
        return self.users_table is None and self._sql.levers

    # --- adaptive locking and the snapshot cache -------------------------------------------

    def _locks_rows(self, user_id: str) -> bool:
        """Whether this user's next transaction loads with ``FOR UPDATE``."""
        if self.locking != "adaptive":
            return self.locking == "row"
        if not self._hot:
            return False
        with self._hot_lock:
            until = self._hot.get(user_id)
            if until is None:
                return False
            if until < time.monotonic():
                del self._hot[user_id]
                return False
            return True

    def _guess(self, user_id: str) -> Snapshot | None:
        return None if self._snapshots is None else self._snapshots.guess(user_id)

    def _remember(self, user_id: str, snapshot: Snapshot, *, guessed: bool = False) -> None:
        if self._snapshots is not None:
            self._snapshots.remember(user_id, snapshot, guessed_right=guessed)

    def _at_version(self, user_id: str, version: object) -> Snapshot | None:
        return None if self._snapshots is None else self._snapshots.at_version(user_id, version)

    def _forget(self, user_id: str) -> None:
        if self._snapshots is not None:
            self._snapshots.forget(user_id)

    def _conflict(self, user_id: str, guessed: bool) -> None:
        """A write lost a race, or a guessed snapshot was out of date.

        A wrong guess means another writer (process) changed the user: the cache
        stops guessing it for a while. After a real load the user is contended:
        adaptive locking takes the row lock for it for a while.
        """
        if guessed:
            if self._snapshots is not None:
                self._snapshots.wrong(user_id)
            return
        self._forget(user_id)
        self._contended(user_id)

    def _contended(self, user_id: str) -> None:
        """Remember that a write on ``user_id`` just lost a race (adaptive locking)."""
        if self.locking != "adaptive":
            return
        now = time.monotonic()
        with self._hot_lock:
            if len(self._hot) >= _HOT_USERS_MAX:
                self._hot = {u: t for u, t in self._hot.items() if t >= now}
                if len(self._hot) >= _HOT_USERS_MAX:
                    return  # a storm of conflicts on many users: stay optimistic
            self._hot[user_id] = now + _HOT_SECONDS
