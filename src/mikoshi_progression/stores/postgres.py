"""The PostgreSQL store, on psycopg 3 and psycopg_pool (the ``[postgres]`` extra).

Two layouts:

- **Own tables** (the default): ``progression_state`` (one row per user) and
  ``progression_ledger`` (one row per change; unique
  ``(user_id, seq)`` and unique ``(user_id, kind, key)`` where ``key`` is not
  null), in ``schema`` if one is given. :meth:`PostgresStore.create_schema`
  creates them.
- **In place** (``users_table="users"``): the progression columns of the
  platform's existing ``users`` rows (``level, exp, last_chat_date (DATE),
  daily_exp_gained, last_exp_reset_date, daily_action_counts (JSONB)``) are read
  and written where they are, keyed by ``id_column``; the row's ``xmin`` (the
  id of the transaction that wrote it last) is the version token, so the
  platform's table needs no new column. The ledger stays in the library's own
  table; nothing ever alters ``users`` or inserts into it: a user without a row
  there is an :class:`~mikoshi_progression.errors.UnknownUserError` ("no such user").
  Legacy values load through :func:`~mikoshi_progression.stores._rows.state_from_row`.

In both layouts the version token is the row's ``xmin``: every write to a row
changes it, whoever makes it, so no edit the store has not seen (the platform's,
an operator's ``UPDATE`` in psql) is ever overwritten, and nothing has to
remember to bump a counter. Own tables also keep a ``version`` column, which
every write of the library increments; ``version_token="counter"`` checks that
instead, for Citus, where ``xmin`` is a per-node system column.

How an award reaches the database (every rule stays in Python):

1. ``load``: one ``SELECT`` of the state row, its version and whether the user
   has a ledger (own tables keep the user's last ledger ``seq`` in the state row,
   so that needs no second lookup); a keyed load joins the key's award and
   revocation into the same row.
2. the service decides with the pure core; ``write`` only buffers.
3. commit: one statement, a data-modifying CTE, does the version-checked
   ``UPDATE`` (or, for a new user, ``INSERT ... ON CONFLICT DO NOTHING``) and
   inserts the ledger rows, numbered after that row's ``seq``, only if the row
   was written. The connection is in autocommit mode, so this single statement
   is the whole transaction: a killed connection leaves the whole award or
   nothing. No row back means another writer got there first
   (:class:`~mikoshi_progression.stores.StaleVersionError`); so does a unique
   violation on the key.

That is **two round trips per award** (one for a repeated keyed award), the
least possible while the decision is made in Python between the read and the
write, and two statements, each prepared on its first use on a connection
(unless ``prepare_threshold=None`` is passed in ``connect_kwargs``).

The **snapshot cache** (``snapshot_cache``, 10,000 users by default, ``0`` for
off) makes an unkeyed award **one round trip**: the load is served from the
snapshot this process last read or wrote for the user, as a guess that the
database checks. The version-checked write refuses a stale guess
(:class:`~mikoshi_progression.stores.StaleSnapshotError`: the service reloads
at once); a transaction that writes nothing re-reads the version before it
returns. Keyed loads and row-locked loads always query. When guesses go wrong
(other processes write the same users), the cache stops guessing, for a user
or for everyone, for a while: see :mod:`~mikoshi_progression.stores._snapshots`.

Locking, measured with the cache off by ``benchmarks/bench_stores.py`` (8 threads, a 2-core VM
running both the clients and PostgreSQL 15, ``synchronous_commit=on``), in two
runs: one while the disk made commits slow (pgbench's single-row ``UPDATE`` at
3,700/s) and one while they were fast (11,500/s). Awards/s:

===========================  ==========  ================  ========
workload                     optimistic  row (FOR UPDATE)  adaptive
===========================  ==========  ================  ========
slow commits, distinct users      1,674             1,339     1,834
slow commits, one hot user          231               297       271
fast commits, distinct users      3,640             2,730     3,344
fast commits, one hot user        1,278             1,279     1,172
===========================  ==========  ================  ========

``"row"`` loads with ``SELECT ... FOR UPDATE`` after a ``BEGIN`` pipelined with
it, and sends the write with ``COMMIT`` (still two round trips, but four
statements and a lock held across the Python decision). On distinct users, the
common case, that is 20-25% slower: pure cost when nobody contends. On one hot
user it turns conflicts into a queue and throws no decision away, which wins
when commits are slow (the optimistic window is then long) and ties when they
are fast. ``"adaptive"``, the default, is optimistic until a write on a user
loses a race, then locks that user's row for the next 5 seconds: it runs at
the optimistic speed on distinct users and near the row-lock speed on a hot
one (the differences left are within the ~15% run-to-run noise of this
machine). Every mode checks the version, so all three are equally correct; the
benchmark verifies zero lost updates and zero cap overshoot in each.

Errors: driver exceptions never leak. Lost connections, administrator
shutdowns, timeouts and a pool that cannot hand out a connection raise
:class:`~mikoshi_progression.errors.StoreUnavailableError` (the service retries
keyed awards on it); serialization failures, deadlocks and unique violations
of the write become ``StaleVersionError``; anything else a ``StoreError`` with
the driver's exception as ``__cause__``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql
    from psycopg.rows import tuple_row
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "PostgresStore needs psycopg 3 and psycopg_pool: "
        "install the [postgres] extra (pip install -e '.[postgres]' from a clone)",
        name=exc.name,
    ) from exc

from ..days import require_aware
from ..errors import (
    InvalidArgumentError,
    InvalidIdError,
    StoreError,
    StoreUnavailableError,
    UnknownUserError,
)
from ..identity import check_id
from ..state import ProgressState
from ._postgres_driver import BAD_VALUE_SQLSTATES, fetchall, open_pool, settle, wrap
from ._postgres_ids import CAST_IN_SQL, TEXT_TYPES, IdType, canonical_id
from ._postgres_sql import (
    ADDED_LEDGER_COLUMNS,
    ENTRY_COLUMNS,
    Names,
    Statements,
    render,
)
from ._rows import counts_from_db, counts_to_json, entry_from_row, state_from_row
from ._snapshots import SnapshotCache, SnapshotCacheInfo
from .base import (
    LedgerEntry,
    SchemaReport,
    Snapshot,
    StaleSnapshotError,
    StaleVersionError,
    StoreTransaction,
    UserActivity,
)

__all__ = ["PostgresStore"]

Locking = Literal["optimistic", "row", "adaptive"]
VersionToken = Literal["xmin", "counter"]


_SCHEMA_LOCK = 0x6D696B6F73686931
"""The advisory lock that serialises concurrent ``create_schema`` calls (b"mikoshi1")."""

_HOT_SECONDS = 5.0
"""Adaptive locking: how long a user stays row-locked after a write lost a race."""
_HOT_USERS_MAX = 10_000
"""Adaptive locking: at most this many users marked."""
DEFAULT_SNAPSHOT_CACHE = 10_000
"""Users whose last snapshot a store remembers by default (a few MB)."""


class PostgresStore:
    """Progression state and ledger in PostgreSQL, safe under concurrent writers.

    Args:
        dsn_or_pool: A libpq connection string or URL, or an open
            ``psycopg_pool.ConnectionPool`` (which the store then uses but never
            closes; its connections are switched to autocommit while borrowed).
        schema: Put the library's tables in this schema (created by
            :meth:`create_schema`, removed by :meth:`drop_schema`); by default
            they go where ``search_path`` says.
        users_table: Run in place on this existing table (``"users"`` or
            ``"platform.users"``) instead of the library's own state table.
        id_column: The key column of ``users_table``.
        min_size: Connections the pool keeps open (own pool only).
        max_size: Connections the pool may open (own pool only).
        locking: ``"adaptive"`` (the default: optimistic, and ``FOR UPDATE``
            for a few seconds on a user whose write just lost a race),
            ``"optimistic"`` (version check at write only) or ``"row"``
            (``SELECT ... FOR UPDATE`` at every load); see the module docs.
        timeout: Seconds to wait for a connection before
            :class:`~mikoshi_progression.errors.StoreUnavailableError`.
        connect_kwargs: Extra ``psycopg.connect`` arguments for an own pool
            (``application_name``, ``prepare_threshold``...).
        table_prefix: Prefix of the library's table names.
        create: Create the library's tables on opening if any is missing (the
            default). Only a missing table triggers DDL, so an application role
            without ``CREATE`` rights works once an operator ran
            :meth:`create_schema`. In place, only the ledger table is created.
        snapshot_cache: Remember the last snapshot of up to this many users in
            this process (about 0.7 KB each) and serve unkeyed loads from it,
            checked by the write (``0``: off). It saves a round trip per award
            when a user's requests reach the same process, and costs one
            refused write a minute per user when they do not.
        version_token: What the version check compares: ``"xmin"`` (the
            default: any write changes it) or ``"counter"`` (own tables only:
            the ``version`` column the library increments; for Citus, where
            rows must then be changed through the library or with ``version``
            bumped).

    Raises:
        StoreError: the connection string is malformed.
        StoreUnavailableError: the server cannot be reached.
        InvalidArgumentError: an option is out of range, or a name is longer than
            PostgreSQL's 63 bytes (``table_prefix``: 51, so that every table fits).
        StoreError: in place, ``users_table`` or its ``id_column`` does not exist.
    """

    def __init__(
        self,
        dsn_or_pool: str | ConnectionPool[Any],
        *,
        schema: str | None = None,
        users_table: str | None = None,
        id_column: str = "id",
        min_size: int = 1,
        max_size: int = 10,
        locking: Locking = "adaptive",
        timeout: float = 10.0,
        connect_kwargs: Mapping[str, Any] | None = None,
        table_prefix: str = "progression_",
        create: bool = True,
        snapshot_cache: int = DEFAULT_SNAPSHOT_CACHE,
        version_token: VersionToken = "xmin",
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
        self._closed = False
        self._names = Names(schema, users_table, id_column, table_prefix)
        self._sql = Statements(self._names, counter=version_token == "counter")
        self._hot: dict[str, float] = {}
        self._hot_lock = threading.Lock()
        self._snapshots = SnapshotCache(snapshot_cache) if snapshot_cache else None
        self._id_type: IdType | None = None
        if isinstance(dsn_or_pool, ConnectionPool):
            self._pool: ConnectionPool[Any] = dsn_or_pool
            self._owns_pool = False
        else:
            self._pool = open_pool(dsn_or_pool, min_size, max_size, timeout, connect_kwargs)
            self._owns_pool = True
        try:
            if users_table is not None:
                self._id_type = self._find_id_type()
            if create and self._schema_behind():
                self.create_schema()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        where = f"users_table={self.users_table!r}" if self.users_table else "own tables"
        return f"<PostgresStore {where} schema={self.schema!r} locking={self.locking!r}>"

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the protocol ----------------------------------------------------------------

    def transaction(self, user_id: str) -> AbstractContextManager[StoreTransaction]:
        return _PostgresTransaction(self, check_id(user_id))

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        user_id = self.check_user_id(user_id)
        with self._connection() as conn:
            rows = fetchall(conn, self._sql.ledger, (user_id,), "read the ledger")
        return [_entry_from_row(user_id, row) for row in rows]

    def create_schema(self) -> None:
        """Create the schema and the library's tables if missing (idempotent, concurrency-safe).

        In place, only the ledger is created: ``users`` is never altered.
        """
        with self._connection() as conn:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    for statement in self._sql.create:
                        conn.execute(statement)
            except psycopg.Error as exc:
                raise wrap(exc, "create the schema") from exc

    def drop_schema(self) -> None:
        """Drop the library's own tables, and ``schema`` if nothing else is left in it.

        Never drops anything the library did not create: in place, ``users`` and
        whatever else shares the schema survive.
        """
        with self._connection() as conn:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    conn.execute(self._sql.drop_tables)
                    if self._sql.drop_schema is not None:
                        try:
                            with conn.transaction():
                                conn.execute(self._sql.drop_schema)
                        except pg_errors.DependentObjectsStillExist:
                            pass  # someone else's tables live there too: keep it
            except psycopg.Error as exc:
                raise wrap(exc, "drop the schema") from exc

    def close(self) -> None:
        """Close the store's own pool (a pool passed in stays open); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_pool:
            self._pool.close()

    # --- optional capabilities --------------------------------------------------------

    def check_schema(self) -> SchemaReport:
        """Which of the tables, columns and unique indexes this store needs are missing.

        The migration guide's checks: in place, the ``users`` table with its id and
        progression columns, and the library's ledger table.
        """
        wanted = self._names.required_columns()
        keys = self._names.unique_keys()
        with self._connection() as conn:
            column_rows = fetchall(
                conn,
                self._sql.columns,
                ([regclass for regclass, _, _ in wanted],),
                "check the schema",
            )
            index_rows = fetchall(
                conn,
                self._sql.unique_indexes,
                (sorted({regclass for regclass, _, _ in keys}),),
                "check the schema",
            )
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
        return SchemaReport(tuple(missing_tables), tuple(missing_columns), tuple(missing_indexes))

    def _schema_behind(self) -> bool:
        """Whether a table of the library's, or a ledger column of a later release, is
        missing (``users`` is not the library's: it is never created or altered)."""
        own = self._names.required_columns()
        if self.users_table is not None:
            own = own[1:]
        with self._connection() as conn:
            rows = fetchall(conn, self._sql.columns, ([r for r, _, _ in own],), "check the schema")
        present: dict[str, set[str]] = {}
        for regclass, column in rows:
            if column is not None:
                present.setdefault(str(regclass), set()).add(str(column))
        ledger = render(self._names.ledger)
        return any(regclass not in present for regclass, _, _ in own) or any(
            column not in present[ledger] for column in ADDED_LEDGER_COLUMNS
        )

    def _find_id_type(self) -> IdType:
        """In place: how ``id_column`` of ``users_table`` spells an id (checked at open)."""
        users = render(self._names.users) if self._names.users is not None else ""
        with self._connection() as conn:
            rows = fetchall(
                conn,
                self._sql.id_type,
                {"t": users, "c": self.id_column},
                "inspect the users table",
            )
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

    def check_user_id(self, user_id: str, field: str = "user_id") -> str:
        """Return ``user_id`` if it is the spelling this store keeps the user under.

        With the library's own tables, or in place on a text id column, every canonical
        string (:func:`~mikoshi_progression.check_id`) is its own spelling. In place on
        an ``integer`` column only the integer's decimal text is (``"5"``, never
        ``"05"``, ``"+5"`` or ``" 5"``); on a ``uuid`` column only the lower-case,
        hyphenated form; on any other type (``numeric``...), the text of the row the
        column's own equality finds for it (one query), else ``CAST(user_id AS type)::text``.

        Raises:
            InvalidIdError: another spelling, or a value the id column cannot hold.
        """
        user_id = check_id(user_id, field)
        id_type = self._id_type
        if id_type is None or id_type.base in TEXT_TYPES:
            return user_id
        canonical = canonical_id(id_type.base, user_id)
        if canonical is CAST_IN_SQL:
            canonical = self._cast_id(user_id, field)
        if canonical != user_id:
            raise self._spelling_error(user_id, canonical, field)
        return user_id

    def _cast_id(self, user_id: str, field: str) -> str | None:
        """The spelling of the row equal to ``user_id`` under the column's own equality
        (``numeric`` 5.0 = 5), or of the value itself when no row has it."""
        assert self._id_type is not None
        assert self._names.users is not None
        query = sql.SQL(
            "SELECT COALESCE((SELECT s.{id}::text FROM {users} AS s "
            "WHERE s.{id} = CAST(%(v)s AS {type}) LIMIT 1), CAST(%(v)s AS {type})::text)"
        ).format(
            id=self._names.id_column,
            users=self._names.users,
            type=sql.SQL(self._id_type.declared),
        )
        with self._connection() as conn:
            try:
                row = conn.execute(query, {"v": user_id}).fetchone()
            except psycopg.Error as exc:
                raise self._wrap_id_error(exc, user_id, "check a user id", field) from exc
        return None if row is None else str(row[0])

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

    def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str:
        """Tie ``key`` of caller ``scope`` to ``request`` unless it is tied already; return
        the request it is tied to. One ``INSERT ... ON CONFLICT DO NOTHING``, and a read
        when the key was taken (then by a committed claim: autocommit sees it)."""
        params = {
            "scope": check_id(scope, "scope"),
            "key": check_id(key, "key"),
            "request": request,
            "at": require_aware(at, "at"),
        }
        with self._connection() as conn:
            rows = fetchall(conn, self._sql.claim, params, "claim a request key")
            if not rows:
                rows = fetchall(conn, self._sql.claimed, params, "read a request key")
        if not rows:  # pragma: no cover - a claimed key is never deleted
            raise StoreError(f"request key {key!r} of {scope!r} vanished after its claim")
        return str(rows[0][0])

    def users_at_daily_cap(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        """Users whose day opened at or after ``since`` and who reached their level's cap."""
        return self._activity(self._sql.at_cap, caps, since, None)

    def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]:
        """Users whose day opened at or after ``since``, by EXP gained today, most first."""
        return self._activity(self._sql.most_active, caps, since, limit)

    def put_state(self, user_id: str, state: ProgressState) -> None:
        """Store ``state`` as is, without a ledger entry (as a legacy row would be).

        In place, the user's row must exist; its progression columns are overwritten.
        """
        user_id = self.check_user_id(user_id)
        params = self._state_params(user_id, state)
        self._forget(user_id)
        with self._connection() as conn:
            rows = fetchall(conn, self._sql.put_state, params, "store a state")
        if not rows:
            raise UnknownUserError(self._no_such_user(user_id))

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

    # --- internals ---------------------------------------------------------------------

    def _activity(
        self,
        query: str,
        caps: Mapping[int, int],
        since: datetime,
        limit: int | None,
    ) -> list[UserActivity]:
        if not caps:
            raise ValueError("caps must map at least one level to its cap")
        levels = sorted(caps)
        params = {
            "levels": levels,
            "caps": [caps[level] for level in levels],
            "last": caps[levels[-1]],
            "since": since,
            "limit": limit,
        }
        with self._connection() as conn:
            rows = fetchall(conn, query, params, "run a monitoring query")
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
        }

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

    def _no_such_user(self, user_id: str) -> str:
        return (
            f"no such user {user_id!r} in {self._names.users_label}: in place, the store "
            "only updates rows the platform created"
        )

    def _connection(self) -> _Borrowed:
        return _Borrowed(self)


