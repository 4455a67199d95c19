"""PostgresStore on a real server: in place on the platform's ``users`` table, faults, schema.

The store contract (what every store must do) runs in ``tests/stores``; this file
covers what only PostgreSQL has: the platform's own table, killed connections,
schema checks and driver error wrapping. The server is ``MIKOSHI_PG_DSN``
(default ``postgresql://postgres@127.0.0.1:5432/test``); every test works in a
schema of its own, dropped afterwards. Without a server the tests skip, except
under ``CI``, where they fail.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ActionRule,
    Level,
    Outcome,
    ProgressionConfig,
    ProgressState,
)
from mikoshi_progression.core.state import LEVER_FIELDS
from mikoshi_progression.errors import (
    InvalidArgumentError,
    InvalidIdError,
    SelfAwardError,
    StoreError,
    StoreUnavailableError,
    UnknownUserError,
)
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import EntryKind, StaleVersionError, open_store

if os.environ.get("CI"):
    import psycopg  # in CI a missing driver is a failure, never a skip
else:
    psycopg = pytest.importorskip("psycopg", reason="the [postgres] extra is not installed")
from psycopg import sql
from psycopg_pool import ConnectionPool

from mikoshi_progression.stores._postgres_io import Borrowed
from mikoshi_progression.stores.postgres import PostgresStore

pytestmark = pytest.mark.postgres

DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LOCKINGS = ["optimistic", "row"]


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin() -> Iterator[Any]:
    """A second, independent connection: sets tables up, inspects them, kills backends."""
    try:
        conn = psycopg.connect(DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {DSN}: {str(exc).strip().splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with conn:
        yield conn


@pytest.fixture
def schema(admin: Any) -> Iterator[str]:
    """A fresh schema for one test, dropped with everything in it afterwards."""
    name = f"mp_test_{uuid.uuid4().hex[:12]}"
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def make_store(schema: str) -> Iterator[Callable[..., PostgresStore]]:
    """Builds stores in the test's schema and closes them at the end."""
    stores: list[PostgresStore] = []

    def make(**options: Any) -> PostgresStore:
        options.setdefault("schema", schema)
        store = PostgresStore(DSN, **options)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def create_platform_users(admin: Any, schema: str, *, columns: tuple[str, ...] = ()) -> str:
    """``users`` as the platform's migrations leave it: a base table, then ADD COLUMNs.

    ``columns`` limits which of the progression migrations ran (default: all).
    """
    users = sql.Identifier(schema, "users")
    admin.execute(
        sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, name text, email text)").format(users)
    )
    migrations = {
        # add_level_exp_system.py, add_last_chat_date.py, add_daily_exp_limits.py
        "level": "integer DEFAULT 1",
        "exp": "integer DEFAULT 0",
        "last_chat_date": "date",
        "daily_exp_gained": "integer DEFAULT 0",
        "last_exp_reset_date": "timestamp with time zone",
        "daily_action_counts": "jsonb DEFAULT '{{}}'::jsonb",
    }
    for column, definition in migrations.items():
        if columns and column not in columns:
            continue
        admin.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} " + definition).format(
                users, sql.Identifier(column)
            )
        )
    return f"{schema}.users"


def insert_user(admin: Any, schema: str, user_id: str, **columns: Any) -> None:
    """A platform row; columns not given take the table's defaults."""
    names = ["id", "name", *columns]
    admin.execute(
        sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(schema, "users"),
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() * len(names)),
        ),
        [user_id, f"name of {user_id}", *columns.values()],
    )


