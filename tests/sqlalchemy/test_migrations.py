"""The library's Alembic revisions in a team's own history, on a real PostgreSQL.

Each test builds a throwaway Alembic environment in ``tmp_path``, as a team has one: an
``env.py`` and a ``versions/`` directory with the team's own revisions (a
``characters`` table, and in some tests a ``users`` table with an integer id), plus the
library's revisions through :func:`~mikoshi_progression.sqlalchemy.migrations.add_to`.
Everything lands in a fresh schema per test (the team's tables through ``search_path``,
the library's through its ``schema`` option), dropped afterwards. The server is
``MIKOSHI_PG_DSN``; without one the tests skip, except under ``CI``, where they fail.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI"):  # in CI a missing extra is a failure, never a skip
    import alembic
    import psycopg
else:
    alembic = pytest.importorskip("alembic", reason="the [sqlalchemy] extra is not installed")
    psycopg = pytest.importorskip("psycopg", reason="the [postgres] extra is not installed")

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from psycopg import sql

from mikoshi_progression.core.state import LEVER_FIELDS
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.sqlalchemy.migrations import (
    ADJUST_REVISION,
    LEVERS_REVISION,
    TABLES_REVISION,
    add_to,
    include_object,
)
from mikoshi_progression.stores.postgres import PostgresStore

pytestmark = pytest.mark.postgres

DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
URL = sa.make_url(DSN).set(drivername="postgresql+psycopg")
LIBRARY_TABLES = {
    "progression_state",
    "progression_ledger",
    "progression_request_keys",
    "progression_migrations",
}

ENV_PY = '''\
"""A team's env.py: its own engine, search_path from the config, no autogenerate here."""
from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def run_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online():
    search_path = config.get_main_option("app.search_path")
    engine = create_engine(
        config.get_main_option("sqlalchemy.url"),
        poolclass=pool.NullPool,
        connect_args={"options": f"-c search_path={search_path}"},
    )
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
'''

APP_CHARACTERS = '''\
"""The team's first revision: characters."""
import sqlalchemy as sa
from alembic import op

revision = "app_0001"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade():
    op.create_table(
        "characters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("characters")
'''

APP_USERS = '''\
"""The team's users table, with an integer id."""
import sqlalchemy as sa
from alembic import op

revision = "app_0002"
down_revision = "app_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text),
        {columns}
    )


def downgrade():
    op.drop_table("users")
