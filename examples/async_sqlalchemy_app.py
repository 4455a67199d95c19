"""The platform's shape, async: FastAPI + SQLAlchemy (asyncio) on PostgreSQL, awarding
inside its own transactions.

The app owns its tables (``users``, ``characters``, ``likes``, ``purchases``) as
SQLAlchemy models; the progression state lives in place in the platform's ``users``
columns, and the library keeps its ledger beside them. Every server-side award runs
*in the app's own transaction* (``service.award(..., within=session)``): the like row
and the creator's EXP commit together or not at all, as do a new character and its
``create_character`` award. The platform's three endpoints come from
``progression_router`` over an ``AsyncProgressionService``: async endpoints, no thread
hop.

Run it against a PostgreSQL database (the tables are created in the search path;
``MIKOSHI_DATABASE`` is a SQLAlchemy async URL)::

    pip install -e '.[fastapi,sqlalchemy,postgres]' uvicorn   # in a clone
    MIKOSHI_DATABASE=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python examples/async_sqlalchemy_app.py               # http://127.0.0.1:8000/docs

The toy authentication takes the user id as the bearer token: ``alice``, ``bob`` and
``carol`` exist; character 1 is alice's, 2 bob's. Try::

    curl -H 'Authorization: Bearer bob' localhost:8000/api/exp/limits
    curl -X POST localhost:8000/api/characters/1/like -H 'Authorization: Bearer bob'
    curl -X DELETE localhost:8000/api/characters/1/like -H 'Authorization: Bearer bob'
    curl -X POST localhost:8000/api/characters -H 'Authorization: Bearer carol' \\
         -H 'Content-Type: application/json' -d '{"name": "Nova"}'
    curl -H 'Authorization: Bearer alice' localhost:8000/api/users/me

``tests/test_example_async_app.py`` drives it as the platform's web client does.
"""

import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
    delete,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mikoshi_progression import SelfAwardError
from mikoshi_progression.fastapi import progression_router
from mikoshi_progression.service import AsyncProgressionService, utc_now
from mikoshi_progression.sqlalchemy import AsyncSQLAlchemyStore

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HOST, PORT = "127.0.0.1", 8000


class Base(DeclarativeBase):
    """The app's own models."""


class User(Base):
    """The platform's ``users`` row, with its progression columns (the store's, in place)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[int | None] = mapped_column(Integer, server_default="1")
    exp: Mapped[int | None] = mapped_column(Integer, server_default="0")
    last_chat_date: Mapped[date | None] = mapped_column(Date)
    daily_exp_gained: Mapped[int | None] = mapped_column(Integer, server_default="0")
    last_exp_reset_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    daily_action_counts: Mapped[dict[str, int] | None] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )


class Character(Base):
    __tablename__ = "characters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text)
    creator_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class Like(Base):
    """One like of a character by a user; a new row (and award key) for every like."""

    __tablename__ = "likes"
    __table_args__ = (UniqueConstraint("user_id", "character_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    character_id: Mapped[int] = mapped_column(ForeignKey("characters.id"))


class NewCharacter(BaseModel):
    name: str = Field(min_length=1, max_length=100)


SEED_USERS = {"alice": "Alice", "bob": "Bob", "carol": "Carol"}
SEED_CHARACTERS = [(1, "Aria", "alice"), (2, "Bolt", "bob")]


async def create_tables(engine: AsyncEngine) -> None:
    """The app's tables and seed rows (what the app's own migrations would do)."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with async_sessionmaker(engine).begin() as session:
        if await session.get(User, "alice") is None:
            session.add_all(User(id=uid, name=name) for uid, name in SEED_USERS.items())
            await session.flush()
            session.add_all(
                Character(id=cid, name=name, creator_id=creator)
                for cid, name, creator in SEED_CHARACTERS
            )
            await session.flush()
            await session.execute(
                text("SELECT setval(pg_get_serial_sequence('characters', 'id'), 100)")
            )


