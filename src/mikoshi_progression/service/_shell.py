"""What the sync and async services share beyond the steps: settings, argument checks,
and what they tell the log and an observer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from ..core.config import ProgressionConfig
from ..core.days import resolve_timezone
from ..core.identity import check_id, check_optional_id, check_reason
from ..core.results import AwardResult
from ..errors import (
    InvalidArgumentError,
    StoreError,
)
from ..stores.base import (
    LedgerEntry,
)
from ._batch import Planned
from ._retries import Attempts, Observer, check_max_attempts, log, log_decision
from ._steps import Decisions

__all__ = [
    "Shell",
    "check_adjustment",
    "check_events_limit",
    "check_timezone",
    "no_capability",
    "not_joinable",
]

MAX_EVENTS_PAGE = 1000
"""The most events one read of the feed hands out."""


class Shell:
    """What the sync and async services share beyond the steps: their settings, and
    what they tell the log and the observer."""

    def __init__(
        self,
        config: ProgressionConfig,
        clock: Callable[[], datetime],
        max_attempts: int,
        observer: Observer | None,
    ) -> None:
        self.max_attempts = check_max_attempts(max_attempts)
        self._decisions = Decisions(config, clock)
        self.config = config
        self.clock = clock
        self.observer = observer

    def _attempts(
        self, operation: str, user_id: str, retry_faults: bool, within: object
    ) -> Attempts:
        # Inside the caller's transaction a fault has broken it: never retried there.
        return Attempts(
            operation,
            user_id,
            max_attempts=self.max_attempts,
            retry_faults=retry_faults and within is None,
            observer=self.observer,
        )

    def _batch_listener(self) -> Callable[[Planned, AwardResult], None] | None:
        """What hears each decision of a batch (as :meth:`_decided` hears an award's), or
        ``None`` when nobody listens (no observer, no debug log): nothing to call."""
        if self.observer is None and not log.isEnabledFor(logging.DEBUG):
            return None

        def heard(request: Planned, result: AwardResult) -> None:
            self._decided(
                "award", request.user_id, request.action, str(result.outcome), result.exp_added
            )

        return heard

    def _decided(self, operation: str, user_id: str, action: str, outcome: str, exp: int) -> None:
        if self.observer is not None:
            self.observer.decided(operation, user_id, action, outcome, exp)
        if log.isEnabledFor(logging.DEBUG):
            log_decision(operation, user_id, action, outcome, exp)

    def _adjusted(self, operation: str, user_id: str, entry: LedgerEntry) -> LedgerEntry:
        """An adjustment is an operator's act: always logged, at INFO (a repeat of a
        keyed one is no new act: the shells do not call this for it)."""
        log.info(
            "%s of user %r by %s: %+d EXP (%s)",
            operation,
            user_id,
            entry.actor,
            entry.exp_delta,
            entry.reason,
            extra={
                "mikoshi_operation": operation,
                "mikoshi_user_id": user_id,
                "mikoshi_operator": entry.actor,
                "mikoshi_exp": entry.exp_delta,
                "mikoshi_reason": entry.reason,
            },
        )
        if self.observer is not None:
            self.observer.decided(operation, user_id, "", entry.outcome, entry.exp_delta)
        return entry


def not_joinable(store: object, protocol: str, example: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        "within",
        f"None: {type(store).__name__} cannot join the caller's transaction "
        f"(use a store that implements {protocol}, such as {example})",
        "a transaction",
    )


def check_adjustment(
    amount: object, reason: object, operator: object, key: object, *, absolute: bool
) -> tuple[int, str, str, str | None]:
    """The arguments of ``adjust`` / ``set_exp``, checked (ids: by the shell, for the store)."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        field = "exp" if absolute else "delta"
        raise InvalidArgumentError(field, "an integer", amount)
    if absolute and amount < 0:
        raise InvalidArgumentError("exp", "a non-negative integer (EXP never goes below 0)", amount)
    if not absolute and amount == 0:
        raise InvalidArgumentError(
            "delta", "a non-zero integer (an adjustment changes EXP)", amount
        )
    checked_reason = check_reason(reason)
    assert checked_reason is not None
    return amount, checked_reason, check_id(operator, "operator"), check_optional_id(key, "key")


def check_timezone(timezone: object) -> str | None:
    """``set_timezone``'s zone: an IANA name, or ``None`` for the config's zone."""
    if timezone is None:
        return None
    expected = "an IANA time zone name such as 'Asia/Tokyo', or None (the config's zone)"
    if not isinstance(timezone, str):
        raise InvalidArgumentError("timezone", expected, timezone)
    try:
        resolve_timezone(timezone)
    except InvalidArgumentError:
        raise InvalidArgumentError("timezone", expected, timezone) from None
    return timezone


def check_events_limit(limit: object) -> int:
    """``events``' page size: 1 to :data:`MAX_EVENTS_PAGE`."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_EVENTS_PAGE:
        raise InvalidArgumentError("limit", f"an integer from 1 to {MAX_EVENTS_PAGE:,}", limit)
    return limit


def no_capability(store: object, what: str) -> NoReturn:
    raise StoreError(f"{type(store).__name__} does not {what}")
