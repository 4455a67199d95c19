"""The imperative shells: load, decide with the pure core, persist, retry.

:class:`ProgressionService` is what a backend calls; :class:`AsyncProgressionService`
is the same for ``async`` code. Both run the decisions of :mod:`._steps` (one set of
decisions, generators of load and write steps with no I/O) and differ only in how they
perform the I/O: see ``docs/async.md``.
"""

from __future__ import annotations

from ._async import AsyncProgressionService
from ._batch import AwardRequest, BatchResult
from ._replay import ReplayReport, replay_ledger
from ._retries import Observer
from ._steps import utc_now
from ._sync import ProgressionService

__all__ = [
    "AsyncProgressionService",
    "AwardRequest",
    "BatchResult",
    "Observer",
    "ProgressionService",
    "ReplayReport",
    "replay_ledger",
    "utc_now",
]
