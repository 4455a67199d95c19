# The source of _postgres_tx.py: tools/async_to_sync.py generates that module from this one
# (python tools/async_to_sync.py). Edit this file, never the generated one; the markers
# "# sync: ..." and "# async-only" are the tool's (see its docstring).
"""The PostgreSQL store's transactions: one user's award (load, buffered write, one
statement at commit), and a batch of one user (a hot user's combined awards).

What needs no I/O is :mod:`._postgres_transaction`'s; the store is :mod:`.postgres_async`.
"""

from __future__ import annotations

import json
import typing  # async-only
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import psycopg

from ..core.state import ProgressState
from ..errors import SchemaOutdatedError, StoreError
from ._postgres_batch_async import many_statements, one_statement, rows_of
from ._postgres_batch_sql import keyed_by_user
from ._postgres_common import PostgresCommon
from ._postgres_driver import wrap
from ._postgres_io_async import Borrowed
from ._postgres_schema import Found
from ._postgres_transaction import TransactionCommon
from .base import LedgerEntry, Snapshot, UserWrite

Inspect = Callable[
    [psycopg.AsyncConnection[Any] | None], typing.Awaitable[Found]
]  # sync: Inspect = Callable[[psycopg.Connection[Any] | None], Found]
"""How the store reads its schema again (``_inspect``) on a connection it lent."""

__all__ = [
    "AsyncOneUserBatch",
    "AsyncPostgresTransaction",
]  # sync: __all__ = ["OneUserBatch", "PostgresTransaction"]


