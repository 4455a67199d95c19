"""examples/async_sqlalchemy_app.py, driven as the platform's web client drives its backend.

Each test gets a PostgreSQL schema of its own (the app's tables and the library's ledger
land in it through the search path).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("fastapi")
psycopg = pytest.importorskip("psycopg")

import httpx  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from mikoshi_progression.errors import InvalidMomentError  # noqa: E402
from mikoshi_progression.testing.clock import FakeClock  # noqa: E402

pytestmark = pytest.mark.postgres

DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "async_sqlalchemy_app.py"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _load_example() -> Any:
    spec = importlib.util.spec_from_file_location("async_sqlalchemy_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load_example()


class FailingClock(FakeClock):
    """A clock that returns a naive moment when told to: the award then fails inside the
    app's transaction, after the app's own write."""

    fail = False

    def __call__(self) -> datetime:
        moment = super().__call__()
        return moment.replace(tzinfo=None) if self.fail else moment


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh schema for one test; a missing server skips, except in CI, where it fails."""
    name = f"mikoshi_example_{secrets.token_hex(4)}"
    try:
        conn = psycopg.connect(DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {DSN}: {str(exc).strip().splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


class Client:
    """The platform's web client: JSON posts with the token in ``Authorization``."""

    def __init__(self, schema: str, clock: FakeClock) -> None:
        url = DSN.replace("postgresql://", "postgresql+psycopg://", 1)
        self.engine = create_async_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        self.app = example.build_app(self.engine, clock=clock)
        self.clock = clock

    async def __aenter__(self) -> Client:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.http.aclose()
        await self._lifespan.__aexit__(None, None, None)
        await self.engine.dispose()

    async def call(self, method: str, url: str, user: str | None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {user}"} if user else {}
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def exp(self, user: str) -> int:
        response = await self.call("GET", "/api/users/me", user)
        assert response.status_code == 200, response.text
        return int(response.json()["exp"])

    async def count(self, table: str) -> int:
        async with self.app.state.sessions() as session:
            from sqlalchemy import text

            return int(await session.scalar(text(f"SELECT count(*) FROM {table}")))


def run(schema: str, scenario: Any, clock: FakeClock | None = None) -> None:
    async def main() -> None:
        async with Client(schema, clock or FakeClock(NOW)) as client:
            await scenario(client)

    asyncio.run(main())


def test_the_platforms_endpoints_answer_as_the_client_expects(schema):
    """Levels without a user, limits and a daily_chat claim with one, 401 and 403 as before."""

    async def scenario(client: Client) -> None:
        levels = await client.call("GET", "/api/levels", None)
        assert levels.json()["1"]["exp_required"] == 0
        assert (await client.call("GET", "/api/exp/limits", None)).status_code == 401
        limits = await client.call("GET", "/api/exp/limits", "bob")
        assert limits.json()["remaining_exp"] == 150
        chat = await client.call("POST", "/api/exp/gain", "bob", json={"action": "daily_chat"})
        assert chat.status_code == 200, chat.text
        assert chat.json()["awarded_to"] == "bob"
        again = await client.call("POST", "/api/exp/gain", "bob", json={"action": "daily_chat"})
        assert again.status_code == 429
        like = {"action": "character_liked", "target_type": "character", "target_id": 1}
        claimed = await client.call("POST", "/api/exp/gain", "bob", json=like)
        assert claimed.status_code == 403  # likes are awarded by the server, when stored
        assert await client.exp("bob") == 20

    run(schema, scenario)


def test_like_unlike_like_pays_once_at_a_time_and_counts_every_like(schema):
    """+5, -5, +5: never +15; liking your own character pays nothing; the like rows and the
    ledger agree."""

    async def scenario(client: Client) -> None:
        first = await client.call("POST", "/api/characters/1/like", "bob")
        assert first.json()["award"]["exp_added"] == 5
        repeat = await client.call("POST", "/api/characters/1/like", "bob")
        assert repeat.json() == {"liked": True, "award": None}
        unliked = await client.call("DELETE", "/api/characters/1/like", "bob")
        assert unliked.json()["revoked"]["exp_delta"] == -5
        second = await client.call("POST", "/api/characters/1/like", "bob")
        assert second.json()["award"]["action_count"] == 2
        assert await client.exp("alice") == 5
        own = await client.call("POST", "/api/characters/1/like", "alice")
        assert own.json() == {"liked": True, "award": None}
        assert await client.count("likes") == 2
        report = await client.app.state.service.replay("alice")
        assert report.matches

    run(schema, scenario)


def test_a_character_and_its_award_commit_together_or_not_at_all(schema):
    """Two creations pay 30 each; a third is created but pays nothing (the day's limit: the
    app decides to keep it); a failing award rolls its character back."""
    clock = FailingClock(NOW)

    async def scenario(client: Client) -> None:
        before = await client.count("characters")
        for name in ("Nova", "Vega"):
            made = await client.call("POST", "/api/characters", "carol", json={"name": name})
            assert made.status_code == 201, made.text
            assert made.json()["award"]["exp_added"] == 30
        third = await client.call("POST", "/api/characters", "carol", json={"name": "Lyra"})
        assert third.status_code == 201
        assert third.json()["award"]["success"] is False
        assert await client.count("characters") == before + 3
        assert await client.exp("carol") == 60

        clock.fail = True
        with pytest.raises(InvalidMomentError):
            await client.call("POST", "/api/characters", "bob", json={"name": "Ghost"})
        clock.fail = False
        assert await client.count("characters") == before + 3  # rolled back with its award
        assert await client.exp("bob") == 0
        assert await client.app.state.service.ledger("bob") == []

    run(schema, scenario, clock)


def test_concurrent_likes_of_one_creator_lose_nothing(schema):
    """Twenty fans like alice's character at once: twenty like rows, 100 EXP, one ledger
    entry each, and the day's like limit counted exactly."""

    async def scenario(client: Client) -> None:
        async with client.app.state.sessions.begin() as session:
            session.add_all(example.User(id=f"fan{n}", name=f"Fan {n}") for n in range(20))
        responses = await asyncio.gather(
            *(client.call("POST", "/api/characters/1/like", f"fan{n}") for n in range(20))
        )
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
        assert await client.count("likes") == 20
        state = await client.app.state.service.state("alice")
        assert state.exp == 100
        assert state.daily_action_counts["character_liked"] == 20
        assert (await client.app.state.service.replay("alice")).matches

    run(schema, scenario)
