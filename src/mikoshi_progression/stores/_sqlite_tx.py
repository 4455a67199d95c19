"""The SQLite store's transactions, and its rows as states and entries.

A write transaction runs on the connection that holds the database's write lock (a
read-only one on a snapshot); its ``write`` refuses what a file of schema version 1
cannot keep.

With the store's snapshot cache (see :mod:`._snapshots`), ``load`` may answer from the
state this process last wrote or read for the user instead of reading and decoding the
row, without taking the database's write lock yet. That guess is checked before anything
commits: the write takes the lock and is ``UPDATE ... WHERE version = ?``, so a row
another process changed updates nothing and the transaction raises
:class:`StaleSnapshotError` (the service loads again, from the database); a transaction
that writes nothing, or fails on a decision taken from the guess, reads the row's version
and does the same if it moved. A keyed load always reads the key's ledger rows under the
lock: whether a key was used is never guessed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from ..core.state import NO_LEVERS, ProgressState
from ..errors import ReadOnlyStoreError, SchemaOutdatedError, StoreError
from ._rows import (
    entry_from_row,
    events_to_json,
    milestones_to_json,
    refuse_levers,
    state_from_row,
)
from ._snapshots import SnapshotCache
from ._sqlite_driver import DUPLICATE, execute, wrap
from ._sqlite_sql import Statements
from ._state_json import counts_json, iso, state_json
from .base import EntryKind, LedgerEntry, Snapshot, StaleSnapshotError, StaleVersionError

__all__ = [
    "ReadOnlyTransaction",
    "SQLiteTransaction",
    "TransactionOwner",
    "entry_of_row",
    "entry_values",
    "state_values",
    "stored_state",
]


class TransactionOwner(Protocol):
    """What a transaction reads of the SQLite store it runs in: its statements, its
    path (for messages), its snapshot cache, and a check that the schema was migrated
    under it."""

    _sql: Statements
    _snapshots: SnapshotCache | None
    path: str

    def _reinspect(self, conn: sqlite3.Connection) -> bool: ...


class SQLiteTransaction:
    """One user's transaction on this process's writer connection: it takes the
    database's write lock at the first statement that needs it (see :meth:`_begin`)."""

    def __init__(self, store: TransactionOwner, conn: sqlite3.Connection, user_id: str) -> None:
        self._store = store
        self._sql = store._sql
        self._conn = conn
        self._user_id = user_id
        self._cache = store._snapshots
        self._guessed = False
        self._loaded: Snapshot | None = None  # without keyed entries: what may be remembered
        self._written: Snapshot | None = None
        self._begun = False

    def _begin(self) -> None:
        """Take the database's write lock (``BEGIN IMMEDIATE``) before the first statement
        that needs it: a load served from the cache does not, so the decision taken on
        it runs while other processes write, and the lock is held for the writes only."""
        if not self._begun:
            execute(self._conn, "BEGIN IMMEDIATE", doing="begin a transaction")
            self._begun = True

    def load(self, key: str | None = None) -> Snapshot:
        cache = self._cache
        guess = None if cache is None else cache.guess(self._user_id)
        if guess is not None:
            self._guessed = True
            self._loaded = guess
            if key is None:
                return guess
            self._begin()  # the key is looked up under the lock it is then written under
            award, revoke = self.keyed(key)
            return replace(guess, keyed_award=award, keyed_revoke=revoke)
        self._begin()
        row = execute(self._conn, self._sql.load, (self._user_id,), doing="load a state").fetchone()
        award, revoke = (None, None) if key is None else self.keyed(key)
        if row is None:
            return Snapshot(ProgressState(), None, keyed_award=award, keyed_revoke=revoke)
        *values, version, has_ledger = row
        state = stored_state(self._user_id, self._sql.state_columns, values)
        if not isinstance(version, int):  # a legacy row's REAL or text
            raise StoreError(
                f"the stored state of user {self._user_id!r} is unreadable: "
                f"its version is not an integer: {version!r}"
            )
        self._loaded = loaded = Snapshot(state, version, exists=True, has_ledger=bool(has_ledger))
        if key is None:
            return loaded
        return replace(loaded, keyed_award=award, keyed_revoke=revoke)

    def keyed(self, key: str) -> tuple[LedgerEntry | None, LedgerEntry | None]:
        """The award (or adjustment) made with ``key``, and its revocation."""
        rows = execute(
            self._conn, self._sql.keyed, (self._user_id, key), doing="look up a key"
        ).fetchall()
        award = revoke = None
        for entry in map(entry_of_row, rows):
            if entry.kind is EntryKind.REVOKE:
                revoke = entry
            else:
                award = entry
        return award, revoke

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        sql = self._sql
        if not sql.levers:
            self._check_storable(state, entries)
        self._begin()
        conn = self._conn
        user_id = self._user_id
        params: tuple[Any, ...]
        try:
            if version is None:
                values, counts = state_values(state, levers=sql.levers)
                conn.execute(sql.insert_state, (user_id, *values))
                written = 1
            elif type(version) is int:
                if self._same_day(state, version):
                    # Only the columns an award within the row's day changes.
                    counts = counts_json(state.daily_action_counts)
                    chat = state.last_chat_date
                    statement = sql.update_award
                    params = (
                        user_id,
                        state.exp,
                        state.level,
                        state.daily_exp_gained,
                        counts,
                        None if chat is None else chat.isoformat(),
                        version,
                    )
                else:
                    values, counts = state_values(state, levers=sql.levers)
                    statement, params = sql.update_state, (user_id, *values, version)
                if conn.execute(statement, params).rowcount != 1:
                    raise self._stale(
                        f"user {user_id!r} changed since it was loaded (version {version})"
                    )
                written = version + 1
            else:
                raise TypeError(f"not a version of a SQLite store: {version!r}")
            text = None
            for entry in entries:
                if entry.state_after is state:  # the award's entry: its state is the row's
                    text = text or state_json(state, counts)
                    conn.execute(sql.insert_entry, entry_values(entry, sql.levers, text))
                else:
                    conn.execute(sql.insert_entry, entry_values(entry, sql.levers))
        except sqlite3.IntegrityError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in DUPLICATE:
                raise wrap(exc, "write a state") from exc
            # The user's row appeared since the load, or a key is taken: reload.
            raise self._stale(f"user {user_id!r} changed since it was loaded: {exc}") from exc
        except sqlite3.Error as exc:
            raise wrap(exc, "write a state") from exc
        loaded = self._loaded
        has_ledger = bool(entries) or (loaded is not None and loaded.has_ledger)
        self._written = Snapshot(state, written, exists=True, has_ledger=has_ledger)

    def _same_day(self, state: ProgressState, version: int) -> bool:
        """Whether the row holds ``state``'s day and levers already, as this library
        writes them (it has a ledger: a legacy row is written whole, normalised)."""
        loaded = self._loaded
        return (
            loaded is not None
            and loaded.version == version
            and loaded.has_ledger
            and state.levers is loaded.state.levers
            and state.last_exp_reset_date == loaded.state.last_exp_reset_date
        )

    def _stale(self, message: str) -> StaleVersionError:
        """The error for a write that lost to another writer (or met a taken key)."""
        if self._cache is not None:
            if self._guessed:
                self._cache.wrong(self._user_id)
                return StaleSnapshotError(f"{message} (a cached snapshot; loading again)")
            self._cache.forget(self._user_id)
        return StaleVersionError(message)

    def before_commit(self) -> None:
        """Check a guessed snapshot that nothing was written against: a decision taken
        from it (a refusal, a state shown) must be one the database's row agrees with."""
        if self._guessed and self._written is None and not self._guess_holds():
            raise self._stale(f"user {self._user_id!r}: the cached snapshot was out of date")

    def after_failure(self, exc: BaseException) -> StaleVersionError | None:
        """After the transaction's block raised ``exc`` (before the rollback): the error
        to raise instead when ``exc`` came of a decision on an out-of-date guess."""
        if (
            not self._guessed
            or not isinstance(exc, Exception)
            or isinstance(exc, StaleVersionError)
        ):
            return None
        try:
            if self._guess_holds():
                return None
        except StoreError:
            return None  # the row cannot be read now: the first error says more
        return self._stale(f"user {self._user_id!r}: the cached snapshot was out of date")

    def _guess_holds(self) -> bool:
        loaded = self._loaded
        assert loaded is not None
        self._begin()  # compared under the lock, as a write would be
        row = execute(
            self._conn, self._sql.version, (self._user_id,), doing="check a version"
        ).fetchone()
        return row is not None and row[0] == loaded.version

    def committed(self) -> None:
        """Remember the state the transaction committed (or read) for the next load."""
        cache = self._cache
        if cache is None:
            return
        snapshot = self._written or self._loaded
        if snapshot is None or not snapshot.exists:
            return
        state = snapshot.state
        if 0 in state.daily_action_counts.values() or (
            state.levers is not NO_LEVERS and 0 in state.lifetime_counts.values()
        ):
            # A count of 0 is read back as no count: not the state a load would give.
            cache.forget(self._user_id)
            return
        cache.remember(self._user_id, snapshot, guessed_right=self._guessed)

    def _check_storable(self, state: ProgressState, entries: Sequence[LedgerEntry]) -> None:
        """A file at schema version 1 holds no lever: refuse to lose one. If another
        process migrated the file meanwhile, the store switches to the current statements
        and the service loads again (the state was read without its lever columns)."""
        try:
            refuse_levers(
                self._user_id, state, entries, f"the SQLite database {self._store.path!r}"
            )
        except SchemaOutdatedError:
            if self._store._reinspect(self._conn):
                raise StaleVersionError(
                    f"the SQLite database {self._store.path!r} was migrated since user "
                    f"{self._user_id!r} was loaded: loading again"
                ) from None
            raise


