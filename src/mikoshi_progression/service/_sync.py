"""The synchronous shell: :class:`ProgressionService` runs the shared steps on a store.

Load, decide with the pure core, persist, retry: each command runs in one store
transaction. The state is loaded with its version, :mod:`._steps` decides, and the new
state is written with its ledger entries only if nobody else wrote in between. A
conflict reloads and decides again (bounded, with jittered backoff), so concurrent
requests can never lose an update or pass a cap. Everything but the I/O lives in
:mod:`._steps`, shared with :class:`~mikoshi_progression.service.AsyncProgressionService`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar

from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..core.identity import check_id, check_optional_id, check_reason
from ..core.results import AwardResult
from ..core.rules import check_actor
from ..core.state import ProgressState
from ..errors import StoreUnavailableError
from ..stores._feed import (
    EventFeedStore,
    EventsPage,
)
from ..stores.async_base import JoinableStore
from ..stores.base import (
    BatchStore,
    CanonicalIdStore,
    LedgerEntry,
    MonitoringStore,
    ProgressStore,
    ReplayReader,
    RequestKeyStore,
    StaleVersionError,
    StateReader,
    StoredFormStore,
    StoreTransaction,
    UserActivity,
)
from ._batch import AwardRequest, BatchResult, Decided, Planned, one_request
from ._batch_sync import DEFAULT_CHUNK, check_chunk_size, plan, run_batch, run_chunk_retried
from ._combining import Combiner
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
from ._steps import Steps, drive, utc_now

T = TypeVar("T")

__all__ = ["ProgressionService"]

_DEBUG = logging.DEBUG


class ProgressionService(Shell):
    """Awards, limits, resets, revocations and operators' adjustments for users in a store.

    Args:
        store: Any :class:`~mikoshi_progression.stores.ProgressStore`.
        config: The rules (default: the platform's).
        clock: Returns the current aware datetime; inject a fake one in tests.
        max_attempts: How many times a conflicting command is tried before
            :class:`~mikoshi_progression.errors.ConcurrencyError`. Transient store
            failures are retried too, but only where a retry cannot award twice.
        observer: Hears of attempts, retries and decisions (metrics and traces: see
            :mod:`mikoshi_progression.otel`); ``None`` (the default) costs nothing.
        combine: Combine concurrent awards to one user into one transaction (threads of
            this process awarding a hot user; each still gets its own result and ledger
            entry), and on a store that writes one transaction at a time (SQLite: its
            ``combine_users``) concurrent awards to any users. Takes effect on a store
            that runs batches (:class:`~mikoshi_progression.stores.BatchStore`); an award
            that nobody else's overlaps runs alone, as without it.
    """

    def __init__(
        self,
        store: ProgressStore,
        *,
        config: ProgressionConfig = DEFAULT_CONFIG,
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = 50,
        observer: Observer | None = None,
        combine: bool = True,
    ) -> None:
        super().__init__(config, clock, max_attempts, observer)
        self.store = store
        self._canonical = store.check_user_id if isinstance(store, CanonicalIdStore) else None
        self._combiner = (
            Combiner(
                self._award_alone,
                self._award_together,
                across_users=getattr(store, "combine_users", False),
            )
            if combine and isinstance(store, BatchStore) and store.batches
            else None
        )

    # --- commands --------------------------------------------------------------------

    def award(
        self,
        user_id: str,
        action: str,
        *,
        key: str | None = None,
        actor_id: str | None = None,
        target: str | None = None,
        within: object = None,
    ) -> AwardResult:
        """Award ``action`` to ``user_id`` under the config's rules, exactly once per ``key``.

        ``key`` (an idempotency key, scoped to the user) makes the call safe to
        retry: a second call with the same key and the same request awards nothing
        and returns the first call's result. The key names one request, which the
        ledger records: the action, ``actor_id`` and ``target``. The same key for
        another one is an :class:`~mikoshi_progression.errors.IdempotencyError`, and
        nothing is stored.

        Creator awards (``ActionRule.creator_award``: ``character_liked``, ``forked``,
        ``paid_char_sold``) need ``actor_id``, the user who acted (the fan, the
        buyer), and are refused when the actor is the recipient. ``target`` names
        what the award is for (``"character:42"``); it is recorded in the ledger.

        ``within``: the caller's open SQLAlchemy ``Session`` or ``Connection`` (the
        store must implement :class:`~mikoshi_progression.stores.JoinableStore`). The
        award is written in that transaction and commits or rolls back with the
        caller's own writes; the service never commits it. Conflicts are retried
        inside it (each attempt in a SAVEPOINT); store faults are not.

        Ids, keys and targets are canonical strings (see
        :func:`~mikoshi_progression.check_id`): ``42`` and ``"42"`` are never
        compared, one of them is refused.

        Raises:
            InvalidIdError: an id, key or target that is not a canonical string, or a
                spelling of a user id the store keeps under another one.
            SelfAwardError: a creator award without an actor, or to the actor.
            IdempotencyError: ``key`` was already used for another request.
            InvalidMomentError: the clock returned a naive or unsupported moment.
            ConcurrencyError: conflicts persisted through every attempt.
            StoreError: the store failed (a keyed award is retried first).
        """
        user_id = self._user(user_id, "user_id")
        actor = None if actor_id is None else self._user(actor_id, "actor_id")
        key = check_optional_id(key, "key")
        target = check_optional_id(target, "target")
        check_actor(action, recipient=user_id, actor=actor, config=self.config)
        request = Planned(0, user_id, action, None, key, actor, target)
        if within is None and self._combiner is not None:
            result, repeat = self._combiner.award(request)
        else:
            result, repeat = self._award_alone(request, within)
        if not repeat and (self.observer is not None or log.isEnabledFor(_DEBUG)):
            self._decided("award", user_id, action, str(result.outcome), result.exp_added)
        return result

    def award_many(
        self, requests: Iterable[AwardRequest], *, chunk_size: int = DEFAULT_CHUNK
    ) -> BatchResult:
        """Award many requests (a queue's messages, a backfill): each exactly once per key,
        each user's requests decided in the order given, a few statements per chunk.

        The requests are cut into chunks of ``chunk_size``, in order; each chunk is one
        store transaction over every user it names (on a
        :class:`~mikoshi_progression.stores.BatchStore`; on another store each request
        runs in a transaction of its own). Every request is decided as :meth:`award`
        would decide it at its moment (``AwardRequest.at``, or now), on the state the
        user's request before it left, and gets its own ledger entry: the result is what
        sending them one after another would have made. A request whose key is already
        stored repeats its first result; one whose key named another request is refused
        (``BatchResult.errors``) and the others go on.

        Raises:
            InvalidArgumentError: a request that is not an :class:`AwardRequest`, or has a
                bad id, key, target or moment (the message names its position); nothing
                is stored.
            SelfAwardError: a creator award without an actor, or to the actor.
            BatchError: the store failed on a chunk (after retrying it, where a retry
                cannot award twice: a chunk whose every request is keyed). It says which
                requests landed, which may have, and which were never sent.
        """
        size = check_chunk_size(chunk_size)
        planned = plan(requests, self._user, self._decisions)
        store = self.store
        heard = self._batch_listener()

        if isinstance(store, BatchStore) and store.batches:
            return run_batch(planned, self._award_together, size, heard)
        return run_batch(planned, self._award_each, 1, heard)

    def revoke(self, user_id: str, key: str, *, within: object = None) -> LedgerEntry | None:
        """Take back the EXP that the award made with ``key`` granted.

        The compensating ledger entry removes exactly the EXP that award added
        (never its nominal reward). Today's EXP gained and action counts stay,
        so an unlike makes no room for another like. The level drops only if
        ``config.levels_can_drop``. Returns the revocation entry (the same one
        again on a repeated call), or ``None`` if ``key`` awarded nothing.

        Raises:
            IdempotencyError: ``key`` names an operator's adjustment, not an award.
        """
        user_id = self._user(user_id, "user_id")
        key = check_id(key, "key")
        decisions = self._decisions
        entry, repeat = self._run(
            "revoke", user_id, lambda: decisions.revoke(user_id, key), within=within
        )
        heard = self.observer is not None or log.isEnabledFor(_DEBUG)
        if heard and entry is not None and not repeat:
            self._decided("revoke", user_id, entry.action, "revoked", entry.exp_delta)
        return entry

    def reset_daily(
        self,
        user_id: str,
        *,
        reason: str | None = None,
        operator: str | None = None,
        within: object = None,
    ) -> ProgressState:
        """An operator's manual reset of today's EXP gained and action counts (the
        guide's "manual reset"), recorded in the ledger as a day entry with outcome
        ``"manual_reset"``, the ``operator`` as its actor and the ``reason``."""
        user_id = self._user(user_id, "user_id")
        operator = check_optional_id(operator, "operator")
        reason = check_reason(reason, optional=True)
        decisions = self._decisions
        # Not retried after a fault: a reset that did land must not be repeated later.
        state = self._run(
            "reset_daily",
            user_id,
            lambda: decisions.reset_daily(user_id, reason, operator),
            retry_faults=False,
            within=within,
        )
        if self.observer is not None or log.isEnabledFor(_DEBUG):
            self._decided("reset_daily", user_id, "", "manual_reset", 0)
        return state

    def adjust(
        self,
        user_id: str,
        delta: int,
        *,
        reason: str,
        operator: str,
        key: str | None = None,
        within: object = None,
    ) -> LedgerEntry:
        """An operator's grant (``delta`` > 0) or deduction (``delta`` < 0) of EXP.

        Outside the daily rules: no limit or cap applies, and today's EXP gained and
        counts stay as they are. The level follows the config's policy (see
        :func:`~mikoshi_progression.adjust_exp`). Recorded as a ledger entry of kind
        ``adjust`` with the ``operator`` (its actor) and the ``reason``, so replay
        stays exact. ``key`` makes it safe to retry: the same key and the same
        request return the first entry; another request with it is refused.

        Raises:
            InvalidArgumentError: ``delta`` is zero or not an integer, would take EXP
                below 0, or ``reason`` is empty or not printable text.
            InvalidIdError: ``operator``, ``user_id`` or ``key`` is not a canonical id.
            IdempotencyError: ``key`` was used for another request.
        """
        return self._adjust("adjust", user_id, delta, reason, operator, key, within)

    def set_exp(
        self,
        user_id: str,
        exp: int,
        *,
        reason: str,
        operator: str,
        key: str | None = None,
        within: object = None,
    ) -> LedgerEntry:
        """An operator sets the user's total EXP (a migrated balance): :meth:`adjust` by
        the difference, recorded with outcome ``"set"``. Same rules and errors."""
        return self._adjust("set_exp", user_id, exp, reason, operator, key, within)

    def set_timezone(
        self,
        user_id: str,
        timezone: str | None,
        *,
        key: str | None = None,
        within: object = None,
    ) -> ProgressState:
        """Move the user to ``timezone`` (an IANA name; ``None``: the config's zone).

        From now on their days, limits, caps and streak follow that zone's day boundary
        (at the config's ``reset_hour``). The move never ends the current day sooner than
        the old zone would have, nor breaks or extends the streak
        (:func:`~mikoshi_progression.change_timezone` decides). Recorded as a ledger
        entry of kind ``timezone`` (after a ``day`` entry if the move opened a new day),
        so replay follows it. A move to the zone the user has already records nothing.
        ``key`` makes it safe to retry: the same key and zone return the state of the
        first call; another zone with it is refused. Returns the user's new state.

        Raises:
            InvalidArgumentError: ``timezone`` is neither an IANA name nor ``None``.
            IdempotencyError: ``key`` was used for another request.
            SchemaOutdatedError: the store's schema predates the levers (migrate it).
        """
        user_id = self._user(user_id, "user_id")
        timezone = check_timezone(timezone)
        key = check_optional_id(key, "key")
        decisions = self._decisions
        state, repeat = self._run(
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

    def events(self, since: str | None = None, limit: int = 100) -> EventsPage:
        """The progression events committed after the cursor ``since`` (``None``: from the
        first), oldest first, for a notifier: level-ups, streaks, boosts, milestones,
        reached caps, each with the user, the award's ledger position and moment.

        Store ``page.cursor`` once the events are handled and pass it next time: every
        event is handed out at least once (again after a crash before the cursor was
        stored), an award's events together and in order, and never before the award
        committed; the store's cursor never passes an award whose transaction commits
        late (see :class:`~mikoshi_progression.stores.EventFeedStore`). At most ``limit``
        events (1 to 1,000), except that an award's events are never split.

        Raises:
            InvalidArgumentError: ``since`` is not a cursor of this store, or ``limit`` is
                out of range.
            SchemaOutdatedError: the store's schema predates the events (migrate it).
            StoreError: the store has no events feed.
        """
        limit = check_events_limit(limit)
        store = self.store
        if not isinstance(store, EventFeedStore):
            no_capability(store, "hand out progression events (EventFeedStore)")
        return self._read(lambda: store.events(since, limit))

    def state(self, user_id: str) -> ProgressState:
        """The user's state as stored (a new user's if unknown); no day is opened.

        A store that offers :class:`~mikoshi_progression.stores.StateReader` is read
        without a transaction, so the read never waits behind writers.
        """
        user_id = self._user(user_id, "user_id")
        store = self.store
        if isinstance(store, StateReader):
            return self._read(lambda: store.read_state(user_id))
        return self._run("state", user_id, self._decisions.state)

    def limits(self, user_id: str) -> dict[str, Any]:
        """The body of ``GET /api/exp/limits``; persists the day reset if a day has begun.

        Beside the platform's keys, ``resets_at``: when these limits next reset (ISO
        8601, UTC), as the core reckons it (a day never reopens under clock skew).
        """
        user_id = self._user(user_id, "user_id")
        decisions = self._decisions
        return self._run("limits", user_id, lambda: decisions.limits(user_id))

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """Every change to the user's progression, oldest first."""
        return self.store.ledger(self._user(user_id, "user_id"))

    def replay(self, user_id: str) -> ReplayReport:
        """Rebuild the user's state from their ledger and compare it with the stored one.

        A store that offers :class:`~mikoshi_progression.stores.ReplayReader` is read
        through it (only what the fold needs), any other through ``ledger``.
        """
        user_id = self._user(user_id, "user_id")
        store = self.store
        form = store.stored_form if isinstance(store, StoredFormStore) else None
        if isinstance(store, ReplayReader):
            rows = store.replay_rows(user_id)
            return replay_rows_report(rows, self.state(user_id), self.config, form)
        entries = store.ledger(user_id)
        stored = self.state(user_id)
        return replay_report(entries, stored, self.config, form)

    def users_at_daily_cap(self) -> list[UserActivity]:
        """Users who reached their level's daily cap today, most EXP first (a guide query)."""
        return self._monitoring().users_at_daily_cap(
            self.config.daily_exp_caps, self._decisions.today()
        )

    def most_active_users(self, limit: int = 10) -> list[UserActivity]:
        """Today's most active users by EXP gained, most first (a guide query)."""
        return self._monitoring().most_active_users(
            self.config.daily_exp_caps, self._decisions.today(), limit
        )

    def claim_key(self, scope: str, key: str, request: str) -> str:
        """Tie idempotency key ``key`` of caller ``scope`` to ``request``, once.

        For keys that a caller sends for awards whose recipient is not themselves:
        the FastAPI router claims a fan's ``Idempotency-Key`` for a like before it
        awards the liked character's creator, so the same key cannot pay a second
        creator. ``request`` is any text that names the request (the router uses
        canonical JSON of the action, target and recipient).

        Returns the request the key is tied to: ``request`` on the first claim and
        on a faithful retry, the earlier request if the key named another one.

        Raises:
            InvalidIdError: ``scope`` or ``key`` is not a canonical string.
            StoreError: the store does not implement
                :class:`~mikoshi_progression.stores.RequestKeyStore`, or failed
                (a claim is safe to retry and is retried through faults first).
        """
        scope = self._user(scope, "scope")
        key = check_id(key, "key")
        request = check_request(request)
        store = self.store
        if not isinstance(store, RequestKeyStore):
            no_capability(store, "remember request keys (RequestKeyStore)")
        now = self._decisions.now
        # A claim is safe to repeat: retried through faults like a read.
        return self._read(lambda: store.claim_key(scope, key, request, now()))

    # --- internals ---------------------------------------------------------------------

    def _adjust(
        self,
        operation: str,
        user_id: str,
        amount: object,
        reason: object,
        operator: object,
        key: object,
        within: object,
    ) -> LedgerEntry:
        user_id = self._user(user_id, "user_id")
        absolute = operation == "set_exp"
        amount, reason, operator, key = check_adjustment(
            amount, reason, operator, key, absolute=absolute
        )
        decisions = self._decisions
        entry, repeat = self._run(
            operation,
            user_id,
            lambda: decisions.adjust(
                user_id, amount, absolute=absolute, reason=reason, operator=operator, key=key
            ),
            retry_faults=key is not None,
            within=within,
        )
        return entry if repeat else self._adjusted(operation, user_id, entry)

    def _award_alone(self, request: Planned, within: object = None) -> tuple[AwardResult, bool]:
        """One award in a transaction of its own (or in the caller's, ``within``)."""
        decisions = self._decisions
        user_id, action, _, key, actor, target = request[1:]
        return self._run(
            "award",
            user_id,
            lambda: decisions.award(user_id, action, key, actor, target),
            retry_faults=key is not None,
            within=within,
        )

    def _award_together(self, requests: Sequence[Planned]) -> list[Decided]:
        store = self.store
        assert isinstance(store, BatchStore)
        return run_chunk_retried(store, self._decisions, requests, max_attempts=self.max_attempts)

    def _award_each(self, requests: Sequence[Planned]) -> list[Decided]:
        """A chunk on a store without batches: each request in a transaction of its own."""
        decisions = self._decisions
        decided: list[Decided] = []
        for request in requests:
            decided += self._run(
                "award",
                request.user_id,
                lambda request=request: one_request(decisions, request),  # type: ignore[misc]
                retry_faults=request.key is not None,
            )
        return decided

    def _user(self, value: object, field: str) -> str:
        """A canonical user id, as the core and then the store take it."""
        user_id = check_id(value, field)
        canonical = self._canonical
        return user_id if canonical is None else canonical(user_id, field)

    def _monitoring(self) -> MonitoringStore:
        if not isinstance(self.store, MonitoringStore):
            no_capability(self.store, "implement the monitoring queries")
        return self.store

    def _read(self, read: Callable[[], T]) -> T:
        """A read (or a claim, as safe to repeat) outside any transaction, retried through
        faults as a transaction's read is."""
        faults = 0
        while True:
            try:
                return read()
            except StoreUnavailableError:
                faults += 1
                if faults >= FAULT_ATTEMPTS:
                    raise
            time.sleep(backoff(faults - 1))

    def _transaction(
        self, user_id: str, within: object
    ) -> AbstractContextManager[StoreTransaction]:
        if within is None:
            return self.store.transaction(user_id)
        store = self.store
        if not isinstance(store, JoinableStore):
            raise not_joinable(store, "JoinableStore", "SQLAlchemyStore")
        return store.join(within, user_id)

    def _run(
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
                transaction = (
                    self.store.transaction(user_id)
                    if within is None
                    else self._transaction(user_id, within)
                )
                with transaction as tx:
                    result = drive(tx, steps())
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
            if delay:
                time.sleep(delay)
