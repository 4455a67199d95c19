"""Every decision of the service, without I/O: the part the sync and async shells share.

Each command is a generator of *steps* (a sans-I/O design, as h11 and the Sans-I/O
protocol libraries do it): it yields :class:`Load` and :class:`Write` requests and is
sent back what the store answered, and it returns the command's result. It decides
everything (what to write, which ledger entries, whether a key repeats a request) with
the pure core, and touches nothing. :class:`~mikoshi_progression.service.ProgressionService`
feeds it a store transaction; :class:`~mikoshi_progression.service.AsyncProgressionService`
feeds it an async one, awaiting each step. What a failed attempt leads to (try again,
after how long, or give up) is decided here too, by :class:`Attempts`; the shells only
sleep. So the two services cannot drift apart: they are one set of decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias, TypeVar

from ..core._frozen import trusted_factory
from ..core.config import ProgressionConfig
from ..core.daily import (
    is_clock_fault,
    next_reset_at,
    reset_daily_limits,
    reset_daily_limits_if_needed,
)
from ..core.days import require_aware
from ..core.events import EventKind, ProgressionEvent
from ..core.results import AwardResult, LeverEffects, Outcome
from ..core.rules import (
    adjust_exp,
    award_exp_with_limits,
    exp_limits_view,
    revoke_exp,
    set_total_exp,
)
from ..core.state import ProgressState
from ..core.zones import change_timezone
from ..errors import (
    IdempotencyError,
    InvalidArgumentError,
)
from ..stores.base import (
    ADJUSTED,
    CLOCK_FAULT,
    MANUAL_RESET,
    SET,
    EntryKind,
    LedgerEntry,
    Snapshot,
    StoreTransaction,
)

__all__ = [
    "Decisions",
    "Load",
    "Steps",
    "Write",
    "check_repeated_adjustment",
    "drive",
    "utc_now",
]

T = TypeVar("T")


def utc_now() -> datetime:
    """The current moment as an aware UTC datetime (the service's default clock)."""
    return datetime.now(UTC)


# Load and Write are plain slotted classes, not frozen dataclasses: one of each is made
# per award, and a frozen dataclass's __init__ costs twice as much (bench_service.py).


class Load:
    """Step: read the user's snapshot (with the ledger entries made with ``key``); the
    driver sends the :class:`Snapshot` back."""

    __slots__ = ("key",)

    def __init__(self, key: str | None = None) -> None:
        self.key = key


class Write:
    """Step: write ``state`` and append ``entries`` if the version is still ``version``;
    the driver sends ``None`` back."""

    __slots__ = ("entries", "state", "version")

    def __init__(
        self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]
    ) -> None:
        self.state = state
        self.version = version
        self.entries = entries


Steps: TypeAlias = Generator[Load | Write, Snapshot | None, T]
"""A command's steps: yields requests, is sent the store's answers, returns the result."""

_LOAD = Load()


def drive(tx: StoreTransaction, steps: Steps[T]) -> T:
    """Run a command's steps on a sync store transaction: the sync service's only I/O, and
    what an async store that runs whole transactions in a worker thread runs there."""
    try:
        request = next(steps)
        while True:
            if type(request) is Load:
                request = steps.send(tx.load(request.key))
            else:
                tx.write(request.state, request.version, request.entries)  # type: ignore[union-attr]
                request = steps.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


_build_entry = trusted_factory(LedgerEntry)
"""``LedgerEntry`` from values the steps computed and the shell checked (``_frozen``)."""


