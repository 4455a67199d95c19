"""Migrating databases of the previous release: SQLite, PostgreSQL's own tables, in place.

The databases start from dumps that the previous release's code made and filled
(``tests/fixtures/legacy``, see its ``make_fixtures.py``). Before ``migrate()`` a store
of this release works on them for everything they hold and refuses a lever with
``SchemaOutdatedError``; ``migrate()`` keeps every row, a second run does nothing, and
then the levers and the events feed work. The rollback SQL that docs/migrations.md shows
takes a migrated database back to what the previous release reads.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mikoshi_progression import DEFAULT_CONFIG, ProgressState
from mikoshi_progression.core.state import LEVER_FIELDS
from mikoshi_progression.errors import SchemaOutdatedError
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import SCHEMA_VERSION, ProgressStore
from mikoshi_progression.stores.sqlite import SQLiteStore
from mikoshi_progression.testing import FakeClock
from mikoshi_progression.testing.store_contract import LEVERS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "legacy"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "migrations.md"
LEGACY_USERS = ("alice", "bob", "legacy")
LATER = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
"""After every moment of the fixtures: the tests' clock."""


def documented_sql(name: str) -> str:
    """The SQL file block ``name`` of docs/migrations.md (the rollback the docs show)."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"`{re.escape(name)}`:\n\n```sql\n(.*?)```", text, re.S)
    assert found, f"docs/migrations.md shows no {name}"
    return found.group(1)


def service(store: ProgressStore, config: Any = DEFAULT_CONFIG) -> ProgressionService:
    return ProgressionService(store, config=config, clock=FakeClock(LATER))


def works_at_version_one(store: ProgressStore) -> None:
    """What a store of this release does on tables of the previous one: everything but a
    lever, which it refuses (naming the command that migrates), writing nothing."""
    plain = service(store)
    for user in LEGACY_USERS:
        assert plain.replay(user).matches, user
    assert plain.award("alice", "create_scene").exp_added == 15
    assert plain.award("carol", "daily_chat").exp_added == 20  # a new user
    count = len(plain.ledger("alice"))
    levered = service(store, LEVERS)
    with pytest.raises(SchemaOutdatedError, match="schema migrate") as refused:
        levered.set_timezone("alice", "Asia/Tokyo")
    assert refused.value.field == "timezone"
    with pytest.raises(SchemaOutdatedError, match="schema migrate"):
        levered.award("alice", "daily_chat")  # a streak
    with pytest.raises(SchemaOutdatedError):
        levered.events()
    assert len(plain.ledger("alice")) == count
    assert plain.state("alice").timezone is None


def works_at_the_current_version(store: ProgressStore) -> None:
    """After migrate(): the levers are kept (for the previous release's users too), the feed
    hands out events, and every ledger replays under the rules it was made by."""
    levered = service(store, LEVERS)
    moved = levered.set_timezone("alice", "Asia/Tokyo", key="tz-1")
    assert levered.state("alice") == store_form(store, moved)
    streak = levered.award("erin", "daily_chat")
    assert streak.state.streak == 1
    assert levered.state("erin").streak == 1
    boosted = levered.award("erin", "create_character")  # in the launch week: x1.5
    assert boosted.boosts == ("launch_week",)
    assert levered.ledger("erin")[-1].events == boosted.events
    page = levered.events(limit=1000)
    assert [e.event for e in page.events if e.user_id == "erin"] == [
        *streak.events,
        *boosted.events,
    ]
    assert levered.replay("erin").matches
    for user in LEGACY_USERS:  # made under the default rules (a time-zone move since)
        assert service(store).replay(user).matches, user


def store_form(store: ProgressStore, state: ProgressState) -> ProgressState:
    form = getattr(store, "stored_form", None)
    return state if form is None else form(state)


# --- SQLite -----------------------------------------------------------------------------------


@pytest.fixture
def legacy_sqlite(tmp_path: Path) -> Path:
    """A file the previous release made and filled."""
    path = tmp_path / "legacy.db"
    with closing(sqlite3.connect(path)) as db:
        db.executescript((FIXTURES / "sqlite.sql").read_text(encoding="utf-8"))
    return path


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the previous release's tables, in the columns they had."""
    with closing(sqlite3.connect(path)) as db:
        return {
            table: db.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2").fetchall()
            for table, columns in (
                (
                    "mikoshi_progress",
                    "user_id, exp, level, daily_exp_gained, "
                    "last_exp_reset_date, daily_action_counts, last_chat_date, version",
                ),
                (
                    "mikoshi_ledger",
                    "id, user_id, seq, kind, action, exp_delta, level_before, "
                    "level_after, idempotency_key, at, config_fingerprint, state_after, outcome, "
                    "actor, target, reason",
                ),
                ("mikoshi_request_keys", "scope, key, request, at"),
            )
        }


@pytest.mark.sqlite
def test_a_sqlite_file_of_the_previous_release_migrates_and_keeps_every_row(legacy_sqlite):
    """Before: version 1, levers refused; migrate (dry run first) keeps every row; again:
    nothing; after: the levers work, also for a store opened before the migration."""
    with SQLiteStore(legacy_sqlite) as store, SQLiteStore(legacy_sqlite) as opened_before:
        report = store.check_schema()  # create=True on opening made no lever column
        assert (report.schema_version, report.behind, report.ok) == (1, True, False)
        assert set(report.missing_columns) == {
            *(f"mikoshi_progress.{c}" for c in LEVER_FIELDS),
            "mikoshi_ledger.events",
        }
        works_at_version_one(store)
        before = sqlite_rows(legacy_sqlite)

        planned = store.migrate(dry_run=True)
        assert store.check_schema().behind, "a dry run changed the file"
        ran = store.migrate()
        assert ran == planned
        assert any("ADD COLUMN streak" in s for s in ran)
        assert sqlite_rows(legacy_sqlite) == before
        assert store.migrate() == []
        assert store.migrate(dry_run=True) == []
        report = store.check_schema()
        assert (report.schema_version, report.ok) == (SCHEMA_VERSION, True)
        with closing(sqlite3.connect(legacy_sqlite)) as db:
            versions = db.execute("SELECT version FROM mikoshi_migrations ORDER BY 1").fetchall()
        assert versions == [(1,), (2,)]

        works_at_the_current_version(store)
        # A store opened before the migration switches to the new columns when it meets a
        # lever (it loads again, with them).
        moved = service(opened_before, LEVERS).set_timezone("bob", "Europe/Berlin")
        assert service(store).state("bob") == moved


def sqlite_shape(path: Path) -> list[str]:
    """The tables, columns and indexes of the SQLite file at ``path``."""
    shape: list[str] = []
    with closing(sqlite3.connect(path)) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            shape += [f"{table}.{row[1:]}" for row in db.execute(f"PRAGMA table_info({table})")]
            shape += [f"{table} {row[1:]}" for row in db.execute(f"PRAGMA index_list({table})")]
    return sorted(shape)


def without(rows: dict[str, list[tuple[Any, ...]]], user: str) -> dict[str, list[Any]]:
    return {table: [row for row in found if user not in row] for table, found in rows.items()}


def old_release_reads(state_after: Any) -> None:
    """A ``state_after`` the previous release reads: none of the levers' fields."""
    fields = set(json.loads(state_after) if isinstance(state_after, str) else state_after)
    assert not fields & set(LEVER_FIELDS), fields


@pytest.mark.sqlite
def test_the_documented_sqlite_rollback_goes_back_to_version_one(legacy_sqlite, tmp_path):
    """docs/migrations.md's rollback: the file has the previous release's schema again, its
    rows as they were, the rows written since readable by it; a store works on it and
    migrates it again. With a time-zone move in the ledger it refuses and changes nothing."""
    fresh = tmp_path / "fresh.db"
    with closing(sqlite3.connect(fresh)) as db:
        db.executescript((FIXTURES / "sqlite.sql").read_text(encoding="utf-8"))
    before = sqlite_rows(legacy_sqlite)
    with SQLiteStore(legacy_sqlite) as store:
        store.migrate()
        assert service(store, LEVERS).award("dana", "daily_chat").state.streak == 1
    rollback = documented_sql("rollback-sqlite.sql")
    with closing(sqlite3.connect(legacy_sqlite)) as db:
        db.executescript(rollback)
    assert sqlite_shape(legacy_sqlite) == sqlite_shape(fresh)
    after = sqlite_rows(legacy_sqlite)
    assert without(after, "dana") == before
    for row in after["mikoshi_ledger"]:
        old_release_reads(row[11])
    with SQLiteStore(legacy_sqlite, create=False) as store:
        assert store.check_schema().schema_version == 1
        assert service(store).award("bob", "create_scene").exp_added == 15
        store.migrate()
        service(store, LEVERS).set_timezone("bob", "Asia/Tokyo")
    with closing(sqlite3.connect(legacy_sqlite)) as db, pytest.raises(sqlite3.IntegrityError):
        db.executescript(rollback)
    with SQLiteStore(legacy_sqlite, create=False) as store:
        assert store.check_schema().ok, "a refused rollback changed the file"


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture
def admin(postgres_dsn: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def legacy_schema(admin: Any) -> Iterator[str]:
    """A schema of this test's own (the fixtures' ``mikoshi_legacy`` renamed), dropped after."""
    name = f"mikoshi_mig_{uuid.uuid4().hex[:12]}"
    yield name
    admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def restore(admin: Any, fixture: str, schema: str) -> None:
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    admin.execute(text.replace("mikoshi_legacy", schema))


def pg_rows(admin: Any, schema: str, tables: dict[str, str]) -> dict[str, list[Any]]:
    return {
        table: admin.execute(f"SELECT {columns} FROM {schema}.{table} ORDER BY 1, 2").fetchall()
        for table, columns in tables.items()
    }


LEDGER_V1 = (
    "user_id, seq, kind, action, exp_delta, level_before, level_after, key, at, "
    "config_fingerprint, state_after, outcome, actor, target, reason"
)
OWN_TABLES = {
    "progression_state": "user_id, level, exp, last_chat_date, daily_exp_gained, "
    "last_exp_reset_date, daily_action_counts, version, seq",
    "progression_ledger": LEDGER_V1,
    "progression_request_keys": "scope, key, request, at",
}
IN_PLACE_TABLES = {
    "users": "id, name, email, level, exp, last_chat_date, daily_exp_gained, "
    "last_exp_reset_date, daily_action_counts",
    "progression_ledger": LEDGER_V1,
    "progression_request_keys": "scope, key, request, at",
}


def pg_store(dsn: str, schema: str, **options: Any) -> Any:
    from mikoshi_progression.stores.postgres import PostgresStore

    return PostgresStore(dsn, schema=schema, max_size=2, **options)


@pytest.mark.postgres
@pytest.mark.parametrize("layout", ["own tables", "in place"])
def test_postgres_tables_of_the_previous_release_migrate_and_keep_every_row(
    admin, postgres_dsn, legacy_schema, layout
):
    """Own tables and in place on the platform's users: version 1 works without levers;
    migrate keeps every row (and, in place, every other column of users); again: nothing."""
    in_place = layout == "in place"
    restore(admin, "postgres_in_place.sql" if in_place else "postgres_own.sql", legacy_schema)
    options = {"users_table": f"{legacy_schema}.users"} if in_place else {}
    tables = IN_PLACE_TABLES if in_place else OWN_TABLES
    with (
        pg_store(postgres_dsn, legacy_schema, **options) as store,
        pg_store(postgres_dsn, legacy_schema, **options) as opened_before,
    ):
        report = store.check_schema()
        assert (report.schema_version, report.behind) == (1, True)
        works_at_version_one(store) if not in_place else works_in_place_at_version_one(store)
        before = pg_rows(admin, legacy_schema, tables)
        planned = store.migrate(dry_run=True)
        assert store.check_schema().behind, "a dry run changed the tables"
        ran = store.migrate()
        assert ran == planned
        assert pg_rows(admin, legacy_schema, tables) == before
        assert store.migrate() == []
        report = store.check_schema()
        assert (report.schema_version, report.ok) == (SCHEMA_VERSION, True), report
        versions = admin.execute(
            f"SELECT version FROM {legacy_schema}.progression_migrations ORDER BY 1"
        ).fetchall()
        assert versions == [(1,), (2,)]
        if in_place:  # the platform makes users
            admin.execute(f"INSERT INTO {legacy_schema}.users (id, name) VALUES ('erin', 'E')")
        works_at_the_current_version(store)
        moved = service(opened_before, LEVERS).set_timezone("bob", "Europe/Berlin")
        assert service(store).state("bob").timezone == moved.timezone


def works_in_place_at_version_one(store: Any) -> None:
    """In place, the users are the platform's: a new user is refused, the rest as own."""
    plain = service(store)
    for user in LEGACY_USERS:
        assert plain.replay(user).matches, user
    assert plain.award("alice", "create_scene").exp_added == 15
    with pytest.raises(SchemaOutdatedError, match="schema migrate"):
        service(store, LEVERS).set_timezone("alice", "Asia/Tokyo")
    with pytest.raises(SchemaOutdatedError):
        service(store, LEVERS).events()


@pytest.mark.postgres
def test_a_users_table_with_none_of_the_guides_columns_gains_them(
    admin, postgres_dsn, legacy_schema
):
    """In place on a users table the platform's migrations never touched: migrate adds the
    guide's columns (its types and defaults) and the levers', and no other change to it."""
    admin.execute(f"CREATE SCHEMA {legacy_schema}")
    users = f"{legacy_schema}.users"
    admin.execute(f"CREATE TABLE {users} (id integer PRIMARY KEY, name text NOT NULL)")
    admin.execute(f"INSERT INTO {users} VALUES (1, 'Ann'), (2, 'Ben')")
    with pg_store(postgres_dsn, legacy_schema, users_table=users, create=False) as store:
        report = store.check_schema()
        assert f"{users}.level" in report.missing_columns
        planned = store.migrate(dry_run=True)
        assert any("ALTER TABLE" in s and '"users"' in s for s in planned)
        ran = store.migrate()
        assert ran == planned
        assert store.migrate() == []
        assert store.check_schema().ok
        assert service(store).award("1", "create_character").exp_added == 30
        assert service(store, LEVERS).set_timezone("2", "Asia/Tokyo").timezone == "Asia/Tokyo"
    columns = admin.execute(
        "SELECT column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = %s AND table_name = 'users' "
        "ORDER BY ordinal_position",
        (legacy_schema,),
    ).fetchall()
    assert columns[:2] == [("id", "integer", "NO", None), ("name", "text", "NO", None)]
    assert columns[2:8] == [
        ("level", "integer", "YES", "1"),
        ("exp", "integer", "YES", "0"),
        ("last_chat_date", "date", "YES", None),
        ("daily_exp_gained", "integer", "YES", "0"),
        ("last_exp_reset_date", "timestamp with time zone", "YES", None),
        ("daily_action_counts", "jsonb", "YES", "'{}'::jsonb"),
    ]
    assert [c[0] for c in columns[8:]] == list(LEVER_FIELDS)
    assert admin.execute(f"SELECT id, name FROM {users} ORDER BY id").fetchall() == [
        (1, "Ann"),
        (2, "Ben"),
    ]


@pytest.mark.postgres
def test_concurrent_migrations_run_once(admin, postgres_dsn, legacy_schema):
    """Stores of several processes migrating at once: the advisory lock lets one run the
    statements; the others find nothing left to do."""
    restore(admin, "postgres_own.sql", legacy_schema)
    stores = [pg_store(postgres_dsn, legacy_schema, create=False) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            ran = list(pool.map(lambda s: s.migrate(), stores))
        assert sorted(map(bool, ran)) == [False, False, True]
        assert all(s.check_schema().ok for s in stores)
    finally:
        for store in stores:
            store.close()


def pg_shape(admin: Any, schema: str) -> list[str]:
    """Columns (type, null, default, position), indexes and constraints of ``schema``."""
    found = admin.execute(
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable "
        "|| ' ' || coalesce(column_default, '-') || ' #' || ordinal_position "
        "FROM information_schema.columns WHERE table_schema = %(s)s "
        "UNION ALL SELECT replace(indexdef, %(s)s || '.', '') FROM pg_indexes "
        "WHERE schemaname = %(s)s "
        "UNION ALL SELECT c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid) "
        "FROM pg_constraint AS k JOIN pg_class AS c ON c.oid = k.conrelid "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s",
        {"s": schema},
    ).fetchall()
    return sorted(line for (line,) in found)


def run_in(admin: Any, schema: str, script: str) -> None:
    """Run ``script`` as psql would on ``schema``'s tables; a failed one is rolled back."""
    admin.execute(f"SET search_path TO {schema}")
    try:
        admin.execute(script)
    except Exception:
        admin.execute("ROLLBACK")  # the script's own BEGIN left a failed transaction open
        raise
    finally:
        admin.execute("RESET search_path")


@pytest.mark.postgres
@pytest.mark.parametrize("layout", ["own tables", "in place"])
def test_the_documented_postgres_rollback_goes_back_to_version_one(
    admin, postgres_dsn, legacy_schema, layout
):
    """docs/migrations.md's rollback, own tables and in place: the previous release's schema
    again (users as the platform had it), its rows as they were, the rows written since
    readable by it; migrate works again. A time-zone move stops it, changing nothing."""
    in_place = layout == "in place"
    fixture = "postgres_in_place.sql" if in_place else "postgres_own.sql"
    fresh = f"{legacy_schema}_fresh"
    restore(admin, fixture, fresh)
    restore(admin, fixture, legacy_schema)
    options = {"users_table": f"{legacy_schema}.users"} if in_place else {}
    tables = IN_PLACE_TABLES if in_place else OWN_TABLES
    if in_place:  # the platform made the user's row
        admin.execute(f"INSERT INTO {legacy_schema}.users (id, name) VALUES ('dana', 'Dana')")
    before = pg_rows(admin, legacy_schema, tables)
    try:
        with pg_store(postgres_dsn, legacy_schema, **options) as store:
            store.migrate()
            assert service(store, LEVERS).award("dana", "daily_chat").state.streak == 1
        rollback = documented_sql("rollback-in-place.sql" if in_place else "rollback-postgres.sql")
        run_in(admin, legacy_schema, rollback)
        assert pg_shape(admin, legacy_schema) == pg_shape(admin, fresh)
        after = pg_rows(admin, legacy_schema, tables)
        assert without(after, "dana") == without(before, "dana")
        for row in after["progression_ledger"]:
            old_release_reads(row[10])
        with pg_store(postgres_dsn, legacy_schema, create=False, **options) as store:
            assert store.check_schema().schema_version == 1
            assert service(store).award("bob", "create_scene").exp_added == 15
            store.migrate()
            service(store, LEVERS).set_timezone("bob", "Asia/Tokyo")
        import psycopg

        with pytest.raises(psycopg.errors.RaiseException, match="time-zone"):
            run_in(admin, legacy_schema, rollback)
        with pg_store(postgres_dsn, legacy_schema, create=False, **options) as store:
            assert store.check_schema().ok, "a refused rollback changed the tables"
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {fresh} CASCADE")


def test_timezone_kind_rows_stop_the_rollback_in_the_docs():
    """The rollback shown refuses a ledger with time-zone moves (the older CHECK would not
    admit them) rather than deleting history: the SQL says so."""
    for name in ("rollback-postgres.sql", "rollback-in-place.sql"):
        assert "kind = 'timezone'" in documented_sql(name)
