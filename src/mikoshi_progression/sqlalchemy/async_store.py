"""``AsyncSQLAlchemyStore``: :class:`~mikoshi_progression.sqlalchemy.SQLAlchemyStore` on an
``AsyncEngine`` (``postgresql+psycopg://`` or ``sqlite+aiosqlite://``).

It runs the very plans of :mod:`._plans` and the schema functions of :mod:`._ddl` (these
through ``AsyncConnection.run_sync``): what it does differs from the sync store only by
``await``. Opening needs no I/O; the schema is created (``create=True``) and, in place,
the id column's type found on first use.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)

from ..core.days import require_aware
from ..core.identity import check_id
from ..core.state import ProgressState
from ..errors import InvalidArgumentError, SchemaOutdatedError, StoreError
from ..stores._feed import (
    EventsPage,
)
from ..stores.async_base import AsyncStoreTransaction
from ..stores.base import (
    LedgerEntry,
    SchemaReport,
    Snapshot,
    StaleVersionError,
    UserActivity,
    at_daily_cap,
    rank_activity,
)
from . import _ddl, _plans, _reads
from ._options import Options, stored_form
from ._plans import Plan, wrap

__all__ = ["AsyncSQLAlchemyStore", "run"]

T = TypeVar("T")


async def run(conn: AsyncConnection, plan: Plan[T]) -> T:
    """Run ``plan`` on ``conn`` (see :func:`mikoshi_progression.sqlalchemy.store.run`)."""
    try:
        step = next(plan)
        while True:
            try:
                result = await conn.execute(step.statement, step.params)
                rows: Sequence[Any] = result.all() if result.returns_rows else ()
            except SQLAlchemyError as exc:
                raise wrap(exc, step.doing, writing=step.writing) from exc
            step = plan.send(rows)
    except StopIteration as done:
        value: T = done.value
        return value


async def _sync(conn: AsyncConnection, work: Callable[[Connection], T], doing: str) -> T:
    try:
        return await conn.run_sync(work)
    except SQLAlchemyError as exc:
        raise wrap(exc, doing) from exc


class AsyncSQLAlchemyStore:
    """Progression state and ledger through a SQLAlchemy ``AsyncEngine``.

    The arguments are those of :class:`~mikoshi_progression.sqlalchemy.SQLAlchemyStore`
    (``engine`` an ``AsyncEngine`` or an async URL); :meth:`join` takes an
    ``AsyncSession`` or ``AsyncConnection``.
    """

    def __init__(
        self,
        engine: AsyncEngine | str,
        *,
        schema: str | None = None,
        table_prefix: str = "progression_",
        users_table: str | None = None,
        id_column: str = "id",
        tables: Any = None,
        create: bool = True,
    ) -> None:
        self._owns_engine = not isinstance(engine, AsyncEngine)
        if isinstance(engine, AsyncEngine):
            self.engine = engine
        else:
            try:
                self.engine = create_async_engine(engine)
            except (ArgumentError, ImportError, ValueError) as exc:
                raise InvalidArgumentError(
                    "engine", "an AsyncEngine or an async SQLAlchemy URL", engine
                ) from exc
        self._options = Options.build(
            self.engine.dialect.name, schema, table_prefix, users_table, id_column, tables
        )
        self.tables = self._options.layout.tables
        self._create = create
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self._closed = False

    @property
    def _layout(self) -> _plans.Layout:
        return self._options.layout

    def __repr__(self) -> str:
        where = self._options.describe()
        return f"<AsyncSQLAlchemyStore {self.engine.url.render_as_string()!r} {where}>"

    async def __aenter__(self) -> AsyncSQLAlchemyStore:
        await self.open()
        return self

    async def open(self) -> None:
        """Create the missing tables (with ``create=True``) and, in place, learn the id
        column's type now rather than on first use (idempotent). An app calls it at
        start-up, so that no request waits for it, or takes a second connection for it."""
        await self._prepare()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- the protocol ----------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, user_id: str) -> AsyncIterator[AsyncStoreTransaction]:
        """A transaction of the store's own on ``user_id``; commits on a clean exit."""
        user_id = await self.check_user_id(user_id)
        async with self._connect() as conn:
            try:
                await run(conn, _plans.begin(self._layout, conn.dialect.name))
                yield _Transaction(self, conn, user_id)
            except BaseException:
                with suppress(SQLAlchemyError):
                    await conn.rollback()
                raise
            try:
                await conn.commit()
            except SQLAlchemyError as exc:
                raise wrap(exc, "commit") from exc

    def join(
        self, within: object, user_id: str
    ) -> AbstractAsyncContextManager[AsyncStoreTransaction]:
        """A transaction on ``user_id`` in a SAVEPOINT of the caller's ``AsyncSession`` or
        ``AsyncConnection`` (see :meth:`SQLAlchemyStore.join`)."""
        if not isinstance(within, AsyncSession | AsyncConnection):
            raise InvalidArgumentError(
                "within", "a SQLAlchemy AsyncSession or AsyncConnection in a transaction", within
            )
        return self._join(within, user_id)

    @asynccontextmanager
    async def _join(
        self, within: AsyncSession | AsyncConnection, user_id: str
    ) -> AsyncIterator[AsyncStoreTransaction]:
        user_id = await self.check_user_id(user_id)
        try:
            conn = await within.connection() if isinstance(within, AsyncSession) else within
            await run(conn, _plans.begin(self._layout, conn.dialect.name))
            nested: Any = await within.begin_nested()
        except SQLAlchemyError as exc:
            raise wrap(exc, "open a savepoint") from exc
        try:
            yield _Transaction(self, conn, user_id)
        except BaseException:
            with suppress(SQLAlchemyError):
                await nested.rollback()
            raise
        try:
            await nested.commit()
        except SQLAlchemyError as exc:
            raise wrap(exc, "release the savepoint") from exc

    async def ledger(self, user_id: str) -> list[LedgerEntry]:
        """The user's ledger, oldest first, with ``seq`` set."""
        user_id = await self.check_user_id(user_id)
        return await self._read(_reads.ledger(self._layout, user_id))

    async def create_schema(self) -> None:
        """Create the library's missing tables (see :meth:`SQLAlchemyStore.create_schema`)."""
        async with self._connect(prepare=False) as conn:
            await _sync(conn, lambda c: _ddl.create_tables(self.tables, c), "create the schema")
            await _sync(conn, lambda c: c.commit(), "create the schema")
            await self._schema_found(conn)

    async def _schema_found(self, conn: AsyncConnection) -> bool:
        """Read the tables' version and run the plans of it; whether they are current."""
        version = await _sync(
            conn, lambda c: _ddl.schema_version(self.tables, c), "check the schema"
        )
        return self._options.schema_found(version)

    async def events(self, since: str | None, limit: int) -> EventsPage:
        """As :meth:`SQLAlchemyStore.events`, awaited."""
        dialect = self.engine.dialect.name
        async with self._connect() as conn:
            if not self._layout.levers:
                await self._schema_found(conn)  # another process may have migrated them
            return await run(conn, _reads.events(self._layout, dialect, since, limit))

    async def drop_schema(self) -> None:
        """Drop the library's own tables (never ``users``, never a schema)."""
        async with self._connect(prepare=False) as conn:
            await _sync(conn, lambda c: _ddl.drop_tables(self.tables, c), "drop the schema")
            await _sync(conn, lambda c: c.commit(), "drop the schema")

    async def close(self) -> None:
        """Dispose of the store's own engine (an engine passed in stays open); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_engine:
            await self.engine.dispose()

    # --- optional capabilities --------------------------------------------------------

    async def check_schema(self) -> SchemaReport:
        """Which of the tables, columns and unique keys this store needs are missing."""
        async with self._connect(prepare=False) as conn:
            report = _ddl.schema_report
            return await _sync(conn, lambda c: report(self.tables, c), "check the schema")

    async def read_state(self, user_id: str) -> ProgressState:
        """The user's committed state, read without locking it (a new user's if unknown)."""
        user_id = await self.check_user_id(user_id)
        return await self._read(_reads.read_state(self._layout, user_id))

    async def check_user_id(self, user_id: str, field: str = "user_id") -> str:
        """Return ``user_id`` if it is the spelling this store keeps the user under."""
        user_id = check_id(user_id, field)
        await self._prepare()
        if not self._layout.in_place:
            return user_id
        canonical = _plans.answered_without_io(_plans.canonical_spelling(self._layout, user_id))
        if canonical is _plans.NEEDS_A_QUERY:
            canonical = await self._read(_plans.canonical_spelling(self._layout, user_id))
        if canonical != user_id:
            raise _plans.spelling_error(self._layout, user_id, canonical, field)
        return user_id

    async def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str:
        """Tie ``key`` of caller ``scope`` to ``request`` unless it is tied already; return
        the request it is tied to."""
        plan = _reads.claim_key(
            self._layout,
            self.engine.dialect.name,
            check_id(scope, "scope"),
            check_id(key, "key"),
            request,
            require_aware(at, "at"),
        )
        async with self._connect() as conn:
            claimed = await run(conn, plan)
            try:
                await conn.commit()
            except SQLAlchemyError as exc:
                raise wrap(exc, "claim a request key") from exc
        return claimed

    async def users_at_daily_cap(
        self, caps: Mapping[int, int], since: datetime
    ) -> list[UserActivity]:
        """Users whose day opened at or after ``since`` and who reached their level's cap."""
        return at_daily_cap(await self._activity(caps, since))

    async def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]:
        """Users whose day opened at or after ``since``, by EXP gained today, most first."""
        return (await self._activity(caps, since))[:limit]

    def stored_form(self, state: ProgressState) -> ProgressState:
        """``state`` as this store reads it back (in place, ``last_chat_date`` is a DATE)."""
        return stored_form(self._layout, state)

    # --- internals ---------------------------------------------------------------------

    async def _activity(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        since = require_aware(since, "since")
        states = await self._read(_reads.activity(self._layout, since))
        return rank_activity(states, caps, since)

    async def _read(self, plan: Plan[T]) -> T:
        async with self._connect() as conn:
            return await run(conn, plan)

    async def _prepare(self) -> None:
        """On first use: create what is missing (``create=True``), find the id type in place."""
        async with self._ready_lock:
            if self._ready:
                return
            async with self._connect(prepare=False) as conn:
                if self._layout.in_place:
                    self._options.id_type_found(await run(conn, _plans.find_id_type(self._layout)))
                behind = False
                if self._create:
                    check = _ddl.schema_behind
                    behind = await _sync(conn, lambda c: check(self.tables, c), "check the schema")
            if behind:
                await self.create_schema()
            else:
                async with self._connect(prepare=False) as conn:
                    await self._schema_found(conn)
            self._ready = True

    @asynccontextmanager
    async def _connect(self, *, prepare: bool = True) -> AsyncIterator[AsyncConnection]:
        if self._closed:
            raise StoreError("the SQLAlchemy store is closed")
        if prepare:
            await self._prepare()
        try:
            conn = await self.engine.connect()
        except SQLAlchemyError as exc:
            raise wrap(exc, "connect") from exc
        try:
            yield conn
        finally:
            await conn.close()


class _Transaction:
    """One user's transaction on an async connection: load, then at most one write."""

    __slots__ = ("_conn", "_layout", "_store", "_user_id", "_written")

    def __init__(self, store: AsyncSQLAlchemyStore, conn: AsyncConnection, user_id: str) -> None:
        self._store = store
        self._layout = store._layout
        self._conn = conn
        self._user_id = user_id
        self._written = False

    async def load(self, key: str | None = None) -> Snapshot:
        plan = _plans.load(self._layout, self._conn.dialect.name, self._user_id, key)
        return await run(self._conn, plan)

    async def write(
        self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]
    ) -> None:
        if self._written:
            raise StoreError("a store transaction writes at most once")
        self._written = True
        plan = _plans.write(
            self._layout, self._conn.dialect.name, self._user_id, state, version, entries
        )
        try:
            await run(self._conn, plan)
        except SchemaOutdatedError:
            # See SQLAlchemyStore: migrated since this store looked? Then load again.
            if await self._store._schema_found(self._conn):
                raise StaleVersionError(
                    f"the tables were migrated since user {self._user_id!r} was loaded"
                ) from None
            raise
