"""One award's transaction on PostgreSQL, less its I/O, and its rows and parameters.

What the sync and the async store's transactions share (see :mod:`._postgres_common`):
serving a load from the snapshot cache, buffering the write, the one statement that
writes it, and what its answer means.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import psycopg

from ..core.state import ProgressState
from ..errors import StoreError, UnknownUserError
from ._postgres_driver import wrap
from ._rows import (
    LEVER_COLUMNS,
    compact_json,
    entry_from_columns,
    events_to_json,
    refuse_levers,
    state_from_row,
)
from .base import LedgerEntry, Snapshot, StaleSnapshotError, StaleVersionError

if TYPE_CHECKING:
    from ._postgres_common import PostgresCommon

__all__ = ["TransactionCommon", "entries_json", "entry_params"]


class TransactionCommon:
    """One award's transaction, less its I/O: what the shells' transactions share.

    ``load`` serves a guess from the snapshot cache or asks the shell to fetch; ``write``
    buffers; the shell's ``commit`` sends :meth:`_write_statement` and reports back
    through :meth:`_written` or :meth:`_stale`.
    """

    def __init__(self, store: PostgresCommon, user_id: str) -> None:
        self._store = store
        self._sql = store._sql
        self._user_id = user_id
        self._row_lock = store._locks_rows(user_id)
        self._began = False
        self._loaded: Snapshot | None = None
        self._key: str | None = None
        self._speculative = False
        self._pending: tuple[ProgressState, object, Sequence[LedgerEntry]] | None = None

    def _cached(self, key: str | None) -> Snapshot | None:
        """The snapshot a load may take from the cache instead of querying, if any."""
        self._key = key
        if key is not None or self._row_lock:
            return None  # a keyed load must show the key's ledger rows: it always queries
        cached = self._store._guess(self._user_id)
        if cached is not None:
            # A guess, checked at commit: by the version-checked write, or by a reload
            # of the version if nothing is written.
            self._speculative = True
            self._loaded = cached
        return cached

    def _load_params(self, key: str | None) -> tuple[str, dict[str, Any]]:
        query = self._sql.load[key is not None, self._row_lock]
        return query, {"user": self._user_id, "uid": self._user_id, "key": key}

    def _snapshot(self, row: Sequence[Any] | None) -> Snapshot:
        """The snapshot of the load query's ``row``."""
        store = self._store
        if row is None or row[6] is None:  # no state row (a keyed load still returns one)
            if self._sql.requires_row:
                raise UnknownUserError(store._no_such_user(self._user_id))
            state, version, has_ledger = ProgressState(), None, bool(row and row[7])
        else:
            level, exp, chat, gained, reset, counts, version, has_ledger, found_as = row[:9]
            if found_as != self._user_id:
                # In place on a non-text id column, the row was found under another spelling.
                raise store._spelling_error(self._user_id, found_as, "user_id")
            levers = dict(zip(LEVER_COLUMNS, row[9 : 9 + self._sql.lever_width], strict=False))
            try:
                state = state_from_row(
                    level=level,
                    exp=exp,
                    last_chat_date=chat,
                    daily_exp_gained=gained,
                    last_exp_reset_date=reset,
                    daily_action_counts=counts,
                    **levers,
                )
            except (ValueError, TypeError) as exc:
                raise StoreError(
                    f"the stored state of user {self._user_id!r} is unreadable: {exc}"
                ) from exc
        award = revoke = None
        first = 9 + self._sql.lever_width
        if row is not None and len(row) > first:
            width = len(self._sql.entry_columns)
            award_row, revoke_row = row[first : first + width], row[first + width :]
            if award_row[0] is not None:
                award = entry_from_columns(self._user_id, award_row)
            if revoke_row[0] is not None:
                revoke = entry_from_columns(self._user_id, revoke_row)
        return Snapshot(
            state,
            version,
            exists=version is not None,
            has_ledger=bool(has_ledger),
            keyed_award=award,
            keyed_revoke=revoke,
        )

    def _buffer(
        self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]
    ) -> None:
        if self._pending is not None:
            raise StoreError("a store transaction writes at most once")
        self._pending = (state, version, entries)

    def _write_statement(self) -> tuple[str, dict[str, Any]]:
        """The one statement that writes the buffered state and its ledger rows.

        Raises:
            SchemaOutdatedError: the tables are of version 1 and cannot hold it (the shell
                looks at the schema again before it gives up: see ``refuse_levers``).
        """
        assert self._pending is not None
        state, version, entries = self._pending
        if not self._sql.levers:
            refuse_levers(self._user_id, state, entries, self._store._where())
        query = self._sql.write[version is None, len(entries) == 1]
        if query is None:
            raise UnknownUserError(self._store._no_such_user(self._user_id))
        params = self._store._state_params(self._user_id, state)
        params["version"] = None if version is None else str(version)
        params["n"] = len(entries)
        if len(entries) == 1:
            params.update(entry_params(entries[0]))
        else:
            params["entries"] = entries_json(entries)
        return query, params

    def _written(self, row: Sequence[Any] | None) -> None:
        """After the write statement: ``row`` is what it returned (``None``: none)."""
        assert self._pending is not None
        state, version, entries = self._pending
        if row is None:
            raise self._stale(
                f"user {self._user_id!r} changed since it was loaded (version {version!r})"
            )
        loaded = self._loaded
        has_ledger = bool(entries) or (loaded is not None and loaded.has_ledger)
        # Remembered as a load would read it back (in place, last_chat_date is a DATE).
        stored = self._store.stored_form(state)
        self._store._remember(
            self._user_id, Snapshot(stored, row[0], True, has_ledger), guessed=self._speculative
        )

    def _write_failed(self, exc: psycopg.Error) -> StoreError:
        """The error for a driver error of the write statement."""
        error = wrap(exc, f"save user {self._user_id!r}", writing=True)
        if not isinstance(error, StaleVersionError):
            self._store._forget(self._user_id)
            return error
        return self._stale(str(error))

    def _stale(self, message: str) -> StaleVersionError:
        """The error for a write that lost to another writer, remembered for the user."""
        self._store._conflict(self._user_id, self._speculative)
        if self._speculative:
            return StaleSnapshotError(f"{message} (a cached snapshot; reloading)")
        return StaleVersionError(message)

    def _read_done(self) -> bool:
        """After a transaction that wrote nothing: remember what it read, and say whether
        a guessed snapshot must still be checked against the current version."""
        loaded = self._loaded
        if loaded is None:
            return False
        if not self._speculative:
            if loaded.exists:
                self._store._remember(
                    self._user_id, replace(loaded, keyed_award=None, keyed_revoke=None)
                )
            return False
        return True

    def _guess_checked(self, current: Snapshot) -> None:
        """A guessed snapshot of a transaction that wrote nothing, against the current row."""
        loaded = self._loaded
        assert loaded is not None
        if current.version != loaded.version:
            raise self._stale(f"user {self._user_id!r}: the cached snapshot was out of date")
        self._store._remember(self._user_id, loaded, guessed=True)

    def abort(self) -> None:
        # Autocommit: nothing was sent yet. With a row lock, the open transaction is
        # rolled back before the connection goes back to the pool.
        self._pending = None


# --- rows and parameters ---------------------------------------------------------------


def entry_params(entry: LedgerEntry) -> dict[str, Any]:
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
        "e_state": compact_json(entry.state_after.to_dict()),
        "e_outcome": entry.outcome,
        "e_actor": entry.actor,
        "e_target": entry.target,
        "e_reason": entry.reason,
        "e_events": events_to_json(entry.events),
    }


def entries_json(entries: Sequence[LedgerEntry]) -> str:
    """The ledger rows of a write of several entries, as one JSON parameter."""
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
                "events": [event.to_dict() for event in e.events] or None,
            }
            for i, e in enumerate(entries, 1)
        ],
        separators=(",", ":"),
    )