def build_app(
    database: str | AsyncEngine = DEFAULT_DATABASE,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The app on ``database`` (an async SQLAlchemy URL, or an ``AsyncEngine`` it does
    not dispose)."""
    owns_engine = not isinstance(database, AsyncEngine)
    engine = create_async_engine(database) if isinstance(database, str) else database
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    store = AsyncSQLAlchemyStore(engine, users_table="users")
    service = AsyncProgressionService(store, clock=clock)
    bearer = HTTPBearer(auto_error=False)

    async def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str | None:
        """Toy authentication: the bearer token is the user id (``None`` if unknown)."""
        if credentials is None:
            return None
        async with sessions() as session:
            user = await session.get(User, credentials.credentials)
        return None if user is None else user.id

    async def require_user(user: Annotated[str | None, Depends(current_user)]) -> str:
        if user is None:
            raise HTTPException(status_code=401, detail="Not authenticated")
        return user

    async def creator_of(target_type: str, target_id: int | str) -> str | None:
        """The creator of a character (for a creator award a client may claim)."""
        if target_type != "character" or not isinstance(target_id, int):
            return None
        async with sessions() as session:
            character = await session.get(Character, target_id)
        return None if character is None else character.creator_id

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await create_tables(engine)
        await store.open()  # the ledger's tables, made now rather than by the first award
        yield
        await store.close()
        if owns_engine:
            await engine.dispose()

    app = FastAPI(title="mikoshi-progression async example", lifespan=lifespan)
    app.state.service = service
    app.state.sessions = sessions
    # Clients may claim daily_chat only (the default); likes and creations are awarded
    # below, in the transactions that store them.
    app.include_router(progression_router(service, current_user, creator_of=creator_of))

    @app.get("/api/users/me")
    async def me(user: Annotated[str, Depends(require_user)]) -> dict[str, Any]:
        """The profile fields the web client's progress bar reads."""
        state = await service.state(user)
        return {"id": user, "level": state.level, "exp": state.exp}

    @app.post("/api/characters", status_code=201)
    async def create_character(
        body: NewCharacter, user: Annotated[str, Depends(require_user)]
    ) -> dict[str, Any]:
        """Create a character and award its creator ``create_character``, in one transaction.

        A creation beyond the day's limit still creates the character (the award says
        why it paid nothing); a failing award rolls the character back with it.
        """
        async with sessions.begin() as session:
            character = Character(name=body.name, creator_id=user)
            session.add(character)
            await session.flush()  # the character's id keys the award
            result = await service.award(
                user, "create_character", key=f"create-character:{character.id}", within=session
            )
        return {
            "character": {"id": character.id, "name": character.name, "creator_id": user},
            "award": result.to_dict(),
        }

    @app.post("/api/characters/{character_id}/like")
    async def like(
        character_id: int, user: Annotated[str, Depends(require_user)]
    ) -> dict[str, Any]:
        """Like a character; its creator earns ``character_liked`` (never its own liker),
        in the transaction that stores the like."""
        try:
            async with sessions.begin() as session:
                character = await session.get(Character, character_id)
                if character is None:
                    raise HTTPException(status_code=404, detail="Character not found")
                row = Like(user_id=user, character_id=character_id)
                session.add(row)
                await session.flush()
                creator = character.creator_id
                if creator is None or creator == user:
                    return {"liked": True, "award": None}  # your own like pays nothing
                try:
                    result = await service.award(
                        creator,
                        "character_liked",
                        key=f"like:{row.id}",
                        actor_id=user,
                        target=f"character:{character_id}",
                        within=session,
                    )
                except SelfAwardError:
                    return {"liked": True, "award": None}
        except IntegrityError:
            return {"liked": True, "award": None}  # liked already (or at the same moment)
        return {"liked": True, "award": {"awarded_to": creator, **result.to_dict()}}

    @app.delete("/api/characters/{character_id}/like")
    async def unlike(
        character_id: int, user: Annotated[str, Depends(require_user)]
    ) -> dict[str, Any]:
        """Take a like back, and with it exactly the EXP it earned, in one transaction."""
        async with sessions.begin() as session:
            character = await session.get(Character, character_id)
            like_id = await session.scalar(
                delete(Like)
                .where(Like.user_id == user, Like.character_id == character_id)
                .returning(Like.id)
            )
            creator = None if character is None else character.creator_id
            if like_id is None or creator is None or creator == user:
                return {"liked": False, "revoked": None}
            entry = await service.revoke(creator, f"like:{like_id}", within=session)
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

    @app.get("/api/characters")
    async def characters() -> list[dict[str, Any]]:
        async with sessions() as session:
            rows = await session.scalars(select(Character).order_by(Character.id))
            return [{"id": c.id, "name": c.name, "creator_id": c.creator_id} for c in rows]

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
