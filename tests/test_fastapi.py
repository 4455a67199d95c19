"""The FastAPI router over a real ASGI client: the platform's bodies and codes, and our fixes."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from mikoshi_progression import (  # noqa: E402
    DEFAULT_CONFIG,
    ProgressState,
    StoreError,
    StoreUnavailableError,
    levels_view,
)
from mikoshi_progression.fastapi import (  # noqa: E402
    CreatorUserNotFound,
    progression_router,
    scoped_idempotency_key,
)
from mikoshi_progression.service import (  # noqa: E402
    AsyncProgressionService,
    ProgressionService,
)
from mikoshi_progression.stores import (  # noqa: E402
    AsyncInMemoryStore,
    EntryKind,
    InMemoryStore,
    LedgerEntry,
    ProgressStore,
    Snapshot,
    StaleVersionError,
    StoreTransaction,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIDNIGHT = "2026-03-02T00:00:00+00:00"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"

INVALID = {"detail": "Invalid or unsupported action"}
NOT_AUTHENTICATED = {"detail": "Not authenticated"}
MISSING_TARGET = {"detail": "Missing character target for creator award"}

PLATFORM_SUCCESS_KEYS = {
    "awarded_to", "action", "success", "exp_added", "total_exp", "level", "leveled_up",
    "daily_exp_gained", "daily_exp_cap", "action_count", "action_limit", "progress",
}  # fmt: skip
PLATFORM_LIMITS_KEYS = {
    "level", "daily_exp_gained", "daily_exp_cap", "remaining_exp", "daily_action_counts",
    "action_limits", "exp_rewards",
}  # fmt: skip

USERS = {"alice", "bob", "carol"}
# character id -> creator id (ghost has no user row; 4 has no creator)
CHARACTERS: dict[int, str | None] = {1: "alice", 2: "bob", 3: "ghost", 4: None}
CREATOR_ACTIONS = frozenset({"daily_chat", "character_liked", "forked"})


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class User:
    """What an ORM's current-user dependency returns: an object with an ``id``."""

    id: str


def current_user(request: fastapi.Request) -> User | None:
    """Test authentication: ``Authorization: Bearer <user id>`` of a known user."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return User(token) if scheme == "Bearer" and token in USERS else None


def creator_of(target_type: str, target_id: int | str) -> str | None:
    """The creator lookup of the test catalogue."""
    creator = CHARACTERS.get(target_id) if isinstance(target_id, int) else None
    if creator is None:
        return None
    if creator not in USERS:
        raise CreatorUserNotFound(creator)
    return creator


def request(
    app: Any,
    method: str,
    url: str,
    *,
    user: str | None = None,
    key: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request through httpx's ASGI transport, on a fresh event loop."""
    headers = dict(kwargs.pop("headers", None) or {})
    if user is not None:
        headers["Authorization"] = f"Bearer {user}"
    if key is not None:
        headers["Idempotency-Key"] = key

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, url, headers=headers, **kwargs)

    return asyncio.run(send())


@dataclass
class Api:
    """An app with the router mounted, its service, store and clock."""

    service: ProgressionService
    clock: FakeClock
    app: Any = field(init=False)
    router_options: dict[str, Any] = field(default_factory=dict)
    mode: str = "sync"
    """``"async"``: the router serves an AsyncProgressionService over the same data
    (``service`` stays the sync one, for the tests' own reads)."""

    def __post_init__(self) -> None:
        self.app = fastapi.FastAPI()
        served: ProgressionService | AsyncProgressionService = self.service
        if self.mode == "async":
            store = self.service.store
            assert isinstance(store, InMemoryStore)
            served = AsyncProgressionService(
                AsyncInMemoryStore(store), clock=self.clock, max_attempts=3
            )
        self.app.include_router(progression_router(served, current_user, **self.router_options))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return request(self.app, "GET", url, **kwargs)

    def gain(self, body: Any = None, **kwargs: Any) -> httpx.Response:
        if body is not None:
            kwargs["json"] = body
        return request(self.app, "POST", "/api/exp/gain", **kwargs)

    def seed(self, user_id: str, **state: Any) -> None:
        store = self.service.store
        assert isinstance(store, InMemoryStore)
        store.put_state(user_id, ProgressState(last_exp_reset_date=self.clock.now, **state))

    def awards(self, user_id: str) -> list[LedgerEntry]:
        return [e for e in self.service.ledger(user_id) if e.kind is EntryKind.AWARD]