def users_row(admin: Any, schema: str, user_id: str) -> tuple[Any, ...]:
    """The platform columns of one row, read by the admin connection."""
    row = admin.execute(
        sql.SQL(
            "SELECT level, exp, last_chat_date, daily_exp_gained, last_exp_reset_date, "
            "daily_action_counts, name FROM {} WHERE id = %s"
        ).format(sql.Identifier(schema, "users")),
        [user_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def users_definition(admin: Any, schema: str) -> list[tuple[Any, ...]]:
    """Columns, types, defaults and indexes of the platform's table."""
    columns = admin.execute(
        "SELECT column_name, data_type, column_default, is_nullable "
        "FROM information_schema.columns WHERE table_schema = %s AND table_name = 'users' "
        "ORDER BY ordinal_position",
        [schema],
    ).fetchall()
    indexes = admin.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'users' "
        "ORDER BY indexname",
        [schema],
    ).fetchall()
    return [*columns, *indexes]


TICK = ProgressionConfig(
    levels=(Level(1, "One", "", 0),),
    actions={"tick": ActionRule(1)},
    daily_exp_caps={1: 10**9},
)


# --- in place on the platform's users table -------------------------------------------


def test_in_place_award_updates_platform_columns(admin, schema, make_store):
    """An award in place writes the platform's own columns, DATE and JSONB included."""
    users = create_platform_users(admin, schema)
    insert_user(admin, schema, "alice")
    store = make_store(users_table=users)
    service = ProgressionService(store, clock=lambda: NOW)

    chat = service.award("alice", "daily_chat")
    made = service.award("alice", "create_character", key="char-1")
    assert (chat.exp_added, made.exp_added) == (20, 30)

    level, exp, chat_date, gained, reset, counts, name = users_row(admin, schema, "alice")
    assert (level, exp, gained) == (1, 50, 50)
    assert chat_date == date(2026, 3, 2)
    assert reset == NOW
    assert counts == {"daily_chat": 1, "create_character": 1}
    assert name == "name of alice"  # the platform's other columns are left alone
    kinds = [e.kind for e in service.ledger("alice")]
    assert kinds == [EntryKind.IMPORT, EntryKind.DAY, EntryKind.AWARD, EntryKind.AWARD]
    assert service.award("alice", "create_character", key="char-1").exp_added == 30
    assert users_row(admin, schema, "alice")[1] == 50
    # The DATE column keeps the day of the chat; replay agrees once put in that form.
    report = service.replay("alice")
    assert report.state.last_chat_date == NOW
    assert store.stored_form(report.state) == report.stored
    assert report.matches


def test_in_place_legacy_rows_load_and_award(admin, schema, make_store):
    """NULLs, string counts, removed actions and never-persisted counts do not break awards."""
    users = create_platform_users(admin, schema)
    today = NOW - timedelta(hours=3)
    insert_user(
        admin,
        schema,
        "nulls",
        level=None,
        exp=None,
        daily_exp_gained=None,
        daily_action_counts=None,
    )
    insert_user(
        admin,
        schema,
        "strings",
        level=2,
        exp=120,
        daily_exp_gained=40,
        last_exp_reset_date=today,
        daily_action_counts=psycopg.types.json.Jsonb(
            {"create_character": "2", "chat_used_50": 3, "bogus": "x"}
        ),
    )
    # The platform mutated the JSONB dict in place: gained was saved, the counts never were.
    insert_user(admin, schema, "untracked", exp=45, daily_exp_gained=45, last_exp_reset_date=today)
    store = make_store(users_table=users)
    service = ProgressionService(store, clock=lambda: NOW)

    assert service.state("nulls") == ProgressState()
    assert service.award("nulls", "create_scene").exp_added == 15
    assert users_row(admin, schema, "nulls")[:2] == (1, 15)

    strings = service.state("strings")
    assert dict(strings.daily_action_counts) == {"create_character": 2, "chat_used_50": 3}
    assert service.award("strings", "create_character").outcome is Outcome.ACTION_LIMIT
    assert service.award("strings", "create_scene").exp_added == 15
    counts = users_row(admin, schema, "strings")[5]
    assert counts == {"create_character": 2, "chat_used_50": 3, "create_scene": 1}

    assert service.award("untracked", "create_character").exp_added == 30
    assert users_row(admin, schema, "untracked")[3] == 75
    for user in ("nulls", "strings", "untracked"):
        assert service.replay(user).matches, user


def test_in_place_never_alters_users(admin, schema, make_store):
    """create_schema, awards and drop_schema leave the platform's table definition as it was."""
    users = create_platform_users(admin, schema)
    insert_user(admin, schema, "bob")
    before = users_definition(admin, schema)
    store = make_store(users_table=users)
    store.create_schema()
    store.create_schema()
    ProgressionService(store, clock=lambda: NOW).award("bob", "create_scene")
    report = store.check_schema()  # behind: only migrate() adds the levers' columns to users
    assert (report.behind, report.missing_tables, report.missing_indexes) == (True, (), ())
    assert report.missing_columns == tuple(f"{users}.{c}" for c in LEVER_FIELDS)
    store.drop_schema()
    assert users_definition(admin, schema) == before
    assert users_row(admin, schema, "bob")[1] == 15  # the award stays in the platform's row


def test_in_place_unknown_user_is_a_store_error(admin, schema, make_store):
    """A user without a platform row is refused with "no such user", never inserted."""
    users = create_platform_users(admin, schema)
    store = make_store(users_table=users)
    service = ProgressionService(store, clock=lambda: NOW)
    with pytest.raises(UnknownUserError, match="no such user 'ghost'"):
        service.award("ghost", "create_scene")
    with pytest.raises(StoreError, match="no such user"):
        store.put_state("ghost", ProgressState(exp=5))
    count = admin.execute(sql.SQL("SELECT count(*) FROM {}.users").format(sql.Identifier(schema)))
    assert count.fetchone() == (0,)
    assert store.ledger("ghost") == []


@pytest.mark.parametrize(
    ("locking", "cache"), [("optimistic", 0), ("row", 0), ("adaptive", 0), ("adaptive", 100)]
)
def test_in_place_concurrent_awards_lose_nothing(admin, schema, make_store, locking, cache):
    """Threads awarding to one platform row at once: nothing lost, the cap never passed."""
    users = create_platform_users(admin, schema)
    insert_user(admin, schema, "hot", exp=None, level=None)
    store = make_store(users_table=users, locking=locking, max_size=8, snapshot_cache=cache)
    service = ProgressionService(store, clock=lambda: NOW)

    def work(worker: int) -> list[int]:
        return [
            service.award(
                "hot", "paid_char_sold", key=f"sale-{worker}-{i}", actor_id="buyer"
            ).exp_added
            for i in range(5)
        ]

    with ThreadPoolExecutor(8) as pool:
        added = [n for batch in pool.map(work, range(8)) for n in batch]
    level, exp, _, gained, _, counts, _ = users_row(admin, schema, "hot")
    assert exp == gained == sum(added)
    assert gained == DEFAULT_CONFIG.cap_for_level(level)  # reached, never passed
    assert counts["paid_char_sold"] == sum(1 for n in added if n > 0)
    awards = [e for e in service.ledger("hot") if e.kind is EntryKind.AWARD]
    assert sum(e.exp_delta for e in awards) == exp
    assert service.replay("hot").matches


def test_in_place_cache_sees_the_platforms_own_writes(admin, schema, make_store):
    """A cached in-place snapshot never hides the guide's manual reset done in SQL."""
    users = create_platform_users(admin, schema)
    insert_user(admin, schema, "carol")
    store = make_store(users_table=users, snapshot_cache=10)
    service = ProgressionService(store, clock=lambda: NOW)
    service.award("carol", "create_character")
    service.award("carol", "create_scene")
    admin.execute(
        sql.SQL(
            "UPDATE {} SET daily_exp_gained = 0, daily_action_counts = '{{}}'::jsonb "
            "WHERE id = 'carol'"
        ).format(sql.Identifier(schema, "users"))
    )
    assert service.award("carol", "create_character").exp_added == 30
    _, exp, _, gained, _, counts, _ = users_row(admin, schema, "carol")
    assert (exp, gained, counts) == (75, 30, {"create_character": 1})


def test_in_place_monitoring_queries(admin, schema, make_store):
    """The guide's monitoring queries run on the platform's table, legacy NULLs included."""
    users = create_platform_users(admin, schema)
    midnight = NOW.replace(hour=0, minute=0)
    insert_user(admin, schema, "capped", level=3, daily_exp_gained=300, last_exp_reset_date=NOW)
    insert_user(admin, schema, "busy", level=2, daily_exp_gained=90, last_exp_reset_date=NOW)
    insert_user(admin, schema, "legacy", level=None, daily_exp_gained=150, last_exp_reset_date=NOW)
    insert_user(admin, schema, "nulls", daily_exp_gained=None, last_exp_reset_date=NOW)
    insert_user(
        admin,
        schema,
        "yesterday",
        daily_exp_gained=500,
        last_exp_reset_date=midnight - timedelta(1),
    )
    store = make_store(users_table=users)
    caps = {1: 150, 2: 150, 3: 300}
    at_cap = store.users_at_daily_cap(caps, midnight)
    assert [(a.user_id, a.level, a.daily_exp_cap) for a in at_cap] == [
        ("capped", 3, 300),
        ("legacy", 1, 150),
    ]
    active = store.most_active_users(caps, midnight, limit=3)
    assert [(a.user_id, a.daily_exp_gained) for a in active] == [
        ("capped", 300),
        ("legacy", 150),
        ("busy", 90),
    ]
    # Levels beyond the caller's table take its highest level's cap.
    assert [a.daily_exp_cap for a in store.most_active_users({1: 150, 2: 200}, midnight)][:2] == [
        200,
        150,
    ]


def test_in_place_with_an_integer_id_column(admin, schema, make_store):
    """The platform's id column may be an integer: compared as such, kept as text in the ledger."""
    admin.execute(
        sql.SQL(
            "CREATE TABLE {} (id integer PRIMARY KEY, level integer DEFAULT 1, "
            "exp integer DEFAULT 0, last_chat_date date, daily_exp_gained integer DEFAULT 0, "
            "last_exp_reset_date timestamptz, daily_action_counts jsonb DEFAULT '{{}}')"
        ).format(sql.Identifier(schema, "members"))
    )
    admin.execute(
        sql.SQL("INSERT INTO {} (id) VALUES (42)").format(sql.Identifier(schema, "members"))
    )
    store = make_store(users_table=f"{schema}.members")
    service = ProgressionService(store, clock=lambda: NOW)
    assert service.award("42", "create_scene", key="s").exp_added == 15
    assert [e.user_id for e in service.ledger("42")] == ["42"] * 3
    with pytest.raises(StoreError, match="no such user"):
        service.award("43", "create_scene")


def create_members(admin: Any, schema: str, id_type: str, *ids: str) -> str:
    """A platform users table named ``members`` whose id column is of ``id_type``."""
    table = sql.Identifier(schema, "members")
    admin.execute(
        sql.SQL(
            "CREATE TABLE {} (id " + id_type + " PRIMARY KEY, level integer DEFAULT 1, "
            "exp integer DEFAULT 0, last_chat_date date, daily_exp_gained integer DEFAULT 0, "
            "last_exp_reset_date timestamptz, daily_action_counts jsonb DEFAULT '{{}}')"
        ).format(table)
    )
    for user_id in ids:
        admin.execute(sql.SQL("INSERT INTO {} (id) VALUES (%s)").format(table), [user_id])
    return f"{schema}.members"


@pytest.mark.parametrize(
    ("id_type", "canonical", "other_spellings"),
    [
        ("integer", "5", ["05", "+5", "005", "5.0", "\u0665", "0x5"]),
        ("bigint", "-12", ["-012", "- 12", "-12 "]),
        ("smallint", "7", ["07", "70000", "+7"]),
        (
            "uuid",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            [
                "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
                "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
                "a0eebc999c0b4ef8bb6d6bb9bd380a11",
                "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            ],
        ),
        ("numeric", "5", ["5.0", "05", "5e0"]),
    ],
)
def test_in_place_one_row_has_one_spelling(
    admin, schema, make_store, id_type, canonical, other_spellings
):
    """In place on a non-text id, every spelling the column would read as the same row is
    refused (InvalidIdError naming the canonical one where it can), so one row has one
    ledger and one key namespace: a key awards once, and replay matches."""
    members = create_members(admin, schema, id_type, canonical)
    store = make_store(users_table=members)
    service = ProgressionService(store, clock=lambda: NOW)
    assert service.award(canonical, "create_scene", key="req-1").exp_added == 15
    for spelling in other_spellings:
        with pytest.raises(InvalidIdError) as caught:
            service.award(spelling, "create_scene", key="req-1")
        assert caught.value.field == "user_id"
        with pytest.raises(InvalidIdError):
            service.award(canonical, "forked", actor_id=spelling)
        with pytest.raises(InvalidIdError), store.transaction(spelling) as tx:
            tx.load()
        with pytest.raises(InvalidIdError):
            store.ledger(spelling)
        with pytest.raises(InvalidIdError):
            store.replay_rows(spelling)
    assert service.state(canonical).exp == 15
    assert {e.user_id for e in service.ledger(canonical)} == {canonical}
    assert [e.key for e in service.ledger(canonical) if e.key] == ["req-1"]
    assert service.replay(canonical).matches


def test_in_place_self_award_cannot_hide_behind_a_spelling(admin, schema, make_store):
    """A creator whose integer id is 5 cannot like their own character as actor "05"."""
    members = create_members(admin, schema, "integer", "5", "6")
    service = ProgressionService(make_store(users_table=members), clock=lambda: NOW)
    for actor in ("5", "05", "+5", "5 "):
        with pytest.raises((SelfAwardError, InvalidIdError)):
            service.award("5", "character_liked", actor_id=actor)
    assert service.ledger("5") == []
    assert service.award("5", "character_liked", actor_id="6").exp_added == 5


def test_in_place_canonical_spelling_names_the_row(admin, schema, make_store):
    """The refusal says which spelling to use."""
    members = create_members(admin, schema, "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    store = make_store(users_table=members)
    with pytest.raises(InvalidIdError, match="'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"):
        store.check_user_id("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")
    with pytest.raises(InvalidIdError, match="in its canonical spelling"):
        store.check_user_id("not-a-uuid")


def test_table_prefix_longer_than_postgres_names_is_refused(make_store):
    """A prefix PostgreSQL would cut to 63 bytes (so that tables collide) is refused."""
    with pytest.raises(InvalidArgumentError, match="table_prefix") as caught:
        make_store(table_prefix="p" * 52)
    assert caught.value.field == "table_prefix"
    store = make_store(table_prefix="p" * 51)
    assert ProgressionService(store, clock=lambda: NOW).award("u", "create_scene").exp_added == 15
    with pytest.raises(InvalidArgumentError, match="schema"):
        make_store(schema="s" * 64)


def test_names_with_a_percent_sign_are_refused(make_store):
    """psycopg would read a '%' in a table name as a placeholder: such names are refused
    at opening, naming the option, rather than failing on the first award."""
    for option in ("table_prefix", "schema", "id_column"):
        with pytest.raises(InvalidArgumentError, match="without '%'") as caught:
            make_store(**{option: "x%_"})
        assert caught.value.field == option


@pytest.mark.parametrize("layout", ["own", "in place"])
def test_tables_of_an_earlier_release_are_upgraded_on_opening(admin, schema, make_store, layout):
    """A ledger made before actor and target were recorded, without the request-keys
    table, gains both when a store opens it (in place too); history stays readable."""
    options: dict[str, Any] = {}
    if layout == "in place":
        options["users_table"] = create_platform_users(admin, schema)
        insert_user(admin, schema, "u")
    first = make_store(**options)
    ProgressionService(first, clock=lambda: NOW).award("u", "create_scene", key="k")
    ledger = sql.Identifier(schema, "progression_ledger")
    admin.execute(sql.SQL("ALTER TABLE {} DROP COLUMN actor, DROP COLUMN target").format(ledger))
    admin.execute(
        sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, "progression_request_keys"))
    )
    assert not make_store(create=False, **options).check_schema().ok
    store = make_store(**options)
    report = store.check_schema()
    assert (report.missing_tables, report.missing_indexes) == ((), ())
    # In place, the levers' columns wait for migrate(): users is never altered on opening.
    levers = [f"{options['users_table']}.{c}" for c in LEVER_FIELDS] if options else []
    assert list(report.missing_columns) == levers
    service = ProgressionService(store, clock=lambda: NOW)
    assert {e.actor for e in service.ledger("u")} == {None}
    service.award("u", "forked", actor_id="fan", target="character:1")
    assert (service.ledger("u")[-1].actor, service.ledger("u")[-1].target) == (
        "fan",
        "character:1",
    )
    assert store.claim_key("fan", "k", "request", NOW) == "request"
    assert service.replay("u").matches


def test_permanent_errors_are_not_unavailable():
    """A program limit (a key too large for an index) is a permanent StoreError: the
    service does not retry it and the router never answers 503 for it."""
    from mikoshi_progression.stores._postgres_driver import wrap as _wrap

    error = _wrap(psycopg.errors.ProgramLimitExceeded("index row size exceeds maximum"), "save")
    assert type(error) is StoreError
    error = _wrap(psycopg.errors.AdminShutdown("terminating connection"), "save")
    assert isinstance(error, StoreUnavailableError)
    error = _wrap(psycopg.errors.LockNotAvailable("could not obtain lock"), "save")
    assert isinstance(error, StoreUnavailableError)


def test_a_huge_key_is_refused_before_postgres(make_store):
    """A 1 MB key never reaches the server: a typed error, not a retried 'unavailable'."""
    service = ProgressionService(make_store(), clock=lambda: NOW)
    with pytest.raises(InvalidIdError, match="key"):
        service.award("u", "create_scene", key="k" * 1_000_000)
    assert service.ledger("u") == []


# --- own tables -------------------------------------------------------------------------


def test_own_tables_monitoring_queries(make_store):
    """Monitoring on the library's own tables counts only days opened since ``since``."""
    store = make_store()
    midnight = NOW.replace(hour=0, minute=0)
    store.put_state("a", ProgressState(level=5, daily_exp_gained=500, last_exp_reset_date=NOW))
    store.put_state("b", ProgressState(level=7, daily_exp_gained=499, last_exp_reset_date=NOW))
    store.put_state("c", ProgressState(daily_exp_gained=150, last_exp_reset_date=midnight))
    store.put_state(
        "d", ProgressState(daily_exp_gained=150, last_exp_reset_date=midnight - timedelta(1))
    )
    caps = DEFAULT_CONFIG.daily_exp_caps
    assert [a.user_id for a in store.users_at_daily_cap(caps, midnight)] == ["a", "c"]
    busiest = store.most_active_users(caps, midnight, limit=2)
    assert [(a.user_id, a.level, a.daily_exp_cap) for a in busiest] == [
        ("a", 5, 500),
        ("b", 7, 500),
    ]


def test_create_schema_twice_and_concurrently(schema, make_store):
    """create_schema is idempotent, and four stores creating it at once do not collide."""
    stores = [make_store(schema=f"{schema}_c", create=False) for _ in range(4)]
    try:
        assert not stores[0].check_schema().ok
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda s: s.create_schema(), stores))
        stores[0].create_schema()
        assert stores[1].check_schema().ok
        service = ProgressionService(stores[2], clock=lambda: NOW)
        assert service.award("u", "create_scene").exp_added == 15
    finally:
        stores[0].drop_schema()
    assert stores[3].check_schema().missing_tables == (
        f"{schema}_c.progression_state",
        f"{schema}_c.progression_ledger",
        f"{schema}_c.progression_request_keys",
        f"{schema}_c.progression_migrations",
    )


