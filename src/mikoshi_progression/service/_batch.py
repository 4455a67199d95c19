"""Many awards at once: ``award_many`` for queue consumers and backfills, and the combined
awards of a hot user, less their I/O.

A batch is cut into chunks of requests, in order; each chunk is one store transaction
(:class:`~mikoshi_progression.stores.BatchStore`) over every user it names. The chunk
loads each user once, with the ledger entries of every key its requests carry, folds
that user's requests in the core one after another in the order given (each request
decided on the state the one before it left), and writes each user once: the last
state and every ledger entry, in one batch write. So a chunk of 1,000 requests over
1,000 users costs a few statements, not 2,000 round trips, and every request is still
decided, keyed and ledgered on its own: exactly what the same requests sent one by one
would have made.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple, TypeAlias

from ..core.days import require_aware
from ..core.identity import check_optional_id
from ..core.results import AwardResult, Outcome
from ..core.rules import award_exp_with_limits, check_actor
from ..errors import BatchError, IdempotencyError, InvalidArgumentError, SelfAwardError, StoreError
from ..stores.base import LedgerEntry, Snapshot, UserWrite
from ._retries import Attempts, log
from ._steps import Decisions, Load, Steps, Write

__all__ = [
    "AwardRequest",
    "BatchResult",
    "ChunkSteps",
    "Collector",
    "Decided",
    "LoadMany",
    "Planned",
    "WriteMany",
    "check_request_type",
    "chunk_attempts",
    "chunk_steps",
    "chunks",
    "decide_series",
    "group_by_user",
    "one_request",
    "planned_request",
    "wanted_keys",
]


@dataclass(frozen=True, slots=True)
class AwardRequest:
    """One award to make, as a queue message or a backfill row carries it.

    Attributes:
        user_id: Who earns the EXP.
        action: The action (a key of the config's ``actions``).
        at: When it happened (aware); ``None``: when the batch decides it. A backfill
            passes the original moment: the day, the limits and the cap are that
            moment's.
        key: The idempotency key (scoped to the user): the request lands once, however
            many times the batch is sent.
        actor_id: Who acted, for creator awards (the fan, the buyer).
        target: What the award is for (``"character:42"``), as the ledger records it.
    """

    user_id: str
    action: str
    at: datetime | None = None
    key: str | None = None
    actor_id: str | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What ``award_many`` decided, request by request, in the order given.

    Attributes:
        results: Each request's result (``None`` for a request refused: see ``errors``).
            A request that repeats a keyed request already stored (in the store or
            earlier in the batch) gets the first result again.
        repeated: Whether each request repeated an earlier one with its key.
        errors: The refusals, by position: a key already used for another request
            (:class:`~mikoshi_progression.errors.IdempotencyError`). Nothing was stored
            for them; every other request was decided.
    """

    results: tuple[AwardResult | None, ...]
    repeated: tuple[bool, ...]
    errors: Mapping[int, IdempotencyError] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.results)

    @property
    def exp_added(self) -> int:
        """The EXP the batch granted in all (repeats count nothing)."""
        return sum(
            result.exp_added
            for result, again in zip(self.results, self.repeated, strict=True)
            if result is not None and not again
        )


class Planned(NamedTuple):
    """A request checked by the shell: canonical ids, its moment (``None``: the batch's)."""

    position: int
    user_id: str
    action: str
    at: datetime | None
    key: str | None
    actor: str | None
    target: str | None


class Decided(NamedTuple):
    """What became of one planned request."""

    position: int
    result: AwardResult | None
    repeated: bool
    error: IdempotencyError | None


def check_request_type(position: int, request: object) -> str:
    """Where the request is (``requests[3]``), if it is an :class:`AwardRequest`."""
    where = f"requests[{position}]"
    if not isinstance(request, AwardRequest):
        raise InvalidArgumentError(where, "an AwardRequest", request)
    return where


def planned_request(
    position: int,
    request: AwardRequest,
    user_id: str,
    actor: str | None,
    decisions: Decisions,
) -> Planned:
    """``request`` checked, with its canonical user and actor ids (the shell's): an error
    names its position."""
    where = f"requests[{position}]"
    if not isinstance(request.action, str):
        raise InvalidArgumentError(f"{where}.action", "an action name", request.action)
    try:
        check_actor(request.action, recipient=user_id, actor=actor, config=decisions.config)
    except SelfAwardError as exc:
        raise SelfAwardError(f"{where}: {exc}") from None
    return Planned(
        position,
        user_id,
        request.action,
        None if request.at is None else require_aware(request.at, f"{where}.at"),
        check_optional_id(request.key, f"{where}.key"),
        actor,
        check_optional_id(request.target, f"{where}.target"),
    )


def group_by_user(requests: Iterable[Planned]) -> dict[str, list[Planned]]:
    """Each user's requests, in the order given (users in the order first met)."""
    users: dict[str, list[Planned]] = {}
    for request in requests:
        users.setdefault(request.user_id, []).append(request)
    return users


def wanted_keys(users: Mapping[str, Sequence[Planned]]) -> dict[str, list[str]]:
    """The keys to look up for each user: those its requests carry."""
    return {
        user_id: [request.key for request in requests if request.key is not None]
        for user_id, requests in users.items()
    }