'''

PLATFORM_COLUMNS = """\
        sa.Column("level", sa.Integer, server_default="1"),
        sa.Column("exp", sa.Integer, server_default="0"),
        sa.Column("last_chat_date", sa.Date),
        sa.Column("daily_exp_gained", sa.Integer, server_default="0"),
        sa.Column("last_exp_reset_date", sa.DateTime(timezone=True)),
        sa.Column("daily_action_counts", sa.dialects.postgresql.JSONB, server_default="{}"),
"""

OLD_RELEASE_DDL = """
CREATE TABLE progression_state (
    user_id text PRIMARY KEY, level integer NOT NULL DEFAULT 1, exp bigint NOT NULL DEFAULT 0,
    last_chat_date timestamptz, daily_exp_gained bigint NOT NULL DEFAULT 0,
    last_exp_reset_date timestamptz, daily_action_counts jsonb NOT NULL DEFAULT '{}',
    version bigint NOT NULL DEFAULT 1, seq bigint NOT NULL DEFAULT 0);
CREATE INDEX progression_state_day ON progression_state (last_exp_reset_date);
CREATE TABLE progression_ledger (
    user_id text NOT NULL, seq bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('import', 'day', 'award', 'revoke')),
    action text NOT NULL DEFAULT '', exp_delta bigint NOT NULL, level_before integer NOT NULL,
    level_after integer NOT NULL, key text, at timestamptz NOT NULL,
    config_fingerprint text NOT NULL DEFAULT '', state_after jsonb NOT NULL,
    outcome text NOT NULL DEFAULT '', PRIMARY KEY (user_id, seq));
CREATE UNIQUE INDEX progression_ledger_key ON progression_ledger (user_id, kind, key)
    WHERE key IS NOT NULL;
"""
"""What ``create_schema()`` made before the ledger had ``actor`` and ``target`` and before
the request-keys table (the release before commit 269a1ca), frozen for this test."""


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin() -> Iterator[Any]:
    """An autocommit connection that sets schemas up and inspects them."""
    try:
        conn = psycopg.connect(DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {DSN}: {str(exc).strip().splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with conn:
        yield conn


def _new_schema(admin: Any) -> str:
    name = f"mp_mig_{uuid.uuid4().hex[:12]}"
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return name


def _drop_schema(admin: Any, name: str) -> None:
    admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def schema(admin: Any) -> Iterator[str]:
    """A fresh schema for one test, dropped with everything in it afterwards."""
    name = _new_schema(admin)
    yield name
    _drop_schema(admin, name)


@pytest.fixture
def other_schema(admin: Any) -> Iterator[str]:
    """A second fresh schema, for what the store itself creates."""
    name = _new_schema(admin)
    yield name
    _drop_schema(admin, name)


class Team:
    """A team's Alembic environment in ``root``, working in ``schema``."""

    def __init__(self, root: Path, schema: str) -> None:
        self.dir = root / "migrations"
        (self.dir / "versions").mkdir(parents=True)
        (self.dir / "env.py").write_text(ENV_PY)
        self.add_revision("app_0001_characters.py", APP_CHARACTERS)
        self.schema = schema
        self.options: dict[str, Any] = {"schema": schema}
        self.stores: list[PostgresStore] = []

    def add_revision(self, filename: str, text: str) -> None:
        (self.dir / "versions" / filename).write_text(text)

    def add_users(self, columns: str = PLATFORM_COLUMNS) -> None:
        self.add_revision("app_0002_users.py", APP_USERS.format(columns=columns.strip()))

    def config(self, **kwargs: Any) -> Config:
        config = Config(**kwargs)
        config.set_main_option("script_location", str(self.dir))
        url = URL.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        config.set_main_option("app.search_path", self.schema)
        return add_to(config, **self.options)

    def upgrade(self, target: str = "heads") -> None:
        command.upgrade(self.config(), target)

    def downgrade(self, target: str) -> None:
        command.downgrade(self.config(), target)

    def stamp(self, target: str) -> None:
        command.stamp(self.config(), target)

    def store(self, **options: Any) -> PostgresStore:
        options.setdefault("schema", self.schema)
        store = PostgresStore(DSN, create=False, max_size=1, **options)
        self.stores.append(store)
        return store


@pytest.fixture
def team(tmp_path: Path, schema: str) -> Iterator[Team]:
    """A team's Alembic environment with one revision of its own, in ``schema``."""
    made = Team(tmp_path, schema)
    yield made
    for store in made.stores:
        store.close()


def tables(admin: Any, schema: str) -> set[str]:
    rows = admin.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    ).fetchall()
    return {name for (name,) in rows}


def columns(admin: Any, schema: str, table: str) -> list[str]:
    rows = admin.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [name for (name,) in rows]


def versions(admin: Any, schema: str) -> set[str]:
    query = sql.SQL("SELECT version_num FROM {}").format(sql.Identifier(schema, "alembic_version"))
    return {version for (version,) in admin.execute(query).fetchall()}


def ledger_rows(
    admin: Any, schema: str, table: str = "progression_ledger"
) -> list[tuple[Any, ...]]:
    """The ledger's rows in the columns every revision has, in order."""
    query = sql.SQL(
        "SELECT user_id, seq, kind, action, exp_delta, level_before, level_after, key, at, "
        "config_fingerprint, state_after, outcome FROM {} ORDER BY user_id, seq"
    ).format(sql.Identifier(schema, table))
    return admin.execute(query).fetchall()


def shape(admin: Any, schema: str, only: set[str]) -> list[str]:
    """Columns (type, null, default), indexes and constraints of the tables ``only``."""
    found = admin.execute(
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable "
        "|| ' default=' || coalesce(column_default, '-') || ' #' || ordinal_position "
        "FROM information_schema.columns WHERE table_schema = %(s)s AND table_name = ANY(%(t)s) "
        "UNION ALL "
        "SELECT tablename || ': ' || replace(indexdef, quote_ident(%(s)s) || '.', '') "
        "FROM pg_indexes WHERE schemaname = %(s)s AND tablename = ANY(%(t)s) "
        "UNION ALL "
        "SELECT c.relname || ' constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid) "
        "FROM pg_constraint AS k JOIN pg_class AS c ON c.oid = k.conrelid "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %(s)s AND c.relname = ANY(%(t)s)",
        {"s": schema, "t": sorted(only)},
    ).fetchall()
    return sorted(line for (line,) in found)


def award(store: PostgresStore, user: str, key: str) -> int:
    return ProgressionService(store).award(user, "create_character", key=key).exp_added


def insert_adjust_row(admin: Any, schema: str, user: str, seq: int) -> None:
    admin.execute(
        sql.SQL(
            "INSERT INTO {} (user_id, seq, kind, exp_delta, level_before, level_after, at, "
            "state_after, reason) VALUES (%s, %s, 'adjust', 5, 1, 1, now(), '{{}}', 'support')"
        ).format(sql.Identifier(schema, "progression_ledger")),
        (user, seq),
    )


# --- the tests --------------------------------------------------------------------------


def test_upgrade_heads_runs_the_library_beside_the_teams_revisions(admin, team, schema):
    """`upgrade heads` makes the team's table and the library's; the store accepts them."""
    team.upgrade("heads")
    assert tables(admin, schema) == {"alembic_version", "characters", *LIBRARY_TABLES}
    assert versions(admin, schema) == {"app_0001", LEVERS_REVISION}
    store = team.store()
    assert store.check_schema().ok
    assert award(store, "alice", "k-1") == 30
    assert award(store, "alice", "k-1") == 30  # the same request again: nothing more
    assert ProgressionService(store).state("alice").exp == 30


@pytest.mark.parametrize(
    ("options", "store_options"),
    [
        pytest.param({}, {}, id="own-tables"),
        pytest.param({"table_prefix": "team_"}, {"table_prefix": "team_"}, id="prefix"),
        pytest.param({"users_table": "users"}, {"users_table": "users"}, id="in-place"),
    ],
)
def test_the_first_revision_makes_what_create_schema_makes(
    admin, team, schema, other_schema, options, store_options
):
    """The revisions up to the head make what create_schema() of this release makes:
    columns, defaults, indexes and constraints, names included."""
    for where in (schema, other_schema):
        if "users_table" in store_options:
            admin.execute(
                sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY)").format(
                    sql.Identifier(where, "users")
                )
            )
    team.options.update(options)
    team.upgrade("mikoshi_progression@head")
    extra = {"users_table": f"{other_schema}.users"} if "users_table" in store_options else {}
    with PostgresStore(DSN, schema=other_schema, max_size=1, **{**store_options, **extra}):
        pass  # creates its tables on opening
    prefix = store_options.get("table_prefix", "progression_")
    names = {prefix + t for t in ("state", "ledger", "request_keys", "migrations")}
    made = shape(admin, schema, names)
    assert made == shape(admin, other_schema, names)
    assert any("CHECK" in line for line in made)
    assert any(f"{prefix}ledger_key" in line for line in made)
    assert (f"{prefix}state" in tables(admin, schema)) is ("users_table" not in options)


def test_downgrading_the_branch_to_base_keeps_the_teams_tables(admin, team, schema):
    """`downgrade mikoshi_progression@base` drops the library's tables and nothing else."""
    team.upgrade("heads")
    award(team.store(), "alice", "k-1")
    team.downgrade("mikoshi_progression@base")
    assert tables(admin, schema) == {"alembic_version", "characters"}
    assert versions(admin, schema) == {"app_0001"}
    team.upgrade("heads")  # and back up again
    assert team.store().check_schema().ok


def test_the_second_revision_keeps_the_ledger_and_admits_adjust(admin, team, schema):
    """From mikoshi_0001 to head: rows kept, `reason` added, 'adjust' admitted, others not."""
    team.upgrade(TABLES_REVISION)
    for user in ("alice", "bob"):  # rows as a store of the release before 'adjust' wrote them
        admin.execute(
            sql.SQL(
                "INSERT INTO {} (user_id, seq, kind, action, exp_delta, level_before, "
                "level_after, key, at, state_after, outcome) VALUES (%s, 1, 'award', "
                "'create_character', 30, 1, 1, 'k-1', now(), '{{\"exp\": 30}}', 'awarded')"
            ).format(sql.Identifier(schema, "progression_ledger")),
            (user,),
        )
    before = ledger_rows(admin, schema)
    assert before
    assert "reason" not in columns(admin, schema, "progression_ledger")

    team.upgrade("heads")
    assert ledger_rows(admin, schema) == before
    assert columns(admin, schema, "progression_ledger")[-3:] == ["reason", "events", "txid"]
    insert_adjust_row(admin, schema, "carol", 1)
    with pytest.raises(psycopg.errors.CheckViolation):
        admin.execute(
            sql.SQL(
                "INSERT INTO {} (user_id, seq, kind, exp_delta, level_before, level_after, at, "
                "state_after) VALUES ('carol', 2, 'bogus', 0, 1, 1, now(), '{{}}')"
            ).format(sql.Identifier(schema, "progression_ledger"))
        )
    store = team.store()
    assert store.check_schema().ok
    assert award(store, "dave", "k-2") == 30


def test_the_second_revisions_downgrade_refuses_adjust_rows(admin, team, schema):
    """Rows of kind 'adjust' stop the downgrade, which changes nothing; without them it runs."""
    team.upgrade("heads")
    award(team.store(), "alice", "k-1")
    insert_adjust_row(admin, schema, "carol", 1)
    with pytest.raises(sa.exc.IntegrityError, match=r"holds 1 row\(s\) of kind 'adjust'"):
        team.downgrade(TABLES_REVISION)
    assert versions(admin, schema) == {"app_0001", LEVERS_REVISION}  # rolled back
    assert "reason" in columns(admin, schema, "progression_ledger")

    admin.execute(
        sql.SQL("DELETE FROM {} WHERE kind = 'adjust'").format(
            sql.Identifier(schema, "progression_ledger")
        )
    )
    before = ledger_rows(admin, schema)
    team.downgrade(TABLES_REVISION)
    assert versions(admin, schema) == {"app_0001", TABLES_REVISION}
    assert "reason" not in columns(admin, schema, "progression_ledger")
    assert ledger_rows(admin, schema) == before
    with pytest.raises(psycopg.errors.CheckViolation):
        admin.execute(
            sql.SQL(
                "INSERT INTO {} (user_id, seq, kind, exp_delta, level_before, level_after, at, "
                "state_after) VALUES ('carol', 1, 'adjust', 5, 1, 1, now(), '{{}}')"
            ).format(sql.Identifier(schema, "progression_ledger"))
        )
    assert not team.store().check_schema().ok  # this release's store needs mikoshi_0002
    team.upgrade("heads")
    assert award(team.store(), "alice", "k-2") == 30


def test_in_place_on_the_teams_users_table(admin, team, schema):
    """users_table: no state table; the store works in place on the team's int-id users."""
    team.add_users()
    team.options["users_table"] = "users"
    team.upgrade("heads")
    assert tables(admin, schema) == {
        "alembic_version",
        "characters",
        "users",
        "progression_ledger",
        "progression_request_keys",
        "progression_migrations",
    }
    users = sql.Identifier(schema, "users")
    admin.execute(sql.SQL("INSERT INTO {} (id, name) VALUES (7, 'alice')").format(users))
    store = team.store(users_table=f"{schema}.users")
    report = store.check_schema()  # without add_users_columns, users keeps version 1
    assert report.behind
    assert report.missing_columns == tuple(f"{schema}.users.{c}" for c in LEVER_FIELDS)
    assert award(store, "7", "k-1") == 30
    row = admin.execute(sql.SQL("SELECT exp, level FROM {} WHERE id = 7").format(users)).fetchone()
    assert row == (30, 1)
    team.downgrade("mikoshi_progression@base")
    assert tables(admin, schema) == {"alembic_version", "characters", "users"}
    assert columns(admin, schema, "users")[-1] == "daily_action_counts"  # users untouched


def test_in_place_the_missing_users_columns_are_added_and_dropped_again(admin, team, schema):
    """add_users_columns: adds what users lacks; the downgrade drops only what it added."""
    team.add_users(columns='sa.Column("level", sa.Integer, server_default="1"),')
    team.options.update(users_table="users", add_users_columns=True)
    team.upgrade("app@head")  # the team's users table first
    team.upgrade("heads")
    assert columns(admin, schema, "users") == [
        "id",
        "name",
        "level",
        "exp",
        "last_chat_date",
        "daily_exp_gained",
        "last_exp_reset_date",
        "daily_action_counts",
        *LEVER_FIELDS,
    ]
    users = sql.Identifier(schema, "users")
    admin.execute(sql.SQL("INSERT INTO {} (id, name) VALUES (7, 'alice')").format(users))
    store = team.store(users_table=f"{schema}.users")
    assert store.check_schema().ok
    assert award(store, "7", "k-1") == 30
    assert ProgressionService(store).state("7").daily_action_counts == {"create_character": 1}

    config = team.config()
    engine = sa.create_engine(URL, connect_args={"options": f"-c search_path={schema}"})
    try:
        model = sa.MetaData()
        sa.Table(
            "characters",
            model,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.Text, nullable=False),
        )
        sa.Table(
            "users",
            model,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("name", sa.Text),
            sa.Column("level", sa.Integer, server_default="1"),
        )
        with engine.connect() as connection:
            plain = compare_metadata(MigrationContext.configure(connection), model)
            hooked = compare_metadata(
                MigrationContext.configure(
                    connection, opts={"include_object": include_object(config)}
                ),
                model,
            )
    finally:
        engine.dispose()
    removed = {d[3].name for d in plain if isinstance(d, tuple) and d[0] == "remove_column"}
    assert {d[1].name for d in plain if isinstance(d, tuple) and d[0] == "remove_table"} == {
        "progression_ledger",
        "progression_request_keys",
        "progression_migrations",
    }
    assert removed == {  # the columns the revisions added, absent from the team's model
        "exp",
        "last_chat_date",
        "daily_exp_gained",
        "last_exp_reset_date",
        "daily_action_counts",
        *LEVER_FIELDS,
    }
    assert hooked == [], "autogenerate would touch the library's tables or columns"

    store.close()
    team.downgrade("mikoshi_progression@base")
    assert columns(admin, schema, "users") == ["id", "name", "level"]
    assert tables(admin, schema) == {"alembic_version", "characters", "users"}


def test_adding_users_columns_without_a_users_table_fails_clearly(team):
    """The users table is the team's: the library never creates it, and says so."""
    team.options.update(users_table="users", add_users_columns=True)
    with pytest.raises(sa.exc.ProgrammingError, match="no table users"):
        team.upgrade("heads")


def test_a_database_made_by_create_schema_is_stamped_then_upgraded(admin, team, schema):
    """A team that started without Alembic: stamp mikoshi_0004, then upgrade; rows kept."""
    team.upgrade("app@head")
    with PostgresStore(DSN, schema=schema, max_size=1) as store:  # create_schema() on open
        award(store, "alice", "k-1")
    before = ledger_rows(admin, schema)
    team.stamp(f"mikoshi_progression@{LEVERS_REVISION}")
    assert versions(admin, schema) == {"app_0001", LEVERS_REVISION}
    team.upgrade("heads")
    assert versions(admin, schema) == {"app_0001", LEVERS_REVISION}
    assert ledger_rows(admin, schema) == before
    store = team.store()
    assert store.check_schema().ok
    assert award(store, "alice", "k-2") == 30
    insert_adjust_row(admin, schema, "carol", 1)


def test_an_older_releases_tables_are_brought_up_to_date_before_stamping(admin, team, schema):
    """Tables of the release before actor/target: opening the store adds what they lack,
    then stamp and upgrade as for tables create_schema() of this release made."""
    admin.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    try:
        admin.execute(OLD_RELEASE_DDL)
    finally:
        admin.execute("RESET search_path")
    admin.execute(
        sql.SQL(
            "INSERT INTO {} (user_id, seq, kind, action, exp_delta, level_before, level_after, "
            "key, at, state_after) VALUES ('old', 1, 'award', 'daily_chat', 20, 1, 1, 'k-0', "
            "'2025-12-01T10:00Z', '{{}}')"
        ).format(sql.Identifier(schema, "progression_ledger"))
    )
    before = ledger_rows(admin, schema)
    report = team.store().check_schema()
    assert not report.ok  # the stamp would not be true yet
    assert f"{schema}.progression_ledger.actor" in report.missing_columns

    with PostgresStore(DSN, schema=schema, max_size=1):
        pass  # create=True, the default: adds actor, target and the request-keys table
    assert team.store().check_schema().behind  # not the levers' columns: Alembic adds them
    team.stamp(f"mikoshi_progression@{ADJUST_REVISION}")
    team.upgrade("heads")
    assert ledger_rows(admin, schema) == before
    assert team.store().check_schema().ok
    insert_adjust_row(admin, schema, "carol", 1)


def test_offline_sql_makes_the_same_schema(admin, team, schema, other_schema):
    """`alembic upgrade --sql` output, run by hand, makes what the online upgrade makes."""
    team.upgrade("heads")
    buffer = io.StringIO()
    team.options["schema"] = other_schema
    command.upgrade(team.config(output_buffer=buffer), "mikoshi_progression@head", sql=True)
    script = buffer.getvalue()
    assert "%%" not in script
    admin.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(other_schema)))
    try:
        admin.execute(script)
    finally:
        admin.execute("RESET search_path")
    assert shape(admin, other_schema, LIBRARY_TABLES) == shape(admin, schema, LIBRARY_TABLES)
    assert versions(admin, other_schema) == {LEVERS_REVISION}
    assert team.store(schema=other_schema).check_schema().ok


def test_adjust_revision_handles_a_renamed_kind_check(admin, team, schema):
    """The kind CHECK is found by its column, whatever a long prefix made PostgreSQL call it."""
    prefix = "p" * 51  # the longest: PostgreSQL cuts the CHECK's generated name
    team.options["table_prefix"] = prefix
    team.upgrade(TABLES_REVISION)
    team.upgrade(ADJUST_REVISION)
    checks = admin.execute(
        "SELECT pg_get_constraintdef(k.oid) FROM pg_constraint AS k "
        "WHERE k.conrelid = to_regclass(%s) AND k.contype = 'c'",
        (f'"{schema}"."{prefix}ledger"',),
    ).fetchall()
    assert len(checks) == 1
    assert "'adjust'" in checks[0][0]
    team.downgrade(TABLES_REVISION)
    team.upgrade("heads")
    with PostgresStore(DSN, schema=schema, table_prefix=prefix, create=False, max_size=1) as store:
        assert store.check_schema().ok


def test_names_with_quotes_and_colons_are_quoted(admin, team, schema):
    """Any prefix the store takes works: quoted as an identifier, never a bind parameter
    (the store refuses '%', which psycopg would read as a placeholder)."""
    prefix = 'o\'k:x "q" 5_'
    team.options.update(table_prefix=prefix, users_table="users", add_users_columns=True)
    team.add_users(columns="")
    team.upgrade("app@head")
    team.upgrade("heads")
    assert {f"{prefix}ledger", f"{prefix}request_keys"} <= tables(admin, schema)
    assert "daily_action_counts" in columns(admin, schema, "users")
    store = team.store(table_prefix=prefix, users_table=f"{schema}.users")
    assert store.check_schema().ok
    store.close()
    team.downgrade("mikoshi_progression@base")
    assert tables(admin, schema) == {"alembic_version", "characters", "users"}
    assert columns(admin, schema, "users") == ["id", "name"]


def test_the_levers_revision_keeps_the_rows_and_refuses_to_drop_timezone_moves(admin, team, schema):
    """mikoshi_0004: from the tables of 0003 to the levers' with every row kept; the store
    keeps levers then; the downgrade refuses while a time-zone move is in the ledger, and
    without one takes the tables back to what a store of version 1 works on."""
    from mikoshi_progression.sqlalchemy.migrations import USERS_COLUMNS_REVISION
    from mikoshi_progression.testing.store_contract import LEVERS

    team.upgrade(USERS_COLUMNS_REVISION)
    store = team.store()
    assert store.check_schema().behind
    assert award(store, "alice", "k-1") == 30
    before = ledger_rows(admin, schema)
    team.upgrade("heads")
    assert ledger_rows(admin, schema) == before
    store = team.store()
    assert store.check_schema().ok
    service = ProgressionService(store, config=LEVERS)
    service.set_timezone("alice", "Asia/Tokyo")
    assert service.award("bob", "daily_chat").state.streak == 1
    with pytest.raises(sa.exc.IntegrityError, match=r"holds 1 row\(s\) of kind 'timezone'"):
        team.downgrade(USERS_COLUMNS_REVISION)
    assert "events" in columns(admin, schema, "progression_ledger")  # rolled back
    admin.execute(
        sql.SQL("DELETE FROM {} WHERE kind = 'timezone'").format(
            sql.Identifier(schema, "progression_ledger")
        )
    )
    team.downgrade(USERS_COLUMNS_REVISION)
    assert "streak" not in columns(admin, schema, "progression_state")
    assert "progression_migrations" not in tables(admin, schema)
    report = team.store().check_schema()
    assert report.behind
    assert award(team.store(), "carol", "k-2") == 30