def test_check_schema_reports_missing_columns(admin, schema, make_store):
    """The guide's migration checks: missing progression columns and a missing ledger."""
    users = create_platform_users(admin, schema, columns=("level", "exp", "last_chat_date"))
    store = make_store(users_table=users, create=False)
    report = store.check_schema()
    assert report.missing_columns == (
        f"{users}.daily_exp_gained",
        f"{users}.last_exp_reset_date",
        f"{users}.daily_action_counts",
        *(f"{users}.{c}" for c in LEVER_FIELDS),
    )
    assert report.missing_tables == (
        f"{schema}.progression_ledger",
        f"{schema}.progression_request_keys",
        f"{schema}.progression_migrations",
    )
    assert not report.ok


def test_in_place_missing_users_table_is_reported_at_open(admin, schema, make_store):
    """A users_table or id_column that does not exist fails when the store opens, not at
    the first award."""
    with pytest.raises(StoreError, match=r"no table .*no_such_table"):
        make_store(users_table=f"{schema}.no_such_table", create=False)
    users = create_platform_users(admin, schema)
    with pytest.raises(StoreError, match="has no column 'uid'"):
        make_store(users_table=users, id_column="uid")


def test_check_schema_reports_missing_unique_indexes(admin, schema, make_store):
    """Exactly once rests on unique indexes: a schema made by hand without them is reported."""
    store = make_store()
    assert store.check_schema().ok
    ledger = sql.Identifier(schema, "progression_ledger")
    admin.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, "progression_ledger_key")))
    report = store.check_schema()
    assert report.missing_indexes == (f"{schema}.progression_ledger (user_id, kind, key)",)
    assert (report.missing_tables, report.missing_columns, report.ok) == ((), (), False)
    # Any unique index on those columns will do, in any order, partial or not.
    admin.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (key, kind, user_id)").format(ledger))
    assert store.check_schema().ok
    admin.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT progression_ledger_pkey").format(ledger))
    assert store.check_schema().missing_indexes == (f"{schema}.progression_ledger (user_id, seq)",)
    store.create_schema()  # puts back what it names; an anonymous primary key it cannot
    assert store.check_schema().missing_indexes == (f"{schema}.progression_ledger (user_id, seq)",)


