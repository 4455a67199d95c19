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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from ..core.results import AwardResult, Outcome
from ..core.rules import award_exp_with_limits
from ..errors import IdempotencyError
from ..stores.base import EntryKind, LedgerEntry, Snapshot, UserWrite
from ._steps import Decisions, Load, Steps, Write

__all__ = [
    "AwardRequest",
    "BatchResult",
    "Decided",
    "Planned",
    "decide_series",
    "group_by_user",
    "one_request",
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
        if needs_import:
            # As a single award does: the legacy row is adopted before its first change.
            entries.append(
                decisions.entry(user_id, EntryKind.IMPORT, state, moment, level_before=state.level)
            )
            needs_import = False
        opened = decisions.opened_day(user_id, state, result.state, moment)
        if opened is not None:
            entries.append(opened)
        if result.success:
            entry = decisions.entry(
                user_id,
                EntryKind.AWARD,
                result.state,
                moment,
                action=request.action,
                exp_delta=result.exp_added,
                level_before=result.previous_level,
                key=key,
                outcome=str(result.outcome),
                actor=request.actor,
                target=request.target,
                events=result.events,
            )
            entries.append(entry)
            if key is not None:
                made[key] = entry
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