class _Borrowed:
    """A pooled connection, lent in autocommit mode with tuple rows, given back as it was."""

    __slots__ = ("_autocommit", "_row_factory", "_store", "conn")

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def __enter__(self) -> psycopg.Connection[Any]:
        store = self._store
        if store._closed:
            raise StoreError("the PostgreSQL store is closed")
        try:
            conn: psycopg.Connection[Any] = store._pool.getconn(timeout=store._timeout)
        except PoolClosed as exc:
            raise StoreError("the PostgreSQL store's connection pool is closed") from exc
        except PoolTimeout as exc:
            raise StoreUnavailableError(
                f"no PostgreSQL connection available within {store._timeout:g} s "
                f"(pool of at most {store._pool.max_size}): {exc}"
            ) from exc
        except psycopg.Error as exc:
            raise wrap(exc, "connect") from exc
        self.conn = conn
        self._autocommit = conn.autocommit
        self._row_factory = conn.row_factory
        try:
            if not self._autocommit:
                conn.autocommit = True
            if self._row_factory is not tuple_row:
                conn.row_factory = tuple_row
        except BaseException:
            self.__exit__()
            raise
        return conn

    def __exit__(self, *exc_info: object) -> None:
        conn = self.conn
        settle(conn, self._autocommit, self._row_factory)
        self._store._pool.putconn(conn)