class ReadOnlyTransaction(SQLiteTransaction):
    """A transaction of a read-only store: it loads, and refuses to write."""

    def __init__(self, store: TransactionOwner, conn: sqlite3.Connection, user_id: str) -> None:
        super().__init__(store, conn, user_id)
        self._begun = True  # a read-only store's transaction is begun by the store

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        raise ReadOnlyStoreError(
            f"the SQLite store is read-only: user {self._user_id!r} cannot be written"
        )


def stored_state(user_id: str, columns: Sequence[str], values: Sequence[object]) -> ProgressState:
    """A stored row's state columns as a state, legacy values normalised (see ``_rows``)."""
    try:
        return state_from_row(**dict(zip(columns, values, strict=True)))
    except (ValueError, TypeError) as exc:
        raise StoreError(f"the stored state of user {user_id!r} is unreadable: {exc}") from exc


def state_values(state: ProgressState, *, levers: bool = True) -> tuple[tuple[Any, ...], str]:
    """The state columns' values (``Statements.state_columns``' order: the platform's six,
    then with ``levers`` the lever columns), and the counts' JSON among them."""
    counts = counts_json(state.daily_action_counts)
    chat = state.last_chat_date
    platform = (
        state.exp,
        state.level,
        state.daily_exp_gained,
        iso(state.last_exp_reset_date),
        counts,
        None if chat is None else chat.isoformat(),
    )
    if not levers:
        return platform, counts
    lever = state.levers
    if lever is NO_LEVERS:
        return platform + _NO_LEVER_VALUES, counts
    extended = lever.day_extended_until
    day = lever.last_streak_day
    return (
        *platform,
        lever.timezone,
        None if extended is None else extended.isoformat(),
        lever.streak,
        lever.best_streak,
        None if day is None else day.isoformat(),
        lever.streak_freezes,
        milestones_to_json(lever.milestones),
        counts_json(lever.lifetime_counts),
    ), counts