def decide_series(
    decisions: Decisions,
    user_id: str,
    snap: Snapshot,
    requests: Sequence[Planned],
    now: datetime,
) -> tuple[list[Decided], UserWrite | None]:
    """Decide one user's requests in order from ``snap``: what became of each, and the
    user's write (``None``: nothing to store).

    Each request is decided as :meth:`Decisions.award` would decide it alone, on the
    state the request before it left: a keyed request repeats the first result of its
    key (stored, or made earlier in the series), a day opened by a request gets its day
    entry, and a row the ledger never saw gets its import entry before the first change.
    """
    config = decisions.config
    state = snap.state
    entries: list[LedgerEntry] = []
    made: dict[str, LedgerEntry] = {}
    decided: list[Decided] = []
    needs_import = snap.exists and not snap.has_ledger
    for request in requests:
        key = request.key
        moment = now if request.at is None else request.at
        if key is not None:
            first = made.get(key) or snap.keyed_awards.get(key)
            if first is not None:
                try:
                    again = decisions.repeat(
                        first, request.action, key, request.actor, request.target
                    )
                except IdempotencyError as refused:
                    decided.append(Decided(request.position, None, False, refused))
                else:
                    decided.append(Decided(request.position, again, True, None))
                continue
        result = award_exp_with_limits(state, request.action, now=moment, config=config)
        if result.outcome is Outcome.INVALID_ACTION:
            decided.append(Decided(request.position, result, False, None))
            continue
        made_now = decisions.award_entries(
            user_id,
            state,
            needs_import,  # the legacy row is adopted before its first change, once
            result,
            moment,
            action=request.action,
            key=key,
            actor=request.actor,
            target=request.target,
        )
        needs_import = False
        entries += made_now
        if result.success and key is not None:
            made[key] = made_now[-1]
        state = result.state
        decided.append(Decided(request.position, result, False, None))
    if not entries:
        return decided, None
    return decided, UserWrite(user_id, state, snap.version, entries)


def one_request(decisions: Decisions, request: Planned) -> Steps[list[Decided]]:
    """One request as a series of one in an ordinary transaction: how a batch runs on a
    store without :class:`~mikoshi_progression.stores.BatchStore`."""
    snap = yield Load(request.key)
    assert snap is not None  # a Load is always answered with a snapshot
    if request.key is not None and snap.keyed_award is not None:
        snap = replace(snap, keyed_awards={request.key: snap.keyed_award})
    decided, write = decide_series(decisions, request.user_id, snap, [request], decisions.now())
    if write is not None:
        yield Write(write.state, write.version, write.entries)
    return decided


class LoadMany:
    """Step: load every user of ``keys`` with the entries of its keys; the driver sends
    the snapshots back, by user."""

    __slots__ = ("keys",)

    def __init__(self, keys: Mapping[str, Sequence[str]]) -> None:
        self.keys = keys


class WriteMany:
    """Step: write every user of ``writes``; the driver sends ``None`` back."""

    __slots__ = ("writes",)

    def __init__(self, writes: Sequence[UserWrite]) -> None:
        self.writes = writes


ChunkSteps: TypeAlias = Generator[LoadMany | WriteMany, Any, list[Decided]]
"""A chunk's steps: yields a load and a write, is sent the answers, returns the decisions."""


def chunk_steps(decisions: Decisions, chunk: Sequence[Planned]) -> ChunkSteps:
    """One chunk in one transaction: load every user once, decide each user's requests in
    order, write every user once."""
    users = group_by_user(chunk)
    now = decisions.now()
    snapshots = yield LoadMany(wanted_keys(users))
    decided: list[Decided] = []
    writes = []
    for user_id, requests in users.items():
        outcome, write = decide_series(decisions, user_id, snapshots[user_id], requests, now)
        decided += outcome
        if write is not None:
            writes.append(write)
    if writes:
        yield WriteMany(writes)
    return decided


def chunk_attempts(chunk: Sequence[Planned], max_attempts: int) -> Attempts:
    """What a failed attempt of a chunk leads to: a lost race is tried again; a store
    fault only when every request of the chunk is keyed (a repeat cannot award twice)."""
    return Attempts(
        "award_many",
        chunk[0].user_id,
        max_attempts=max_attempts,
        retry_faults=all(request.key is not None for request in chunk),
        observer=None,
    )


def chunks(planned: Sequence[Planned], size: int) -> Iterator[tuple[int, Sequence[Planned]]]:
    """``(start, chunk)`` of ``planned`` cut into chunks of ``size``, in order."""
    for start in range(0, len(planned), size):
        yield start, planned[start : start + size]


class Collector:
    """What the chunks of a batch decided, gathered into its :class:`BatchResult`, or into
    the :class:`BatchError` of the chunk that failed."""

    def __init__(
        self, planned: Sequence[Planned], heard: Callable[[Planned, AwardResult], None] | None
    ) -> None:
        self._planned = planned
        self._heard = heard
        count = len(planned)
        self._results: list[AwardResult | None] = [None] * count
        self._repeated = [False] * count
        self._errors: dict[int, IdempotencyError] = {}

    def add(self, decided: Iterable[Decided]) -> None:
        heard = self._heard
        for position, result, again, error in decided:
            self._results[position] = result
            self._repeated[position] = again
            if error is not None:
                self._errors[position] = error
            elif heard is not None and result is not None and not again:
                heard(self._planned[position], result)

    def failed(self, start: int, size: int, exc: StoreError) -> BatchError:
        """The error of a batch stopped by ``exc`` on the chunk at ``start``."""
        count = len(self._planned)
        end = start + size
        log.warning("award_many stopped at request %d of %d: %s", start, count, exc)
        landed = tuple(range(start))
        return BatchError(
            f"the store failed on requests {start} to {end - 1} of {count}: {exc}; "
            f"requests before {start} landed, those from {end} on were not sent",
            landed=landed,
            unknown=tuple(range(start, end)),
            not_sent=tuple(range(end, count)),
            results={position: self._results[position] for position in landed},
        )

    def result(self) -> BatchResult:
        return BatchResult(tuple(self._results), tuple(self._repeated), self._errors)
