"""The router's documented bodies cover the keys an award under levers adds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from mikoshi_progression import DEFAULT_CONFIG, EventKind, ProgressionConfig  # noqa: E402
from mikoshi_progression.fastapi import AwardBody, RejectionBody, progression_router  # noqa: E402
from mikoshi_progression.service import ProgressionService  # noqa: E402
from mikoshi_progression.stores import InMemoryStore  # noqa: E402

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
LEVER_KEYS = {"base_exp", "boosts", "bonus_exp", "events"}


def levers_config() -> ProgressionConfig:
    """The default rules with a double-EXP window, a streak and a first-chat milestone."""
    data = DEFAULT_CONFIG.to_dict()
    data["boosts"] = {
        "windows": [
            {
                "name": "weekend",
                "starts": "2026-12-05T00:00:00+00:00",
                "ends": "2026-12-07T00:00:00+00:00",
                "multiplier": 2,
            }
        ]
    }
    data["streak"] = {"bonuses": {"1": 5}}
    data["milestones"] = [{"name": "first_chat", "action": "daily_chat", "count": 1}]
    return ProgressionConfig.from_dict(data)


def post_gain(config: ProgressionConfig, times: int) -> list[httpx.Response]:
    """``times`` daily_chat claims by one user, at NOW, under ``config``."""
    service = ProgressionService(InMemoryStore(), config=config, clock=lambda: NOW)
    app = fastapi.FastAPI()
    app.include_router(
        progression_router(service, lambda: {"id": "alice"}, user_id=lambda u: u["id"])
    )

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [
                await client.post("/api/exp/gain", json={"action": "daily_chat"})
                for _ in range(times)
            ]

    return asyncio.run(send())


def documented(model: Any) -> set[str]:
    return set(model.model_fields)


def test_award_body_keys_under_levers_are_documented() -> None:
    """A boosted, streak-extending award's body has the lever keys, all in AwardBody."""
    award, rejection = post_gain(levers_config(), 2)
    body = award.json()
    assert award.status_code == 200
    assert LEVER_KEYS <= set(body) <= documented(AwardBody)
    assert (body["base_exp"], body["boosts"], body["bonus_exp"]) == (20, ["weekend"], 5)
    assert [e["kind"] for e in body["events"]] == [
        EventKind.BOOST_APPLIED,
        EventKind.STREAK_EXTENDED,
        EventKind.MILESTONE_UNLOCKED,
    ]
    AwardBody.model_validate(body)
    assert rejection.status_code == 429
    assert LEVER_KEYS <= set(rejection.json()) <= documented(RejectionBody)
    RejectionBody.model_validate(rejection.json())


def test_seed_bodies_keep_the_platform_keys() -> None:
    """Without levers the bodies have none of the lever keys (the documented ones are optional)."""
    award, rejection = post_gain(DEFAULT_CONFIG, 2)
    assert not LEVER_KEYS & set(award.json())
    assert not LEVER_KEYS & set(rejection.json())
    assert not LEVER_KEYS & {n for n, f in AwardBody.model_fields.items() if f.is_required()}


def test_openapi_documents_the_lever_keys_and_event_kinds() -> None:
    """The OpenAPI schema lists the lever keys of both bodies and every event kind."""
    service = ProgressionService(InMemoryStore(), config=levers_config())
    app = fastapi.FastAPI()
    app.include_router(progression_router(service, lambda: None))
    components = app.openapi()["components"]["schemas"]
    for name in ("AwardBody", "RejectionBody"):
        properties = components[name]["properties"]
        assert set(properties) >= LEVER_KEYS
        assert not LEVER_KEYS & set(components[name].get("required", []))
    kinds = components["EventKind"]["enum"]
    assert kinds == [kind.value for kind in EventKind]
