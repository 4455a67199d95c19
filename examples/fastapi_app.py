"""A complete FastAPI backend on SQLite with mikoshi-progression's router.

Run it (progress is kept in ``mikoshi-example.db`` in the current directory; set
``MIKOSHI_DATABASE`` to another store URL to change that)::

    pip install -e '.[fastapi]' uvicorn   # in a clone of the repository
    python examples/fastapi_app.py        # then open http://127.0.0.1:8000/docs

The toy authentication takes the user id as the bearer token: ``alice``, ``bob``
and ``carol`` exist. Characters: 1 by alice, 2 by bob, 3 by ``ghost`` (whose
user row is gone) and 4 without a creator. Characters and likes live in memory
and start over with the process; EXP lives in the SQLite file.

Try it::

    curl localhost:8000/api/levels
    curl -H 'Authorization: Bearer bob' localhost:8000/api/exp/limits
    # the one action clients may claim themselves
    curl -X POST localhost:8000/api/exp/gain -H 'Authorization: Bearer bob' \\
         -H 'Content-Type: application/json' -d '{"action": "daily_chat"}'
    # 403: likes are awarded by the server, when a like is stored
    curl -X POST localhost:8000/api/exp/gain -H 'Authorization: Bearer bob' \\
         -H 'Content-Type: application/json' \\
         -d '{"action": "character_liked", "target_type": "character", "target_id": 1}'
    # like, unlike, like: alice gets +5, -5, +5 (not +15), and 2 of her 20 likes a day
    curl -X POST   localhost:8000/api/characters/1/like -H 'Authorization: Bearer bob'
    curl -X DELETE localhost:8000/api/characters/1/like -H 'Authorization: Bearer bob'
    curl -X POST   localhost:8000/api/characters/1/like -H 'Authorization: Bearer bob'
    curl -H 'Authorization: Bearer alice' localhost:8000/api/users/me
    # creating a character awards create_character server-side (+30, 2 a day)
    curl -X POST localhost:8000/api/characters -H 'Authorization: Bearer carol' \\
         -H 'Content-Type: application/json' -d '{"name": "Nova"}'
    # a sale pays the creator of the sold character (+50); buying your own pays nothing
    curl -X POST localhost:8000/api/characters/1/purchases -H 'Authorization: Bearer bob'

``uvicorn --factory fastapi_app:build_app`` (from ``examples/``) serves it too.
"""

import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from mikoshi_progression import SelfAwardError
from mikoshi_progression.fastapi import CreatorUserNotFound, progression_router
from mikoshi_progression.service import ProgressionService, utc_now
from mikoshi_progression.stores import open_store

DEFAULT_DATABASE = "sqlite:///mikoshi-example.db"
HOST, PORT = "127.0.0.1", 8000


@dataclass(frozen=True, slots=True)
class Character:
    """A character of the app's catalogue.

    Attributes:
        id: Its number.
        name: Its name.
        creator_id: The user who made it, or ``None`` (an orphaned import).
    """

    id: int
    name: str
    creator_id: str | None


class Catalog:
    """The app's own tables, in memory: users, characters and who likes what.

    One lock keeps a like and its award (or an unlike and its revocation)
    together, so a like racing an unlike can never leave EXP behind.
    """

    def __init__(self, users: Iterable[str], characters: Iterable[Character]) -> None:
        self.lock = threading.Lock()
        self.users = set(users)
        self.characters = {c.id: c for c in characters}
        # (user, character) -> the like's own id: each like is a new row, and its award key.
        self.likes: dict[tuple[str, int], str] = {}

    def creator_of(self, target_type: str, target_id: int | str) -> str | None:
        """The router's creator lookup: who gets a character's creator awards."""
        try:
            character = self.characters.get(int(target_id))
        except ValueError:
            return None
        if target_type != "character" or character is None or character.creator_id is None:
            return None
        if character.creator_id not in self.users:
            raise CreatorUserNotFound(character.creator_id)
        return character.creator_id

    def character(self, character_id: int) -> Character:
        """The character, or a 404."""
        character = self.characters.get(character_id)
        if character is None:
            raise HTTPException(status_code=404, detail="Character not found")
        return character


class NewCharacter(BaseModel):
    """The body of ``POST /api/characters``."""

    name: str = Field(min_length=1, max_length=100)


def seed_catalog() -> Catalog:
    """Three users and four characters, one of each kind the router must handle."""
    return Catalog(
        users=["alice", "bob", "carol"],
        characters=[
            Character(1, "Aria", "alice"),
            Character(2, "Blaze", "bob"),
            Character(3, "Echo", "ghost"),
            Character(4, "Orphan", None),
        ],
    )