def test_check_schema_in_place_wants_a_unique_user_id(admin, schema, make_store):
    """In place, every UPDATE is keyed by the id column: it must be unique."""
    admin.execute(sql.SQL("CREATE TABLE {} (id text)").format(sql.Identifier(schema, "users")))
    for column, definition in (
        ("level", "integer"),
        ("exp", "integer"),
        ("last_chat_date", "date"),
        ("daily_exp_gained", "integer"),
        ("last_exp_reset_date", "timestamptz"),
        ("daily_action_counts", "jsonb"),
    ):
        admin.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} " + definition).format(
                sql.Identifier(schema, "users"), sql.Identifier(column)
            )
        )
    store = make_store(users_table=f"{schema}.users")
    store.migrate()  # the levers' columns
    assert store.check_schema().missing_indexes == (f"{schema}.users (id)",)
    admin.execute(
        sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(sql.Identifier(schema, "users"))
    )
    assert store.check_schema().ok


def test_stale_write_raises_and_keeps_nothing(make_store):
    """Of two transactions that loaded the same version, the second write is stale."""
    store = make_store()
    with store.transaction("u") as tx:
        tx.write(ProgressState(exp=1), tx.load().version, [])

    def lose_the_race() -> None:
        with store.transaction("u") as first:
            loaded = first.load()
            with store.transaction("u") as second:
                second.write(ProgressState(exp=2), second.load().version, [])
            first.write(ProgressState(exp=99), loaded.version, [])

    with pytest.raises(StaleVersionError):
        lose_the_race()
    with store.transaction("u") as tx:
        assert tx.load().state == ProgressState(exp=2)


