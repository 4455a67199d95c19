"""What an asynchronous store must do: the awaitable twin of :mod:`.base`.

The same contract, word for word, as :class:`~mikoshi_progression.stores.ProgressStore`
and its optional capabilities, with every call that may touch the network or the disk
awaited. Snapshots, ledger entries, schema reports and errors are the very same
classes: an async store decides nothing either, and
:class:`~mikoshi_progression.service.AsyncProgressionService` makes the same decisions as
:class:`~mikoshi_progression.service.ProgressionService` (both run the steps of
:mod:`mikoshi_progression.service._steps`; only the I/O differs).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

from ..core.state import ProgressState
from ._feed import (
    EventsPage,
)
from .base import (
    BatchTransaction,
    LedgerEntry,
    ReplayRow,
    SchemaReport,
    Snapshot,
    StoreTransaction,
    UserActivity,
    UserWrite,
)

T = TypeVar("T")

__all__ = [
    "AsyncBatchRunner",
    "AsyncBatchStore",
    "AsyncBatchTransaction",
    "AsyncCanonicalIdStore",
    "AsyncEventFeedStore",
    "AsyncJoinableStore",
    "AsyncMigratingStore",
    "AsyncMonitoringStore",
    "AsyncProgressStore",
    "AsyncReplayReader",
    "AsyncRequestKeyStore",
    "AsyncSchemaStore",
    "AsyncStateReader",
    "AsyncStoreTransaction",
    "AsyncTransactionRunner",
    "JoinableStore",
]


class AsyncStoreTransaction(Protocol):
    """One user's transaction: load, then at most one write; commit on clean exit."""

    async def load(self, key: str | None = None) -> Snapshot:
        """Read the user's state and version, and the ledger entries made with ``key``."""
        ...

    async def write(
        self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]
    ) -> None:
        """Save ``state`` and append ``entries`` if the version is still ``version``
        (see :meth:`~mikoshi_progression.stores.StoreTransaction.write`)."""
        ...


class AsyncBatchTransaction(Protocol):
    """A transaction on several users' rows: the async twin of
    :class:`~mikoshi_progression.stores.BatchTransaction`."""

    async def load_many(self, keys: Mapping[str, Collection[str]]) -> dict[str, Snapshot]:
        """Each user's snapshot with the entries of the keys listed for it."""
        ...

    async def write_many(self, writes: Sequence[UserWrite]) -> None:
        """Save each user's state and append its entries, version-checked."""
        ...


@runtime_checkable
class AsyncBatchStore(Protocol):
    """An async store that runs many users' awards in one transaction."""

    @property
    def batches(self) -> bool:
        """Whether :meth:`batch_transaction` works on this store's layout."""
        ...

    def batch_transaction(
        self, user_ids: Collection[str]
    ) -> AbstractAsyncContextManager[AsyncBatchTransaction]:
        """Open one transaction on the rows of ``user_ids`` (canonical ids)."""
        ...


class AsyncProgressStore(Protocol):
    """The one interface :class:`~mikoshi_progression.service.AsyncProgressionService` needs."""

    def transaction(self, user_id: str) -> AbstractAsyncContextManager[AsyncStoreTransaction]:
        """Open a transaction on ``user_id``'s rows; it commits when the block exits cleanly."""
        ...

    async def ledger(self, user_id: str) -> list[LedgerEntry]:
        """The user's ledger, oldest first, with ``seq`` set."""
        ...

    async def create_schema(self) -> None:
        """Create the store's tables if they are missing (safe to run twice)."""
        ...

    async def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...


@runtime_checkable
class AsyncSchemaStore(Protocol):
    """Optional: async stores that can report what of their schema is missing."""

    async def check_schema(self) -> SchemaReport: ...


@runtime_checkable
class AsyncStateReader(Protocol):
    """Optional: async stores that read a state without a write transaction's lock."""

    async def read_state(self, user_id: str) -> ProgressState: ...


@runtime_checkable
class AsyncReplayReader(Protocol):
    """Optional: see :class:`~mikoshi_progression.stores.ReplayReader`."""

    async def replay_rows(self, user_id: str) -> Sequence[ReplayRow]: ...


@runtime_checkable
class AsyncCanonicalIdStore(Protocol):
    """Optional: see :class:`~mikoshi_progression.stores.CanonicalIdStore`."""

    async def check_user_id(self, user_id: str, field: str = "user_id") -> str: ...


@runtime_checkable
class AsyncRequestKeyStore(Protocol):
    """Optional: see :class:`~mikoshi_progression.stores.RequestKeyStore`."""

    async def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str: ...


@runtime_checkable
class AsyncMonitoringStore(Protocol):
    """Optional: the migration guide's monitoring queries, awaited."""

    async def users_at_daily_cap(
        self, caps: Mapping[int, int], since: datetime
    ) -> list[UserActivity]: ...

    async def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]: ...


@runtime_checkable
class AsyncEventFeedStore(Protocol):
    """Optional: see :class:`~mikoshi_progression.stores.EventFeedStore`."""

    async def events(self, since: str | None, limit: int) -> EventsPage: ...


@runtime_checkable
class AsyncMigratingStore(Protocol):
    """Optional: see :class:`~mikoshi_progression.stores.MigratingStore`."""

    async def migrate(self, *, dry_run: bool = False) -> list[str]: ...


@runtime_checkable
class AsyncTransactionRunner(Protocol):
    """Optional: async stores over a sync one, which run a whole transaction in one go.

    ``AsyncSQLiteStore`` runs each call of a transaction in a worker thread; a command's
    load, decision and write then cost four hops between the event loop and the thread.
    Given the whole attempt (the service's steps, driven on a sync transaction: pure
    computation between the store's own calls), it runs it in one hop instead.
    """

    async def run_in_transaction(self, user_id: str, attempt: Callable[[StoreTransaction], T]) -> T:
        """``attempt(tx)`` inside one transaction on ``user_id``'s rows, committed when it
        returns (rolled back if it raises), as ``transaction()`` would."""
        ...


@runtime_checkable
class AsyncBatchRunner(Protocol):
    """Optional: async stores over a sync one that runs batches (``award_many``): a whole
    batch transaction run in one go, as :class:`AsyncTransactionRunner` runs one user's."""

    @property
    def batches(self) -> bool:
        """Whether the sync store underneath runs batches."""
        ...

    async def run_in_batch(
        self, user_ids: Collection[str], attempt: Callable[[BatchTransaction], T]
    ) -> T:
        """``attempt(tx)`` inside one batch transaction on the rows of ``user_ids``,
        committed when it returns (rolled back if it raises)."""
        ...


@runtime_checkable
class JoinableStore(Protocol):
    """Optional: stores that run an award inside a transaction the caller already holds.

    ``ProgressionService.award(..., within=session)`` uses it: the award's rows are
    written on the caller's connection, in the caller's transaction, so that the
    caller's own write and the award commit together or not at all. The store never
    commits or rolls back the caller's transaction; each attempt runs in a SAVEPOINT,
    so a conflict rolls back only the attempt and the service tries again.
    """

    def join(self, within: object, user_id: str) -> AbstractContextManager[StoreTransaction]:
        """A transaction on ``user_id``'s rows inside ``within`` (a SQLAlchemy ``Session``
        or ``Connection`` with a transaction begun, or begun on first use)."""
        ...


@runtime_checkable
class AsyncJoinableStore(Protocol):
    """Optional: :class:`JoinableStore` for an ``AsyncSession`` or ``AsyncConnection``."""

    def join(
        self, within: object, user_id: str
    ) -> AbstractAsyncContextManager[AsyncStoreTransaction]: ...
