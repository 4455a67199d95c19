"""What a failed attempt leads to, and what the log and an observer hear of it.

Shared by the sync and async services: :class:`Attempts` decides whether to try a
command again and after how long; the shells only sleep.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Literal, NoReturn, Protocol

from ..errors import (
    ConcurrencyError,
    InvalidArgumentError,
    StoreError,
    StoreUnavailableError,
)
from ..stores.base import (
    StaleSnapshotError,
    StaleVersionError,
)

__all__ = ["Attempts", "Observer", "backoff", "log"]

log = logging.getLogger("mikoshi_progression")
"""The library's logger: awards at DEBUG, conflicts and retries at INFO, store faults at
WARNING, each with structured ``extra`` (``mikoshi_operation``, ``mikoshi_user_id``...)."""


Operation = Literal[
    "award", "revoke", "reset_daily", "adjust", "set_exp", "limits", "state", "claim_key"
]


class Observer(Protocol):
    """What a metrics or tracing integration hears from a service (see ``otel.py``).

    Every method is called on the request's own thread or task, must be quick, and
    must not raise. A service without an observer makes none of these calls.
    """

    def attempt_started(self, operation: str, user_id: str) -> object:
        """A store transaction (one attempt of ``operation``) begins; returns a token."""
        ...

    def attempt_ended(self, token: object, error: BaseException | None) -> None:
        """The attempt ``token`` names ended: committed (``error`` None) or failed."""
        ...

    def retried(self, operation: str, user_id: str, conflict: bool) -> None:
        """An attempt failed and is tried again: after a conflict with another writer
        (``conflict``) or a store fault."""
        ...

    def decided(self, operation: str, user_id: str, action: str, outcome: str, exp: int) -> None:
        """A command decided and committed: ``outcome`` (an award's :class:`Outcome`,
        ``"revoked"``, ``"adjusted"``, ``"set"``, ``"manual_reset"``) and the EXP it
        granted (negative when taken back); a repeat of a keyed request is not one."""
        ...


class Attempts:
    """What a failed attempt of one command leads to: try again after a delay, or raise.

    Conflicts (a lost race) are retried up to ``max_attempts`` with jittered exponential
    backoff; store faults only when ``retry_faults`` (a keyed award, a read: repeats that
    cannot award twice), at most :data:`FAULT_ATTEMPTS` times; an out-of-date cached
    snapshot is retried at once.
    """

    __slots__ = (
        "conflicts",
        "faults",
        "last_error",
        "max_attempts",
        "misses",
        "number",
        "observer",
        "operation",
        "retry_faults",
        "user_id",
    )

    def __init__(
        self,
        operation: str,
        user_id: str,
        *,
        max_attempts: int,
        retry_faults: bool,
        observer: Observer | None,
    ) -> None:
        self.operation = operation
        self.user_id = user_id
        self.max_attempts = max_attempts
        self.retry_faults = retry_faults
        self.observer = observer
        self.conflicts = 0
        self.faults = 0
        self.misses = 0
        self.number = 0
        self.last_error: StoreError | None = None

    def failed(self, error: StoreError) -> float:
        """The seconds to wait before the next attempt after ``error``; raises ``error``
        (or :class:`ConcurrencyError`) when there is to be no next attempt."""
        self.last_error = error
        conflict = isinstance(error, StaleVersionError)
        if isinstance(error, StaleSnapshotError):
            # The store's cache guessed wrong and nobody contends: reload at once,
            # without spending an attempt (a store stops guessing for that user).
            self.misses += 1
            if self.misses <= SNAPSHOT_MISSES:
                self._note(conflict=True, error=error, level=logging.DEBUG)
                return 0.0
            self.conflicts += 1
        elif conflict:
            self.conflicts += 1
        elif isinstance(error, StoreUnavailableError):
            self.faults += 1
            # A store that is down stays down for a while: give up fast and say so.
            if not self.retry_faults or self.faults >= FAULT_ATTEMPTS:
                self._note(conflict=False, error=error, level=logging.WARNING, retry=False)
                raise error
        else:  # pragma: no cover - the shells pass only the two retryable errors
            raise error
        delay = backoff(self.number)
        self.number += 1
        if self.number >= self.max_attempts:
            self.give_up()
        self._note(
            conflict=conflict, error=error, level=logging.INFO if conflict else logging.WARNING
        )
        return delay

    def give_up(self) -> NoReturn:
        last = self.last_error
        if isinstance(last, StoreUnavailableError):
            raise last
        log.warning(
            "gave up %s on user %r after %d attempts (%d conflicts)",
            self.operation,
            self.user_id,
            self.max_attempts,
            self.conflicts,
            extra=self._extra(last),
        )
        raise ConcurrencyError(
            f"gave up on user {self.user_id!r} after {self.max_attempts} attempts: "
            f"{self.conflicts} conflicts with concurrent writers ({last})"
        ) from last

    def _note(self, *, conflict: bool, error: StoreError, level: int, retry: bool = True) -> None:
        if retry and self.observer is not None:
            self.observer.retried(self.operation, self.user_id, conflict)
        if log.isEnabledFor(level):
            what = "conflict" if conflict else "store fault"
            then = "retrying" if retry else "not retried"
            log.log(
                level,
                "%s on user %r during %s (%s): %s",
                what,
                self.user_id,
                self.operation,
                then,
                error,
                extra=self._extra(error),
            )

    def _extra(self, error: BaseException | None) -> dict[str, Any]:
        return {
            "mikoshi_operation": self.operation,
            "mikoshi_user_id": self.user_id,
            "mikoshi_attempt": self.number,
            "mikoshi_conflicts": self.conflicts,
            "mikoshi_faults": self.faults,
            "mikoshi_error": type(error).__name__ if error is not None else None,
        }


FAULT_ATTEMPTS = 3
"""Attempts of a retryable operation through store faults before the fault is raised."""

SNAPSHOT_MISSES = 3
"""Out-of-date cached snapshots retried at once, before they count as conflicts."""

MAX_REQUEST_LENGTH = 4096
"""The longest request text ``claim_key`` records."""


def backoff(attempt: int) -> float:
    """A jittered, exponentially growing wait before attempt ``attempt + 1`` (at most 50 ms)."""
    return random.uniform(0, min(0.05, 0.0005 * 2**attempt))


def check_max_attempts(max_attempts: object) -> int:
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
        raise InvalidArgumentError("max_attempts", "an integer of at least 1", max_attempts)
    return max_attempts


def check_request(request: object) -> str:
    if not isinstance(request, str) or not 0 < len(request) <= MAX_REQUEST_LENGTH:
        raise InvalidArgumentError(
            "request", f"a string of 1 to {MAX_REQUEST_LENGTH} characters", request
        )
    return request


def log_decision(operation: str, user_id: str, action: str, outcome: str, exp: int) -> None:
    """The DEBUG record of a decided command (callers check ``log.isEnabledFor`` first)."""
    log.debug(
        "%s %s to user %r: %s, %+d EXP",
        operation,
        action or "-",
        user_id,
        outcome,
        exp,
        extra={
            "mikoshi_operation": operation,
            "mikoshi_user_id": user_id,
            "mikoshi_action": action,
            "mikoshi_outcome": outcome,
            "mikoshi_exp": exp,
        },
    )