def build_app(
    database: str = DEFAULT_DATABASE,
    *,
    clock: Callable[[], datetime] = utc_now,
    catalog: Catalog | None = None,
) -> FastAPI:
    """The example app over the store at ``database`` (any ``open_store`` URL)."""
    store = open_store(database)
    service = ProgressionService(store, clock=clock)
    tables = catalog if catalog is not None else seed_catalog()
    bearer = HTTPBearer(auto_error=False)

    def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str | None:
        """Toy authentication: the bearer token is the user id (``None`` if unknown)."""
        if credentials is None or credentials.credentials not in tables.users:
            return None
        return credentials.credentials

    def require_user(user: Annotated[str | None, Depends(current_user)]) -> str:
        if user is None:
            raise HTTPException(status_code=401, detail="Not authenticated")
        return user

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="mikoshi-progression example", lifespan=lifespan)
    app.state.service = service
    app.state.catalog = tables
    # Clients may claim daily_chat only (the default); likes and creations are
    # awarded below, where they happen.
    app.include_router(progression_router(service, current_user, creator_of=tables.creator_of))

    @app.get("/api/users/me")
    def me(user: Annotated[str, Depends(require_user)]) -> dict[str, Any]:
        """The profile fields the web client's progress bar reads."""
        state = service.state(user)
        return {"id": user, "level": state.level, "exp": state.exp}

    @app.get("/api/characters")
    def characters() -> list[dict[str, Any]]:
        """Every character."""
        return [
            {"id": c.id, "name": c.name, "creator_id": c.creator_id}
            for c in tables.characters.values()
        ]

    @app.post("/api/characters", status_code=201)
    def create_character(
        body: NewCharacter, user: Annotated[str, Depends(require_user)]
    ) -> dict[str, Any]:
        """Create a character; its creator earns ``create_character`` (server-side)."""
        with tables.lock:
            character = Character(max(tables.characters, default=0) + 1, body.name, user)
            tables.characters[character.id] = character
        result = service.award(user, "create_character", key=f"create-character:{character.id}")
        return {
            "character": {"id": character.id, "name": character.name, "creator_id": user},
            "award": result.to_dict(),
        }

    @app.post("/api/characters/{character_id}/like")
    def like(character_id: int, user: Annotated[str, Depends(require_user)]) -> dict[str, Any]:
        """Like a character; its creator earns ``character_liked`` (never its own liker).

        Every like is a new like row with its own award key, so it counts toward
        the creator's 20 likes a day even after an unlike took its EXP back.
        """
        with tables.lock:
            character = tables.character(character_id)
            if (user, character_id) in tables.likes:
                return {"liked": True, "award": None}
            like_id = uuid.uuid4().hex
            tables.likes[(user, character_id)] = like_id
            creator = character.creator_id
            if creator is None or creator not in tables.users:
                return {"liked": True, "award": None}
            try:
                result = service.award(
                    creator,
                    "character_liked",
                    key=f"like:{user}:{character_id}:{like_id}",
                    actor_id=user,
                    target=f"character:{character_id}",
                )
            except SelfAwardError:
                return {"liked": True, "award": None}  # liking your own character pays nothing
            return {"liked": True, "award": {"awarded_to": creator, **result.to_dict()}}

    @app.post("/api/characters/{character_id}/purchases", status_code=201)
    def buy(character_id: int, user: Annotated[str, Depends(require_user)]) -> dict[str, Any]:
        """Buy a character; its creator earns ``paid_char_sold``, the buyer being the actor.

        The order's id keys the award, so a retried payment callback pays once. A
        creator buying their own character is a sale like any other, but pays nothing.
        """
        character = tables.character(character_id)
        order = uuid.uuid4().hex
        creator = character.creator_id
        if creator is None or creator not in tables.users:
            return {"order": order, "award": None}
        try:
            result = service.award(
                creator,
                "paid_char_sold",
                key=f"order:{order}",
                actor_id=user,
                target=f"character:{character_id}",
            )
        except SelfAwardError:
            return {"order": order, "award": None}
        return {"order": order, "award": {"awarded_to": creator, **result.to_dict()}}

    @app.delete("/api/characters/{character_id}/like")
    def unlike(character_id: int, user: Annotated[str, Depends(require_user)]) -> dict[str, Any]:
        """Take a like back, and with it exactly the EXP that like earned its creator."""
        with tables.lock:
            character = tables.character(character_id)
            like_id = tables.likes.pop((user, character_id), None)
            creator = character.creator_id
            if like_id is None or creator is None or creator not in tables.users:
                return {"liked": False, "revoked": None}
            entry = service.revoke(creator, f"like:{user}:{character_id}:{like_id}")
            if entry is None:
                return {"liked": False, "revoked": None}
            return {
                "liked": False,
                "revoked": {
                    "taken_from": creator,
                    "exp_delta": entry.exp_delta,
                    "total_exp": entry.state_after.exp,
                },
            }

    return app


def main() -> None:
    """Serve the app on 127.0.0.1:8000 with uvicorn."""
    try:
        import uvicorn
    except ImportError:
        print("uvicorn is not installed: pip install uvicorn", file=sys.stderr)
        raise SystemExit(1) from None
    uvicorn.run(
        build_app(os.environ.get("MIKOSHI_DATABASE", DEFAULT_DATABASE)), host=HOST, port=PORT
    )


if __name__ == "__main__":
    main()
