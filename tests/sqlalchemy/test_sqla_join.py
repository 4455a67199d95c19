"""``SQLAlchemyStore.join``: an award inside the caller's own transaction.

The application's own row (a ``characters`` row) and the award commit together or not
at all: the caller commits, rolls back, raises, is refused by a daily limit, or loses its
connection. The service's ``award(..., within=session)`` runs each attempt in
``store.join(session, user)``, a savepoint of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqla_support import pg_url, sqla_backend, sqla_engine  # noqa: F401 (fixtures)
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mikoshi_progression.core.results import AwardResult, Outcome
from mikoshi_progression.core.state import ProgressState
from mikoshi_progression.errors import InvalidArgumentError
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.sqlalchemy import SQLAlchemyStore
from mikoshi_progression.stores import StaleVersionError

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

app = MetaData()
characters = Table(
    "characters",
    app,
    Column("id", Integer, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("name", Text, nullable=False),
)


class Joined:
    """A service with every award joined to ``within`` (``award(..., within=within)``)."""

    def __init__(self, store: SQLAlchemyStore, within: Session | Connection) -> None:
        self.service = ProgressionService(store, clock=lambda: NOW)
        self.within = within

    def award(self, user_id: str, action: str, **options: Any) -> AwardResult:
        return self.service.award(user_id, action, within=self.within, **options)


def joined(store: SQLAlchemyStore, within: Session | Connection) -> Joined:
    return Joined(store, within)


@pytest.fixture
def engine(sqla_engine: Engine) -> Engine:
    """An engine on an empty database (SQLite, or a PostgreSQL schema of its own)."""
    return sqla_engine


@pytest.fixture
def store(engine: Engine) -> Iterator[SQLAlchemyStore]:
    app.create_all(engine)
    with SQLAlchemyStore(engine) as made:
        yield made


def character_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(characters.c.name).order_by(characters.c.id)))


def create_character(session: Session, store: SQLAlchemyStore, user: str, name: str):  # type: ignore[no-untyped-def]
    """The application's endpoint: its own row, then the award, in one transaction."""
    session.execute(insert(characters).values(owner=user, name=name))
    return joined(store, session).award(user, "create_character", key=f"character:{name}")


def test_award_commits_with_the_callers_row(engine: Engine, store: SQLAlchemyStore) -> None:
    with Session(engine) as session:
        result = create_character(session, store, "u1", "Aki")
        assert result.exp_added == 30
        session.commit()
    assert character_names(engine) == ["Aki"]
    assert store.read_state("u1").exp == 30
    assert [e.key for e in store.ledger("u1") if e.key] == ["character:Aki"]


def test_caller_rollback_takes_the_award_back(engine: Engine, store: SQLAlchemyStore) -> None:
    with Session(engine) as session:
        create_character(session, store, "u1", "Aki")
        session.rollback()
    assert character_names(engine) == []
    assert store.read_state("u1") == ProgressState()
    assert store.ledger("u1") == []


def test_caller_raising_after_the_award_keeps_nothing(
    engine: Engine, store: SQLAlchemyStore
) -> None:
    class Boom(Exception):
        pass

    def endpoint() -> None:
        with Session(engine) as session, session.begin():
            create_character(session, store, "u1", "Aki")
            raise Boom

    with pytest.raises(Boom):
        endpoint()
    assert character_names(engine) == []
    assert store.ledger("u1") == []


def test_refused_by_the_daily_limit_the_app_rolls_back(
    engine: Engine, store: SQLAlchemyStore
) -> None:
    limit = ProgressionService(store).config.actions["create_character"].daily_limit
    assert limit is not None
    for n in range(limit):
        with Session(engine) as session:
            assert create_character(session, store, "u1", f"c{n}").success
            session.commit()
    before = store.read_state("u1")
    with Session(engine) as session:
        result = create_character(session, store, "u1", "one-too-many")
        assert result.outcome is Outcome.ACTION_LIMIT
        session.rollback()  # the app's decision: no character without its EXP
    assert character_names(engine) == [f"c{n}" for n in range(limit)]
    assert store.read_state("u1") == before


def test_a_connection_works_as_within(engine: Engine, store: SQLAlchemyStore) -> None:
    with engine.connect() as conn:
        conn.execute(insert(characters).values(owner="u1", name="Aki"))
        joined(store, conn).award("u1", "create_scene")
        conn.rollback()
    with engine.connect() as conn:
        conn.execute(insert(characters).values(owner="u1", name="Bo"))
        joined(store, conn).award("u1", "create_scene")
        conn.commit()
    assert character_names(engine) == ["Bo"]
    assert store.read_state("u1").exp == 15


