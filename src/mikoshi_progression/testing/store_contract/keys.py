"""Checks of exactly once: idempotency keys and revocations."""

from __future__ import annotations

from ...core.config import DEFAULT_CONFIG
from ...core.results import Outcome
from ...core.state import ProgressState
from ...errors import IdempotencyError
from ...stores import EntryKind
from ..clock import FakeClock
from ._support import (
    _DROPPING,
    START,
    StoreFactory,
    _raises,
    _run_threads,
    _service,
    _user,
)

# --- exactly once -----------------------------------------------------------------------


def check_keyed_award_once(factory: StoreFactory) -> None:
    """The same key twice awards once and returns the first result again, even days later."""
    clock = FakeClock(START)
    service = _service(factory(), clock)
    user = _user("key")
    first = service.award(user, "create_character", key="req-1")
    clock.advance(minutes=5)
    assert service.award(user, "create_character", key="req-1") == first
    clock.advance(days=3)
    assert service.award(user, "create_character", key="req-1") == first
    assert service.state(user).exp == 30
    keyed = [e for e in service.ledger(user) if e.key == "req-1"]
    assert len(keyed) == 1
    assert keyed[0].kind is EntryKind.AWARD


def check_keys_scoped_per_user(factory: StoreFactory) -> None:
    """One key used by two users awards each of them."""
    service = _service(factory())
    alice, bob = _user("alice"), _user("bob")
    assert service.award(alice, "create_scene", key="shared").exp_added == 15
    assert service.award(bob, "create_scene", key="shared").exp_added == 15
    assert (service.state(alice).exp, service.state(bob).exp) == (15, 15)


def check_key_reused_for_another_action(factory: StoreFactory) -> None:
    """A key already used for one action is refused for another, changing nothing."""
    service = _service(factory())
    user = _user("reuse")
    service.award(user, "create_scene", key="k")
    before = service.ledger(user)
    with _raises(IdempotencyError):
        service.award(user, "create_persona", key="k")
    assert service.ledger(user) == before
    assert service.state(user).exp == 15


def check_concurrent_same_key(factory: StoreFactory, *, threads: int = 8) -> None:
    """Threads retrying one keyed award at once award it once and all get the first result."""
    service = _service(factory())
    user = _user("same-key")
    results = _run_threads(
        threads, lambda _: service.award(user, "paid_char_sold", key="pay-1", actor_id="a-buyer")
    )
    assert all(r == results[0] for r in results), results
    assert service.state(user).exp == 50
    assert len([e for e in service.ledger(user) if e.kind is EntryKind.AWARD]) == 1


# --- revocation -------------------------------------------------------------------------


def check_revoke_takes_back_partial_exp(factory: StoreFactory) -> None:
    """Revoking a partial award removes the EXP it granted, not the nominal reward."""
    service = _service(factory())
    user = _user("revoke-partial")
    for action in ("paid_char_sold", "paid_char_sold", "create_character"):
        service.award(user, action, actor_id="a-buyer")
    partial = service.award(user, "paid_char_sold", key="sale-3", actor_id="a-buyer")
    assert (partial.outcome, partial.exp_added) == (Outcome.PARTIAL, 20)
    entry = service.revoke(user, "sale-3")
    assert entry is not None
    assert (entry.kind, entry.action, entry.exp_delta, entry.key) == (
        EntryKind.REVOKE,
        "paid_char_sold",
        -20,
        "sale-3",
    )
    stored = _service(factory()).state(user)
    assert (stored.exp, stored.daily_exp_gained) == (130, 150)
    assert dict(stored.daily_action_counts) == {"paid_char_sold": 3, "create_character": 1}
    assert service.award(user, "create_scene").outcome is Outcome.DAILY_CAP
    assert service.replay(user).matches


def check_revoke_cannot_farm(factory: StoreFactory) -> None:
    """Like, unlike, like... gives no cap room or action count back: the limit still holds."""
    service = _service(factory())
    creator = _user("creator")
    for n in range(20):
        liked = service.award(creator, "character_liked", key=f"like-{n}", actor_id="a-fan")
        assert liked.exp_added == 5
        assert service.revoke(creator, f"like-{n}") is not None
    again = service.award(creator, "character_liked", key="like-20", actor_id="a-fan")
    assert again.outcome is Outcome.ACTION_LIMIT
    state = service.state(creator)
    assert (state.exp, state.daily_exp_gained) == (0, 100)
    assert state.daily_action_counts["character_liked"] == 20


def check_revoke_twice_and_unknown(factory: StoreFactory) -> None:
    """A second revoke does nothing and returns the first; an unknown key revokes nothing."""
    service = _service(factory())
    user = _user("revoke-twice")
    first_award = service.award(user, "create_scene", key="s")
    service.award(user, "create_persona")
    first = service.revoke(user, "s")
    entries = service.ledger(user)
    assert first is not None
    assert first.exp_delta == -15
    assert service.revoke(user, "s") == first
    assert service.award(user, "create_scene", key="s") == first_award  # still once
    assert service.ledger(user) == entries
    assert service.state(user).exp == 15
    assert service.revoke(user, "never-used") is None
    assert service.ledger(user) == entries
    nobody = _user("nobody")
    assert service.revoke(nobody, "k") is None
    assert service.ledger(nobody) == []
    assert service.state(nobody) == ProgressState()


def check_revoke_keeps_level_by_default(factory: StoreFactory) -> None:
    """By default a revocation lowers EXP but never the level; ``levels_can_drop`` lets it."""
    for config, level_after in ((DEFAULT_CONFIG, 2), (_DROPPING, 1)):
        service = _service(factory(), config=config)
        user = _user("level")
        for action in ("create_character", "create_character", "create_scene", "create_scene"):
            service.award(user, action)
        up = service.award(user, "daily_chat", key="chat")
        assert (up.state.exp, up.state.level) == (110, 2)
        entry = service.revoke(user, "chat")
        assert entry is not None
        assert (entry.level_before, entry.level_after) == (2, level_after)
        stored = _service(factory(), config=config).state(user)
        assert (stored.exp, stored.level) == (90, level_after)