class _PostgresTransaction:
    """One award: load (one round trip), buffered write, one statement at commit.

    The context manager :meth:`PostgresStore.transaction` returns: it borrows a
    connection on entry, commits on a clean exit, and always gives it back.
    """

    _conn: psycopg.Connection[Any]

    def __init__(self, store: PostgresStore, user_id: str) -> None:
        self._store = store
        self._sql = store._sql
        self._lease = _Borrowed(store)
        self._user_id = user_id
        self._row_lock = store._locks_rows(user_id)
        self._began = False
        self._loaded: Snapshot | None = None
        self._key: str | None = None
        self._speculative = False
        self._pending: tuple[ProgressState, object, Sequence[LedgerEntry]] | None = None

    def __enter__(self) -> _PostgresTransaction:
        self._conn = self._lease.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.abort()
        finally:
            self._lease.__exit__()

    def load(self, key: str | None = None) -> Snapshot:
        self._key = key
        if key is None and not self._row_lock:
            # A keyed load must show the key's ledger rows: it always queries.
            cached = self._store._guess(self._user_id)
            if cached is not None:
                # A guess, checked at commit: by the version-checked write, or by a
                # reload of the version if nothing is written.
                self._speculative = True
                self._loaded = cached
                return cached
        self._loaded = snapshot = self._fetch(key)
        return snapshot

    def _fetch(self, key: str | None) -> Snapshot:
        query = self._sql.load[key is not None, self._row_lock]
        params = {"user": self._user_id, "uid": self._user_id, "key": key}
        conn = self._conn
        try:
            if self._row_lock:
                cur = conn.cursor()
                with conn.pipeline():
                    self._began = True
                    conn.execute("BEGIN")
                    cur.execute(query, params, prepare=True)
                row = cur.fetchone()
            else:
                row = conn.execute(query, params, prepare=True).fetchone()
        except psycopg.Error as exc:
            raise self._store._wrap_id_error(
                exc, self._user_id, f"load user {self._user_id!r}"
            ) from exc
        if row is None or row[6] is None:  # no state row (a keyed load still returns one)
            if self._sql.requires_row:
                raise UnknownUserError(self._store._no_such_user(self._user_id))
            state, version, has_ledger = ProgressState(), None, bool(row and row[7])
        else:
            level, exp, chat, gained, reset, counts, version, has_ledger, found_as = row[:9]
            if found_as != self._user_id:
                # In place on a non-text id column, the row was found under another spelling.
                raise self._store._spelling_error(self._user_id, found_as, "user_id")
            try:
                state = state_from_row(
                    level=level,
                    exp=exp,
                    last_chat_date=chat,
                    daily_exp_gained=gained,
                    last_exp_reset_date=reset,
                    daily_action_counts=counts,
                )
            except (ValueError, TypeError) as exc:
                raise StoreError(
                    f"the stored state of user {self._user_id!r} is unreadable: {exc}"
                ) from exc
        award = revoke = None
        if row is not None and len(row) > 9:
            width = len(ENTRY_COLUMNS)
            award_row, revoke_row = row[9 : 9 + width], row[9 + width :]
            if award_row[0] is not None:
                award = _entry_from_row(self._user_id, award_row)
            if revoke_row[0] is not None:
                revoke = _entry_from_row(self._user_id, revoke_row)
        return Snapshot(
            state,
            version,
            exists=version is not None,
            has_ledger=bool(has_ledger),
            keyed_award=award,
            keyed_revoke=revoke,
        )

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        if self._pending is not None:
            raise StoreError("a store transaction writes at most once")
        self._pending = (state, version, entries)

    def commit(self) -> None:
        if self._pending is None:
            self._finish_read()
            return
        state, version, entries = self._pending
        query = self._sql.write[version is None, len(entries) == 1]
        if query is None:
            raise UnknownUserError(self._store._no_such_user(self._user_id))
        params = self._store._state_params(self._user_id, state)
        params["version"] = None if version is None else str(version)
        params["n"] = len(entries)
        if len(entries) == 1:
            params.update(_entry_params(entries[0]))
        else:
            params["entries"] = _entries_json(entries)
        conn = self._conn
        try:
            if self._began:
                cur = conn.cursor()
                with conn.pipeline():
                    cur.execute(query, params, prepare=True)
                    conn.execute("COMMIT")
                row = cur.fetchone()
            else:
                row = conn.execute(query, params, prepare=True).fetchone()
        except psycopg.Error as exc:
            error = wrap(exc, f"save user {self._user_id!r}", writing=True)
            if not isinstance(error, StaleVersionError):
                self._store._forget(self._user_id)
                raise error from exc
            raise self._stale(str(error)) from exc
        if row is None:
            raise self._stale(
                f"user {self._user_id!r} changed since it was loaded (version {version!r})"
            )
        loaded = self._loaded
        has_ledger = bool(entries) or (loaded is not None and loaded.has_ledger)
        self._store._remember(
            self._user_id, Snapshot(state, row[0], True, has_ledger), guessed=self._speculative
        )

    def _stale(self, message: str) -> StaleVersionError:
        """The error for a write that lost to another writer, remembered for the user."""
        self._store._conflict(self._user_id, self._speculative)
        if self._speculative:
            return StaleSnapshotError(f"{message} (a cached snapshot; reloading)")
        return StaleVersionError(message)

    def _finish_read(self) -> None:
        """End a transaction that wrote nothing; a guessed snapshot must still be current."""
        if self._began:
            try:
                self._conn.execute("COMMIT")
            except psycopg.Error as exc:
                raise wrap(exc, "commit") from exc
        loaded = self._loaded
        if loaded is None:
            return
        if not self._speculative:
            if loaded.exists:
                self._store._remember(
                    self._user_id, replace(loaded, keyed_award=None, keyed_revoke=None)
                )
            return
        if self._fetch(None).version != loaded.version:
            raise self._stale(f"user {self._user_id!r}: the cached snapshot was out of date")
        self._store._remember(self._user_id, loaded, guessed=True)

    def abort(self) -> None:
        # Autocommit: nothing was sent yet. With a row lock, the open transaction is
        # rolled back before the connection goes back to the pool.
        self._pending = None