def test_snapshot_cache_never_serves_a_stale_decision(make_store):
    """Two cached stores (two processes) on one user: every award counted, reads current."""
    first = make_store(snapshot_cache=100)
    second = make_store(snapshot_cache=100)
    one = ProgressionService(first, config=TICK, clock=lambda: NOW)
    two = ProgressionService(second, config=TICK, clock=lambda: NOW)
    added = 0
    for turn in range(10):
        service = one if turn % 3 else two
        added += service.award("shared", "tick").exp_added
        assert one.state("shared").exp == two.state("shared").exp == added
    assert one.replay("shared").matches

    def work(worker: int) -> int:
        service = one if worker % 2 else two
        return sum(service.award(f"u{worker % 2}", "tick").exp_added for _ in range(10))

    with ThreadPoolExecutor(4) as pool:
        totals = list(pool.map(work, range(4)))
    assert one.state("u0").exp == totals[0] + totals[2]
    assert two.state("u1").exp == totals[1] + totals[3]


def test_cached_store_sees_raw_edits_of_its_own_tables(admin, schema, make_store):
    """The version is the row's ``xmin``: an UPDATE made in plain SQL is never overwritten."""
    store = make_store()  # the snapshot cache is on by default
    service = ProgressionService(store, config=TICK, clock=lambda: NOW)
    for _ in range(3):
        service.award("u", "tick")
    admin.execute(
        sql.SQL("UPDATE {} SET exp = 100 WHERE user_id = 'u'").format(
            sql.Identifier(schema, "progression_state")
        )
    )
    assert service.state("u").exp == 100
    admin.execute(
        sql.SQL("UPDATE {} SET exp = 200 WHERE user_id = 'u'").format(
            sql.Identifier(schema, "progression_state")
        )
    )
    assert service.award("u", "tick").state.exp == 201


