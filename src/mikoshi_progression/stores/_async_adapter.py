"""Async stores over the in-memory and SQLite stores: the same store, awaited.

Neither store has an async driver to speak of (``sqlite3`` blocks; the memory store
never waits on I/O), so their async twins run the sync store's own code, and nothing
of it is copied:

- :class:`AsyncInMemoryStore` calls it directly (nothing blocks), one transaction per
  user at a time: a second task on the same user waits on an ``asyncio.Lock``, never
  on the store's thread lock, which would block the event loop.
- :class:`AsyncSQLiteStore` runs every call in a worker thread of its own (two by
  default), so the event loop never waits on the disk or on SQLite's write lock.
  SQLite writes one transaction at a time anyway: write transactions queue on an
  ``asyncio.Lock`` first, so at most one worker thread ever waits for the database's
  lock (against other processes), and reads go on beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ..core.identity import check_id
from ..core.state import ProgressState
from ..errors import InvalidArgumentError
from ._feed import (
    EventsPage,
)
from .base import (
    BatchTransaction,
    LedgerEntry,
    ProgressStore,
    ReplayRow,
    SchemaReport,
    Snapshot,
    StoreTransaction,
    UserActivity,
)
from .memory import InMemoryStore
from .sqlite import SQLiteStore

__all__ = ["AsyncInMemoryStore", "AsyncSQLiteStore"]

T = TypeVar("T")


class _Transaction:
    """An async transaction over a sync one; entered, used and left through ``call``."""

    __slots__ = ("_call", "_context", "_entered", "_release", "_tx")

    def __init__(
        self,
        context: AbstractContextManager[StoreTransaction],
        call: Callable[..., Any],
        release: Callable[[], None],
    ) -> None:
        self._context = context
        self._call = call
        self._release = release
        self._entered = False

    def _enter(self) -> StoreTransaction:
        tx = self._context.__enter__()
        self._entered = True
        return tx

    async def __aenter__(self) -> _Transaction:
        try:
            self._tx = await self._call(self._enter)
        except BaseException as exc:
            try:
                if self._entered:  # cancelled while the worker entered: leave it again
                    await self._call(self._context.__exit__, type(exc), exc, exc.__traceback__)
            finally:
                self._release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self._call(self._context.__exit__, exc_type, exc, traceback)
        finally:
            self._release()

    async def load(self, key: str | None = None) -> Snapshot:
        return await self._call(self._tx.load, key)  # type: ignore[no-any-return]

    async def write(
        self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]
    ) -> None:
        await self._call(self._tx.write, state, version, entries)


class _AsyncOverSync:
    """What the two async stores share: a sync store, and how its calls are made."""

    _store: InMemoryStore | SQLiteStore

    def _lock(self, user_id: str) -> asyncio.Lock:
        raise NotImplementedError

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    @property
    def sync(self) -> ProgressStore:
        """The sync store underneath (shared with sync code in the same process)."""
        return self._store

    def transaction(self, user_id: str) -> _TransactionContext:
        user_id = check_id(user_id)
        return _TransactionContext(self, user_id)

    async def run_in_transaction(self, user_id: str, attempt: Callable[[StoreTransaction], T]) -> T:
        """``attempt(tx)`` in one transaction of the sync store, in one call (one hop to the
        worker thread, for SQLite), under the same lock as :meth:`transaction`."""
        user_id = check_id(user_id)
        async with self._lock(user_id):
            return await self._call(self._attempt, user_id, attempt)

    def _attempt(self, user_id: str, attempt: Callable[[StoreTransaction], T]) -> T:
        with self._store.transaction(user_id) as tx:
            return attempt(tx)

    @property
    def batches(self) -> bool:
        """Whether the sync store underneath runs batches (it does, but read-only SQLite)."""
        return not getattr(self._store, "read_only", False)

    @property
    def combine_users(self) -> bool:
        """Whether the sync store underneath combines awards to different users (SQLite)."""
        return bool(getattr(self._store, "combine_users", False))

    async def run_in_batch(
        self, user_ids: Collection[str], attempt: Callable[[BatchTransaction], T]
    ) -> T:
        """``attempt(tx)`` in one batch transaction of the sync store, in one call, under
        the locks :meth:`transaction` takes for each of the users (taken in sorted order,
        each lock once)."""
        users = sorted({check_id(user_id) for user_id in user_ids})
        async with contextlib.AsyncExitStack() as held:
            taken: set[int] = set()
            for user_id in users:
                lock = self._lock(user_id)
                if id(lock) not in taken:
                    taken.add(id(lock))
                    await held.enter_async_context(lock)
            return await self._call(self._batch, users, attempt)

    def _batch(self, user_ids: list[str], attempt: Callable[[BatchTransaction], T]) -> T:
        with self._store.batch_transaction(user_ids) as tx:
            return attempt(tx)

    async def ledger(self, user_id: str) -> list[LedgerEntry]:
        return await self._call(self._store.ledger, user_id)

    async def read_state(self, user_id: str) -> ProgressState:
        return await self._call(self._store.read_state, user_id)

    async def create_schema(self) -> None:
        await self._call(self._store.create_schema)

    async def check_schema(self) -> SchemaReport:
        return await self._call(self._store.check_schema)

    async def events(self, since: str | None, limit: int) -> EventsPage:
        return await self._call(self._store.events, since, limit)

    async def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str:
        return await self._call(self._store.claim_key, scope, key, request, at)

    async def users_at_daily_cap(
        self, caps: Mapping[int, int], since: datetime
    ) -> list[UserActivity]:
        return await self._call(self._store.users_at_daily_cap, caps, since)

    async def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]:
        return await self._call(self._store.most_active_users, caps, since, limit)

    async def close(self) -> None:
        await self._call(self._store.close)

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _TransactionContext:
    """``async with store.transaction(user_id) as tx``: the lock, then the sync transaction."""

    __slots__ = ("_owner", "_tx", "_user_id")

    def __init__(self, owner: _AsyncOverSync, user_id: str) -> None:
        self._owner = owner
        self._user_id = user_id

    async def __aenter__(self) -> _Transaction:
        owner = self._owner
        lock = owner._lock(self._user_id)
        await lock.acquire()
        try:
            context = owner._store.transaction(self._user_id)
        except BaseException:
            lock.release()
            raise
        self._tx = _Transaction(context, owner._call, lock.release)
        return await self._tx.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._tx.__aexit__(exc_type, exc, traceback)


class AsyncInMemoryStore(_AsyncOverSync):
    """The in-memory store for async code (see the module docs).

    Args:
        store: The :class:`InMemoryStore` to use (shared with sync code); a new one
            by default.
    """

    _store: InMemoryStore

    def __init__(self, store: InMemoryStore | None = None) -> None:
        if store is not None and not isinstance(store, InMemoryStore):
            raise InvalidArgumentError("store", "an InMemoryStore or None", store)
        self._store = InMemoryStore() if store is None else store
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return "<AsyncInMemoryStore>"

    def _lock(self, user_id: str) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return function(*args)

    async def put_state(self, user_id: str, state: ProgressState) -> None:
        """Store ``state`` as is, without a ledger entry (as a legacy row would be)."""
        self._store.put_state(user_id, state)

    def transaction(self, user_id: str) -> _TransactionContext:
        user_id = check_id(user_id)
        # Locks of users with no transaction open are dropped, so the dict stays small.
        if len(self._locks) > 1024:
            self._locks = {u: lock for u, lock in self._locks.items() if lock.locked()}
        return _TransactionContext(self, user_id)


class AsyncSQLiteStore(_AsyncOverSync):
    """The SQLite store for async code: every call in a worker thread (see the module docs).

    Args:
        path: The database file (``":memory:"`` for a private in-memory database).
        workers: Worker threads of this store (at least 1; default 2: one writer, one
            reader beside it).
        **options: :class:`SQLiteStore` options (``timeout``, ``synchronous``,
            ``read_only``, ``table_prefix``...).

    Opening reads (and, if needed, creates) the schema on the calling thread, as
    :class:`SQLiteStore` does: open the store before serving requests, or with
    ``await open_async_store("sqlite:///path.db")``, which opens it in a thread.
    """

    _store: SQLiteStore

    def __init__(self, path: str | Path, *, workers: int = 2, **options: Any) -> None:
        count: object = workers
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise InvalidArgumentError("workers", "an integer of at least 1", workers)
        self._store = SQLiteStore(path, **options)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="mikoshi-sqlite")
        self._writer: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"<AsyncSQLiteStore {self._store.url!r}>"

    @property
    def url(self) -> str:
        """The ``open_store`` URL of the database."""
        return self._store.url

    def _lock(self, user_id: str) -> asyncio.Lock:
        # Made on first use, inside the running loop.
        if self._writer is None:
            self._writer = asyncio.Lock()
        return self._writer

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        # In the task's context, as asyncio.to_thread runs it: a span current in the task
        # (the service's attempt) is current in the worker, where a driver's spans nest.
        call = functools.partial(contextvars.copy_context().run, function, *args)
        future = loop.run_in_executor(self._executor, call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The worker runs on regardless: wait for it, so that the transaction's next
            # step (its exit) never runs beside it on the same connection.
            while not future.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([future])
            raise

    async def migrate(self, *, dry_run: bool = False) -> list[str]:
        """As :meth:`SQLiteStore.migrate`, in a worker thread."""
        return await self._call(functools.partial(self._store.migrate, dry_run=dry_run))

    async def replay_rows(self, user_id: str) -> list[ReplayRow]:
        """As :meth:`SQLiteStore.replay_rows`, in a worker thread."""
        return await self._call(self._store.replay_rows, user_id)

    async def close(self) -> None:
        try:
            await self._call(self._store.close)
        finally:
            self._executor.shutdown(wait=False)
