"""The asynchronous shell: :class:`AsyncProgressionService` runs the shared steps on an
async store.

It makes exactly the decisions of :class:`~mikoshi_progression.service.ProgressionService`
(both run the steps of :mod:`._steps` and retry as :class:`._retries.Attempts` says);
only the I/O is awaited: each load and write, the backoff (``asyncio.sleep``), the
canonical-id check of a store that needs the database for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, TypeVar

from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..core.identity import check_id, check_optional_id, check_reason
from ..core.results import AwardResult
from ..core.rules import check_actor
from ..core.state import ProgressState
from ..errors import StoreUnavailableError
from ..stores._feed import (
    EventsPage,
)
from ..stores.async_base import (
    AsyncBatchRunner,
    AsyncBatchStore,
    AsyncCanonicalIdStore,
    AsyncEventFeedStore,
    AsyncJoinableStore,
    AsyncMonitoringStore,
    AsyncProgressStore,
    AsyncReplayReader,
    AsyncRequestKeyStore,
    AsyncStateReader,
    AsyncStoreTransaction,
    AsyncTransactionRunner,
)
from ..stores.base import (
    LedgerEntry,
    StaleVersionError,
    StoredFormStore,
    UserActivity,
)
from ._batch import (
    AwardRequest,
    BatchResult,
    Decided,
    Planned,
    check_request_type,
    one_request,
    planned_request,
)
from ._batch_async import run_batch_async, run_chunk_async
from ._batch_sync import DEFAULT_CHUNK, check_chunk_size
from ._combining import AsyncCombiner
from ._replay import ReplayReport, replay_report, replay_rows_report
from ._retries import FAULT_ATTEMPTS, Attempts, Observer, backoff, check_request, log
from ._shell import (
    Shell,
    check_adjustment,
    check_events_limit,
    check_timezone,
    no_capability,
    not_joinable,
)
from ._steps import Load, Steps, drive, utc_now

T = TypeVar("T")

__all__ = ["AsyncProgressionService"]

_DEBUG = logging.DEBUG


class AsyncProgressionService(Shell):
    """:class:`~mikoshi_progression.service.ProgressionService` for ``async`` code, on an
    :class:`~mikoshi_progression.stores.AsyncProgressStore`.

    Every method is the sync service's, awaited, with the same arguments, results,
    ledger entries, retries and errors (their docs are the sync service's).
    ``within`` takes an ``AsyncSession`` or ``AsyncConnection`` (the store must
    implement :class:`~mikoshi_progression.stores.AsyncJoinableStore`).
    """

    def __init__(
        self,
        store: AsyncProgressStore,
        *,
        config: ProgressionConfig = DEFAULT_CONFIG,
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = 50,
        observer: Observer | None = None,
        combine: bool = True,
    ) -> None:
        super().__init__(config, clock, max_attempts, observer)
        self.store = store
        self._canonical = store if isinstance(store, AsyncCanonicalIdStore) else None
        self._runner = store if isinstance(store, AsyncTransactionRunner) else None
        batches = store if isinstance(store, (AsyncBatchRunner, AsyncBatchStore)) else None
        self._batches = batches if batches is not None and batches.batches else None
        self._combiner = (
            AsyncCombiner(
                self._award_alone,
                self._award_together,
                across_users=getattr(store, "combine_users", False),
            )
            if combine and self._batches is not None
            else None
        )

    # --- commands --------------------------------------------------------------------

    async def award(
        self,
        user_id: str,
        action: str,
        *,
        key: str | None = None,
        actor_id: str | None = None,
        target: str | None = None,
        within: object = None,
    ) -> AwardResult:
        """As :meth:`.ProgressionService.award`, awaited."""
        user_id = await self._user(user_id, "user_id")
        actor = None if actor_id is None else await self._user(actor_id, "actor_id")
        key = check_optional_id(key, "key")
        target = check_optional_id(target, "target")
        check_actor(action, recipient=user_id, actor=actor, config=self.config)
        request = Planned(0, user_id, action, None, key, actor, target)
        if within is None and self._combiner is not None:
            result, repeat = await self._combiner.award(request)
        else:
            result, repeat = await self._award_alone(request, within)
        if not repeat and (self.observer is not None or log.isEnabledFor(_DEBUG)):
            self._decided("award", user_id, action, str(result.outcome), result.exp_added)
        return result

    async def award_many(
        self, requests: Iterable[AwardRequest], *, chunk_size: int = DEFAULT_CHUNK
    ) -> BatchResult:
        """As :meth:`.ProgressionService.award_many`, awaited."""
        size = check_chunk_size(chunk_size)
        planned = []
        for position, request in enumerate(requests):
            where = check_request_type(position, request)
            user_id = await self._user(request.user_id, f"{where}.user_id")
            actor = (
                None
                if request.actor_id is None
                else await self._user(request.actor_id, f"{where}.actor_id")
            )
            planned.append(planned_request(position, request, user_id, actor, self._decisions))
        heard = self._batch_listener()

        if self._batches is not None:
            return await run_batch_async(planned, self._award_together, size, heard)
        return await run_batch_async(planned, self._award_each, 1, heard)

    async def revoke(self, user_id: str, key: str, *, within: object = None) -> LedgerEntry | None:
        """As :meth:`.ProgressionService.revoke`, awaited."""
        user_id = await self._user(user_id, "user_id")
        key = check_id(key, "key")
        decisions = self._decisions
        entry, repeat = await self._run(
            "revoke", user_id, lambda: decisions.revoke(user_id, key), within=within
        )
        heard = self.observer is not None or log.isEnabledFor(_DEBUG)
        if heard and entry is not None and not repeat:
            self._decided("revoke", user_id, entry.action, "revoked", entry.exp_delta)
        return entry

    async def reset_daily(
        self,
        user_id: str,
        *,
        reason: str | None = None,
        operator: str | None = None,
        within: object = None,
    ) -> ProgressState:
        """As :meth:`.ProgressionService.reset_daily`, awaited."""
        user_id = await self._user(user_id, "user_id")
        operator = check_optional_id(operator, "operator")
        reason = check_reason(reason, optional=True)
        decisions = self._decisions
        state = await self._run(
            "reset_daily",
            user_id,
            lambda: decisions.reset_daily(user_id, reason, operator),
            retry_faults=False,
            within=within,
        )
        if self.observer is not None or log.isEnabledFor(_DEBUG):
            self._decided("reset_daily", user_id, "", "manual_reset", 0)
        return state

    async def adjust(
        self,
        user_id: str,
        delta: int,
        *,
        reason: str,
        operator: str,
        key: str | None = None,
        within: object = None,
    ) -> LedgerEntry:
        """As :meth:`.ProgressionService.adjust`, awaited."""
        return await self._adjust("adjust", user_id, delta, reason, operator, key, within)

    async def set_exp(
        self,
        user_id: str,
        exp: int,
        *,
        reason: str,
        operator: str,
        key: str | None = None,
        within: object = None,
    ) -> LedgerEntry:
        """As :meth:`.ProgressionService.set_exp`, awaited."""
        return await self._adjust("set_exp", user_id, exp, reason, operator, key, within)

    async def set_timezone(
        self,
        user_id: str,
        timezone: str | None,
        *,
        key: str | None = None,
        within: object = None,
    ) -> ProgressState:
        """As :meth:`.ProgressionService.set_timezone`, awaited."""
        user_id = await self._user(user_id, "user_id")
        timezone = check_timezone(timezone)
        key = check_optional_id(key, "key")
        decisions = self._decisions
        state, repeat = await self._run(
            "set_timezone",
            user_id,
            lambda: decisions.set_timezone(user_id, timezone, key),
            retry_faults=key is not None,
            within=within,
        )
        if not repeat and (self.observer is not None or log.isEnabledFor(_DEBUG)):
            self._decided("set_timezone", user_id, "", "moved", 0)
        return state

    # --- queries -----------------------------------------------------------------------

    async def events(self, since: str | None = None, limit: int = 100) -> EventsPage:
        """As :meth:`.ProgressionService.events`, awaited."""
        limit = check_events_limit(limit)
        store = self.store
        if not isinstance(store, AsyncEventFeedStore):
            no_capability(store, "hand out progression events (AsyncEventFeedStore)")
        return await self._read(lambda: store.events(since, limit))

    async def state(self, user_id: str) -> ProgressState:
        """As :meth:`.ProgressionService.state`, awaited."""
        user_id = await self._user(user_id, "user_id")
        store = self.store
        if isinstance(store, AsyncStateReader):
            return await self._read(lambda: store.read_state(user_id))
        return await self._run("state", user_id, self._decisions.state)

    async def limits(self, user_id: str) -> dict[str, Any]:
        """As :meth:`.ProgressionService.limits`, awaited."""
        user_id = await self._user(user_id, "user_id")
        decisions = self._decisions
        return await self._run("limits", user_id, lambda: decisions.limits(user_id))

    async def ledger(self, user_id: str) -> list[LedgerEntry]:
        """Every change to the user's progression, oldest first."""
        return await self.store.ledger(await self._user(user_id, "user_id"))

    async def replay(self, user_id: str) -> ReplayReport:
        """As :meth:`.ProgressionService.replay`, awaited."""
        user_id = await self._user(user_id, "user_id")
        store = self.store
        form = store.stored_form if isinstance(store, StoredFormStore) else None
        if isinstance(store, AsyncReplayReader):
            rows = await store.replay_rows(user_id)
            return replay_rows_report(rows, await self.state(user_id), self.config, form)
        entries = await store.ledger(user_id)
        stored = await self.state(user_id)
        return replay_report(entries, stored, self.config, form)

    async def users_at_daily_cap(self) -> list[UserActivity]:
        """Users who reached their level's daily cap today, most EXP first (a guide query)."""
        return await self._monitoring().users_at_daily_cap(
            self.config.daily_exp_caps, self._decisions.today()
        )

    async def most_active_users(self, limit: int = 10) -> list[UserActivity]:
        """Today's most active users by EXP gained, most first (a guide query)."""
        return await self._monitoring().most_active_users(
            self.config.daily_exp_caps, self._decisions.today(), limit
        )

    async def claim_key(self, scope: str, key: str, request: str) -> str:
        """As :meth:`.ProgressionService.claim_key`, awaited."""
        scope = await self._user(scope, "scope")
        key = check_id(key, "key")
        request = check_request(request)
        store = self.store
        if not isinstance(store, AsyncRequestKeyStore):
            no_capability(store, "remember request keys (AsyncRequestKeyStore)")
        now = self._decisions.now
        return await self._read(lambda: store.claim_key(scope, key, request, now()))

    # --- internals ---------------------------------------------------------------------

    async def _adjust(
        self,
        operation: str,
        user_id: str,
        amount: object,
        reason: object,
        operator: object,
        key: object,
        within: object,
    ) -> LedgerEntry:
        user_id = await self._user(user_id, "user_id")
        absolute = operation == "set_exp"
        amount, reason, operator, key = check_adjustment(
            amount, reason, operator, key, absolute=absolute
        )
        decisions = self._decisions
        entry, repeat = await self._run(
            operation,
            user_id,
            lambda: decisions.adjust(
                user_id, amount, absolute=absolute, reason=reason, operator=operator, key=key
            ),
            retry_faults=key is not None,
            within=within,
        )
        return entry if repeat else self._adjusted(operation, user_id, entry)

    async def _award_alone(
        self, request: Planned, within: object = None
    ) -> tuple[AwardResult, bool]:
        """One award in a transaction of its own (or in the caller's, ``within``)."""
        decisions = self._decisions
        user_id, action, _, key, actor, target = request[1:]
        return await self._run(
            "award",
            user_id,
            lambda: decisions.award(user_id, action, key, actor, target),
            retry_faults=key is not None,
            within=within,
        )

    async def _award_together(self, requests: Sequence[Planned]) -> list[Decided]:
        assert self._batches is not None
        return await run_chunk_async(
            self._batches, self._decisions, requests, max_attempts=self.max_attempts
        )

    async def _award_each(self, requests: Sequence[Planned]) -> list[Decided]:
        """A chunk on a store without batches: each request in a transaction of its own."""
        decisions = self._decisions
        decided: list[Decided] = []
        for request in requests:
            decided += await self._run(
                "award",
                request.user_id,
                lambda request=request: one_request(decisions, request),  # type: ignore[misc]
                retry_faults=request.key is not None,
            )
        return decided

    async def _user(self, value: object, field: str) -> str:
        """A canonical user id, as the core and then the store take it."""
        user_id = check_id(value, field)
        canonical = self._canonical
        return user_id if canonical is None else await canonical.check_user_id(user_id, field)

    def _monitoring(self) -> AsyncMonitoringStore:
        if not isinstance(self.store, AsyncMonitoringStore):
            no_capability(self.store, "implement the monitoring queries")
        return self.store

    async def _read(self, read: Callable[[], Awaitable[T]]) -> T:
        """A read (or a claim) outside any transaction, retried through faults."""
        faults = 0
        while True:
            try:
                return await read()
            except StoreUnavailableError:
                faults += 1
                if faults >= FAULT_ATTEMPTS:
                    raise
            await asyncio.sleep(backoff(faults - 1))

    def _transaction(
        self, user_id: str, within: object
    ) -> AbstractAsyncContextManager[AsyncStoreTransaction]:
        if within is None:
            return self.store.transaction(user_id)
        store = self.store
        if not isinstance(store, AsyncJoinableStore):
            raise not_joinable(store, "AsyncJoinableStore", "AsyncSQLAlchemyStore")
        return store.join(within, user_id)

    async def _run(
        self,
        operation: str,
        user_id: str,
        steps: Callable[[], Steps[T]],
        *,
        retry_faults: bool = True,
        within: object = None,
    ) -> T:
        attempts: Attempts | None = None  # made on the first failure: most commands have none
        observer = self.observer
        while True:
            token = None if observer is None else observer.attempt_started(operation, user_id)
            try:
                if within is None and self._runner is not None:
                    # One hop to the store's worker for the whole attempt (see the protocol).
                    result = await self._runner.run_in_transaction(
                        user_id, lambda tx: drive(tx, steps())
                    )
                else:
                    transaction = (
                        self.store.transaction(user_id)
                        if within is None
                        else self._transaction(user_id, within)
                    )
                    async with transaction as tx:
                        result = await _drive(tx, steps())
            except (StaleVersionError, StoreUnavailableError) as exc:
                if observer is not None:
                    observer.attempt_ended(token, exc)
                if attempts is None:
                    attempts = self._attempts(operation, user_id, retry_faults, within)
                delay = attempts.failed(exc)
            except BaseException as exc:
                if observer is not None:
                    observer.attempt_ended(token, exc)
                raise
            else:
                if observer is not None:
                    observer.attempt_ended(token, None)
                return result
            # Even a zero delay yields to the loop, so a retry never starves other tasks.
            await asyncio.sleep(delay)


async def _drive(tx: AsyncStoreTransaction, steps: Steps[T]) -> T:
    """Run a command's steps on an async store transaction (the async shell's only I/O)."""
    try:
        request = next(steps)
        while True:
            if type(request) is Load:
                request = steps.send(await tx.load(request.key))
            else:
                await tx.write(request.state, request.version, request.entries)  # type: ignore[union-attr]
                request = steps.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
