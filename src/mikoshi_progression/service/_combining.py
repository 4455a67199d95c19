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

import threading
from collections.abc import Callable, Sequence

from ..core.results import AwardResult
from ._batch import Decided, Planned

__all__ = ["Combiner"]


class _Waiting:
    """One award waiting in a user's queue, and, once decided, what became of it."""

    __slots__ = ("batch", "done", "error", "repeated", "request", "result")

    def __init__(self, request: Planned) -> None:
        self.request = request
        self.done = threading.Event()
        self.batch: list[_Waiting] | None = None
        self.result: AwardResult | None = None
        self.repeated = False
        self.error: BaseException | None = None


class Combiner:
    """Combines concurrent awards to one user (see the module docs). Thread-safe.

    Args:
        alone: Runs one award in a transaction of its own: ``(result, repeated)``.
        together: Runs several awards to one user in one transaction, in order: what
            became of each, by position in the list it was given.
    """

    def __init__(
        self,
        alone: Callable[[Planned], tuple[AwardResult, bool]],
        together: Callable[[Sequence[Planned]], list[Decided]],
    ) -> None:
        self._alone = alone
        self._together = together
        self._lock = threading.Lock()
        # A user is in here while an award to them is being written; the list holds the
        # awards that arrived meanwhile, in arrival order.
        self._queues: dict[str, list[_Waiting]] = {}

    def award(self, request: Planned) -> tuple[AwardResult, bool]:
        user_id = request.user_id
        with self._lock:
            queue = self._queues.get(user_id)
            if queue is None:
                self._queues[user_id] = []
            else:
                waiting = _Waiting(request)
                queue.append(waiting)
        if queue is None:
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
        if waiting.error is not None:
            raise waiting.error
        assert waiting.result is not None
        return waiting.result, waiting.repeated

    def _write(self, batch: list[_Waiting]) -> None:
        """Decide and write ``batch``; every member learns its outcome, the others are woken."""
        try:
            if len(batch) == 1:
                only = batch[0]
                only.result, only.repeated = self._alone(only.request)
            else:
                requests = [w.request._replace(position=n) for n, w in enumerate(batch)]
                for position, result, repeated, error in self._together(requests):
                    member = batch[position]
                    member.result, member.repeated, member.error = result, repeated, error
        except BaseException as exc:  # every caller of the batch hears of the failure
            for member in batch:
                member.error = exc
        finally:
            for member in batch[1:]:
                member.done.set()

    def _hand_off(self, user_id: str) -> None:
        """The awards that queued while this caller wrote go, as one batch, to the first."""
        with self._lock:
            queue = self._queues[user_id]
            if not queue:
                del self._queues[user_id]
                return
            self._queues[user_id] = []
        queue[0].batch = queue
        queue[0].done.set()