_KIND_TEXT = {kind: kind.value for kind in EntryKind}
"""An entry kind's column text (a dict lookup: cheaper than the enum's ``value``)."""

_NO_LEVER_VALUES = (None, None, 0, 0, None, 0, "[]", "{}")
"""The lever columns of a user no lever touched (``NO_LEVERS``), in column order."""


def entry_values(
    entry: LedgerEntry, levers: bool = True, state_text: str | None = None
) -> tuple[Any, ...]:
    """A ledger row's parameters (``Statements.insert_entry``: the user, then the columns
    after ``seq``; with ``levers`` the events). ``state_text``: the entry's state as
    :func:`state_json`, when the caller has it already."""
    values = (
        entry.user_id,
        _KIND_TEXT[entry.kind],
        entry.action,
        entry.exp_delta,
        entry.level_before,
        entry.level_after,
        entry.key,
        entry.at.isoformat(),
        entry.config_fingerprint,
        state_text or state_json(entry.state_after),
        entry.outcome,
        entry.actor,
        entry.target,
        entry.reason,
    )
    return (*values, events_to_json(entry.events)) if levers else values


def entry_of_row(row: Sequence[Any]) -> LedgerEntry:
    user_id, *values = row  # user_id, seq, then the other ledger columns in order
    return entry_from_row(user_id, *values)