def make_api(
    store: ProgressStore | None = None, *, mode: str = "sync", **router_options: Any
) -> Api:
    clock = FakeClock()
    service = ProgressionService(store or InMemoryStore(), clock=clock, max_attempts=3)
    return Api(service, clock, router_options, mode)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Every test of the ``api`` fixtures runs over the sync and the async service."""
    return str(request.param)


@pytest.fixture
def api(mode: str) -> Api:
    """The router with the secure default policy: clients claim daily_chat only."""
    return make_api(mode=mode)


@pytest.fixture
def creator_api(mode: str) -> Api:
    """The router with creator awards claimable too, as the platform allowed."""
    return make_api(mode=mode, claimable_actions=CREATOR_ACTIONS, creator_of=creator_of)


# --- store doubles ------------------------------------------------------------------------


class DownStore:
    """A store whose database cannot be reached: every transaction fails."""

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        raise StoreUnavailableError(f"connection refused while opening {user_id!r}'s transaction")
        yield  # pragma: no cover

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        raise StoreUnavailableError("connection refused")

    def create_schema(self) -> None:
        """Nothing to create."""

    def close(self) -> None:
        """Nothing to release."""


class _LosingTransaction:
    def __init__(self, inner: StoreTransaction) -> None:
        self._inner = inner

    def load(self, key: str | None = None) -> Snapshot:
        return self._inner.load(key)

    def write(self, state: ProgressState, version: object, entries: Any) -> None:
        raise StaleVersionError("another writer got there first")


class ContendedStore(InMemoryStore):
    """An in-memory store where every write loses a race with another writer."""

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        with super().transaction(user_id) as tx:
            yield _LosingTransaction(tx)


# --- GET /api/levels ------------------------------------------------------------------------


def test_levels_is_the_table_keyed_by_level_strings(api):
    """GET /api/levels needs no user and returns the level table keyed "1".."6"."""
    response = api.get("/api/levels")
    assert response.status_code == 200
    body = response.json()
    assert body == levels_view(DEFAULT_CONFIG)
    assert list(body) == ["1", "2", "3", "4", "5", "6"]
    assert body["1"] == {
        "name": "Newbie",
        "unlock": "Create chars, scenes, personas",
        "exp_required": 0,
    }


# --- GET /api/exp/limits --------------------------------------------------------------------


@pytest.mark.parametrize("user", [None, "mallory"])
def test_limits_without_a_user_is_401(api, user):
    """No user (no token, or one the auth dependency rejects) gets the platform's 401 body."""
    response = api.get("/api/exp/limits", user=user)
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_limits_body_of_a_new_user(api):
    """A new user's limits: the platform's keys and values, plus resets_at."""
    response = api.get("/api/exp/limits", user="alice")
    assert response.status_code == 200
    assert response.json() == {
        "level": 1,
        "daily_exp_gained": 0,
        "daily_exp_cap": 150,
        "remaining_exp": 150,
        "daily_action_counts": {},
        "action_limits": {
            "daily_chat": 1,
            "create_character": 2,
            "create_scene": 2,
            "create_persona": 2,
            "character_liked": 20,
            "forked": None,
            "paid_char_sold": None,
        },
        "exp_rewards": {
            "daily_chat": 20,
            "create_character": 30,
            "create_scene": 15,
            "create_persona": 15,
            "character_liked": 5,
            "forked": 10,
            "paid_char_sold": 50,
        },
        "resets_at": MIDNIGHT,
    }
    assert set(response.json()) > PLATFORM_LIMITS_KEYS


def test_limits_show_todays_awards(api):
    """After awards, limits show the day's EXP, remaining EXP and counts."""
    api.service.award("alice", "create_character")
    api.gain({"action": "daily_chat"}, user="alice")
    body = api.get("/api/exp/limits", user="alice").json()
    assert body["daily_exp_gained"] == 50
    assert body["remaining_exp"] == 100
    assert body["daily_action_counts"] == {"create_character": 1, "daily_chat": 1}


def test_limits_open_and_persist_a_new_day(api):
    """Limits on a new day show it reset, and the reset is saved as the platform does."""
    api.gain({"action": "daily_chat"}, user="alice")
    api.clock.advance(days=1)
    body = api.get("/api/exp/limits", user="alice").json()
    assert (body["daily_exp_gained"], body["daily_action_counts"]) == (0, {})
    assert body["resets_at"] == "2026-03-03T00:00:00+00:00"
    stored = api.service.state("alice")
    assert stored.daily_exp_gained == 0
    assert stored.last_exp_reset_date == api.clock.now
    assert stored.exp == 20


# --- POST /api/exp/gain: authentication and validation -------------------------------------


@pytest.mark.parametrize(
    "kwargs", [{"json": {"action": "daily_chat"}}, {"content": b"not json"}, {}]
)
def test_gain_without_a_user_is_401(api, kwargs):
    """No user gets the platform's 401 body, whatever the body holds."""
    response = request(api.app, "POST", "/api/exp/gain", **kwargs)
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {}},
        {"json": {"target_type": "character", "target_id": 1}},
        {"json": {"action": "teleport"}},
        {"json": {"action": "chat_used_50"}},
        {"json": {"action": 42}},
        {"json": {"action": None}},
        {"json": {"action": ["daily_chat"]}},
        {"json": ["daily_chat"]},
        {"json": "daily_chat"},
        {"content": b"not json", "headers": {"Content-Type": "application/json"}},
        {"content": b'{"action": "daily_chat"', "headers": {"Content-Type": "application/json"}},
        {"content": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/json"}},
        {"content": b"", "headers": {"Content-Type": "application/json"}},
    ],
    ids=lambda kw: repr(kw)[:60],
)
def test_missing_unknown_or_malformed_action_is_400_never_422(api, kwargs):
    """Anything but a known string action gets the platform's 400 body, not FastAPI's 422."""
    response = request(api.app, "POST", "/api/exp/gain", user="alice", **kwargs)
    assert response.status_code == 400
    assert response.json() == INVALID


