"""The imperative shell: load, decide with the pure core, persist, retry.

:class:`ProgressionService` is what a backend calls. Each award runs in one store
transaction: the state is loaded with its version, the pure core decides, and
the new state is written with its ledger entries only if nobody else wrote in
between. A conflict reloads and decides again (bounded, with jittered backoff),
so concurrent requests can never lose an update or pass a cap.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from .config import DEFAULT_CONFIG, ProgressionConfig
from .daily import (
    is_clock_fault,
    next_reset_at,
    reset_daily_limits,
    reset_daily_limits_if_needed,
)
from .days import require_aware
from .errors import (
    ConcurrencyError,
    IdempotencyError,
    InvalidArgumentError,
    StoreError,
    StoreUnavailableError,
)
from .identity import check_id, check_optional_id
from .results import AwardResult, Outcome
from .rules import (
    apply_events,
    award_exp_with_limits,
    check_actor,
    exp_limits_view,
    revoke_exp,
)
from .state import ProgressState
from .stores.base import (
    CLOCK_FAULT,
    CanonicalIdStore,
    EntryKind,
    LedgerEntry,
    MonitoringStore,
    ProgressStore,
    RequestKeyStore,
    Snapshot,
    StaleSnapshotError,
    StaleVersionError,
    StateReader,
    StoredFormStore,
    StoreTransaction,
    UserActivity,
)

T = TypeVar("T")

__all__ = ["ProgressionService", "ReplayReport", "replay_ledger", "utc_now"]


def utc_now() -> datetime:
    """The current moment as an aware UTC datetime (the service's default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The result of rebuilding a user's state from their ledger.

    Attributes:
        state: The state the ledger leads to under the service's config.
        stored: The state the store holds.
        entries: How many ledger entries were replayed.
        foreign_fingerprints: Config fingerprints in the ledger that differ from
            the service's (entries decided under other rules).
        matches: Whether the replayed state equals the stored one, as the store's
            columns can hold it (see ``StoredFormStore``).
    """

    state: ProgressState
    stored: ProgressState
    entries: int
    foreign_fingerprints: tuple[str, ...]
    matches: bool


class ProgressionService:
    """Awards, limits, resets and revocations for users kept in a store.

    Args:
        store: Any :class:`~mikoshi_progression.stores.ProgressStore`.
        config: The rules (default: the platform's).
        clock: Returns the current aware datetime; inject a fake one in tests.
        max_attempts: How many times a conflicting award is retried before
            :class:`ConcurrencyError`. Transient store failures are retried too,
            but only for keyed awards, where a retry cannot award twice.
    """

    def __init__(
        self,
        store: ProgressStore,
        *,
        config: ProgressionConfig = DEFAULT_CONFIG,
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = 50,
    ) -> None:
        attempts: object = max_attempts
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise InvalidArgumentError("max_attempts", "an integer of at least 1", attempts)
        if not isinstance(config, ProgressionConfig):
            raise InvalidArgumentError("config", "a ProgressionConfig", config)
        self.store = store
        self.config = config
        self.clock = clock
        self.max_attempts = max_attempts
        self._canonical = store.check_user_id if isinstance(store, CanonicalIdStore) else None

    # --- commands --------------------------------------------------------------------

    def award(
        self,
        user_id: str,
        action: str,
        *,
        key: str | None = None,
        actor_id: str | None = None,
        target: str | None = None,
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

        def attempt(tx: StoreTransaction) -> AwardResult:
            now = self._now()
            snap = tx.load(key)
            if snap.keyed_award is not None:
                return self._repeat(snap.keyed_award, action, key, actor, target)
            result = award_exp_with_limits(snap.state, action, now=now, config=self.config)
            if result.outcome is Outcome.INVALID_ACTION:
                return result
            entries = self._day_entries(user_id, snap, result.state, now)
            if result.success:
                entries.append(
                    self._entry(
                        user_id,
                        EntryKind.AWARD,
                        result.state,
                        now,
                        action=action,
                        exp_delta=result.exp_added,
                        level_before=result.previous_level,
                        key=key,
                        outcome=str(result.outcome),
                        actor=actor,
                        target=target,
                    )
                )
            if entries:
                tx.write(result.state, snap.version, entries)
            return result

        return self._run(user_id, attempt, retry_faults=key is not None)

    def revoke(self, user_id: str, key: str) -> LedgerEntry | None:
        """Take back the EXP that the award made with ``key`` granted.

        The compensating ledger entry removes exactly the EXP that award added
        (never its nominal reward). Today's EXP gained and action counts stay,
        so an unlike makes no room for another like. The level drops only if
        ``config.levels_can_drop``. Returns the revocation entry (the same one
        again on a repeated call), or ``None`` if ``key`` awarded nothing.
        """
        user_id = self._user(user_id, "user_id")
        key = check_id(key, "key")

        def attempt(tx: StoreTransaction) -> LedgerEntry | None:
            snap = tx.load(key)
            if snap.keyed_revoke is not None:
                return snap.keyed_revoke
            award = snap.keyed_award
            if award is None:
                return None
            new_state = revoke_exp(snap.state, award.exp_delta, config=self.config)
            now = self._now()
            entry = self._entry(
                user_id,
                EntryKind.REVOKE,
                new_state,
                now,
                action=award.action,
                exp_delta=new_state.exp - snap.state.exp,
                level_before=snap.state.level,
                key=key,
                actor=award.actor,
                target=award.target,
            )
            tx.write(new_state, snap.version, [*self._import_entries(user_id, snap, now), entry])
            return entry

        return self._run(user_id, attempt, retry_faults=True)

    def reset_daily(self, user_id: str) -> ProgressState:
        """An operator's manual reset of today's EXP gained and action counts."""
        user_id = self._user(user_id, "user_id")

        def attempt(tx: StoreTransaction) -> ProgressState:
            snap = tx.load()
            now = self._now()
            new_state = reset_daily_limits(snap.state, now=now)
            entry = self._entry(
                user_id, EntryKind.DAY, new_state, now, level_before=new_state.level
            )
            tx.write(new_state, snap.version, [*self._import_entries(user_id, snap, now), entry])
            return new_state

        # Not retried after a fault: a reset that did land must not be repeated later.
        return self._run(user_id, attempt, retry_faults=False)

    # --- queries -----------------------------------------------------------------------

    def state(self, user_id: str) -> ProgressState:
        """The user's state as stored (a new user's if unknown); no day is opened.

        A store that offers :class:`~mikoshi_progression.stores.StateReader` is read
        without a transaction, so the read never waits behind writers.
        """
        user_id = self._user(user_id, "user_id")
        store = self.store
        if isinstance(store, StateReader):
            return self._read(lambda: store.read_state(user_id))
        return self._run(user_id, lambda tx: tx.load().state, retry_faults=True)

    def limits(self, user_id: str) -> dict[str, Any]:
        """The body of ``GET /api/exp/limits``; persists the day reset if a day has begun.

        Beside the platform's keys, ``resets_at``: when these limits next reset (ISO
        8601, UTC), as the core reckons it (a day never reopens under clock skew).
        """
        user_id = self._user(user_id, "user_id")

        def attempt(tx: StoreTransaction) -> dict[str, Any]:
            snap = tx.load()
            now = self._now()
            today = reset_daily_limits_if_needed(snap.state, now=now, config=self.config)
            if today is not snap.state:
                tx.write(today, snap.version, self._day_entries(user_id, snap, today, now))
            body = exp_limits_view(today, now=now, config=self.config)
            body["resets_at"] = next_reset_at(today, now=now, config=self.config).isoformat()
            return body

        return self._run(user_id, attempt, retry_faults=True)

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """Every change to the user's progression, oldest first."""
        return self.store.ledger(self._user(user_id, "user_id"))

    def replay(self, user_id: str) -> ReplayReport:
        """Rebuild the user's state from their ledger and compare it with the stored one."""
        user_id = self._user(user_id, "user_id")
        entries = self.store.ledger(user_id)
        stored = self.state(user_id)
        state = replay_ledger(entries, self.config)
        comparable = (
            self.store.stored_form(state) if isinstance(self.store, StoredFormStore) else state
        )
        foreign = sorted({e.config_fingerprint for e in entries} - {self.config.fingerprint})
        return ReplayReport(state, stored, len(entries), tuple(foreign), comparable == stored)

    def users_at_daily_cap(self) -> list[UserActivity]:
        """Users who reached their level's daily cap today, most EXP first (a guide query)."""
        return self._monitoring().users_at_daily_cap(self.config.daily_exp_caps, self._today())

    def most_active_users(self, limit: int = 10) -> list[UserActivity]:
        """Today's most active users by EXP gained, most first (a guide query)."""
        return self._monitoring().most_active_users(
            self.config.daily_exp_caps, self._today(), limit
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
        text: object = request
        if not isinstance(text, str) or not 0 < len(text) <= _MAX_REQUEST_LENGTH:
            raise InvalidArgumentError(
                "request", f"a string of 1 to {_MAX_REQUEST_LENGTH} characters", request
            )
        store = self.store
        if not isinstance(store, RequestKeyStore):
            raise StoreError(
                f"{type(store).__name__} does not remember request keys (RequestKeyStore)"
            )
        # A claim is safe to repeat: retried through faults like a read.
        return self._read(lambda: store.claim_key(scope, key, request, self._now()))

    # --- internals ---------------------------------------------------------------------

    def _user(self, value: object, field: str) -> str:
        """A canonical user id, as the core and then the store take it."""
        user_id = check_id(value, field)
        canonical = self._canonical
        return user_id if canonical is None else canonical(user_id, field)

    def _now(self) -> datetime:
        """The clock's moment, refused unless aware and within the supported years."""
        return require_aware(self.clock(), "clock()")

    def _monitoring(self) -> MonitoringStore:
        if not isinstance(self.store, MonitoringStore):
            raise StoreError(
                f"{type(self.store).__name__} does not implement the monitoring queries"
            )
        return self.store

    def _today(self) -> datetime:
        """When the current progression day began (aware UTC)."""
        boundary = self.config.day_boundary
        return boundary.start_of(boundary.day_of(self.clock()))

    def _read(self, read: Callable[[], T]) -> T:
        """A read (or a claim, as safe to repeat) outside any transaction, retried through
        faults as a transaction's read is."""
        faults = 0
        while True:
            try:
                return read()
            except StoreUnavailableError:
                faults += 1
                if faults >= _FAULT_ATTEMPTS:
                    raise
            _backoff(faults - 1)

    def _run(
        self,
        user_id: str,
        attempt: Callable[[StoreTransaction], T],
        *,
        retry_faults: bool,
    ) -> T:
        conflicts = 0
        faults = 0
        misses = 0
        last_error: StoreError | None = None
        number = 0
        while number < self.max_attempts:
            try:
                with self.store.transaction(user_id) as tx:
                    return attempt(tx)
            except StaleSnapshotError as exc:
                # The store's cache guessed wrong and nobody contends: reload at once,
                # without spending an attempt (a store stops guessing for that user).
                misses += 1
                last_error = exc
                if misses <= _SNAPSHOT_MISSES:
                    continue
                conflicts += 1
            except StaleVersionError as exc:
                conflicts += 1
                last_error = exc
            except StoreUnavailableError as exc:
                faults += 1
                last_error = exc
                # A store that is down stays down for a while: give up fast and say so.
                if not retry_faults or faults >= _FAULT_ATTEMPTS:
                    raise
            _backoff(number)
            number += 1
        if isinstance(last_error, StoreUnavailableError):
            raise last_error
        raise ConcurrencyError(
            f"gave up on user {user_id!r} after {self.max_attempts} attempts: "
            f"{conflicts} conflicts with concurrent writers ({last_error})"
        ) from last_error

    def _repeat(
        self,
        entry: LedgerEntry,
        action: str,
        key: str | None,
        actor: str | None,
        target: str | None,
    ) -> AwardResult:
        """The first result of a keyed award, if this call repeats the same request."""
        differences = [
            f"{name} {then!r}, not {now!r}"
            for name, then, now in (
                ("action", entry.action, action),
                ("actor_id", entry.actor, actor),
                ("target", entry.target, target),
            )
            if then != now
        ]
        if differences:
            raise IdempotencyError(
                f"idempotency key {key!r} was already used for another request "
                f"({'; '.join(differences)}): use a new key for a new request",
                key=key,
            )
        return AwardResult(
            action=entry.action,
            outcome=Outcome(entry.outcome),
            exp_added=entry.exp_delta,
            previous_level=entry.level_before,
            state=entry.state_after,
            now=entry.at,
            config=self.config,
        )

    def _import_entries(self, user_id: str, snap: Snapshot, now: datetime) -> list[LedgerEntry]:
        """Adopt a row the ledger has never seen, so that replay starts from it."""
        if not snap.exists or snap.has_ledger:
            return []
        return [
            self._entry(user_id, EntryKind.IMPORT, snap.state, now, level_before=snap.state.level)
        ]

    def _day_entries(
        self, user_id: str, snap: Snapshot, new_state: ProgressState, now: datetime
    ) -> list[LedgerEntry]:
        """The import and day-opening entries that precede a change made at ``now``."""
        entries = self._import_entries(user_id, snap, now)
        if new_state.last_exp_reset_date != snap.state.last_exp_reset_date:
            opened = reset_daily_limits_if_needed(snap.state, now=now, config=self.config)
            fault = is_clock_fault(snap.state, now=now, config=self.config)
            entries.append(
                self._entry(
                    user_id,
                    EntryKind.DAY,
                    opened,
                    now,
                    level_before=opened.level,
                    outcome=CLOCK_FAULT if fault else "",
                )
            )
        return entries

    def _entry(
        self,
        user_id: str,
        kind: EntryKind,
        state_after: ProgressState,
        at: datetime,
        *,
        level_before: int,
        action: str = "",
        exp_delta: int = 0,
        key: str | None = None,
        outcome: str = "",
        actor: str | None = None,
        target: str | None = None,
    ) -> LedgerEntry:
        return LedgerEntry(
            user_id=user_id,
            kind=kind,
            action=action,
            exp_delta=exp_delta,
            level_before=level_before,
            level_after=state_after.level,
            key=key,
            at=at,
            config_fingerprint=self.config.fingerprint,
            state_after=state_after,
            outcome=outcome,
            actor=actor,
            target=target,
        )


def replay_ledger(
    entries: Sequence[LedgerEntry], config: ProgressionConfig = DEFAULT_CONFIG
) -> ProgressState:
    """Fold a user's ledger through the pure core, from their latest import.

    Runs of awards go through :func:`~mikoshi_progression.apply_events`; a day
    entry reopens the day at its moment, a revocation takes back its EXP.
    """
    start = 0
    state = ProgressState()
    for index, entry in enumerate(entries):
        if entry.kind is EntryKind.IMPORT:
            start, state = index + 1, entry.state_after
    pending: list[tuple[datetime, str]] = []
    for entry in entries[start:]:
        if entry.kind is EntryKind.AWARD:
            pending.append((entry.at, entry.action))
            continue
        if pending:
            state, _ = apply_events(state, pending, config)
            pending = []
        if entry.kind is EntryKind.REVOKE:
            state = revoke_exp(state, -entry.exp_delta, config=config)
        elif entry.kind is EntryKind.DAY:
            state = reset_daily_limits(state, now=entry.at)
    if pending:
        state, _ = apply_events(state, pending, config)
    return state


_FAULT_ATTEMPTS = 3
"""Attempts of a retryable operation through store faults before the fault is raised."""

_MAX_REQUEST_LENGTH = 4096
"""The longest request text :meth:`ProgressionService.claim_key` records."""

_SNAPSHOT_MISSES = 3
"""Out-of-date cached snapshots retried at once, before they count as conflicts."""


def _backoff(attempt: int) -> None:
    """Sleep a jittered, exponentially growing moment (at most about 50 ms)."""
    time.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))
