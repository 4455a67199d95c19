"""Checks at the seams: identities, keys that name one request, clocks and the ends of
time."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from ...core.results import Outcome
from ...core.state import ProgressState
from ...errors import IdempotencyError, InvalidIdError, SelfAwardError
from ...stores import (
    CLOCK_FAULT,
    EntryKind,
    RequestKeyStore,
)
from ..clock import FakeClock
from ._support import (
    START,
    NotApplicable,
    StoreFactory,
    _raises,
    _run_threads,
    _service,
    _user,
)

# --- identity, keys and clocks -----------------------------------------------------------

_NOT_IDS: tuple[object, ...] = (
    42,
    4.2,
    None,
    b"user",
    ["user"],
    "",
    " user",
    "user ",
    "us\x00er",
    "us\ner",
    "\udc80",
    "e\u0301",
    "\u200buser",
    "u" * 256,
)
"""Values that are not canonical ids: other types, empty, padded, control, lone surrogate,
not NFC, invisible, too long."""


def check_ids_are_canonical_strings(factory: StoreFactory) -> None:
    """Ids that are not canonical strings are refused by the store and the service alike,
    and nothing is stored: the store never merges ``42`` and ``"42"``."""
    store = factory()
    service = _service(store)
    user = _user("ids")
    for bad in _NOT_IDS:
        with _raises(InvalidIdError), store.transaction(bad):  # type: ignore[arg-type]
            pass
        with _raises(InvalidIdError):
            store.ledger(bad)  # type: ignore[arg-type]
        with _raises(InvalidIdError):
            service.award(bad, "create_scene")  # type: ignore[arg-type]
        if bad is not None:  # None is "no actor", "no key", "no target"
            with _raises(InvalidIdError):
                service.award(user, "character_liked", actor_id=bad)  # type: ignore[arg-type]
            with _raises(InvalidIdError):
                service.award(user, "create_scene", key=bad)  # type: ignore[arg-type]
            with _raises(InvalidIdError):
                service.award(user, "create_scene", target=bad)  # type: ignore[arg-type]
    assert service.ledger(user) == []
    assert service.state(user) == ProgressState()


def check_no_self_award_across_id_types(factory: StoreFactory) -> None:
    """A user whose id is a number can never like or buy their own character by passing it
    once as a string and once as an integer."""
    service = _service(factory())
    user = str(uuid.uuid4().int % 10**12 + 10**12)
    for recipient, actor in ((user, int(user)), (int(user), user), (user, user)):
        for action in ("character_liked", "forked", "paid_char_sold"):
            with _raises(InvalidIdError, SelfAwardError):
                service.award(recipient, action, actor_id=actor)  # type: ignore[arg-type]
    assert service.ledger(user) == []
    assert service.state(user) == ProgressState()


def check_key_names_one_request(factory: StoreFactory) -> None:
    """A key reused for another action, actor or target is refused, storing nothing; the
    same request again gets the first result; the ledger records actor and target."""
    service = _service(factory())
    creator = _user("creator")
    request: dict[str, Any] = {"actor_id": "a-fan", "target": "character:1"}
    first = service.award(creator, "character_liked", key="like-1", **request)
    entries, state = service.ledger(creator), service.state(creator)
    for action, changed in (
        ("character_liked", {"actor_id": "b-fan"}),
        ("character_liked", {"target": "character:2"}),
        ("character_liked", {"target": None}),
        ("forked", {}),
    ):
        with _raises(IdempotencyError):
            service.award(creator, action, key="like-1", **{**request, **changed})
    assert service.ledger(creator) == entries
    assert service.state(creator) == state
    assert service.award(creator, "character_liked", key="like-1", **request) == first
    (award,) = [e for e in entries if e.key == "like-1"]
    assert (award.actor, award.target) == ("a-fan", "character:1")
    revoked = service.revoke(creator, "like-1")
    assert revoked is not None
    assert (revoked.actor, revoked.target) == ("a-fan", "character:1")


def check_request_keys_claimed_once(factory: StoreFactory, *, threads: int = 8) -> None:
    """A caller's key is tied to the first request it names, once, even under concurrent
    claims; faithful retries get it back, other requests get the first one."""
    store = factory()
    if not isinstance(store, RequestKeyStore):
        raise NotApplicable(f"{factory.name} does not claim request keys")
    fan, other = _user("fan"), _user("other")
    assert store.claim_key(fan, "k", "request A", START) == "request A"
    assert store.claim_key(fan, "k", "request A", START) == "request A"
    assert store.claim_key(fan, "k", "request B", START) == "request A"
    assert store.claim_key(other, "k", "request B", START) == "request B"
    reopened = factory()
    assert isinstance(reopened, RequestKeyStore)
    assert reopened.claim_key(fan, "k", "request C", START) == "request A"
    answers = _run_threads(threads, lambda n: store.claim_key(fan, "race", f"request {n}", START))
    assert len(set(answers)) == 1, answers
    assert answers[0] in {f"request {n}" for n in range(threads)}
    with _raises(InvalidIdError):
        store.claim_key(fan, "\udc80", "request D", START)


def check_clock_fault_reopens_the_day(factory: StoreFactory) -> None:
    """A lagging clock never reopens a day, but a day stamped beyond the clock tolerance (a
    server whose clock ran to 2099) reopens at the real moment, recorded as a clock fault,
    instead of freezing the user's day until 2099."""
    clock = FakeClock(START)
    service = _service(factory(), clock)
    user = _user("clock")
    for _ in range(2):
        service.award(user, "create_character")
    clock.advance(hours=-3)  # a server 3 hours behind: the same day, still spent
    assert service.award(user, "create_character").outcome is Outcome.ACTION_LIMIT
    clock.set(START.replace(year=2099))
    for _ in range(2):  # the day stamped in 2099 is spent too
        assert service.award(user, "create_character").exp_added == 30
    back = clock.set(START + timedelta(hours=1))
    assert service.award(user, "create_character").exp_added == 30
    faults = [e for e in service.ledger(user) if e.outcome == CLOCK_FAULT]
    assert [(e.kind, e.at) for e in faults] == [(EntryKind.DAY, back)]
    limits = service.limits(user)
    assert limits["resets_at"] == (START + timedelta(days=1)).replace(hour=0, minute=0).isoformat()
    assert service.replay(user).matches


def check_far_future_days_never_overflow(factory: StoreFactory) -> None:
    """Rows stamped at the ends of time (year 9999, year 1) read as "no day yet", a row
    stamped in 8999 is a clock fault: every one awards, and nothing overflows."""
    if factory.seed_row is None:
        raise NotApplicable(f"{factory.name} cannot hold raw legacy rows")
    store = factory()
    service = _service(store)
    for stamp, chat in (
        ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00"),
        ("0001-01-01T00:00:00+00:00", None),
        ("8999-06-01T00:00:00+00:00", None),
    ):
        user = _user("end-of-time")
        factory.seed_row(
            user,
            {
                "exp": 10,
                "level": 1,
                "daily_exp_gained": 150,
                "last_exp_reset_date": stamp,
                "daily_action_counts": '{"create_scene": 2}',
                "last_chat_date": chat,
            },
        )
        assert service.limits(user)["remaining_exp"] == 150
        assert service.award(user, "create_scene").exp_added == 15
        kinds = [(e.kind, e.outcome) for e in service.ledger(user)]
        fault = stamp.startswith("8999")
        assert (EntryKind.DAY, CLOCK_FAULT if fault else "") in kinds, kinds
        assert service.replay(user).matches