def test_an_invalid_action_leaves_no_trace(api):
    """Unlike the platform, an unknown action inserts no counter and writes nothing."""
    api.gain({"action": "teleport"}, user="alice")
    assert api.service.ledger("alice") == []
    assert api.service.state("alice") == ProgressState()


@pytest.mark.parametrize(
    "action", ["create_character", "create_scene", "create_persona", "character_liked", "forked"]
)
def test_actions_the_server_awards_are_not_claimable(api, action):
    """By default only daily_chat is claimable: every other action is a 403 that awards nothing."""
    response = api.gain(
        {"action": action, "target_type": "character", "target_id": 2}, user="alice"
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": f"{action} cannot be claimed by clients: the server awards it"
    }
    assert api.service.ledger("alice") == api.service.ledger("bob") == []


# --- POST /api/exp/gain: the platform's 200 and 429 ------------------------------------------


def test_gain_success_body(api):
    """A claim returns the platform's success keys with awarded_to, plus a few added keys."""
    response = api.gain({"action": "daily_chat"}, user="alice")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= PLATFORM_SUCCESS_KEYS
    assert set(body) - PLATFORM_SUCCESS_KEYS == {"outcome", "resets_at", "remaining_exp"}
    assert body == {
        "awarded_to": "alice",
        "action": "daily_chat",
        "success": True,
        "exp_added": 20,
        "total_exp": 20,
        "level": 1,
        "leveled_up": False,
        "daily_exp_gained": 20,
        "daily_exp_cap": 150,
        "action_count": 1,
        "action_limit": 1,
        "progress": {
            "current_level": 1,
            "level_name": "Newbie",
            "total_exp": 20,
            "current_level_exp": 20,
            "exp_needed_for_next": 100,
            "exp_to_next_level": 80,
            "progress_percentage": 20.0,
            "is_max_level": False,
        },
        "outcome": "awarded",
        "resets_at": MIDNIGHT,
        "remaining_exp": 130,
    }
    assert api.service.state("alice").exp == 20


def test_gain_reports_a_level_up_with_its_progress(api):
    """Crossing a threshold sets leveled_up and the new level's progress, as the client reads."""
    api.seed("alice", exp=90)
    body = api.gain({"action": "daily_chat"}, user="alice").json()
    assert body["leveled_up"] is True
    assert body["level"] == 2
    assert body["progress"]["current_level"] == 2
    assert body["progress"]["level_name"] == "Creator"
    assert body["progress"]["current_level_exp"] == 10


def test_gain_partial_award_is_200(api):
    """An award cut by the daily cap is still a 200, marked partial."""
    api.seed("alice", daily_exp_gained=140)
    response = api.gain({"action": "daily_chat"}, user="alice")
    assert response.status_code == 200
    assert (response.json()["exp_added"], response.json()["outcome"]) == (10, "partial")


def test_action_limit_is_429_with_the_platforms_message(api):
    """The second daily_chat of a day is a 429 with the platform's limit message."""
    api.gain({"action": "daily_chat"}, user="alice")
    response = api.gain({"action": "daily_chat"}, user="alice")
    assert response.status_code == 429
    body = response.json()
    assert body["detail"] == "Daily limit reached for daily_chat (1/day)"
    assert body["reason"] == body["detail"]
    assert (body["outcome"], body["success"], body["exp_added"]) == ("action_limit", False, 0)
    assert (body["action_count"], body["action_limit"]) == (1, 1)
    assert body["resets_at"] == MIDNIGHT
    assert response.headers["Retry-After"] == str(12 * 3600)
    assert api.service.state("alice").exp == 20


def test_daily_cap_is_429_with_the_platforms_message(api):
    """A user at their level's cap gets a 429 with the platform's cap message."""
    api.seed("alice", daily_exp_gained=150)
    response = api.gain({"action": "daily_chat"}, user="alice")
    assert response.status_code == 429
    body = response.json()
    assert body["detail"] == "Daily EXP cap reached (150 EXP/day for level 1)"
    assert (body["outcome"], body["daily_exp_gained"], body["daily_exp_cap"]) == (
        "daily_cap",
        150,
        150,
    )
    assert body["remaining_exp"] == 0
    assert response.headers["Retry-After"] == str(12 * 3600)


