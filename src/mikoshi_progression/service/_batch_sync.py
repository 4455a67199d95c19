"""The synchronous service's batches: ``award_many``, chunk by chunk, on a store.

The decisions are :mod:`._batch`'s; this module runs them in store transactions, retries a
chunk that lost a race, and says which requests landed when a store failure stops the
batch (:class:`~mikoshi_progression.errors.BatchError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from ..core.days import require_aware
from ..core.identity import check_optional_id
from ..core.results import AwardResult
from ..core.rules import check_actor
from ..errors import (
    BatchError,
    IdempotencyError,
    InvalidArgumentError,
    SelfAwardError,
    StoreError,
    StoreUnavailableError,
)
from ..stores.base import BatchStore, StaleVersionError
from ._batch import (
    AwardRequest,
    BatchResult,
    Decided,
    Planned,
    decide_series,
    group_by_user,
    wanted_keys,
)
from ._retries import Attempts, log
from ._steps import Decisions

__all__ = [
    "DEFAULT_CHUNK",
    "check_chunk_size",
    "plan",
    "run_batch",
    "run_chunk",
    "run_chunk_retried",
]

DEFAULT_CHUNK = 1000
"""Requests per transaction of ``award_many`` unless told otherwise."""
MAX_CHUNK = 100_000


def check_chunk_size(chunk_size: object) -> int:
    if (
        not isinstance(chunk_size, int)
        or isinstance(chunk_size, bool)
        or not 1 <= chunk_size <= MAX_CHUNK
    ):
        raise InvalidArgumentError("chunk_size", f"an integer from 1 to {MAX_CHUNK}", chunk_size)
    return chunk_size


def plan(
    requests: Iterable[AwardRequest],
    canonical_user: Callable[[object, str], str],
    decisions: Decisions,
) -> list[Planned]:
    """Every request checked, before anything is stored: a bad one refuses the batch,
    naming its position."""
    planned = []
    config = decisions.config
    for position, request in enumerate(requests):
        where = f"requests[{position}]"
        if not isinstance(request, AwardRequest):
            raise InvalidArgumentError(where, "an AwardRequest", request)
        user_id = canonical_user(request.user_id, f"{where}.user_id")
        actor = (
            None
            if request.actor_id is None
            else canonical_user(request.actor_id, f"{where}.actor_id")
        )
        if not isinstance(request.action, str):
            raise InvalidArgumentError(f"{where}.action", "an action name", request.action)
        try:
            check_actor(request.action, recipient=user_id, actor=actor, config=config)
        except SelfAwardError as exc:
            raise SelfAwardError(f"{where}: {exc}") from None
        at = None if request.at is None else require_aware(request.at, f"{where}.at")
        planned.append(
            Planned(
                position,
                user_id,
                request.action,
                at,
                check_optional_id(request.key, f"{where}.key"),
                actor,
                check_optional_id(request.target, f"{where}.target"),
            )
        )
    return planned


def run_chunk(store: BatchStore, decisions: Decisions, chunk: Sequence[Planned]) -> list[Decided]:
    """One chunk in one transaction: load every user once, decide, write every user once."""
    users = group_by_user(chunk)
    now = decisions.now()
    decided: list[Decided] = []
    with store.batch_transaction(list(users)) as tx:
        snapshots = tx.load_many(wanted_keys(users))
        writes = []
        for user_id, requests in users.items():
            outcome, write = decide_series(decisions, user_id, snapshots[user_id], requests, now)
            decided += outcome
            if write is not None:
                writes.append(write)
        if writes:
            tx.write_many(writes)
    return decided


def run_chunk_retried(
    store: BatchStore,
    decisions: Decisions,
    chunk: Sequence[Planned],
    *,
    max_attempts: int,
) -> list[Decided]:
    """:func:`run_chunk` again after a lost race (with backoff), and after a store fault
    when every request of the chunk is keyed (a repeat cannot award twice)."""
    attempts: Attempts | None = None
    while True:
        try:
            return run_chunk(store, decisions, chunk)
        except (StaleVersionError, StoreUnavailableError) as exc:
            if attempts is None:
                attempts = Attempts(
                    "award_many",
                    chunk[0].user_id,
                    max_attempts=max_attempts,
                    retry_faults=all(request.key is not None for request in chunk),
                    observer=None,
                )
            delay = attempts.failed(exc)
        if delay:
            time.sleep(delay)


def run_batch(
    planned: Sequence[Planned],
    run: Callable[[Sequence[Planned]], list[Decided]],
    chunk_size: int,
    heard: Callable[[Planned, AwardResult], None] | None,
) -> BatchResult:
    """Run ``planned`` chunk by chunk with ``run``; the batch's result, or
    :class:`BatchError` saying what landed if a chunk failed."""
    count = len(planned)
    results: list[AwardResult | None] = [None] * count
    repeated = [False] * count
    errors: dict[int, IdempotencyError] = {}
    for start in range(0, count, chunk_size):
        chunk = planned[start : start + chunk_size]
        try:
            decided = run(chunk)
        except StoreError as exc:
            landed = tuple(range(start))
            log.warning("award_many stopped at request %d of %d: %s", start, count, exc)
            raise BatchError(
                f"the store failed on requests {start} to {start + len(chunk) - 1} of "
                f"{count}: {exc}; requests before {start} landed, those from "
                f"{start + len(chunk)} on were not sent",
                landed=landed,
                unknown=tuple(range(start, start + len(chunk))),
                not_sent=tuple(range(start + len(chunk), count)),
                results={position: results[position] for position in landed},
            ) from exc
        for position, result, again, error in decided:
            results[position] = result
            repeated[position] = again
            if error is not None:
                errors[position] = error
            elif heard is not None and result is not None and not again:
                heard(planned[position], result)
    return BatchResult(tuple(results), tuple(repeated), errors)