def test_counter_versions_see_edits_that_bump_the_counter(admin, schema, make_store):
    """``version_token="counter"`` (for Citus): the version column, bumped by every write."""
    store = make_store(version_token="counter")
    service = ProgressionService(store, config=TICK, clock=lambda: NOW)
    for _ in range(3):
        service.award("u", "tick")
    state_table = sql.Identifier(schema, "progression_state")
    version = admin.execute(
        sql.SQL("SELECT version FROM {} WHERE user_id = 'u'").format(state_table)
    ).fetchone()
    assert version == (3,)  # one insert, two updates
    admin.execute(
        sql.SQL("UPDATE {} SET exp = 100, version = version + 1 WHERE user_id = 'u'").format(
            state_table
        )
    )
    assert service.award("u", "tick").state.exp == 101
    assert service.state("u").exp == 101


def test_version_token_is_checked(admin, schema, make_store):
    with pytest.raises(ValueError, match="version_token: must be 'xmin' or 'counter'"):
        make_store(version_token="ctid")
    users = create_platform_users(admin, schema)
    with pytest.raises(ValueError, match="'counter' needs the library's own tables"):
        make_store(users_table=users, version_token="counter")


def counting_pool(sent: list[str]) -> ConnectionPool[Any]:
    """A pool whose connections record the first word of every statement they send
    (through ``conn.execute`` or a cursor of theirs, as the award's statements go)."""

    class CountingCursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            sent.append(str(query).split(None, 1)[0])
            return super().execute(query, params, **kwargs)

    return ConnectionPool(
        DSN, kwargs={"cursor_factory": CountingCursor}, min_size=1, max_size=2, open=True
    )


def test_round_trips_per_award(schema):
    """Two statements per award; one while the store's cached snapshot is current."""
    sent: list[str] = []
    with counting_pool(sent) as pool:
        cached = ProgressionService(PostgresStore(pool, schema=schema), config=TICK)
        uncached = ProgressionService(
            PostgresStore(pool, schema=schema, snapshot_cache=0), config=TICK
        )
        cached.award("u", "tick")
        sent.clear()
        cached.award("u", "tick")
        assert sent == ["WITH"]  # the version-checked write and its ledger row
        sent.clear()
        uncached.award("u", "tick")
        assert sent == ["SELECT", "WITH"]
        sent.clear()
        # Another process wrote: the guess is refused, reloaded, written, not cached.
        assert cached.award("u", "tick").state.exp == 4
        assert sent == ["WITH", "SELECT", "WITH"]
        sent.clear()
        cached.award("u", "tick")
        assert sent == ["SELECT", "WITH"]
        assert cached.replay("u").matches


def prepared_statements(store: PostgresStore) -> list[str]:
    """The first words of the statements prepared on the store's (one) connection."""
    with store._connection() as conn:
        rows = conn.execute("SELECT statement FROM pg_prepared_statements").fetchall()
    return sorted(str(statement).split(None, 1)[0] for (statement,) in rows)


def test_award_statements_are_prepared_on_their_connection(make_store):
    """The load and the write are prepared on first use, and an award sends them by name
    through the connection's one cursor (kept from one borrower to the next)."""
    store = make_store(min_size=1, max_size=1, snapshot_cache=0)
    service = ProgressionService(store, config=TICK)
    for _ in range(3):
        service.award("u", "tick")
    # The load, the write that created the user, the write of an existing user.
    assert prepared_statements(store) == ["SELECT", "WITH", "WITH"]
    first, second = Borrowed(store), Borrowed(store)
    with first:
        cursor = first.cursor()
    with second:
        assert second.cursor() is cursor
    assert service.state("u").exp == 3
    assert service.replay("u").matches


def test_prepare_threshold_none_prepares_nothing(make_store):
    """``prepare_threshold=None`` (a pooler in transaction mode, which cannot keep
    prepared statements on a server connection): the same awards, nothing prepared."""
    store = make_store(min_size=1, max_size=1, connect_kwargs={"prepare_threshold": None})
    service = ProgressionService(store, config=TICK)
    for _ in range(4):
        service.award("u", "tick")
    service.award("u", "tick", key="k")
    assert prepared_statements(store) == []
    assert service.state("u").exp == 5
    assert service.replay("u").matches


def test_a_replaced_connection_prepares_again(admin, make_store):
    """The server drops the store's connection: the award on it fails as unavailable, the
    pool replaces it, and the next award prepares its statements on the new one."""
    name = f"replaced-{uuid.uuid4().hex[:8]}"
    store = make_store(
        min_size=1, max_size=1, snapshot_cache=0, connect_kwargs={"application_name": name}
    )
    service = ProgressionService(store, config=TICK)
    service.award("u", "tick")
    kill_backends(admin, name)
    with pytest.raises(StoreUnavailableError):
        service.award("u", "tick")  # unkeyed: not retried after a fault
    deadline = time.monotonic() + 10
    while True:  # the pool opens a new connection in the background
        try:
            service.award("u", "tick")
            break
        except StoreUnavailableError:
            assert time.monotonic() < deadline, "the pool never replaced its connection"
            time.sleep(0.05)
    assert prepared_statements(store) == ["SELECT", "WITH"]
    assert service.state("u").exp == 2
    assert service.replay("u").matches


def test_snapshot_cache_stops_guessing_when_guesses_keep_failing(make_store):
    """Two processes taking turns on every user: the caches learn that guessing costs."""
    first, second = make_store(), make_store()
    one = ProgressionService(first, config=TICK, clock=lambda: NOW)
    two = ProgressionService(second, config=TICK, clock=lambda: NOW)
    added = 0
    for user in range(12):
        for service in (one, two, one, two):
            added += service.award(f"u{user}", "tick").exp_added
    assert added == 48
    assert all(one.state(f"u{user}").exp == 4 for user in range(12))
    info = first.snapshot_cache_info()
    assert info is not None
    assert info.wrong >= 4
    assert not info.lending  # paused: the next awards load instead of guessing
    assert make_store(snapshot_cache=0).snapshot_cache_info() is None


