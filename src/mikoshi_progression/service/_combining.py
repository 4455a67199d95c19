"""Concurrent awards to one user, inside one process, combined into one transaction.

A hot user (a popular creator whose characters are being liked) receives many awards at
once. Sent one by one they queue on the user's row: each waits for the one before it to
commit, and decides nothing the database could not have decided faster. Combined, the
awards that arrive while one is being written wait for it, and then one of them writes
them all in one transaction: the core decides each in turn, in arrival order, on the
state the one before it left; each caller gets its own result, each award its own ledger
entry and its own key, exactly as if they had been sent one after another.

The scheme is flat combining with a hand-off: an award to a user nobody is writing runs
alone, as it always did. Awards that arrive meanwhile join the user's queue; when the
writer is done it hands the whole queue to the first of them, which writes it as one
batch and hands on what queued behind it. No caller ever writes more than one batch, so
nobody's latency grows with the load.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ..core.results import AwardResult
from ._batch import Decided, Planned

__all__ = ["AsyncCombiner", "Combiner", "Lanes"]

W = TypeVar("W")


class Lanes(Generic[W]):
    """Who writes for each user, and what queued meanwhile (no I/O, no lock: the sync
    combiner calls it under a lock, the async one on its event loop)."""

    def __init__(self) -> None:
        # A user is in here while an award to them is being written; the list holds the
        # awards that arrived meanwhile, in arrival order.
        self.queues: dict[str, list[W]] = {}

    def enter(self, user_id: str, waiting: Callable[[], W]) -> W | None:
        """``None`` if the caller writes now, alone (nobody is writing for the user); else
        what ``waiting()`` made for it, in the user's queue (made only then: the common
        award, alone, makes nothing)."""
        queue = self.queues.get(user_id)
        if queue is None:
            self.queues[user_id] = []
            return None
        queued = waiting()
        queue.append(queued)
        return queued

    def hand_off(self, user_id: str) -> list[W] | None:
        """The writer is done: the awards that queued meanwhile, as the next batch (its
        first member writes it), or ``None`` when none did (nobody writes for the user)."""
        queue = self.queues[user_id]
        if not queue:
            del self.queues[user_id]
            return None
        self.queues[user_id] = []
        return queue


class _Waiting:
    """One award waiting in a user's queue, and, once decided, what became of it."""

    __slots__ = ("batch", "done", "error", "repeated", "request", "result")

    def __init__(self, request: Planned, done: threading.Event | asyncio.Event) -> None:
        self.request = request
        self.done = done
        self.batch: list[_Waiting] | None = None
        self.result: AwardResult | None = None
        self.repeated = False
        self.error: BaseException | None = None

    def outcome(self) -> tuple[AwardResult, bool]:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result, self.repeated


def _numbered(batch: Sequence[_Waiting]) -> list[Planned]:
    """The batch's requests, each numbered by its place in the batch."""
    return [member.request._replace(position=n) for n, member in enumerate(batch)]


def _settle(batch: Sequence[_Waiting], decided: list[Decided]) -> None:
    for position, result, repeated, error in decided:
        member = batch[position]
        member.result, member.repeated, member.error = result, repeated, error


class Combiner:
    """Combines concurrent awards to one user (see the module docs). Thread-safe.

    Args:
        alone: Runs one award in a transaction of its own: ``(result, repeated)``.
        together: Runs several awards in one transaction, each user's in order: what
            became of each, by position in the list it was given.
        across_users: Combine concurrent awards to any users, not only to the same one:
            for a store that writes one transaction at a time anyway (SQLite), where
            awards to other users queue for the same lock.
    """

    def __init__(
        self,
        alone: Callable[[Planned], tuple[AwardResult, bool]],
        together: Callable[[Sequence[Planned]], list[Decided]],
        *,
        across_users: bool = False,
    ) -> None:
        self._alone = alone
        self._together = together
        self._across_users = across_users
        self._lock = threading.Lock()
        self._lanes: Lanes[_Waiting] = Lanes()

    def award(self, request: Planned) -> tuple[AwardResult, bool]:
        user_id = "" if self._across_users else request.user_id
        with self._lock:
            waiting = self._lanes.enter(user_id, lambda: _Waiting(request, threading.Event()))
        if waiting is None:
            try:
                return self._alone(request)
            finally:
                self._hand_off(user_id)
        waiting.done.wait()
        if waiting.batch is not None:  # this caller writes the batch it was handed
            try:
                self._write(waiting.batch)
            finally:
                self._hand_off(user_id)
        return waiting.outcome()

    def _write(self, batch: list[_Waiting]) -> None:
        """Decide and write ``batch``; every member learns its outcome, the others are woken."""
        try:
            if len(batch) == 1:
                only = batch[0]
                only.result, only.repeated = self._alone(only.request)
            else:
                _settle(batch, self._together(_numbered(batch)))
        except BaseException as exc:  # every caller of the batch hears of the failure
            for member in batch:
                member.error = exc
        finally:
            for member in batch[1:]:
                member.done.set()

    def _hand_off(self, user_id: str) -> None:
        """The awards that queued while this caller wrote go, as one batch, to the first."""
        with self._lock:
            batch = self._lanes.hand_off(user_id)
        if batch is not None:
            batch[0].batch = batch
            batch[0].done.set()


class AsyncCombiner:
    """:class:`Combiner` for the async service: concurrent tasks awarding one user, on one
    event loop."""

    def __init__(
        self,
        alone: Callable[[Planned], Awaitable[tuple[AwardResult, bool]]],
        together: Callable[[Sequence[Planned]], Awaitable[list[Decided]]],
        *,
        across_users: bool = False,
    ) -> None:
        self._alone = alone
        self._together = together
        self._across_users = across_users
        self._lanes: Lanes[_Waiting] = Lanes()

    async def award(self, request: Planned) -> tuple[AwardResult, bool]:
        user_id = "" if self._across_users else request.user_id
        done = asyncio.Event()
        waiting = self._lanes.enter(user_id, lambda: _Waiting(request, done))
        if waiting is None:
            try:
                return await self._alone(request)
            finally:
                self._hand_off(user_id)
        await done.wait()
        if waiting.batch is not None:
            try:
                await self._write(waiting.batch)
            finally:
                self._hand_off(user_id)
        return waiting.outcome()

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            if len(batch) == 1:
                only = batch[0]
                only.result, only.repeated = await self._alone(only.request)
            else:
                _settle(batch, await self._together(_numbered(batch)))
        except BaseException as exc:
            for member in batch:
                member.error = exc
        finally:
            for member in batch[1:]:
                member.done.set()

    def _hand_off(self, user_id: str) -> None:
        batch = self._lanes.hand_off(user_id)
        if batch is not None:
            batch[0].batch = batch
            batch[0].done.set()
