# Generated from _postgres_batch_async.py by tools/async_to_sync.py: do not edit.
# Change _postgres_batch_async.py, then run `python tools/async_to_sync.py`
# (tests/test_generated_code.py fails while this file is not what it generates).
"""The PostgreSQL store's batch transaction: many users' awards in one transaction.

Three round trips, whatever the batch's size (the statements are
:mod:`._postgres_batch_sql`'s):

1. ``BEGIN``, the state rows locked in ``user_id`` order, and the keyed entries, pipelined;
2. one statement writing every state (updated, or inserted for a new user) and, only for
   the users whose state it wrote, every ledger row; the store checks that it wrote every
   user before it commits;
3. ``COMMIT`` (or ``ROLLBACK`` if a new user's row appeared meanwhile: the service
   loads again).

The rows stay locked from the load to the commit, so the write never loses a race to an
existing user's row; only two batches creating the same new user can collide.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

import psycopg

from ..core.state import ProgressState
from ..errors import StoreError
from ._postgres_batch_sql import (
    STATE_LOADED,
    BatchStatements,
    batch_rows,
    keyed_by_user,
    one_rows,
)
from ._postgres_driver import wrap
from ._postgres_io import Borrowed, PoolOwner
from .base import Snapshot, StaleVersionError, UserWrite

__all__ = ["BatchOwner", "PostgresBatch", "many_statements", "one_statement", "rows_of"]


class BatchOwner(PoolOwner, Protocol):
    """What a batch reads of the store it runs in."""

    _batch_sql: BatchStatements
    _routed_batches: bool

    def _state_from_columns(self, user_id: str, values: Mapping[str, Any]) -> ProgressState: ...

    def _remember(self, user_id: str, snapshot: Snapshot, *, guessed: bool = False) -> None: ...

    def _forget(self, user_id: str) -> None: ...

    def _at_version(self, user_id: str, version: object) -> Snapshot | None: ...


class PostgresBatch:
    """Several users' transaction on one connection (see the module docs)."""

    _conn: psycopg.Connection[Any]

    def __init__(self, store: BatchOwner, user_ids: Collection[str]) -> None:
        self._store = store
        self._sql = store._batch_sql
        self._users = frozenset(user_ids)
        self._lease = Borrowed(store)
        self._began = False
        self._loaded: dict[str, Snapshot] = {}
        self._seqs: dict[str, int] = {}
        self._pending: Sequence[UserWrite] = ()

    def __enter__(self) -> PostgresBatch:
        self._conn = self._lease.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        try:
            if exc_type is None:
                self._commit()
            elif self._began:
                self._end("ROLLBACK")
        finally:
            self._lease.__exit__()

    def load_many(self, keys: Mapping[str, Collection[str]]) -> dict[str, Snapshot]:
        users = sorted(keys)
        for user_id in users:
            self._check_held(user_id)
        key_list = [{"user_id": user_id, "key": key} for user_id in users for key in keys[user_id]]
        conn = self._conn
        try:
            with conn.pipeline():
                if not self._began:
                    conn.execute("BEGIN")
                    self._began = True
                if self._store._routed_batches:
                    locked = many_statements(conn, self._sql.lock_one, [{"user": u} for u in users])
                    keyed = many_statements(
                        conn,
                        self._sql.keyed_one,
                        [{"user": k["user_id"], "key": k["key"]} for k in key_list],
                    )
                else:
                    locked = one_statement(conn, self._sql.lock, {"users": json.dumps(users)})
                    keyed = (
                        one_statement(conn, self._sql.keyed, {"keys": json.dumps(key_list)})
                        if key_list
                        else None
                    )
            rows = rows_of(locked)
            key_rows = rows_of(keyed)
        except psycopg.Error as exc:
            raise wrap(exc, f"load a batch of {len(users)} users") from exc
        found = keyed_by_user(key_rows)
        width = len(STATE_LOADED)
        snapshots = {}
        store = self._store
        for user_id, *values in rows:
            version, seq = values[width], values[width + 1]
            remembered = store._at_version(user_id, version)
            state = (
                remembered.state
                if remembered is not None
                else store._state_from_columns(
                    user_id, dict(zip(STATE_LOADED, values[:width], strict=True))
                )
            )
            self._seqs[user_id] = seq
            snapshots[user_id] = Snapshot(
                state, version, True, seq > 0, keyed_awards=found.get(user_id, {})
            )
        for user_id in users:
            if user_id not in snapshots:  # no row yet: a new user (or a legacy id's keys)
                self._seqs[user_id] = 0
                snapshots[user_id] = Snapshot(
                    ProgressState(), None, keyed_awards=found.get(user_id, {})
                )
        self._loaded.update(snapshots)
        return snapshots

    def write_many(self, writes: Sequence[UserWrite]) -> None:
        for write in writes:
            self._check_held(write.user_id)
            if write.user_id not in self._loaded:
                raise StoreError(f"user {write.user_id!r} is written before it was loaded")
        self._pending = writes

    def _commit(self) -> None:
        if not self._began:
            return
        if not self._pending:
            self._end("COMMIT")
            return
        conn = self._conn
        routed = self._store._routed_batches
        try:
            with conn.pipeline():
                if routed:
                    old, new, entries = one_rows(self._pending, self._seqs)
                    updated = many_statements(conn, self._sql.update_one, old)
                    inserted = many_statements(conn, self._sql.insert_one, new)
                else:
                    old_rows, new_rows, ledger = batch_rows(self._pending, self._seqs)
                    updated = (
                        one_statement(conn, self._sql.update, {"rows": old_rows})
                        if old_rows != "[]"
                        else None
                    )
                    inserted = (
                        one_statement(conn, self._sql.insert, {"rows": new_rows})
                        if new_rows != "[]"
                        else None
                    )
            written = rows_of(updated) + rows_of(inserted)
            if len(written) != len(self._pending):
                missing = sorted({w.user_id for w in self._pending} - {u for u, _ in written})
                for user_id in missing:
                    self._store._forget(user_id)
                raise StaleVersionError(f"users {missing!r} changed since the batch loaded them")
            with conn.pipeline():
                if routed:
                    many_statements(conn, self._sql.ledger_one, entries)
                else:
                    one_statement(conn, self._sql.ledger, {"rows": ledger})
                conn.execute("COMMIT")
        except psycopg.Error as exc:
            for write in self._pending:
                self._store._forget(write.user_id)
            error = wrap(exc, f"save a batch of {len(self._pending)} users", writing=True)
            raise error from exc
        finally:
            self._began = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        versions = dict(written)
        for write in self._pending:
            self._store._remember(
                write.user_id, Snapshot(write.state, versions[write.user_id], True, True)
            )

    def _end(self, command: str) -> None:
        try:
            self._conn.execute(command)
        except psycopg.Error as exc:
            raise wrap(exc, command.lower()) from exc
        finally:
            self._began = False

    def _check_held(self, user_id: str) -> None:
        if user_id not in self._users:
            raise StoreError(f"user {user_id!r} is not one of this batch transaction's users")


def one_statement(
    conn: psycopg.Connection[Any], query: str, params: Mapping[str, Any]
) -> psycopg.Cursor[Any] | None:
    """``query`` sent (in the pipeline) on a cursor of its own."""
    cursor = conn.cursor()
    cursor.execute(query, params, prepare=True)
    return cursor


def many_statements(
    conn: psycopg.Connection[Any], query: str, params: Sequence[Mapping[str, Any]]
) -> psycopg.Cursor[Any] | None:
    """``query`` sent once per parameter set (in the pipeline), its results kept; ``None``
    for no parameter set."""
    if not params:
        return None
    cursor = conn.cursor()
    cursor.executemany(query, params, returning=True)
    return cursor


def rows_of(cursor: psycopg.Cursor[Any] | None) -> list[Any]:
    """Every row the statements of ``cursor`` returned."""
    if cursor is None:
        return []
    rows: list[Any] = []
    while True:
        if (
            cursor.pgresult is not None
            and cursor.pgresult.status == psycopg.pq.ExecStatus.TUPLES_OK
        ):
            rows += cursor.fetchall()
        if not cursor.nextset():
            return rows
