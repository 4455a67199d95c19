"""``SQLAlchemyStore`` in place on the platform's ``users`` table (PostgreSQL only)."""

from __future__ import annotations

import pytest
from sqla_support import fresh_schema, pg_url  # noqa: F401 (fixtures)
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from mikoshi_progression.errors import InvalidArgumentError, InvalidIdError, UnknownUserError
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.sqlalchemy import SQLAlchemyStore
from mikoshi_progression.stores import EntryKind


@pytest.mark.postgres
def test_in_place_awards_on_the_platforms_rows(pg_url: str) -> None:
    schema = fresh_schema()
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(
            text(
                f'CREATE TABLE "{schema}".users (id integer PRIMARY KEY, level integer, '
                "exp bigint, last_chat_date date, daily_exp_gained bigint, "
                "last_exp_reset_date timestamptz, daily_action_counts jsonb)"
            )
        )
        conn.execute(text(f'INSERT INTO "{schema}".users (id) VALUES (5)'))  # a legacy row
    store = SQLAlchemyStore(engine, schema=schema, users_table=f"{schema}.users")
    try:
        report = store.check_schema()  # users without the levers' columns: version 1
        assert (report.behind, report.missing_tables, report.missing_indexes) == (True, (), ())
        service = ProgressionService(store)
        assert service.award("5", "create_character").exp_added == 30
        assert [e.kind for e in service.ledger("5")] == [
            EntryKind.IMPORT,
            EntryKind.DAY,
            EntryKind.AWARD,
        ]
        with pytest.raises(InvalidIdError, match="'5'"):
            service.award("05", "create_scene")  # another spelling of row 5
        with pytest.raises(UnknownUserError):
            service.award("6", "create_scene")  # the store never creates users
        with Session(engine) as session:
            service.award("5", "create_scene", within=session)
            session.rollback()
        assert service.state("5").exp == 30
        with engine.connect() as conn:
            row = conn.execute(text(f'SELECT exp, level FROM "{schema}".users')).one()
        assert tuple(row) == (30, 1)
        assert service.replay("5").matches
    finally:
        store.close()
        engine.dispose()


@pytest.mark.sqlite
def test_in_place_is_refused_on_sqlite(tmp_path) -> None:
    with pytest.raises(InvalidArgumentError, match="users_table"):
        SQLAlchemyStore(f"sqlite:///{tmp_path / 'x.db'}", users_table="users")


@pytest.mark.postgres
def test_an_award_within_a_session_needs_no_second_connection(pg_url: str) -> None:
    """In place on an integer id, an award inside the caller's session runs on the
    session's connection alone: with a pool of one connection it still completes (a
    spelling check on a connection of its own waited for the pool forever)."""
    schema = fresh_schema()
    setup = create_engine(pg_url)
    with setup.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(
            text(
                f'CREATE TABLE "{schema}".users (id integer PRIMARY KEY, level integer, '
                "exp bigint, last_chat_date date, daily_exp_gained bigint, "
                "last_exp_reset_date timestamptz, daily_action_counts jsonb)"
            )
        )
        conn.execute(text(f'INSERT INTO "{schema}".users (id) VALUES (5), (6)'))
    setup.dispose()
    engine = create_engine(pg_url, pool_size=1, max_overflow=0, pool_timeout=5)
    store = SQLAlchemyStore(engine, schema=schema, users_table=f"{schema}.users")
    try:
        service = ProgressionService(store)
        with Session(engine) as session, session.begin():
            session.execute(text("SELECT 1"))  # the session holds the pool's one connection
            assert service.award("5", "create_character", within=session).exp_added == 30
            assert service.award("6", "character_liked", actor_id="5", within=session).success
        assert service.state("5").exp == 30
    finally:
        store.close()
        engine.dispose()
