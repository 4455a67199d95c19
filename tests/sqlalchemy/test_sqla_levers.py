"""The SQLAlchemy store on tables of the previous release: it works without levers, refuses
one, and once the tables are migrated (by another process) keeps them without reopening."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqla_support import PG_DSN, fresh_schema, pg_engine, pg_url  # noqa: F401 (fixtures)
from sqlalchemy import Engine

from mikoshi_progression import DEFAULT_CONFIG
from mikoshi_progression.errors import SchemaOutdatedError
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.sqlalchemy import SQLAlchemyStore
from mikoshi_progression.testing import FakeClock
from mikoshi_progression.testing.store_contract import LEVERS, START

pytestmark = pytest.mark.postgres

LEGACY = Path(__file__).resolve().parent.parent / "fixtures" / "legacy" / "postgres_own.sql"


def test_tables_of_the_previous_release_then_migrated_by_another_process(pg_engine: Engine):
    """Version 1: replay and awards as before, a lever refused naming schema migrate, no
    feed. After PostgresStore.migrate() elsewhere, the same store keeps levers and events."""
    import psycopg

    from mikoshi_progression.stores.postgres import PostgresStore

    schema = fresh_schema()
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(LEGACY.read_text(encoding="utf-8").replace("mikoshi_legacy", schema))
    store = SQLAlchemyStore(pg_engine, schema=schema)
    try:
        assert store.check_schema().behind
        clock = FakeClock(START)
        plain = ProgressionService(store, config=DEFAULT_CONFIG, clock=clock)
        for user in ("alice", "bob", "legacy"):
            assert plain.replay(user).matches, user
        assert plain.award("bob", "create_scene").exp_added == 15
        levered = ProgressionService(store, config=LEVERS, clock=clock)
        with pytest.raises(SchemaOutdatedError, match="schema migrate"):
            levered.set_timezone("bob", "Asia/Tokyo")
        with pytest.raises(SchemaOutdatedError):
            levered.events()
        with PostgresStore(PG_DSN, schema=schema, create=False, max_size=1) as other:
            assert other.migrate()
        moved = levered.set_timezone("bob", "Asia/Tokyo")  # loads again, with the levers
        assert plain.state("bob").timezone == moved.timezone == "Asia/Tokyo"
        boosted = levered.award("erin", "create_character")
        assert boosted.events
        assert store.check_schema().ok
        page = levered.events(limit=1000)
        assert [e.event for e in page.events if e.user_id == "erin"] == list(boosted.events)
    finally:
        store.close()
