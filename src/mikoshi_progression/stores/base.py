"""What a persistence store must do: the protocol every adapter implements.

A store is deliberately dumb. It loads a user's state with a version, and in the
same transaction writes a new state *only if the version is unchanged*, appends
ledger entries and remembers idempotency keys (the ledger is the key record: a
key is unique per user and kind). It decides nothing: every rule lives in the
pure core and every decision in :class:`~mikoshi_progression.service.ProgressionService`.

Optional capabilities (monitoring queries, schema checks, lock-free state reads,
batches, replay rows) are separate small protocols, so a third-party adapter implements
only what it can. The ledger's entries are :mod:`.ledger`'s (re-exported here).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

from ..core.state import ProgressState
from ..errors import InvalidArgumentError, StoreError
from .ledger import ADJUSTED, CLOCK_FAULT, MANUAL_RESET, SET, EntryKind, LedgerEntry

__all__ = [
    "ADJUSTED",
    "CLOCK_FAULT",
    "MANUAL_RESET",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "SET",
    "BatchStore",
    "BatchTransaction",
    "CanonicalIdStore",
    "EntryKind",
    "LedgerEntry",
    "MigratingStore",
    "MonitoringStore",
    "ProgressStore",
    "ReplayReader",
    "ReplayRow",
    "RequestKeyStore",
    "SchemaReport",
    "SchemaStore",
    "Snapshot",
    "StaleSnapshotError",
    "StaleVersionError",
    "StateReader",
    "StoreTransaction",
    "StoredFormStore",
    "UserActivity",
    "UserWrite",
]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A user's stored state, read inside a transaction.

    Attributes:
        state: The state as stored (legacy values normalised), or a new user's.
        version: An opaque token that changes on every write; ``None`` if the user
            has no stored state yet. Passed back to :meth:`StoreTransaction.write`.
        exists: Whether the store holds a row for this user.
        has_ledger: Whether the user has any ledger entry (a legacy row without one
            is adopted with an ``import`` entry before its first change).
        keyed_award: The ledger entry of the award made with the key asked for, or of
            the operator's adjustment made with it (its ``kind`` tells which).
        keyed_revoke: The ledger entry of that award's revocation, if any.
    """

    state: ProgressState
    version: object
    exists: bool = False
    has_ledger: bool = False
    keyed_award: LedgerEntry | None = None
    keyed_revoke: LedgerEntry | None = None
    keyed_awards: Mapping[str, LedgerEntry] = field(default_factory=dict)
    """For a batch load (:meth:`BatchTransaction.load_many`): the entries of the awards,
    adjustments and time-zone changes made with each key asked for, by key."""


class StaleVersionError(StoreError):
    """The state changed since it was loaded; the service reloads and tries again."""


class StaleSnapshotError(StaleVersionError):
    """A snapshot a store served from its own cache was out of date.

    Nobody is contending for the user (the store simply guessed wrong), so the
    service reloads at once, without backing off.
    """


class StoreTransaction(Protocol):
    """One user's transaction: load, then at most one write; commit on clean exit."""

    def load(self, key: str | None = None) -> Snapshot:
        """Read the user's state and version, and the ledger entries made with ``key``."""
        ...

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        """Save ``state`` and append ``entries`` if the version is still ``version``.

        May be buffered until commit. Raises :class:`StaleVersionError` (now or at
        commit) if another writer got there first, including one that recorded
        the same idempotency key; then nothing of this transaction is kept.
        """
        ...


class UserWrite(NamedTuple):
    """One user's part of a batch write: as :meth:`StoreTransaction.write` takes it."""

    user_id: str
    state: ProgressState
    version: object
    entries: Sequence[LedgerEntry]


class BatchTransaction(Protocol):
    """A transaction on several users' rows (:meth:`BatchStore.batch_transaction`).

    Every user it was opened on is the store's to change until it ends: a batch never
    loses to a writer between its load and its write. It commits when the block exits
    cleanly, all of it or nothing.
    """

    def load_many(self, keys: Mapping[str, Collection[str]]) -> dict[str, Snapshot]:
        """The snapshot of each user in ``keys``, with the ledger entries made with each of
        the keys listed for them in its ``keyed_awards`` (a user with no row: a new
        user's state and version ``None``)."""
        ...

    def write_many(self, writes: Sequence[UserWrite]) -> None:
        """Save each user's state and append its entries, as :meth:`StoreTransaction.write`
        does for one (version-checked; a key taken raises :class:`StaleVersionError`)."""
        ...


