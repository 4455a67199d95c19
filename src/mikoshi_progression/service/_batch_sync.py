"""The synchronous service's batches: ``award_many``, chunk by chunk, on a store.

The decisions are :mod:`._batch`'s; this module runs them in store transactions, retries a
chunk that lost a race, and says which requests landed when a store failure stops the
batch (:class:`~mikoshi_progression.errors.BatchError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from ..core.results import AwardResult
from ..errors import (
    InvalidArgumentError,
    StoreError,
    StoreUnavailableError,
)
from ..stores.base import BatchStore, BatchTransaction, StaleVersionError
from ._batch import (
    AwardRequest,
    BatchResult,
    ChunkSteps,
    Collector,
    Decided,
    LoadMany,
    Planned,
    check_request_type,
    chunk_attempts,
    chunk_steps,
    chunks,
    group_by_user,
    planned_request,
)
from ._retries import Attempts
from ._steps import Decisions

__all__ = [
    "DEFAULT_CHUNK",
    "check_chunk_size",
    "drive_chunk",
    "plan",
    "run_batch",
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
    for position, request in enumerate(requests):
        where = check_request_type(position, request)
        user_id = canonical_user(request.user_id, f"{where}.user_id")
        actor = (
            None
            if request.actor_id is None
            else canonical_user(request.actor_id, f"{where}.actor_id")
        )
        planned.append(planned_request(position, request, user_id, actor, decisions))
    return planned


def drive_chunk(tx: BatchTransaction, steps: ChunkSteps) -> list[Decided]:
    """Run a chunk's steps on a sync batch transaction."""
    try:
        request = next(steps)
        while True:
            if type(request) is LoadMany:
                request = steps.send(tx.load_many(request.keys))
            else:
                tx.write_many(request.writes)  # type: ignore[union-attr]
                request = steps.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def run_chunk_retried(
    store: BatchStore,
    decisions: Decisions,
    chunk: Sequence[Planned],
    *,
    max_attempts: int,
) -> list[Decided]:
    """A chunk in one batch transaction, tried again as :func:`chunk_attempts` says."""
    attempts: Attempts | None = None
    users = list(group_by_user(chunk))
    while True:
        try:
            with store.batch_transaction(users) as tx:
                return drive_chunk(tx, chunk_steps(decisions, chunk))
        except (StaleVersionError, StoreUnavailableError) as exc:
            if attempts is None:
                attempts = chunk_attempts(chunk, max_attempts)
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
    collector = Collector(planned, heard)
    for start, chunk in chunks(planned, chunk_size):
        try:
            decided = run(chunk)
        except StoreError as exc:
            raise collector.failed(start, len(chunk), exc) from exc
        collector.add(decided)
    return collector.result()