class Decisions:
    """The commands' steps under one config and clock (see the module docs).

    Arguments are checked by the caller (the shells check ids against the store first);
    the steps check what only the store's answer can tell.
    """

    __slots__ = ("clock", "config", "fingerprint")

    def __init__(self, config: ProgressionConfig, clock: Callable[[], datetime]) -> None:
        if not isinstance(config, ProgressionConfig):
            raise InvalidArgumentError("config", "a ProgressionConfig", config)
        self.config = config
        self.clock = clock
        self.fingerprint = config.fingerprint

    def now(self) -> datetime:
        """The clock's moment, refused unless aware and within the supported years."""
        return require_aware(self.clock(), "clock()")

    def today(self) -> datetime:
        """When the current progression day began (aware UTC)."""
        boundary = self.config.day_boundary
        return boundary.start_of(boundary.day_of(self.clock()))

    # --- commands ------------------------------------------------------------------------

    def award(
        self,
        user_id: str,
        action: str,
        key: str | None,
        actor: str | None,
        target: str | None,
    ) -> Steps[tuple[AwardResult, bool]]:
        """The result, and whether this call repeated a keyed request (the first call's
        result again: no decision of its own, for the log and an observer)."""
        now = self.now()
        snap = yield _LOAD if key is None else Load(key)
        assert snap is not None  # a Load is always answered with a snapshot
        if snap.keyed_award is not None:
            return self.repeat(snap.keyed_award, action, key, actor, target), True
        result = award_exp_with_limits(snap.state, action, now=now, config=self.config)
        if result.outcome is Outcome.INVALID_ACTION:
            return result, False
        entries = self.award_entries(
            user_id,
            snap.state,
            snap.exists and not snap.has_ledger,
            result,
            now,
            action=action,
            key=key,
            actor=actor,
            target=target,
        )
        if entries:
            yield Write(result.state, snap.version, entries)
        return result, False

    def revoke(self, user_id: str, key: str) -> Steps[tuple[LedgerEntry | None, bool]]:
        """The revocation (``None`` if ``key`` awarded nothing), and whether this call
        repeated an earlier revocation."""
        snap = yield Load(key)
        assert snap is not None  # a Load is always answered with a snapshot
        if snap.keyed_revoke is not None:
            return snap.keyed_revoke, True
        award = snap.keyed_award
        if award is None:
            return None, False
        if award.kind is not EntryKind.AWARD:
            raise IdempotencyError(
                f"idempotency key {key!r} of user {user_id!r} names an operator's "
                "adjustment, not an award: adjustments are undone by another adjustment",
                key=key,
            )
        new_state = revoke_exp(snap.state, award.exp_delta, config=self.config)
        now = self.now()
        entry = self.entry(
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
        yield Write(new_state, snap.version, [*self.import_entries(user_id, snap, now), entry])
        return entry, False

    def reset_daily(
        self, user_id: str, reason: str | None, operator: str | None
    ) -> Steps[ProgressState]:
        snap = yield _LOAD
        assert snap is not None
        now = self.now()
        new_state = reset_daily_limits(snap.state, now=now)
        entry = self.entry(
            user_id,
            EntryKind.DAY,
            new_state,
            now,
            level_before=new_state.level,
            outcome=MANUAL_RESET,
            actor=operator,
            reason=reason,
        )
        yield Write(new_state, snap.version, [*self.import_entries(user_id, snap, now), entry])
        return new_state

    def adjust(
        self,
        user_id: str,
        amount: int,
        *,
        absolute: bool,
        reason: str,
        operator: str,
        key: str | None,
    ) -> Steps[tuple[LedgerEntry, bool]]:
        """An operator's grant or deduction (``amount`` a delta), or ``set_exp``
        (``absolute``: ``amount`` the new EXP); and whether this call repeated a keyed
        request."""
        snap = yield _LOAD if key is None else Load(key)
        assert snap is not None  # a Load is always answered with a snapshot
        outcome = SET if absolute else ADJUSTED
        if snap.keyed_award is not None:
            check_repeated_adjustment(snap.keyed_award, key, outcome, amount, reason, operator)
            return snap.keyed_award, True
        if absolute:
            new_state = set_total_exp(snap.state, amount, config=self.config)
        else:
            new_state = adjust_exp(snap.state, amount, config=self.config)
        delta = new_state.exp - snap.state.exp
        now = self.now()
        entry = self.entry(
            user_id,
            EntryKind.ADJUST,
            new_state,
            now,
            exp_delta=delta,
            level_before=snap.state.level,
            key=key,
            outcome=outcome,
            actor=operator,
            reason=reason,
        )
        yield Write(new_state, snap.version, [*self.import_entries(user_id, snap, now), entry])
        return entry, False

    def set_timezone(
        self, user_id: str, timezone: str | None, key: str | None
    ) -> Steps[tuple[ProgressState, bool]]:
        """The user's state after moving to ``timezone``, and whether this call repeated a
        keyed request. A move to the zone the user has already changes nothing."""
        snap = yield _LOAD if key is None else Load(key)
        assert snap is not None  # a Load is always answered with a snapshot
        if snap.keyed_award is not None:
            entry = snap.keyed_award
            _refuse_another_request(
                key,
                ("kind", str(entry.kind), str(EntryKind.TIMEZONE)),
                ("timezone", entry.state_after.timezone, timezone),
            )
            return entry.state_after, True
        now = self.now()
        new_state = change_timezone(snap.state, timezone, now=now, config=self.config)
        if new_state is snap.state:
            return new_state, False
        # A day the move opened first is recorded as such, so that replay opens it too.
        entries = self._day_entries(user_id, snap, new_state, now)
        entries.append(
            self.entry(
                user_id, EntryKind.TIMEZONE, new_state, now, level_before=new_state.level, key=key
            )
        )
        yield Write(new_state, snap.version, entries)
        return new_state, False

    def limits(self, user_id: str) -> Steps[dict[str, Any]]:
        snap = yield _LOAD
        assert snap is not None
        now = self.now()
        today = reset_daily_limits_if_needed(snap.state, now=now, config=self.config)
        if today is not snap.state:
            yield Write(today, snap.version, self._day_entries(user_id, snap, today, now))
        body = exp_limits_view(today, now=now, config=self.config)
        body["resets_at"] = next_reset_at(today, now=now, config=self.config).isoformat()
        return body

    def state(self) -> Steps[ProgressState]:
        snap = yield _LOAD
        assert snap is not None
        return snap.state

    # --- helpers -------------------------------------------------------------------------

    def repeat(
        self,
        entry: LedgerEntry,
        action: str,
        key: str | None,
        actor: str | None,
        target: str | None,
    ) -> AwardResult:
        """The first result of a keyed award, if this call repeats the same request."""
        _refuse_another_request(
            key,
            ("kind", str(entry.kind), "award"),
            ("action", entry.action, action),
            ("actor_id", entry.actor, actor),
            ("target", entry.target, target),
        )
        state = entry.state_after
        levered = (
            self.config.uses_levers
            or state.timezone is not None
            or state.day_extended_until is not None
        )
        return AwardResult(
            action=entry.action,
            outcome=Outcome(entry.outcome),
            exp_added=entry.exp_delta,
            previous_level=entry.level_before,
            state=state,
            now=entry.at,
            config=self.config,
            effects=_effects_again(entry, self.config) if levered else None,
        )

    def award_entries(
        self,
        user_id: str,
        before: ProgressState,
        adopt: bool,
        result: AwardResult,
        now: datetime,
        *,
        action: str,
        key: str | None,
        actor: str | None,
        target: str | None,
    ) -> list[LedgerEntry]:
        """The ledger entries of an award decided at ``now`` on ``before``: the import of
        a row the ledger never saw (``adopt``), the day it opened, and the award itself
        if it granted anything."""
        entries = (
            [self.entry(user_id, EntryKind.IMPORT, before, now, level_before=before.level)]
            if adopt
            else []
        )
        opened = self.opened_day(user_id, before, result.state, now)
        if opened is not None:
            entries.append(opened)
        if result.success:
            entries.append(
                self.entry(
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
                    events=result.events,
                )
            )
        return entries

    def import_entries(self, user_id: str, snap: Snapshot, now: datetime) -> list[LedgerEntry]:
        """Adopt a row the ledger has never seen, so that replay starts from it."""
        if not snap.exists or snap.has_ledger:
            return []
        return [
            self.entry(user_id, EntryKind.IMPORT, snap.state, now, level_before=snap.state.level)
        ]

    def _day_entries(
        self, user_id: str, snap: Snapshot, new_state: ProgressState, now: datetime
    ) -> list[LedgerEntry]:
        """The import and day-opening entries that precede a change made at ``now``."""
        entries = self.import_entries(user_id, snap, now)
        opened = self.opened_day(user_id, snap.state, new_state, now)
        if opened is not None:
            entries.append(opened)
        return entries

    def opened_day(
        self, user_id: str, before: ProgressState, after: ProgressState, now: datetime
    ) -> LedgerEntry | None:
        """The day entry of a change from ``before`` to ``after`` at ``now``, if it opened
        a new day."""
        if after.last_exp_reset_date == before.last_exp_reset_date:
            return None
        opened = reset_daily_limits_if_needed(before, now=now, config=self.config)
        fault = is_clock_fault(before, now=now, config=self.config)
        return self.entry(
            user_id,
            EntryKind.DAY,
            opened,
            now,
            level_before=opened.level,
            outcome=CLOCK_FAULT if fault else "",
        )

    def entry(
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
        reason: str | None = None,
        events: tuple[ProgressionEvent, ...] = (),
    ) -> LedgerEntry:
        return _build_entry(
            user_id,
            kind,
            action,
            exp_delta,
            level_before,
            state_after.level,
            key,
            at,
            self.fingerprint,
            state_after,
            outcome,
            actor,
            target,
            reason,
            events,
            None,
        )


def _effects_again(entry: LedgerEntry, config: ProgressionConfig) -> LeverEffects:
    """What the levers did to a keyed award, from its ledger entry: its events say which
    boosts applied to what reward and what bonuses were paid (the action's reward when no
    boost applied)."""
    rule = config.actions.get(entry.action)
    base = boosted = 0 if rule is None else rule.exp
    boosts: tuple[str, ...] = ()
    bonus = 0
    for event in entry.events:
        if event.kind is EventKind.BOOST_APPLIED:
            base, boosted, boosts = event["base_exp"], event["boosted_exp"], tuple(event["boosts"])
        elif event.kind in (EventKind.STREAK_EXTENDED, EventKind.MILESTONE_UNLOCKED):
            bonus += event["bonus_exp"]
    return LeverEffects(entry.events, base, boosted, boosts, bonus)


def check_repeated_adjustment(
    entry: LedgerEntry, key: str | None, outcome: str, amount: int, reason: str, operator: str
) -> None:
    """Raise ``IdempotencyError`` unless this adjustment (``outcome`` :data:`ADJUSTED` with
    ``amount`` a delta, or :data:`SET` with ``amount`` the EXP) repeats the request that
    ``key`` named first: the ledger ``entry`` the key made."""
    then_amount = entry.state_after.exp if entry.outcome == SET else entry.exp_delta
    _refuse_another_request(
        key,
        ("kind", str(entry.kind), "adjust"),
        ("adjustment", entry.outcome, outcome),
        ("exp" if outcome == SET else "delta", then_amount, amount),
        ("reason", entry.reason, reason),
        ("operator", entry.actor, operator),
    )


def _refuse_another_request(key: str | None, *fields: tuple[str, object, object]) -> None:
    """Raise ``IdempotencyError`` if the request a key named first differs from this one
    in any of ``fields`` (``(name, then, now)``)."""
    differences = [f"{name} {then!r}, not {now!r}" for name, then, now in fields if then != now]
    if differences:
        raise IdempotencyError(
            f"idempotency key {key!r} was already used for another request "
            f"({'; '.join(differences)}): use a new key for a new request",
            key=key,
        )