# --- helpers ----------------------------------------------------------------------------


def _entry_params(entry: LedgerEntry) -> dict[str, Any]:
    """The one ledger row of the single-entry write (the common award)."""
    return {
        "e_kind": str(entry.kind),
        "e_action": entry.action,
        "e_delta": entry.exp_delta,
        "e_before": entry.level_before,
        "e_after": entry.level_after,
        "e_key": entry.key,
        "e_at": entry.at,
        "e_fingerprint": entry.config_fingerprint,
        "e_state": json.dumps(entry.state_after.to_dict(), separators=(",", ":")),
        "e_outcome": entry.outcome,
        "e_actor": entry.actor,
        "e_target": entry.target,
        "e_reason": entry.reason,
    }


def _entries_json(entries: Sequence[LedgerEntry]) -> str:
    return json.dumps(
        [
            {
                "i": i,
                "kind": str(e.kind),
                "action": e.action,
                "exp_delta": e.exp_delta,
                "level_before": e.level_before,
                "level_after": e.level_after,
                "key": e.key,
                "at": e.at.isoformat(),
                "config_fingerprint": e.config_fingerprint,
                "state_after": e.state_after.to_dict(),
                "outcome": e.outcome,
                "actor": e.actor,
                "target": e.target,
                "reason": e.reason,
            }
            for i, e in enumerate(entries, 1)
        ],
        separators=(",", ":"),
    )


def _entry_from_row(user_id: str, row: Sequence[Any]) -> LedgerEntry:
    *values, seq = row  # ENTRY_COLUMNS: the ledger columns after user_id and seq, then seq
    return entry_from_row(user_id, seq, *values)
