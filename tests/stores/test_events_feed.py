"""The events feed on PostgreSQL never passes a transaction that commits late.

A transaction takes its id (``txid``) when it first writes, and may commit long after
a later one did. A feed that handed out rows by ``txid > cursor`` alone would hand out
the later transaction's events, store a cursor past them, and never see the earlier
one's. The stores hand out only rows of transactions older than every one still running
(``pg_snapshot_xmin``): these tests hold a transaction open across another's commit, with
the PostgreSQL store (a writer outside it) and with the SQLAlchemy store (an award inside
the caller's own transaction, as ``within=session`` makes it).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import CommittedEvent, EventsPage
from mikoshi_progression.testing import FakeClock
from mikoshi_progression.testing.store_contract import LEVERS, START

pytestmark = pytest.mark.postgres

DEADLINE = 60.0
"""Seconds to wait for events held back by other clients' transactions on the server."""


@pytest.fixture
def schema(postgres_dsn: str) -> Iterator[str]:
    import psycopg

    name = f"mikoshi_feed_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture(
    params=[
        pytest.param("postgres", id="postgres"),
        pytest.param("citus", id="citus", marks=pytest.mark.citus),
    ]
)
def feed_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(dsn, schema, store options)``: a fresh schema on PostgreSQL, or on Citus with the
    tables distributed (the ledger's rows on the workers, the txids the coordinator's)."""
    import psycopg

    from mikoshi_progression.stores.postgres import PostgresStore

    from .conftest import CITUS_OPTIONS

    citus = request.param == "citus"
    dsn = request.getfixturevalue("citus_dsn" if citus else "postgres_dsn")
    name = f"mikoshi_feed_{uuid.uuid4().hex[:12]}"
    options = dict(CITUS_OPTIONS) if citus else {}
    if citus:
        with PostgresStore(dsn, schema=name, **options) as store:
            store.create_schema(distributed=True)
    yield dsn, name, options
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def users_events(read: Callable[[str | None], EventsPage], users: set[str], count: int):
    """Read from the start until ``count`` events of ``users`` came (or the deadline)."""
    found: list[CommittedEvent] = []
    cursor = None
    deadline = time.monotonic() + DEADLINE
    while len(found) < count and time.monotonic() < deadline:
        page = read(cursor)
        found += [e for e in page.events if e.user_id in users]
        cursor = page.cursor
        if not page.events:
            time.sleep(0.05)
    return found


def boosted(service: ProgressionService, user: str) -> Any:
    """An award with events: a boosted creation in the launch week."""
    result = service.award(user, "create_character")
    assert result.events, result
    return result


def test_postgres_store_holds_back_a_later_commit_until_an_earlier_transaction_ends(
    feed_server,
):
    """Late's transaction writes first and commits last: the feed hands out neither early's
    events (committed) nor late's until late commits, then late's first, then early's.

    On Citus the rows are on the workers, and every transaction id the coordinator's: the
    feed holds back what the coordinator's oldest running transaction may still commit."""
    import psycopg

    from mikoshi_progression.stores.postgres import PostgresStore

    postgres_dsn, schema, options = feed_server
    with PostgresStore(postgres_dsn, schema=schema, max_size=2, **options) as store:
        service = ProgressionService(store, config=LEVERS, clock=FakeClock(START))
        late_events = [{"kind": "level_up", "from_level": 1, "to_level": 2}]
        with psycopg.connect(postgres_dsn) as late:  # a transaction of its own, held open
            late.execute(
                f"INSERT INTO {schema}.progression_ledger (user_id, seq, kind, exp_delta, "
                "level_before, level_after, at, state_after, events, txid) VALUES "
                "('late', 1, 'award', 100, 1, 2, now(), '{}', %s, "
                "pg_current_xact_id()::text::bigint)",
                (json.dumps(late_events),),
            )
            early = boosted(service, "early")  # commits, with a larger txid
            held = service.events(limit=1000)
            assert [e for e in held.events if e.user_id in ("early", "late")] == []
            # What "txid > cursor" alone would have handed out: early's, past late's.
            naive = store._sql.feed.replace(
                "AND txid < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint) ", ""
            )
            with psycopg.connect(postgres_dsn, autocommit=True) as reader:
                rows = reader.execute(
                    naive, {"txid": -1, "user": "", "seq": -1, "limit": 1000}
                ).fetchall()
            naive_users = {row[1] for row in rows}
            assert "early" in naive_users
            assert "late" not in naive_users
            late.commit()
        found = users_events(
            lambda c: service.events(since=c, limit=3), {"early", "late"}, 1 + len(early.events)
        )
        assert [(e.user_id, e.event.to_dict()) for e in found] == [
            ("late", late_events[0]),
            *(("early", event.to_dict()) for event in early.events),
        ]


def test_sqlalchemy_award_within_a_session_is_not_passed_by_a_later_commit(pg_url, schema):
    """An award made inside the caller's open transaction: another award commits meanwhile;
    the feed hands out neither until the caller commits, then both, in txid order."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from mikoshi_progression.sqlalchemy import SQLAlchemyStore

    engine = create_engine(pg_url, pool_size=3)
    store = SQLAlchemyStore(engine, schema=schema)
    try:
        clock = FakeClock(START + timedelta(hours=1))
        service = ProgressionService(store, config=LEVERS, clock=clock)
        with Session(engine) as session, session.begin():
            late = service.award("late", "create_character", within=session)
            assert late.events
            early = boosted(service, "early")
            held = service.events(limit=1000)
            assert [e for e in held.events if e.user_id in ("early", "late")] == []
        found = users_events(
            lambda c: service.events(since=c, limit=2),
            {"early", "late"},
            len(late.events) + len(early.events),
        )
        assert [(e.user_id, e.event) for e in found] == [
            *(("late", event) for event in late.events),
            *(("early", event) for event in early.events),
        ]
    finally:
        store.close()
        engine.dispose()


@pytest.fixture(scope="session")
def pg_url(postgres_dsn: str) -> str:
    from sqlalchemy import make_url

    return make_url(postgres_dsn).set(drivername="postgresql+psycopg").render_as_string(False)