def test_snapshot_cache_size_is_checked(make_store):
    with pytest.raises(ValueError, match="snapshot_cache: must be 0"):
        make_store(snapshot_cache=-1)


# --- faults -----------------------------------------------------------------------------


class HookedStore:
    """Wraps a store: runs ``after_load`` after the first load, ``on_error`` on each failure."""

    def __init__(
        self,
        store: PostgresStore,
        *,
        after_load: Callable[[], None] = lambda: None,
        on_error: Callable[[BaseException], None] = lambda exc: None,
    ) -> None:
        self.store = store
        self.after_load = after_load
        self.on_error = on_error
        self.loads = 0
        self.errors: list[BaseException] = []

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[Any]:
        try:
            with self.store.transaction(user_id) as tx:
                yield _HookedTransaction(self, tx)
        except Exception as exc:
            self.errors.append(exc)
            self.on_error(exc)
            raise

    def ledger(self, user_id: str) -> list[Any]:
        return self.store.ledger(user_id)

    def create_schema(self) -> None:
        self.store.create_schema()

    def close(self) -> None:
        self.store.close()


class _HookedTransaction:
    def __init__(self, owner: HookedStore, tx: Any) -> None:
        self._owner = owner
        self._tx = tx

    def load(self, key: str | None = None) -> Any:
        snapshot = self._tx.load(key)
        self._owner.loads += 1
        if self._owner.loads == 1:
            self._owner.after_load()
        return snapshot

    def write(self, state: Any, version: Any, entries: Any) -> None:
        self._tx.write(state, version, entries)


def kill_backends(admin: Any, application_name: str) -> None:
    """Terminate the store's server processes, as an operator (or a crash) would."""
    pids = [
        pid
        for (pid,) in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
    ]
    assert pids, f"no backend named {application_name}"
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # wait until they are really gone
        left = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
        ).fetchone()
        if left == (0,):
            return
        time.sleep(0.01)
    raise AssertionError(f"backends {pids} survived pg_terminate_backend")


def stored(admin: Any, schema: str, layout: str, user_id: str) -> tuple[Any, ...]:
    """What the database holds for a user: state columns and ledger size."""
    table = "users" if layout == "in_place" else "progression_state"
    key = "id" if layout == "in_place" else "user_id"
    state = admin.execute(
        sql.SQL("SELECT exp, daily_exp_gained, daily_action_counts FROM {} WHERE {} = %s").format(
            sql.Identifier(schema, table), sql.Identifier(key)
        ),
        [user_id],
    ).fetchone()
    ledger = admin.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE user_id = %s").format(
            sql.Identifier(schema, "progression_ledger")
        ),
        [user_id],
    ).fetchone()
    return (state, ledger)


def faulty_store(admin, schema, make_store, layout, locking, **hooks):
    """A one-connection store with a recognisable application_name, seeded with 15 EXP."""
    name = f"victim-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = {
        "locking": locking,
        "min_size": 1,
        "max_size": 1,
        "connect_kwargs": {"application_name": name},
    }
    if layout == "in_place":
        options["users_table"] = create_platform_users(admin, schema)
        insert_user(admin, schema, "victim")
    store = make_store(**options)
    ProgressionService(store, clock=lambda: NOW).award("victim", "create_scene")
    return name, store


def assert_one_award(service: ProgressionService, result: Any) -> None:
    """The keyed award landed exactly once, and the state agrees with the ledger."""
    assert result.exp_added == 30
    assert service.state("victim").exp == 45
    keyed = [e for e in service.ledger("victim") if e.key == "like-1"]
    assert [e.kind for e in keyed] == [EntryKind.AWARD]
    assert service.replay("victim").matches
    assert service.award("victim", "create_character", key="like-1").exp_added == 30
    assert service.state("victim").exp == 45


@pytest.mark.parametrize("locking", LOCKINGS)
@pytest.mark.parametrize("layout", ["own_tables", "in_place"])
def test_connection_killed_between_load_and_commit(admin, schema, make_store, layout, locking):
    """A backend killed after the load: nothing is kept, the keyed retry awards exactly once."""
    name, store = faulty_store(admin, schema, make_store, layout, locking)
    before = stored(admin, schema, layout, "victim")
    seen: list[tuple[Any, ...]] = []
    hooked = HookedStore(
        store,
        after_load=lambda: kill_backends(admin, name),
        on_error=lambda exc: seen.append(stored(admin, schema, layout, "victim")),
    )
    service = ProgressionService(hooked, clock=lambda: NOW)
    result = service.award("victim", "create_character", key="like-1")
    assert [type(e) for e in hooked.errors] == [StoreUnavailableError]
    assert isinstance(hooked.errors[0].__cause__, psycopg.OperationalError)
    assert seen == [before]  # at the moment of the failure: nothing of the award
    assert_one_award(service, result)


