"""Run the sync store contract and state machine over an async store.

:class:`BlockingStore` is a sync :class:`~mikoshi_progression.stores.ProgressStore`
whose every call runs the async store's coroutine on an event loop of its own, in a
thread of its own. Calls from many threads become many tasks on that one loop, which
is how an async store is used in production: the contract's concurrency checks then
race tasks, not threads, against each other (and processes against each other with
:func:`open_blocking`).

    >>> from mikoshi_progression.stores import AsyncInMemoryStore
    >>> store = BlockingStore(AsyncInMemoryStore)
    >>> with store.transaction("u1") as tx:
    ...     tx.load().exists
    False
    >>> store.close()
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from ..core.state import ProgressState
from ..stores import (
    AsyncProgressStore,
    AsyncStoreTransaction,
    EventsPage,
    LedgerEntry,
    SchemaReport,
    Snapshot,
    StoreTransaction,
    UserActivity,
    open_async_store,
)

__all__ = ["BlockingStore", "open_blocking"]

T = TypeVar("T")

_OPTIONAL = (
    "check_user_id",
    "claim_key",
    "put_state",
    "read_state",
    "replay_rows",
    "check_schema",
    "users_at_daily_cap",
    "most_active_users",
    "drop_schema",
    "events",
    "migrate",
)


class BlockingStore:
    """A sync store over the async store ``open`` makes on the bridge's own event loop.

    Args:
        open: Makes the async store: a class or function, sync or async, called on the
            bridge's loop (so that pools and locks belong to it).

    The optional capabilities (``read_state``, ``claim_key``, ``check_user_id``...) are
    offered exactly when the async store offers them; ``stored_form`` is passed through.
    """

    def __init__(self, open: Callable[[], AsyncProgressStore | Awaitable[AsyncProgressStore]]):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mikoshi-bridge", daemon=True
        )
        self._thread.start()
        self._closed = False

        async def opened() -> AsyncProgressStore:
            store = open()
            return await store if inspect.isawaitable(store) else store

        try:
            self.store: AsyncProgressStore = self._run(opened())
        except BaseException:
            self._stop()
            raise
        for name in _OPTIONAL:
            method = getattr(self.store, name, None)
            if method is not None:
                setattr(self, name, self._blocking(method))
        form = getattr(self.store, "stored_form", None)
        if form is not None:
            self.stored_form = form

    def __repr__(self) -> str:
        return f"<BlockingStore over {self.store!r}>"

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _blocking(self, method: Callable[..., Awaitable[T]]) -> Callable[..., T]:
        def call(*args: Any, **kwargs: Any) -> T:
            async def run() -> T:
                return await method(*args, **kwargs)

            return self._run(run())

        return call

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        context = self.store.transaction(user_id)
        tx = self._run(_enter(context))
        try:
            yield _BlockingTransaction(self, tx)
        except BaseException as exc:
            if not self._run(_exit(context, exc)):
                raise
        else:
            self._run(_exit(context, None))

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        return self._run(self.store.ledger(user_id))

    def create_schema(self) -> None:
        self._run(self.store.create_schema())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self.store.close())
        finally:
            self._stop()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    # Declared for type checkers; set per instance when the async store offers them.
    read_state: Callable[[str], ProgressState]
    claim_key: Callable[[str, str, str, datetime], str]
    check_schema: Callable[[], SchemaReport]
    users_at_daily_cap: Callable[[Mapping[int, int], datetime], list[UserActivity]]
    most_active_users: Callable[..., list[UserActivity]]
    events: Callable[[str | None, int], EventsPage]
    migrate: Callable[..., list[str]]


async def _enter(context: Any) -> AsyncStoreTransaction:
    return await context.__aenter__()  # type: ignore[no-any-return]


async def _exit(context: Any, exc: BaseException | None) -> bool:
    if exc is None:
        return bool(await context.__aexit__(None, None, None))
    return bool(await context.__aexit__(type(exc), exc, exc.__traceback__))


class _BlockingTransaction:
    __slots__ = ("_bridge", "_tx")

    def __init__(self, bridge: BlockingStore, tx: AsyncStoreTransaction) -> None:
        self._bridge = bridge
        self._tx = tx

    def load(self, key: str | None = None) -> Snapshot:
        return self._bridge._run(_load(self._tx, key))

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        self._bridge._run(_write(self._tx, state, version, entries))


async def _load(tx: AsyncStoreTransaction, key: str | None) -> Snapshot:
    return await tx.load(key)


async def _write(
    tx: AsyncStoreTransaction, state: ProgressState, version: object, entries: Sequence[LedgerEntry]
) -> None:
    await tx.write(state, version, entries)


def open_blocking(url: str, **options: Any) -> BlockingStore:
    """``open_store`` for the async stores: a :class:`BlockingStore` over
    ``await open_async_store(url, **options)`` (a process's way to reach the same data)."""
    return BlockingStore(lambda: open_async_store(url, **options))