@runtime_checkable
class BatchStore(Protocol):
    """A store that runs many users' awards in one transaction (``award_many``, and the
    combined awards of a hot user): a few statements for a whole batch."""

    @property
    def batches(self) -> bool:
        """Whether :meth:`batch_transaction` works on this store's layout (``False``: the
        service sends each request in a transaction of its own)."""
        ...

    def batch_transaction(
        self, user_ids: Collection[str]
    ) -> AbstractContextManager[BatchTransaction]:
        """Open one transaction on the rows of ``user_ids`` (canonical ids)."""
        ...


class ProgressStore(Protocol):
    """The one interface the service needs from persistence."""

    def transaction(self, user_id: str) -> AbstractContextManager[StoreTransaction]:
        """Open a transaction on ``user_id``'s rows; it commits when the block exits cleanly."""
        ...

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """The user's ledger, oldest first, with ``seq`` set."""
        ...

    def create_schema(self) -> None:
        """Create the store's tables if they are missing (safe to run twice)."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """What a schema check found.

    Attributes:
        missing_tables: Tables the store needs that do not exist.
        missing_columns: ``table.column`` names that do not exist.
        missing_indexes: Unique indexes that the store's guarantees rest on (one
            state row per user, one ledger ``seq`` per user, each idempotency key
            once), as ``table (column, ...)``, missing from tables that exist:
            without them concurrent writers could award twice.
        schema_version: The version of the library's schema the database is at, as its
            tables show it (``0``: none of them; ``None``: the store keeps no schema).
            Below :data:`SCHEMA_VERSION`, ``migrate`` brings it up to date.
        not_distributed: On a Citus database, the library's own tables that Citus does not
            hold as they should be, as ``table (what it should be)``: the state and the
            ledger distributed by ``user_id``, the request keys by ``key``, the migrations a
            reference table (``create_schema(distributed=True)`` places new tables so).
        not_colocated: On a Citus database, distributed tables whose rows of one user may
            live on another worker than the state's (``table (co-located with table)``):
            an award's single statement would then span two workers.
    """

    missing_tables: tuple[str, ...] = ()
    missing_columns: tuple[str, ...] = ()
    missing_indexes: tuple[str, ...] = ()
    schema_version: int | None = None
    not_distributed: tuple[str, ...] = ()
    not_colocated: tuple[str, ...] = ()

    @property
    def behind(self) -> bool:
        """Whether the tables exist but an earlier release made them (``migrate`` helps)."""
        version = self.schema_version
        return version is not None and 0 < version < SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return not (
            self.missing_tables
            or self.missing_columns
            or self.missing_indexes
            or self.behind
            or self.not_distributed
            or self.not_colocated
        )


SCHEMA_VERSION = 2
"""The version of the library's schema this release makes and needs for everything.

1. The tables of the releases before the designer levers (the ledger with ``actor``,
   ``target``, ``reason``; the kinds up to ``adjust``; the request keys).
2. The designer levers: a user's time zone, streak, milestones and lifetime counts in
   the state; the events of each ledger entry and the events feed's position; the
   ``timezone`` kind.