@pytest.mark.parametrize("locking", LOCKINGS)
@pytest.mark.parametrize("layout", ["own_tables", "in_place"])
def test_connection_killed_during_the_write(admin, schema, make_store, layout, locking):
    """A backend killed inside the write statement leaves nothing; the retry awards once."""
    name, store = faulty_store(admin, schema, make_store, layout, locking)
    ident = sql.Identifier
    # The first ledger insert of a keyed row sleeps (a sequence is not rolled back).
    admin.execute(
        sql.SQL(
            "CREATE SEQUENCE {seq}; "
            "CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.key IS NOT NULL AND nextval('{schema}.slow_once') = 1 "
            "THEN PERFORM pg_sleep(10); END IF; RETURN NEW; END $$; "
            "CREATE TRIGGER slow BEFORE INSERT ON {ledger} FOR EACH ROW EXECUTE FUNCTION {fn}()"
        ).format(
            seq=ident(schema, "slow_once"),
            fn=ident(schema, "slow_once_fn"),
            schema=sql.SQL(schema),
            ledger=ident(schema, "progression_ledger"),
        )
    )
    before = stored(admin, schema, layout, "victim")
    seen: list[tuple[Any, ...]] = []
    hooked = HookedStore(
        store, on_error=lambda exc: seen.append(stored(admin, schema, layout, "victim"))
    )
    service = ProgressionService(hooked, clock=lambda: NOW)

    def killer() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND wait_event = 'PgSleep'",
                [name],
            ).fetchone()
            if row != (0,):
                kill_backends(admin, name)
                return
            time.sleep(0.005)

    with ThreadPoolExecutor(1) as pool:
        killed = pool.submit(killer)
        result = service.award("victim", "create_character", key="like-1")
        killed.result()
    assert [type(e) for e in hooked.errors] == [StoreUnavailableError]
    assert seen == [before]
    assert_one_award(service, result)


# --- construction and error wrapping ---------------------------------------------------


def test_driver_errors_are_wrapped(admin, schema, make_store):
    """Driver errors surface as the library's errors, with the driver's as the cause."""
    with pytest.raises(StoreUnavailableError) as unreachable:
        PostgresStore("postgresql://postgres@127.0.0.1:1/test", timeout=1)
    assert isinstance(unreachable.value.__cause__, psycopg.OperationalError)
    with pytest.raises(StoreError, match="malformed"):
        PostgresStore("host=127.0.0.1 port")

    store = make_store(schema=f"{schema}_missing", create=False)
    with pytest.raises(StoreError, match="create_schema") as missing:
        ProgressionService(store).award("u", "create_scene")
    cause = missing.value.__cause__
    assert isinstance(cause, (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName))
    assert not isinstance(missing.value, StoreUnavailableError)

    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.ledger("u")
    with pytest.raises(ValueError, match="locking"):
        PostgresStore(DSN, locking="pessimistic")  # type: ignore[arg-type]


def test_existing_pool_is_used_and_left_open(schema):
    """A caller's pool (not autocommit) works; close() leaves it open and as it was."""
    with ConnectionPool(DSN, min_size=1, max_size=2, open=True) as pool:
        store = PostgresStore(pool, schema=schema)
        service = ProgressionService(store, clock=lambda: NOW)
        assert service.award("u", "create_persona", key="p").exp_added == 15
        assert service.award("u", "create_persona", key="p").exp_added == 15
        store.close()
        with pool.connection() as conn:
            assert conn.autocommit is False
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(schema, "progression_ledger")
                )
            ).fetchone()
            assert count == (2,)  # the day opened, one award


def test_open_store_url_builds_a_postgres_store(schema):
    """``open_store("postgresql://...")`` passes its options to PostgresStore."""
    store = open_store(DSN, schema=schema, locking="row")
    try:
        assert isinstance(store, PostgresStore)
        assert store.locking == "row"
        assert ProgressionService(store).award("u", "create_scene").exp_added == 15
    finally:
        store.close()


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_a_locked_keyed_load_sees_the_key_of_the_writer_it_waited_for(schema, make_store, batch):
    """Under READ COMMITTED, a statement that waits for a row lock reads the locked row as
    the other transaction left it, but the rest of the statement keeps its older snapshot:
    a keyed load that joined the ledger in the locking statement missed the key that the
    transaction it waited for had just written, and a repeated request was then decided
    anew (and refused by a limit) instead of getting its first result."""
    store = make_store(locking="row")
    user, key = "waiter", "like-1"
    service = ProgressionService(store, clock=lambda: NOW, combine=False)
    service.award(user, "daily_chat")
    writer = psycopg.connect(DSN)
    try:
        with writer.cursor() as cur:  # a transaction like an award, left open
            cur.execute(
                sql.SQL("SELECT 1 FROM {} WHERE user_id = %s FOR UPDATE").format(
                    sql.Identifier(schema, "progression_state")
                ),
                (user,),
            )
        with ThreadPoolExecutor(1) as pool:

            def load() -> object:
                if batch:
                    with store.batch_transaction([user]) as tx:
                        return tx.load_many({user: [key]})[user].keyed_awards.get(key)
                with store.transaction(user) as tx:
                    return tx.load(key).keyed_award

            waiting = pool.submit(load)
            time.sleep(0.3)  # the load now waits for the lock
            assert not waiting.done()
            with writer.cursor() as cur:  # the writer records the keyed award, commits
                first = service.config.actions["character_liked"].exp
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET exp = exp + %s, seq = seq + 1, version = version + 1 "
                        "WHERE user_id = %s"
                    ).format(sql.Identifier(schema, "progression_state")),
                    (first, user),
                )
                entry = service.ledger(user)[-1]
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (user_id, seq, kind, action, exp_delta, level_before, "
                        "level_after, key, at, config_fingerprint, state_after, outcome, "
                        "actor) SELECT user_id, seq, 'award', 'character_liked', %s, 1, 1, %s, "
                        "%s, %s, %s::jsonb, 'awarded', 'a-fan' FROM {} WHERE user_id = %s"
                    ).format(
                        sql.Identifier(schema, "progression_ledger"),
                        sql.Identifier(schema, "progression_state"),
                    ),
                    (
                        first,
                        key,
                        NOW,
                        entry.config_fingerprint,
                        psycopg.types.json.Jsonb(entry.state_after.to_dict()),
                        user,
                    ),
                )
            writer.commit()
            found = waiting.result(timeout=10)
    finally:
        writer.close()
    assert found is not None, "the keyed load missed the key committed while it waited"