class AsyncPostgresTransaction(TransactionCommon):
    """One award: load (one round trip), buffered write, one statement at commit.

    The context manager :meth:`AsyncPostgresStore.transaction` returns: it borrows a
    connection on entry, commits on a clean exit, and always gives it back.
    """

    _conn: psycopg.AsyncConnection[Any]

    def __init__(
        self,
        store: PostgresCommon,
        user_id: str,
        lease: Borrowed,
        inspect: Inspect,
    ) -> None:
        super().__init__(store, user_id)
        self._lease = lease
        self._inspect = inspect

    async def __aenter__(self) -> AsyncPostgresTransaction:
        self._conn = await self._lease.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        try:
            if exc_type is None:
                await self.commit()
            else:
                self.abort()
        finally:
            await self._lease.__aexit__()

    async def load(self, key: str | None = None) -> Snapshot:
        cached = self._cached(key)
        if cached is not None:
            return cached
        self._loaded = snapshot = await self._fetch(key)
        return snapshot

    async def load_keys(self, keys: Collection[str]) -> Snapshot:
        """The snapshot, with the entries of every key in ``keys`` in its ``keyed_awards``
        (a hot user's combined awards): one round trip, the state still served from the
        cache where a plain load would be (no round trip at all without keys)."""
        if not keys:
            return await self.load()
        snapshot = self._cached(None)
        conn = self._conn
        cursor = conn.cursor()
        batch_sql = self._store._batch_sql
        try:
            async with conn.pipeline():
                if snapshot is None:
                    if self._row_lock:
                        self._began = True
                        await conn.execute("BEGIN")
                    query, params = self._load_params(None)
                    await cursor.execute(query, params, prepare=True)
                # After the state's statement, so that it sees every key the state holds
                # (see ``Statements.keyed_entries``); on Citus a statement per key, routed.
                if self._store._routed_batches:
                    wanted = [{"user": self._user_id, "key": key} for key in keys]
                    keyed = await many_statements(conn, batch_sql.keyed_one, wanted)
                else:
                    pairs = [{"user_id": self._user_id, "key": key} for key in keys]
                    keyed = await one_statement(conn, batch_sql.keyed, {"keys": json.dumps(pairs)})
            if snapshot is None:
                self._loaded = snapshot = self._snapshot(await cursor.fetchone())
            key_rows = await rows_of(keyed)
        except psycopg.Error as exc:
            doing = f"load user {self._user_id!r}"
            raise self._store._wrap_id_error(exc, self._user_id, doing) from exc
        return replace(snapshot, keyed_awards=keyed_by_user(key_rows).get(self._user_id, {}))

    async def _fetch(self, key: str | None) -> Snapshot:
        query, params = self._load_params(key)
        conn = self._conn
        try:
            if self._row_lock:
                cursor = conn.cursor()
                keyed = conn.cursor()
                async with conn.pipeline():
                    self._began = True
                    await conn.execute("BEGIN")
                    if key is None:
                        await cursor.execute(query, params, prepare=True)
                    else:  # the state locked, then the key's entries (see Statements)
                        unkeyed, _ = self._load_params(None)
                        await cursor.execute(unkeyed, params, prepare=True)
                        await keyed.execute(self._sql.keyed_entries, params, prepare=True)
                row = await cursor.fetchone()
                if key is not None:
                    state = row or (None,) * (9 + self._sql.lever_width)
                    row = (*state, *(await keyed.fetchone() or ()))
            else:
                cursor = self._lease.cursor()
                await cursor.execute(query, params, prepare=True)
                row = await cursor.fetchone()
        except psycopg.Error as exc:
            doing = f"load user {self._user_id!r}"
            raise self._store._wrap_id_error(exc, self._user_id, doing) from exc
        return self._snapshot(row)

    async def write(
        self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]
    ) -> None:
        self._buffer(state, version, entries)

    async def commit(self) -> None:
        if self._pending is None:
            await self._finish_read()
            return
        try:
            query, params = self._write_statement()
        except SchemaOutdatedError:
            # Tables of version 1, unless another process migrated them since: then load
            # again, with the lever columns this load did not read.
            self._store._use(await self._inspect(self._conn))
            if self._store._sql.levers:
                raise self._stale(
                    f"the tables were migrated since user {self._user_id!r} was loaded"
                ) from None
            raise
        conn = self._conn
        try:
            if self._began:
                cursor = conn.cursor()
                async with conn.pipeline():
                    await cursor.execute(query, params, prepare=True)
                    await conn.execute("COMMIT")
                row = await cursor.fetchone()
            else:
                cursor = self._lease.cursor()
                await cursor.execute(query, params, prepare=True)
                row = await cursor.fetchone()
        except psycopg.Error as exc:
            raise self._write_failed(exc) from exc
        self._written(row)

    async def _finish_read(self) -> None:
        """End a transaction that wrote nothing; a guessed snapshot must still be current."""
        if self._began:
            try:
                await self._conn.execute("COMMIT")
            except psycopg.Error as exc:
                raise wrap(exc, "commit") from exc
        if self._read_done():
            self._guess_checked(await self._fetch(None))


class AsyncOneUserBatch:
    """A batch of one user (a hot user's combined awards): the user's own transaction,
    loading every key at once, and writing with the single user's statement (one round
    trip, version-checked, the state served from the cache where it can be)."""

    def __init__(self, tx: AsyncPostgresTransaction) -> None:
        self._user_id = tx._user_id
        self._tx = tx

    async def __aenter__(self) -> AsyncOneUserBatch:
        await self._tx.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        await self._tx.__aexit__(exc_type, *exc_info)

    async def load_many(self, keys: Mapping[str, Collection[str]]) -> dict[str, Snapshot]:
        self._check(keys)
        return {self._user_id: await self._tx.load_keys(keys[self._user_id])}

    async def write_many(self, writes: Sequence[UserWrite]) -> None:
        self._check(write.user_id for write in writes)
        for write in writes:
            await self._tx.write(write.state, write.version, write.entries)

    def _check(self, user_ids: Iterable[str]) -> None:
        for user_id in user_ids:
            if user_id != self._user_id:
                raise StoreError(f"user {user_id!r} is not this batch transaction's user")