A database at version 1 keeps working for states that use no lever
(:class:`~mikoshi_progression.errors.SchemaOutdatedError` otherwise).
"""
SCHEMA_VERSIONS = {
    1: "the tables of the releases before the designer levers",
    2: "designer levers: time zone, streak, milestone and lifetime columns; ledger events",
}
"""What each version of the schema brought, as the ``<prefix>migrations`` table records it."""


@runtime_checkable
class MigratingStore(Protocol):
    """Optional: stores that bring an existing database up to :data:`SCHEMA_VERSION`."""

    def migrate(self, *, dry_run: bool = False) -> list[str]:
        """Run (or with ``dry_run`` only list) the statements that bring the database's
        tables to the current version, keeping every row; ``[]`` when it is there already.
        Idempotent and safe beside running stores."""
        ...


@runtime_checkable
class SchemaStore(Protocol):
    """Optional: stores that can report what of their schema is missing."""

    def check_schema(self) -> SchemaReport: ...


@runtime_checkable
class StateReader(Protocol):
    """Optional: stores that read a user's state without a write transaction's lock.

    ``ProgressionService.state`` (and so ``replay``) uses it when a store offers it,
    so a pure read never waits behind writers.
    """

    def read_state(self, user_id: str) -> ProgressState:
        """The user's committed state, legacy values normalised (a new user's if unknown)."""
        ...


@runtime_checkable
class StoredFormStore(Protocol):
    """Optional: stores whose columns keep less than a state holds.

    The platform's ``users.last_chat_date`` is a ``DATE``; a store in place on it
    reads back midnight of that day. ``replay`` compares through this.
    """

    def stored_form(self, state: ProgressState) -> ProgressState:
        """``state`` as the store reads it back after writing it."""
        ...


@runtime_checkable
class CanonicalIdStore(Protocol):
    """Optional: stores that find a user under more than one spelling of their id.

    A store in place on a table whose id column is not text (an ``integer`` or
    ``uuid`` ``users.id``) finds row 5 for ``"5"``, ``"05"`` and ``"+5"``. One row
    must have one ledger and one key namespace, and one person must never pass for
    two in the self-award check, so such a store takes only the column's canonical
    spelling (what ``id::text`` gives) and refuses every other one.
    """

    def check_user_id(self, user_id: str, field: str = "user_id") -> str:
        """Return ``user_id`` if it is the spelling this store keeps the user under.

        Raises:
            InvalidIdError: another spelling (the message names the canonical one
                where it can), or a value the id column cannot hold.
        """
        ...


@runtime_checkable
class RequestKeyStore(Protocol):
    """Optional: stores that remember which request a caller's idempotency key named.

    Award keys live in the recipient's ledger. A caller whose awards go to someone
    else (a fan liking characters of many creators over HTTP) needs their keys
    remembered in a namespace of their own, so that one key cannot pay two creators.
    """

    def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str:
        """Tie ``key`` of caller ``scope`` to ``request`` unless it is tied already.

        Returns the request the key is tied to: ``request`` itself when the key is new
        (or was tied to the same request), the earlier request otherwise. Atomic:
        of concurrent claims of one key, exactly one ties it.
        """
        ...


@dataclass(frozen=True, slots=True)
class UserActivity:
    """A row of a monitoring query.

    Attributes:
        user_id: The user.
        level: Their level.
        daily_exp_gained: EXP gained today.
        daily_exp_cap: Their level's cap.
        daily_action_counts: Their counts today.
    """

    user_id: str
    level: int
    daily_exp_gained: int
    daily_exp_cap: int
    daily_action_counts: dict[str, int]


def rank_activity(
    states: Iterable[tuple[str, ProgressState]], caps: Mapping[int, int], since: datetime
) -> list[UserActivity]:
    """The monitoring rows of users whose day opened at or after ``since``, most EXP first.

    For stores that answer the monitoring queries in Python. ``caps`` maps levels to
    caps; a level it lacks takes the highest level's cap.
    """
    if not caps:
        raise InvalidArgumentError("caps", "a mapping of at least one level to its cap", caps)
    last_cap = caps[max(caps)]
    rows = [
        UserActivity(
            user_id,
            state.level,
            state.daily_exp_gained,
            caps.get(state.level, last_cap),
            dict(state.daily_action_counts),
        )
        for user_id, state in states
        if state.last_exp_reset_date is not None and state.last_exp_reset_date >= since
    ]
    rows.sort(key=lambda a: (-a.daily_exp_gained, a.user_id))
    return rows


def at_daily_cap(activity: Iterable[UserActivity]) -> list[UserActivity]:
    """The rows whose EXP gained reached their cap, in their order."""
    return [a for a in activity if a.daily_exp_gained >= a.daily_exp_cap]


@runtime_checkable
class MonitoringStore(Protocol):
    """Optional: the migration guide's monitoring queries."""

    def users_at_daily_cap(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        """Users whose day opened at or after ``since`` and whose EXP gained reached
        their level's cap (``caps``: level -> cap; levels beyond it take the last), most first.
        """
        ...

    def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]:
        """Users whose day opened at or after ``since``, by EXP gained today, most first."""
        ...


ReplayRow = tuple[str, datetime, str, int, str, ProgressState | None]
"""One ledger entry as a replay folds it: ``(kind, at, action, exp_delta,
config_fingerprint, state_after)``, the kind as its :class:`EntryKind` value, ``at`` the
entry's moment (aware; in any zone, best :data:`datetime.UTC`, where the core decides days
fastest) and ``state_after`` only where the fold reads it (import and time-zone entries;
``None`` elsewhere, or the entry's state: the fold ignores it)."""


@runtime_checkable
class ReplayReader(Protocol):
    """Optional: stores that read a ledger for a replay, fetching and decoding only what
    the fold needs.

    ``ProgressionService.replay`` uses it when a store offers it (:meth:`ProgressStore.ledger`
    otherwise): decoding every entry's full ``state_after`` and events costs a SQL store
    most of a replay. The report is the same either way.
    """

    def replay_rows(self, user_id: str) -> Sequence[ReplayRow]:
        """The user's ledger, oldest first, as :data:`ReplayRow` tuples: one per entry of
        :meth:`ProgressStore.ledger`, with the same values."""
        ...