def test_a_lost_race_rolls_back_only_the_savepoint(engine: Engine, store: SQLAlchemyStore) -> None:
    """A stale write fails the attempt; the caller's row and transaction live on."""
    service = ProgressionService(store, clock=lambda: NOW)
    service.award("u1", "create_scene")
    with Session(engine) as session:
        session.execute(insert(characters).values(owner="u1", name="Aki"))

        def stale_attempt() -> None:
            with store.join(session, "u1") as tx:
                snap = tx.load()
                tx.write(ProgressState(exp=999), snap.version + 1, [])  # type: ignore[operator]

        with pytest.raises(StaleVersionError):
            stale_attempt()
        joined(store, session).award("u1", "create_character")
        session.commit()
    assert character_names(engine) == ["Aki"]
    assert store.read_state("u1").exp == 45


def test_within_must_be_a_session_or_connection(store: SQLAlchemyStore) -> None:
    with pytest.raises(InvalidArgumentError, match="within"):
        store.join(object(), "u1")


def test_concurrent_sessions_lose_no_update(engine: Engine, store: SQLAlchemyStore) -> None:
    """Sessions in threads, each with its own row and an award to one user: SQLite takes
    the write lock before reading, PostgreSQL locks the row; none deadlocks or loses one."""
    errors: list[BaseException] = []
    told: dict[str, int] = {}
    barrier = threading.Barrier(6)

    def work(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(4):
                with Session(engine) as session:
                    action = ("create_scene", "daily_chat", "create_persona")[(n + i) % 3]
                    session.execute(insert(characters).values(owner="hot", name=f"t{n}-{i}"))
                    result = joined(store, session).award("hot", action, key=f"t{n}-{i}")
                    session.commit()
                    told[f"t{n}-{i}"] = result.exp_added
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[0]
    assert sorted(character_names(engine)) == sorted(told)
    awards = {e.key: e.exp_delta for e in store.ledger("hot") if e.key}
    assert awards == {key: exp for key, exp in told.items() if exp}
    state = store.read_state("hot")
    assert state.exp == sum(told.values())
    assert sum(state.daily_action_counts.values()) == len(awards)


# --- PostgreSQL only -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("sqla_backend", ["postgres"], indirect=True)
def test_new_user_created_meanwhile_retries_in_a_new_savepoint(
    engine: Engine, store: SQLAlchemyStore
) -> None:
    """Two callers creating one user: the later INSERT ... ON CONFLICT DO NOTHING gets no
    row, the attempt's savepoint rolls back, and the retry updates the row instead."""
    with Session(engine) as session:
        session.execute(insert(characters).values(owner="new", name="Aki"))

        def attempt_beaten_to_the_insert() -> None:
            with store.join(session, "new") as tx:
                assert not tx.load().exists
                ProgressionService(store, clock=lambda: NOW).award("new", "create_scene")
                tx.write(ProgressState(exp=30), None, [])

        with pytest.raises(StaleVersionError):
            attempt_beaten_to_the_insert()
        joined(store, session).award("new", "create_character")
        session.commit()
    assert character_names(engine) == ["Aki"]
    assert store.read_state("new").exp == 45


@pytest.mark.postgres
@pytest.mark.parametrize("sqla_backend", ["postgres"], indirect=True)
def test_killed_connection_keeps_nothing(engine: Engine, store: SQLAlchemyStore) -> None:
    """The caller's backend is terminated after the award, before its commit."""
    with Session(engine) as session:
        create_character(session, store, "u1", "Aki")
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError):
            session.commit()
    assert character_names(engine) == []
    assert store.read_state("u1") == ProgressState()
    assert store.ledger("u1") == []


@pytest.mark.postgres
@pytest.mark.parametrize("sqla_backend", ["postgres"], indirect=True)
def test_the_row_stays_locked_until_the_caller_commits(
    engine: Engine, store: SQLAlchemyStore
) -> None:
    ProgressionService(store, clock=lambda: NOW).award("u1", "create_scene")
    with Session(engine) as session:
        joined(store, session).award("u1", "create_scene")
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '100ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                other.execute(
                    text("SELECT 1 FROM progression_state WHERE user_id = 'u1' FOR UPDATE")
                )
        session.commit()
    assert store.read_state("u1").exp == 30
