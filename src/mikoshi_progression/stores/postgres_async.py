# The source of postgres.py: tools/async_to_sync.py generates the synchronous PostgresStore
# from this module (python tools/async_to_sync.py), so that the two stores are one piece of
# code. Edit this file, never the generated one; the markers "# sync: ..." and
# "# async-only" are the tool's (see its docstring).
"""The PostgreSQL store, on psycopg 3 and psycopg_pool (the ``[postgres]`` extra).

Two layouts:

- **Own tables** (the default): ``progression_state`` (one row per user) and
  ``progression_ledger`` (one row per change; unique
  ``(user_id, seq)`` and unique ``(user_id, kind, key)`` where ``key`` is not
  null), in ``schema`` if one is given. :meth:`AsyncPostgresStore.create_schema`
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
(unless ``prepare_threshold=None`` is passed in ``connect_kwargs``, as a pooler in
transaction mode needs) and sent through the one cursor that connection keeps.

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

# sync: import threading
import asyncio  # async-only
from collections.abc import Collection, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "AsyncPostgresStore needs psycopg 3 and psycopg_pool: "
        "install the [postgres] extra (pip install -e '.[postgres]' from a clone)",
        name=exc.name,
    ) from exc

from ..core.identity import check_id
from ..core.state import ProgressState
from ..errors import StoreError, UnknownUserError, UnsupportedStoreError
from . import _postgres_citus, _postgres_schema
from ._feed import (
    EventsPage,
)
from ._postgres_batch_async import AsyncPostgresBatch
from ._postgres_common import (
    DEFAULT_SNAPSHOT_CACHE,
    SCHEMA_LOCK,
    Locking,
    PostgresCommon,
    VersionToken,
)
from ._postgres_driver import pool_kwargs, wrap
from ._postgres_ids import CAST_IN_SQL, IdType
from ._postgres_io_async import Borrowed, fetch_streamed, fetchall, open_pool
from ._postgres_sql import render
from ._postgres_tx_async import AsyncOneUserBatch, AsyncPostgresTransaction
from ._replay_rows import postgres_replay_query, replay_rows_from_naive_utc
from ._rows import entry_from_columns
from .async_base import AsyncBatchTransaction, AsyncStoreTransaction
from .base import (
    LedgerEntry,
    ReplayRow,
    SchemaReport,
    UserActivity,
)

__all__ = ["AsyncPostgresStore"]


class AsyncPostgresStore(PostgresCommon):
    """Progression state and ledger in PostgreSQL, safe under concurrent writers.

    Args:
        dsn_or_pool: A libpq connection string or URL, or an open
            ``psycopg_pool.AsyncConnectionPool`` (which the store then uses but never
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

    The store works once :meth:`open` has run (the synchronous store's constructor runs
    it): it opens the store's own pool, checks an in-place table and creates missing tables
    (``create``).

    Raises:
        InvalidArgumentError: an option is out of range, or a name is longer than
            PostgreSQL's 63 bytes (``table_prefix``: 51, so that every table fits).
        StoreError: the connection string is malformed.
        StoreUnavailableError: the server cannot be reached (on opening).
        StoreError: in place, ``users_table`` or its ``id_column`` does not exist (on
            opening).
    """

    def __init__(
        self,
        dsn_or_pool: str | AsyncConnectionPool[Any],
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
        super().__init__(
            schema=schema,
            users_table=users_table,
            id_column=id_column,
            locking=locking,
            timeout=timeout,
            table_prefix=table_prefix,
            create=create,
            snapshot_cache=snapshot_cache,
            version_token=version_token,
        )
        self._pool: AsyncConnectionPool[Any] | None = None
        self._open_lock = asyncio.Lock()
        self._owns_pool = not isinstance(dsn_or_pool, AsyncConnectionPool)
        if isinstance(dsn_or_pool, AsyncConnectionPool):
            self._given_pool: AsyncConnectionPool[Any] | None = dsn_or_pool
            self._pool_args: tuple[str, int, int, float, dict[str, Any]] | None = None
        else:
            self._given_pool = None
            kwargs = pool_kwargs(dsn_or_pool, timeout, connect_kwargs)
            self._pool_args = (dsn_or_pool, min_size, max_size, timeout, kwargs)
        # sync: self.open()

    async def open(self) -> None:
        """Open the store, unless it is open: connect its own pool (a pool passed in must
        be open already), then, in place, look at the id column's type, then create the
        tables ``create`` asks for. Call it, or enter ``async with store:`` (which calls it),
        before anything else: a constructor cannot await. Safe to call again, and from
        several tasks at once. If it fails (or is cancelled), what it opened is closed
        again and the store stays unopened: it may be called again later.

        Raises:
            StoreUnavailableError: the server cannot be reached.
            StoreError: the store was closed; or, in place, ``users_table`` or its
                ``id_column`` does not exist.
        """  # async-only
        # sync: """Open the store, unless it is open: the constructor did. Kept so that code
        # sync: written for either store reads alike; a closed store raises StoreError."""
        async with self._open_lock:
            if self._closed:
                raise StoreError("the PostgreSQL store is closed")
            if self._pool is not None:
                return
            args = self._pool_args
            pool = self._given_pool if args is None else await open_pool(*args)
            self._pool = pool
            try:
                if self.users_table is not None:
                    self._id_type = await self._find_id_type()
                found = await self._inspect()
                _postgres_citus.refuse_xmin(self._names, self.version_token, found.placements)
                if self._create and _postgres_schema.plan(found, self._names, migrate=False):
                    await self._change_schema(migrate=False)
                else:
                    self._use(found)
            except BaseException:  # an interrupted opening too
                # What this call opened is closed again; the store stays unopened.
                self._pool = None
                if pool is not None and self._owns_pool:
                    await pool.close()
                raise

    async def __aenter__(self) -> AsyncPostgresStore:
        await self.open()  # async-only
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- the protocol ----------------------------------------------------------------

    def transaction(self, user_id: str) -> AbstractAsyncContextManager[AsyncStoreTransaction]:
        return AsyncPostgresTransaction(self, check_id(user_id), Borrowed(self), self._inspect)

    def batch_transaction(
        self, user_ids: Collection[str]
    ) -> AbstractAsyncContextManager[AsyncBatchTransaction]:
        """One transaction on many users' rows (``award_many``, combined awards): the rows
        locked in one statement, every state and ledger row written in two (see
        :mod:`._postgres_batch_async`). Only where :attr:`batches` is true."""
        users = {check_id(user_id) for user_id in user_ids}
        if len(users) == 1:
            return AsyncOneUserBatch(
                AsyncPostgresTransaction(self, users.pop(), Borrowed(self), self._inspect)
            )
        if not self.batches:
            raise UnsupportedStoreError(
                "batches run on the library's own tables at the current schema, not "
                f"{self._where()}"
            )
        return AsyncPostgresBatch(self, users)

    async def ledger(self, user_id: str) -> list[LedgerEntry]:
        user_id = await self.check_user_id(user_id)
        async with self._connection() as conn:
            rows = await fetchall(conn, self._sql.ledger, (user_id,), "read the ledger")
        return [entry_from_columns(user_id, row) for row in rows]

    async def replay_rows(self, user_id: str) -> list[ReplayRow]:
        """The user's ledger as a replay folds it (see :class:`.ReplayReader`), streamed."""
        user_id = await self.check_user_id(user_id)
        query = postgres_replay_query(render(self._names.ledger))
        async with self._connection() as conn:
            rows = await fetch_streamed(conn, query, (user_id,), "read the ledger")
        return replay_rows_from_naive_utc(user_id, rows)

    async def create_schema(self, *, distributed: bool = False) -> None:
        """Create the schema and the library's missing tables (idempotent, concurrency-safe).

        In place, only the library's own tables are created: ``users`` is never altered.
        Tables of an earlier release get what that release's store would have added
        (ledger columns, the kind ``CHECK``), not the levers' columns: :meth:`migrate`.
        ``distributed`` (on Citus, with ``version_token="counter"``; else
        InvalidArgumentError): distribute the own tables not yet distributed, state and
        ledger by ``user_id``, co-located (:mod:`._postgres_citus`), in the same transaction.
        """
        if distributed:
            _postgres_citus.refuse_xmin(self._names, self.version_token, {}, distributing=True)
        await self._change_schema(migrate=False, distributed=distributed)

    async def migrate(self, *, dry_run: bool = False) -> list[str]:
        """Bring the tables to the current schema, keeping every row (in place, add the
        columns the store needs that ``users`` lacks, and no other): see
        :mod:`._postgres_schema`. Returns the statements run (``dry_run``: that a run would
        execute, changing nothing); ``[]`` when up to date. Idempotent; one transaction
        under ``create_schema``'s advisory lock.
        """
        if dry_run:
            return _postgres_schema.plan(await self._inspect(), self._names, migrate=True)
        return await self._change_schema(migrate=True)

    async def _change_schema(self, *, migrate: bool, distributed: bool = False) -> list[str]:
        """Run :func:`._postgres_schema.plan` in one transaction, under the schema lock."""
        doing = "migrate the schema" if migrate else "create the schema"
        async with self._connection() as conn:
            try:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                    found = await self._inspect(conn)
                    statements = _postgres_schema.plan(
                        found, self._names, migrate=migrate, distributed=distributed
                    )
                    for statement in statements:
                        await conn.execute(statement)
                    if statements:
                        found = await self._inspect(conn)
            except psycopg.Error as exc:
                raise wrap(exc, doing) from exc
        self._use(found)
        return statements

    async def _inspect(
        self, conn: psycopg.AsyncConnection[Any] | None = None
    ) -> _postgres_schema.Found:
        """What the database holds of the store's schema (on ``conn``, or a connection of
        the pool)."""
        if conn is None:
            async with self._connection() as borrowed:
                return await self._inspect(borrowed)
        params = _postgres_schema.inspect_params(self._names)
        rows = await fetchall(conn, _postgres_schema.INSPECT, params, "inspect the schema")
        found = _postgres_schema.inspection(rows)
        if params["tables"][2] in found.columns:  # the migrations table exists
            versions = await fetchall(
                conn, _postgres_schema.versions_query(self._names), (), "inspect the schema"
            )
            found = _postgres_schema.inspection(rows, versions)
        if found.citus and (own := _postgres_citus.tables(self._names)):
            placed = await fetchall(conn, _postgres_citus.PLACEMENTS, (own,), "inspect Citus")
            found = replace(found, placements=_postgres_citus.placements(placed))
        return found

    async def drop_schema(self) -> None:
        """Drop the library's own tables, and ``schema`` if nothing else is left in it.

        Never drops anything the library did not create: in place, ``users`` and
        whatever else shares the schema survive.
        """
        async with self._connection() as conn:
            try:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                    await conn.execute(self._sql.drop_tables)
                    if self._sql.drop_schema is not None:
                        try:
                            async with conn.transaction():
                                await conn.execute(self._sql.drop_schema)
                        except pg_errors.DependentObjectsStillExist:
                            pass  # someone else's tables live there too: keep it
            except psycopg.Error as exc:
                raise wrap(exc, "drop the schema") from exc

    async def close(self) -> None:
        """Close the store's own pool (a pool passed in stays open); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_pool and self._pool is not None:
            await self._pool.close()

    # --- optional capabilities --------------------------------------------------------

    async def check_schema(self) -> SchemaReport:
        """Which of the tables, columns and unique indexes this store needs are missing.

        The migration guide's checks: in place, the ``users`` table with its id and
        progression columns, and the library's ledger table. On Citus, also the own
        tables not distributed, or not co-located, as :mod:`._postgres_citus` says.
        """
        tables, indexed = self._schema_tables()
        async with self._connection() as conn:
            column_rows = await fetchall(conn, self._sql.columns, (tables,), "check the schema")
            index_rows = await fetchall(
                conn, self._sql.unique_indexes, (indexed,), "check the schema"
            )
            found = await self._inspect(conn)
        report = self._schema_report(column_rows, index_rows)
        return _postgres_citus.with_placements(
            report,
            self._names,
            citus=found.citus,
            columns=found.columns,
            placements=found.placements,
        )

    async def _find_id_type(self) -> IdType:
        """In place: how ``id_column`` of ``users_table`` spells an id (checked at open)."""
        async with self._connection() as conn:
            rows = await fetchall(
                conn, self._sql.id_type, self._id_type_params(), "inspect the users table"
            )
        return self._id_type_from(rows)

    async def check_user_id(self, user_id: str, field: str = "user_id") -> str:
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
        canonical = self._canonical(user_id)
        if canonical is CAST_IN_SQL:
            canonical = await self._cast_id(user_id, field)
        if canonical != user_id:
            raise self._spelling_error(user_id, canonical, field)
        return user_id

    async def _cast_id(self, user_id: str, field: str) -> str | None:
        """The spelling of the row equal to ``user_id`` under the column's own equality
        (``numeric`` 5.0 = 5), or of the value itself when no row has it."""
        query = self._cast_query()
        async with self._connection() as conn:
            try:
                cursor = await conn.execute(query, {"v": user_id})
                row = await cursor.fetchone()
            except psycopg.Error as exc:
                raise self._wrap_id_error(exc, user_id, "check a user id", field) from exc
        return None if row is None else str(row[0])

    async def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str:
        """Tie ``key`` of caller ``scope`` to ``request`` unless it is tied already; return
        the request it is tied to. One ``INSERT ... ON CONFLICT DO NOTHING``, and a read
        when the key was taken (then by a committed claim: autocommit sees it)."""
        params = self._claim_params(scope, key, request, at)
        async with self._connection() as conn:
            rows = await fetchall(conn, self._sql.claim, params, "claim a request key")
            if not rows:
                rows = await fetchall(conn, self._sql.claimed, params, "read a request key")
        if not rows:  # pragma: no cover - a claimed key is never deleted
            raise StoreError(f"request key {key!r} of {scope!r} vanished after its claim")
        return str(rows[0][0])

    async def events(self, since: str | None, limit: int) -> EventsPage:
        """The events of ledger entries committed after ``since``, oldest first: in
        ``(txid, user_id, seq)`` order, of transactions older than the oldest one still
        running (``pg_snapshot_xmin``), so that a cursor never passes a transaction that
        commits late (``docs/stores.md``, "The events feed").

        Raises:
            SchemaOutdatedError: the tables are of an earlier version (migrate them).
            InvalidArgumentError: ``since`` is no cursor of this store.
        """
        if not self._sql.levers:  # unless another process migrated the tables since
            self._use(await self._inspect())
        params = self._feed_params(since, limit)
        async with self._connection() as conn:
            rows = await fetchall(conn, self._sql.feed, params, "read the events")
        return self._feed_page(rows, since, limit)

    async def users_at_daily_cap(
        self, caps: Mapping[int, int], since: datetime
    ) -> list[UserActivity]:
        """Users whose day opened at or after ``since`` and who reached their level's cap."""
        return await self._activity(self._sql.at_cap, caps, since, None)

    async def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]:
        """Users whose day opened at or after ``since``, by EXP gained today, most first."""
        return await self._activity(self._sql.most_active, caps, since, limit)

    async def put_state(self, user_id: str, state: ProgressState) -> None:
        """Store ``state`` as is, without a ledger entry (as a legacy row would be).

        In place, the user's row must exist; its progression columns are overwritten.
        """
        user_id = await self.check_user_id(user_id)
        params = self._state_params(user_id, state)
        self._forget(user_id)
        async with self._connection() as conn:
            rows = await fetchall(conn, self._sql.put_state, params, "store a state")
        if not rows:
            raise UnknownUserError(self._no_such_user(user_id))

    # --- internals ---------------------------------------------------------------------

    async def _activity(
        self,
        query: str,
        caps: Mapping[int, int],
        since: datetime,
        limit: int | None,
    ) -> list[UserActivity]:
        params = self._activity_params(caps, since, limit)
        async with self._connection() as conn:
            rows = await fetchall(conn, query, params, "run a monitoring query")
        return self._activity_from(rows)

    def _connection(self) -> Borrowed:
        return Borrowed(self)