def test_a_new_day_lifts_the_limit(api):
    """After midnight UTC the same claim succeeds again."""
    api.gain({"action": "daily_chat"}, user="alice")
    api.clock.advance(hours=12)
    response = api.gain({"action": "daily_chat"}, user="alice")
    assert response.status_code == 200
    assert response.json()["total_exp"] == 40


# --- creator awards -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        {},
        {"target_type": "character"},
        {"target_id": 1},
        {"target_type": "scene", "target_id": 1},
        {"target_type": "character", "target_id": None},
        {"target_type": "character", "target_id": True},
        {"target_type": "character", "target_id": ""},
        {"target_type": "character", "target_id": [1]},
    ],
)
def test_creator_award_without_a_character_target_is_400(creator_api, target):
    """A creator award without target_type "character" and a target_id is the platform's 400."""
    response = creator_api.gain({"action": "character_liked", **target}, user="bob")
    assert response.status_code == 400
    assert response.json() == MISSING_TARGET


@pytest.mark.parametrize("target_id", [99, 4, "1"])
def test_unknown_character_or_creator_is_404(creator_api, target_id):
    """No such character, or one without a creator: the platform's 404."""
    response = creator_api.gain(
        {"action": "character_liked", "target_type": "character", "target_id": target_id},
        user="bob",
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Character or creator not found"}


def test_missing_creator_user_is_404(creator_api):
    """A character whose creator has no user row: the platform's other 404, and no award."""
    response = creator_api.gain(
        {"action": "character_liked", "target_type": "character", "target_id": 3}, user="bob"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Creator user not found"}
    assert creator_api.service.ledger("ghost") == []


def test_liking_your_own_character_is_403(creator_api):
    """The farming hole is closed: a creator cannot award themselves a like."""
    response = creator_api.gain(
        {"action": "character_liked", "target_type": "character", "target_id": 1}, user="alice"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "character_liked cannot be awarded to yourself"}
    assert creator_api.service.ledger("alice") == []


def test_a_like_by_another_user_awards_the_creator(creator_api):
    """bob likes alice's character: alice gets the EXP, bob nothing."""
    response = creator_api.gain(
        {"action": "character_liked", "target_type": "character", "target_id": 1}, user="bob"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["awarded_to"], body["action"], body["exp_added"]) == (
        "alice",
        "character_liked",
        5,
    )
    assert (body["action_count"], body["action_limit"]) == (1, 20)
    assert creator_api.service.state("alice").exp == 5
    assert creator_api.service.state("bob").exp == 0


def test_a_fork_awards_the_creator(creator_api):
    """carol forks bob's character: bob gets forked's 10 EXP."""
    response = creator_api.gain(
        {"action": "forked", "target_type": "character", "target_id": 2}, user="carol"
    )
    assert (response.status_code, response.json()["awarded_to"]) == (200, "bob")
    assert creator_api.service.state("bob").exp == 10


# --- idempotency ----------------------------------------------------------------------------


def test_same_idempotency_key_twice_awards_once_with_the_same_body(api):
    """A retried claim with the same key awards nothing more and returns the first body."""
    first = api.gain({"action": "daily_chat"}, user="alice", key="req-1")
    api.clock.advance(minutes=5)
    again = api.gain({"action": "daily_chat"}, user="alice", key="req-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert len(api.awards("alice")) == 1
    assert api.service.state("alice").exp == 20


def test_the_key_is_namespaced_by_the_actor(creator_api):
    """Two users sending the same key value to one creator get two awards."""
    body = {"action": "character_liked", "target_type": "character", "target_id": 1}
    bob = creator_api.gain(body, user="bob", key="like-1")
    carol = creator_api.gain(body, user="carol", key="like-1")
    assert (bob.status_code, carol.status_code) == (200, 200)
    assert carol.json()["action_count"] == 2
    assert creator_api.service.state("alice").exp == 10
    assert {e.key for e in creator_api.awards("alice")} == {
        scoped_idempotency_key("bob", "like-1"),
        scoped_idempotency_key("carol", "like-1"),
    }


def test_a_key_reused_for_another_action_is_409():
    """A key already used for daily_chat cannot claim create_character: 409, nothing awarded."""
    api = make_api(claimable_actions={"daily_chat", "create_character"})
    assert api.gain({"action": "daily_chat"}, user="alice", key="k").status_code == 200
    response = api.gain({"action": "create_character"}, user="alice", key="k")
    assert response.status_code == 409
    assert response.json() == {"detail": "Idempotency-Key was already used for another request"}
    assert api.service.state("alice").exp == 20


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_malformed_idempotency_key_is_400(api, key):
    """An empty or over-long Idempotency-Key is refused before anything is awarded."""
    response = api.gain({"action": "daily_chat"}, user="alice", key=key)
    assert response.status_code == 400
    assert response.json() == {
        "detail": (
            "Idempotency-Key must be 1 to 255 printable characters, without spaces at either end"
        )
    }
    assert api.service.ledger("alice") == []


def test_scoped_keys_cannot_collide():
    """An actor id holding ":" cannot spell another actor's key."""
    assert scoped_idempotency_key("a:b", "c") != scoped_idempotency_key("a", "b:c")


# --- store failures -------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "req-1"])
def test_an_unreachable_store_is_503_with_retry_after(key):
    """A store that is down gives 503 and Retry-After, on claims and on limits."""
    api = make_api(DownStore())
    response = api.gain({"action": "daily_chat"}, user="alice", key=key)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"detail": "Progression store unavailable, try again shortly"}
    limits = api.get("/api/exp/limits", user="alice")
    assert (limits.status_code, limits.headers["Retry-After"]) == (503, "1")


def test_endless_contention_is_503():
    """When every write loses a race (ConcurrencyError), the claim is a 503 too."""
    api = make_api(ContendedStore())
    response = api.gain({"action": "daily_chat"}, user="alice")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


# --- building the router --------------------------------------------------------------------


def test_unknown_claimable_action_is_refused_at_build_time():
    """A policy naming an action the config lacks is a ValueError, not a silent 400 later."""
    service = ProgressionService(InMemoryStore())
    with pytest.raises(ValueError, match="teleport"):
        progression_router(service, current_user, claimable_actions={"teleport"})


def test_claimable_creator_award_needs_creator_of():
    """Making character_liked claimable without a creator lookup is a ValueError."""
    service = ProgressionService(InMemoryStore())
    with pytest.raises(ValueError, match="creator_of"):
        progression_router(service, current_user, claimable_actions={"character_liked"})


def test_custom_user_id_and_prefix():
    """user_id= reads any user object; prefix= moves the endpoints."""
    service = ProgressionService(InMemoryStore(), clock=FakeClock())
    app = fastapi.FastAPI()
    app.include_router(
        progression_router(
            service, lambda: {"uid": 7}, user_id=lambda user: f"user-{user['uid']}", prefix="/v2"
        )
    )
    response = request(app, "POST", "/v2/exp/gain", json={"action": "daily_chat"})
    assert (response.status_code, response.json()["awarded_to"]) == (200, "user-7")
    assert request(app, "GET", "/v2/levels").status_code == 200
    assert request(app, "GET", "/api/levels").status_code == 404


def test_openapi_documents_every_status_and_no_422(creator_api):
    """The OpenAPI schema lists every status the endpoints send, and no 422."""
    paths = creator_api.app.openapi()["paths"]
    gain = paths["/api/exp/gain"]["post"]
    assert set(gain["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "429",
        "503",
    }
    assert gain["requestBody"]["content"]["application/json"]["schema"]["required"] == ["action"]
    assert [p["name"] for p in gain["parameters"]] == ["Idempotency-Key"]
    assert set(paths["/api/exp/limits"]["get"]["responses"]) == {"200", "401", "503"}
    assert set(paths["/api/levels"]["get"]["responses"]) == {"200"}


def test_missing_fastapi_names_the_extra(monkeypatch):
    """Without FastAPI, importing the module says which extra to install."""
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "mikoshi_progression.fastapi")
    with pytest.raises(ImportError, match=r"pip install -e '\.\[fastapi\]'"):
        importlib.import_module("mikoshi_progression.fastapi")


# --- the example app ------------------------------------------------------------------------


@pytest.fixture
def example(monkeypatch):
    """examples/fastapi_app.py, imported from its file."""
    spec = importlib.util.spec_from_file_location("mikoshi_fastapi_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example_app(example, tmp_path):
    """The example app on a fresh SQLite file, with a fake clock."""
    app = example.build_app(f"sqlite:///{tmp_path / 'example.db'}", clock=FakeClock())
    yield app
    app.state.service.store.close()


def test_example_like_unlike_like_cannot_farm(example_app):
    """Like, unlike, like: +5, -5, +5; the count still rises, and the 20/day limit ends it."""
    like = "/api/characters/1/like"
    first = request(example_app, "POST", like, user="bob").json()
    assert first["award"]["awarded_to"] == "alice"
    assert (first["award"]["exp_added"], first["award"]["action_count"]) == (5, 1)
    undone = request(example_app, "DELETE", like, user="bob").json()
    assert undone["revoked"] == {"taken_from": "alice", "exp_delta": -5, "total_exp": 0}
    again = request(example_app, "POST", like, user="bob").json()
    assert (again["award"]["exp_added"], again["award"]["action_count"]) == (5, 2)
    assert again["award"]["total_exp"] == 5
    for count in range(3, 21):
        request(example_app, "DELETE", like, user="bob")
        body = request(example_app, "POST", like, user="bob").json()
        assert (body["award"]["action_count"], body["award"]["total_exp"]) == (count, 5)
    request(example_app, "DELETE", like, user="bob")
    limited = request(example_app, "POST", like, user="bob").json()["award"]
    assert limited["success"] is False
    assert limited["reason"] == "Daily limit reached for character_liked (20/day)"
    me = request(example_app, "GET", "/api/users/me", user="alice").json()
    assert me == {"id": "alice", "level": 1, "exp": 0}
    limits = request(example_app, "GET", "/api/exp/limits", user="alice").json()
    assert limits["daily_action_counts"] == {"character_liked": 20}


def test_example_self_like_and_orphans_pay_nothing(example_app):
    """Liking your own, a ghost's or an orphan's character is stored but awards nobody."""
    for character_id in (1, 3, 4):
        response = request(
            example_app, "POST", f"/api/characters/{character_id}/like", user="alice"
        )
        assert response.json() == {"liked": True, "award": None}
    assert request(example_app, "GET", "/api/users/me", user="alice").json()["exp"] == 0


def test_example_create_character_awards_server_side(example_app):
    """Creating a character awards create_character; claiming it by hand is a 403."""
    created = request(example_app, "POST", "/api/characters", user="carol", json={"name": "Nova"})
    assert created.status_code == 201
    assert created.json()["character"] == {"id": 5, "name": "Nova", "creator_id": "carol"}
    assert created.json()["award"]["exp_added"] == 30
    claim = request(
        example_app, "POST", "/api/exp/gain", user="carol", json={"action": "create_character"}
    )
    assert claim.status_code == 403
    chat = request(
        example_app, "POST", "/api/exp/gain", user="carol", json={"action": "daily_chat"}
    )
    assert (chat.status_code, chat.json()["total_exp"]) == (200, 50)
    assert request(example_app, "GET", "/api/exp/limits").status_code == 401


def test_example_sale_pays_the_creator_not_the_buyer(example_app):
    """A purchase pays the sold character's creator (the platform's third creator award);
    a creator buying their own character, or an orphan's, pays nobody."""
    sale = request(example_app, "POST", "/api/characters/1/purchases", user="bob")
    assert sale.status_code == 201
    award = sale.json()["award"]
    assert (award["awarded_to"], award["exp_added"]) == ("alice", 50)
    for character_id, buyer in ((1, "alice"), (4, "bob")):
        own = request(example_app, "POST", f"/api/characters/{character_id}/purchases", user=buyer)
        assert own.json()["award"] is None
    service = example_app.state.service
    (entry,) = [e for e in service.ledger("alice") if e.action == "paid_char_sold"]
    assert (entry.actor, entry.target) == ("bob", "character:1")
    assert service.state("bob").exp == 0


# --- trust at the seams: ids, keys, bodies --------------------------------------------------


@dataclass(frozen=True)
class OrmUser:
    """An ORM user whose id column is an integer."""

    id: int


def test_an_integer_creator_id_cannot_like_its_own_character():
    """creator_of returning an int (an ORM column) for the caller's own character is still
    a self-award (403): ids are compared in one canonical form, so nothing is awarded."""

    def orm_creator_of(target_type: str, target_id: int | str) -> int | None:
        return 7 if target_id == 70 else None

    api = make_api(claimable_actions=CREATOR_ACTIONS, creator_of=orm_creator_of)
    api.app.dependency_overrides[current_user] = lambda: User("7")
    for action in ("character_liked", "forked"):
        response = api.gain({"action": action, "target_type": "character", "target_id": 70})
        assert response.status_code == 403, response.json()
    api.app.dependency_overrides[current_user] = lambda: OrmUser(7)
    response = api.gain({"action": "character_liked", "target_type": "character", "target_id": 70})
    assert response.status_code == 403
    assert api.service.ledger("7") == []


def test_an_integer_creator_id_is_paid_under_its_text():
    """An int creator id (7) is awarded as "7", the same user a string id names."""

    def orm_creator_of(target_type: str, target_id: int | str) -> int | None:
        return 7

    api = make_api(claimable_actions=CREATOR_ACTIONS, creator_of=orm_creator_of)
    body = {"action": "character_liked", "target_type": "character", "target_id": 70}
    response = api.gain(body, user="alice")
    assert (response.status_code, response.json()["awarded_to"]) == (200, "7")
    (entry,) = api.awards("7")
    assert (entry.actor, entry.target) == ("alice", "character:70")


def test_the_same_key_for_another_target_is_409_and_pays_nobody(creator_api):
    """A caller's Idempotency-Key reused for another character is a 409: the second
    creator gets nothing, and the first award stays the only one."""
    like = {"action": "character_liked", "target_type": "character", "target_id": 1}
    first = creator_api.gain(like, user="carol", key="req-1")
    assert first.status_code == 200
    other = creator_api.gain({**like, "target_id": 2}, user="carol", key="req-1")
    assert other.status_code == 409
    assert other.json() == {"detail": "Idempotency-Key was already used for another request"}
    assert creator_api.awards("bob") == []
    assert len(creator_api.awards("alice")) == 1
    again = creator_api.gain(like, user="carol", key="req-1")
    assert (again.status_code, again.json()) == (200, first.json())


def test_the_same_key_for_another_action_of_the_caller_is_409(creator_api):
    """A key used for a like cannot then claim the caller's own daily_chat."""
    like = {"action": "character_liked", "target_type": "character", "target_id": 1}
    assert creator_api.gain(like, user="bob", key="k").status_code == 200
    assert creator_api.gain({"action": "daily_chat"}, user="bob", key="k").status_code == 409
    assert creator_api.awards("bob") == []


def test_a_retry_after_the_creator_changed_pays_the_first_creator_once():
    """The key remembers the recipient its first call resolved: a retry after the
    character changed hands returns the first result and pays nobody else."""
    owners = {1: "alice"}
    api = make_api(
        claimable_actions=CREATOR_ACTIONS,
        creator_of=lambda _type, target_id: owners.get(target_id),  # type: ignore[arg-type]
    )
    like = {"action": "character_liked", "target_type": "character", "target_id": 1}
    first = api.gain(like, user="carol", key="req-9")
    owners[1] = "bob"
    again = api.gain(like, user="carol", key="req-9")
    assert (again.status_code, again.json()) == (200, first.json())
    assert again.json()["awarded_to"] == "alice"
    assert api.awards("bob") == []


def test_a_key_claimed_outside_the_router_is_409(creator_api):
    """A key the backend claimed for something else in the caller's namespace is another
    request to the router: 409, nothing paid."""
    creator_api.service.claim_key("bob", "k", "refund of order 7")
    like = {"action": "character_liked", "target_type": "character", "target_id": 1}
    assert creator_api.gain(like, user="bob", key="k").status_code == 409
    assert creator_api.awards("alice") == []


def test_two_fans_may_send_the_same_key_to_one_creator(creator_api):
    """Keys are the caller's: the same header from two fans is two likes."""
    like = {"action": "character_liked", "target_type": "character", "target_id": 1}
    assert creator_api.gain(like, user="bob", key="k").status_code == 200
    assert creator_api.gain(like, user="carol", key="k").status_code == 200
    assert [e.actor for e in creator_api.awards("alice")] == ["bob", "carol"]


@pytest.mark.parametrize("target_id", ["x" * 300, "a\x00b", "\u200b1"])
def test_a_malformed_target_is_400(creator_api, target_id):
    """A target id that cannot be recorded (too long, control characters) is a 400."""
    body = {"action": "character_liked", "target_type": "character", "target_id": target_id}
    response = creator_api.gain(body, user="bob")
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid character target"})


@pytest.mark.parametrize("key", [b"k" * 256, b" k", b"a\tb", b"a\x7fb", b"a\x85b"])
def test_keys_that_are_not_canonical_are_400(api, key):
    """An Idempotency-Key that is too long, padded, or holds a control character (a C1
    one too, as header bytes read as Latin-1) is refused before anything is awarded."""
    headers = {"Idempotency-Key": key}
    response = api.gain({"action": "daily_chat"}, user="alice", headers=headers)
    assert response.status_code == 400
    assert api.service.ledger("alice") == []


def test_a_router_over_a_store_without_request_keys_refuses_creator_claims():
    """Claimable creator awards need a store that claims request keys: refused at build."""
    with pytest.raises(ValueError, match="RequestKeyStore"):
        progression_router(
            ProgressionService(DownStore()),
            current_user,
            claimable_actions=CREATOR_ACTIONS,
            creator_of=creator_of,
        )
    progression_router(ProgressionService(DownStore()), current_user)  # daily_chat alone


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},
    ],
)
def test_anything_but_json_is_415_before_it_is_read(api, headers):
    """A form or text/plain post (what a cross-site page can send with the victim's
    cookies, without a preflight) is refused with 415 and awards nothing."""
    response = api.gain(content=b'{"action": "daily_chat"}', user="alice", headers=headers)
    assert response.status_code == 415
    assert response.json() == {"detail": "Content-Type must be application/json"}
    assert api.service.ledger("alice") == []


