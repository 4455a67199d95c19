"""The in-memory store: thread-safe, the reference every other store is tested against."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from ..core.identity import check_id
from ..core.state import ProgressState
from ..errors import StoreError
from ._feed import (
    EventsPage,
    bad_cursor,
    events_page,
    position_cursor,
)
from .base import (
    BatchTransaction,
    EntryKind,
    LedgerEntry,
    SchemaReport,
    Snapshot,
    StaleVersionError,
    StoreTransaction,
    UserActivity,
    UserWrite,
    at_daily_cap,
    rank_activity,
)

__all__ = ["InMemoryStore"]


@dataclass
class _UserRecord:
    state: ProgressState
    version: int = 0
    ledger: list[LedgerEntry] = field(default_factory=list)
    keyed: dict[tuple[EntryKind, str], LedgerEntry] = field(default_factory=dict)


class InMemoryStore:
    """A dictionary of users guarded by one lock per user.

    A transaction holds its user's lock from ``load`` to commit, so transactions
    on one user run one after another and on different users side by side. The
    version check is still made, exactly as a database store makes it.
    """

    def __init__(self) -> None:
        self._users: dict[str, _UserRecord] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self._claims: dict[tuple[str, str], str] = {}
        # The entries with events, in commit order: the events feed.
        self._feed: list[LedgerEntry] = []
        self._closed = False

    def create_schema(self) -> None:
        """Nothing to create; present for the protocol."""

    def check_schema(self) -> SchemaReport:
        """Nothing can be missing: an empty report."""
        return SchemaReport()

    def close(self) -> None:
        self._closed = True

    def put_state(self, user_id: str, state: ProgressState) -> None:
        """Seed a user's state without a ledger entry, as a legacy row would be."""
        user_id = check_id(user_id)
        with self._lock_for(user_id):
            record = self._users.get(user_id)
            if record is None:
                self._users[user_id] = _UserRecord(state, version=1)
            else:
                record.state = state
                record.version += 1

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        user_id = check_id(user_id)
        with self._lock_for(user_id):
            tx = _MemoryTransaction(self._users, user_id)
            yield tx
            written = tx.commit()
            if any(entry.events for entry in written):
                with self._registry_lock:  # the user's lock is still held: commit order
                    self._feed += [entry for entry in written if entry.events]

    batches = True
    """Awards of many users run in one transaction (:meth:`batch_transaction`)."""

    @contextmanager
    def batch_transaction(self, user_ids: Collection[str]) -> Iterator[BatchTransaction]:
        """Hold every user's lock (taken in sorted order, so two batches never wait for each
        other in a circle) while the batch loads and writes; commit all of it on exit."""
        users = sorted({check_id(user_id) for user_id in user_ids})
        with ExitStack() as held:
            for user_id in users:
                held.enter_context(self._lock_for(user_id))
            tx = _MemoryBatch(self._users, users)
            yield tx
            written = tx.commit()
            if any(entry.events for entry in written):
                with self._registry_lock:
                    self._feed += [entry for entry in written if entry.events]

    def read_state(self, user_id: str) -> ProgressState:
        """The user's committed state (a new user's if unknown)."""
        user_id = check_id(user_id)
        with self._lock_for(user_id):
            record = self._users.get(user_id)
            return record.state if record else ProgressState()

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        user_id = check_id(user_id)
        with self._lock_for(user_id):
            record = self._users.get(user_id)
            return list(record.ledger) if record else []

    def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str:
        """Tie ``key`` of caller ``scope`` to ``request`` unless it is tied already."""
        claim = (check_id(scope, "scope"), check_id(key, "key"))
        with self._registry_lock:
            if self._closed:
                raise StoreError("the store is closed")
            return self._claims.setdefault(claim, request)

    def events(self, since: str | None, limit: int) -> EventsPage:
        """The events of entries committed after ``since``; a cursor is a position in the
        process's commit order."""
        start = position_cursor(since, "InMemoryStore")
        with self._registry_lock:
            if self._closed:
                raise StoreError("the store is closed")
            if start > len(self._feed):
                raise bad_cursor(since, "this InMemoryStore")
            rows = self._feed[start : start + limit]
        return events_page(
            ((str(start + n), entry) for n, entry in enumerate(rows, 1)), since, limit
        )

    def users_at_daily_cap(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        return at_daily_cap(self._activity(caps, since))

    def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]:
        return self._activity(caps, since)[:limit]

    def _activity(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        with self._registry_lock:
            states = [(user_id, r.state) for user_id, r in self._users.items()]
        return rank_activity(states, caps, since)

    def _lock_for(self, user_id: str) -> threading.Lock:
        if self._closed:
            raise StoreError("the store is closed")
        with self._registry_lock:
            lock = self._locks.get(user_id)
            if lock is None:
                lock = self._locks[user_id] = threading.Lock()
            return lock


class _MemoryBatch:
    """Several users' transactions as one: every write is checked before any is kept."""

    def __init__(self, users: dict[str, _UserRecord], user_ids: Sequence[str]) -> None:
        self._users = users
        self._user_ids = frozenset(user_ids)
        self._writes: Sequence[UserWrite] = ()

    def load_many(self, keys: Mapping[str, Collection[str]]) -> dict[str, Snapshot]:
        snapshots = {}
        for user_id, wanted in keys.items():
            self._check_held(user_id)
            tx = _MemoryTransaction(self._users, user_id)
            snap = tx.load()
            record = self._users.get(user_id)
            if record is not None and wanted:
                found = {}
                for key in wanted:
                    entry = _keyed_award(record, key)
                    if entry is not None:
                        found[key] = entry
                snap = replace(snap, keyed_awards=found)
            snapshots[user_id] = snap
        return snapshots

    def write_many(self, writes: Sequence[UserWrite]) -> None:
        for write in writes:
            self._check_held(write.user_id)
        self._writes = writes

    def commit(self) -> list[LedgerEntry]:
        transactions = []
        for write in self._writes:
            tx = _MemoryTransaction(self._users, write.user_id)
            tx.write(write.state, write.version, write.entries)
            tx.check()
            transactions.append(tx)
        return [entry for tx in transactions for entry in tx.commit()]

    def _check_held(self, user_id: str) -> None:
        if user_id not in self._user_ids:
            raise StoreError(f"user {user_id!r} is not one of this batch transaction's users")


def _keyed_award(record: _UserRecord, key: str) -> LedgerEntry | None:
    return (
        record.keyed.get((EntryKind.AWARD, key))
        or record.keyed.get((EntryKind.ADJUST, key))
        or record.keyed.get((EntryKind.TIMEZONE, key))
    )


class _MemoryTransaction:
    def __init__(self, users: dict[str, _UserRecord], user_id: str) -> None:
        self._users = users
        self._user_id = user_id
        self._pending: tuple[ProgressState, object, Sequence[LedgerEntry]] | None = None

    def load(self, key: str | None = None) -> Snapshot:
        record = self._users.get(self._user_id)
        if record is None:
            return Snapshot(ProgressState(), None)
        award = revoke = None
        if key is not None:
            award = _keyed_award(record, key)
            revoke = record.keyed.get((EntryKind.REVOKE, key))
        return Snapshot(
            record.state,
            record.version,
            exists=True,
            has_ledger=bool(record.ledger),
            keyed_award=award,
            keyed_revoke=revoke,
        )

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        self._pending = (state, version, entries)

    def check(self) -> None:
        """Raise :class:`StaleVersionError` if the pending write cannot be kept."""
        if self._pending is None:
            return
        _, version, entries = self._pending
        record = self._users.get(self._user_id)
        current = None if record is None else record.version
        if current != version:
            raise StaleVersionError(
                f"user {self._user_id!r} changed since it was loaded "
                f"(version {version!r}, now {current!r})"
            )
        taken = {} if record is None else record.keyed
        new_keys = [(e.kind, e.key) for e in entries if e.key is not None]
        if any(k in taken for k in new_keys) or len(set(new_keys)) < len(new_keys):
            raise StaleVersionError(f"an idempotency key of user {self._user_id!r} was taken")

    def commit(self) -> list[LedgerEntry]:
        """Keep the pending write; the entries as stored."""
        if self._pending is None:
            return []
        self.check()
        state, _, entries = self._pending
        record = self._users.get(self._user_id)
        if record is None:
            record = self._users[self._user_id] = _UserRecord(state)
        written = []
        for number, entry in enumerate(entries, len(record.ledger) + 1):
            stored = replace(entry, seq=number)
            record.ledger.append(stored)
            written.append(stored)
            if stored.key is not None:
                record.keyed[stored.kind, stored.key] = stored
        record.state = state
        record.version += 1
        return written
