"""Checks of operators' adjustments: grants, deductions, set balances and manual resets,
in the ledger with their reason and operator, exactly once per key."""

from __future__ import annotations

from ...errors import IdempotencyError, InvalidArgumentError
from ...stores import ADJUSTED, MANUAL_RESET, SET, EntryKind
from ._support import (
    _DROPPING,
    StoreFactory,
    _assert_positions,
    _raises,
    _run_threads,
    _service,
    _user,
)


def check_adjustments_recorded(factory: StoreFactory) -> None:
    """A grant, a deduction, a set balance and a manual reset are stored with their
    reason and operator, leave today's counts alone, and replay exactly."""
    service = _service(factory())
    user = _user("adjusted")
    service.award(user, "create_character")  # 30 EXP, counted today
    grant = service.adjust(user, 120, reason="goodwill: outage on 3/1", operator="support-7")
    assert (grant.kind, grant.outcome, grant.exp_delta) == (EntryKind.ADJUST, ADJUSTED, 120)
    assert (grant.actor, grant.reason) == ("support-7", "goodwill: outage on 3/1")
    assert grant.state_after.exp == 150
    assert grant.state_after.level == 2
    state = service.state(user)
    assert state.daily_exp_gained == 30, "an adjustment is not an action: no room used"
    assert dict(state.daily_action_counts) == {"create_character": 1}

    deduction = service.adjust(user, -30, reason="moderation: spam likes", operator="mod-2")
    assert deduction.exp_delta == -30
    assert deduction.state_after.exp == 120
    assert deduction.state_after.level == 2, "levels never drop by default"

    balance = service.set_exp(user, 900, reason="migrated balance", operator="migrator")
    assert (balance.outcome, balance.exp_delta, balance.state_after.exp) == (SET, 780, 900)
    assert balance.state_after.level == 4

    reset = service.reset_daily(user, reason="ticket 4411", operator="support-7")
    assert reset.daily_exp_gained == 0
    assert not reset.daily_action_counts
    entries = service.ledger(user)
    _assert_positions(entries)
    assert [(e.kind, e.outcome) for e in entries[-4:]] == [
        (EntryKind.ADJUST, ADJUSTED),
        (EntryKind.ADJUST, ADJUSTED),
        (EntryKind.ADJUST, SET),
        (EntryKind.DAY, MANUAL_RESET),
    ]
    assert entries[-4:-1] == [grant, deduction, balance]
    assert (entries[-1].actor, entries[-1].reason) == ("support-7", "ticket 4411")
    report = service.replay(user)
    assert report.matches, (report.state, report.stored)


def check_adjustment_limits(factory: StoreFactory) -> None:
    """A deduction below 0 EXP, a zero delta, an empty reason or a bad operator is refused
    and stores nothing; with ``levels_can_drop`` a deduction lowers the level."""
    store = factory()
    service = _service(store)
    user = _user("adjust-limits")
    service.adjust(user, 100, reason="grant", operator="op")
    before = service.ledger(user)
    for delta, reason, operator, field in (
        (-101, "too much", "op", "delta"),
        (0, "nothing", "op", "delta"),
        (5, "", "op", "reason"),
        (5, " padded ", "op", "reason"),
        (5, "bell\x07", "op", "reason"),
        (5, "ok", " op", "operator"),
        (True, "ok", "op", "delta"),
    ):
        with _raises(InvalidArgumentError) as caught:
            service.adjust(user, delta, reason=reason, operator=operator)
        assert caught.value.field == field, (delta, reason, operator, caught.value)
    with _raises(InvalidArgumentError):
        service.set_exp(user, -1, reason="negative", operator="op")
    assert service.ledger(user) == before
    assert service.state(user).exp == 100

    dropping = _service(store, config=_DROPPING)
    entry = dropping.adjust(user, -90, reason="chargeback", operator="op")
    assert entry.level_before == 2
    assert entry.state_after.level == 1
    assert dropping.replay(user).matches


def check_keyed_adjustment_once(factory: StoreFactory) -> None:
    """A keyed adjustment is made once, however often and concurrently it is sent; the key
    cannot name another adjustment, an award, nor be revoked as one."""
    service = _service(factory())
    user = _user("keyed-adjust")
    entries = _run_threads(
        6,
        lambda _: service.adjust(user, 40, reason="refund #9", operator="op", key="refund-9"),
    )
    assert all(e == entries[0] for e in entries), entries
    assert service.state(user).exp == 40
    assert service.set_exp(user, 10, reason="fix", operator="op", key="set-1") == service.set_exp(
        user, 10, reason="fix", operator="op", key="set-1"
    )
    for call in (
        lambda: service.adjust(user, 41, reason="refund #9", operator="op", key="refund-9"),
        lambda: service.adjust(user, 40, reason="refund #10", operator="op", key="refund-9"),
        lambda: service.adjust(user, 40, reason="refund #9", operator="op-2", key="refund-9"),
        lambda: service.set_exp(user, 40, reason="refund #9", operator="op", key="refund-9"),
        lambda: service.award(user, "create_scene", key="refund-9"),
        lambda: service.revoke(user, "refund-9"),
    ):
        with _raises(IdempotencyError):
            call()
    award = service.award(user, "create_scene", key="scene-1")
    assert award.success
    with _raises(IdempotencyError):
        service.adjust(user, 5, reason="reuse", operator="op", key="scene-1")
    adjustments = [e for e in service.ledger(user) if e.kind is EntryKind.ADJUST]
    assert len(adjustments) == 2
    assert service.replay(user).matches