def test_json_with_a_charset_is_read(api):
    """``application/json; charset=utf-8`` is JSON."""
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    response = api.gain(content=b'{"action": "daily_chat"}', user="alice", headers=headers)
    assert response.status_code == 200


def test_a_declared_large_body_is_413_unread(api):
    """A Content-Length over the limit is refused from the header alone."""
    body = b'{"action": "daily_chat", "pad": "' + b"x" * 20_000 + b'"}'
    response = api.gain(content=body, user="alice", headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 16384 bytes"}
    assert api.service.ledger("alice") == []


def test_a_streamed_body_stops_being_read_at_the_limit():
    """A chunked body without Content-Length is read only up to the limit: of a 50 MB
    stream, the router pulls a few chunks and answers 413."""
    api = make_api(max_body_bytes=1024)
    pulled = 0

    async def chunks() -> Any:
        nonlocal pulled
        for _ in range(50 * 1024):
            pulled += 1
            yield b"x" * 1024

    response = api.gain(
        content=chunks(), user="alice", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert pulled <= 3
    assert api.service.ledger("alice") == []


def test_a_body_at_the_limit_is_read():
    """A body of exactly max_body_bytes is accepted."""
    api = make_api(max_body_bytes=64)
    body = b'{"action": "daily_chat"}'.ljust(64)
    response = api.gain(content=body, user="alice", headers={"Content-Type": "application/json"})
    assert response.status_code == 200


class BrokenStore(DownStore):
    """A store whose every transaction fails permanently (an SQL error, not an outage)."""

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        raise StoreError("PostgreSQL: cannot save: ProgramLimitExceeded: index row too large")
        yield  # pragma: no cover


def test_a_permanent_store_error_is_a_500_not_a_503():
    """A permanent store error is not retried and never answered 503 'try again shortly'."""
    api = make_api(BrokenStore())
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(
                "/api/exp/gain",
                json={"action": "daily_chat"},
                headers={"Authorization": "Bearer alice", "Idempotency-Key": "k"},
            )

    response = asyncio.run(send())
    assert response.status_code == 500
    assert "Retry-After" not in response.headers


def test_paid_char_sold_pays_the_creator_of_the_sold_character():
    """The platform's third creator award: a sale pays the character's creator, the buyer
    is the actor, and a creator buying their own character earns nothing (403)."""
    api = make_api(
        claimable_actions={"daily_chat", "paid_char_sold"},
        creator_of=creator_of,
    )
    sale = {"action": "paid_char_sold", "target_type": "character", "target_id": 1}
    response = api.gain(sale, user="bob", key="order-1")
    assert (response.status_code, response.json()["awarded_to"]) == (200, "alice")
    assert response.json()["exp_added"] == 50
    (entry,) = api.awards("alice")
    assert (entry.action, entry.actor, entry.target) == ("paid_char_sold", "bob", "character:1")
    assert api.gain(sale, user="alice").status_code == 403
    assert api.gain({"action": "paid_char_sold"}, user="bob").json() == MISSING_TARGET
    assert len(api.awards("alice")) == 1


# --- the async path -------------------------------------------------------------------


async def async_creator_of(target_type: str, target_id: int | str) -> str | None:
    """The creator lookup as an async app writes it (an AsyncSession query)."""
    await asyncio.sleep(0)
    return creator_of(target_type, target_id)


def test_async_service_gets_async_endpoints_and_awaits_an_async_creator_lookup():
    """With an AsyncProgressionService the endpoints are coroutines (no thread hop) and an
    async creator_of is awaited: a like pays the creator once, however often it is sent."""
    api = make_api(mode="async", claimable_actions=CREATOR_ACTIONS, creator_of=async_creator_of)
    router = progression_router(
        AsyncProgressionService(AsyncInMemoryStore()),
        current_user,
        claimable_actions=CREATOR_ACTIONS,
        creator_of=async_creator_of,
    )
    endpoints = {r.path: r.endpoint for r in router.routes if hasattr(r, "endpoint")}
    for path in ("/api/levels", "/api/exp/limits", "/api/exp/gain"):
        assert inspect.iscoroutinefunction(endpoints[path]), path
    like = {"action": "character_liked", "target_type": "character", "target_id": 1}
    first = api.gain(like, user="bob", key="like-1")
    assert first.status_code == 200, first.text
    assert first.json()["awarded_to"] == "alice"
    assert api.gain(like, user="bob", key="like-1").json() == first.json()
    assert api.service.state("alice").exp == first.json()["exp_added"]
    assert api.gain({**like, "target_id": 999}, user="bob").status_code == 404


def test_sync_service_refuses_an_async_creator_lookup():
    """A sync service runs the request in a thread, where a coroutine cannot be awaited."""
    with pytest.raises(ValueError, match="async function"):
        make_api(claimable_actions=CREATOR_ACTIONS, creator_of=async_creator_of)


def test_async_router_serves_concurrent_requests_without_losing_any():
    """Fifty users claiming at once on one event loop: fifty awards, none lost."""
    store = InMemoryStore()
    service = AsyncProgressionService(AsyncInMemoryStore(store), clock=FakeClock())
    app = fastapi.FastAPI()

    async def anyone(request: fastapi.Request) -> str | None:
        _scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token or None

    app.include_router(progression_router(service, anyone))
    users = [f"user-{n}" for n in range(50)]

    async def claim_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/exp/gain",
                        json={"action": "daily_chat"},
                        headers={"Authorization": f"Bearer {user}"},
                    )
                    for user in users
                )
            )

    responses = asyncio.run(claim_all())
    assert [r.status_code for r in responses] == [200] * 50
    assert all(store.read_state(user).exp == 20 for user in users)
