"""The library's Alembic revisions without a database: the branch, the options, ``add_to``.

The revisions themselves run on PostgreSQL in ``test_migrations.py``.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

if os.environ.get("CI"):  # in CI a missing extra is a failure, never a skip
    import alembic
else:
    alembic = pytest.importorskip("alembic", reason="the [sqlalchemy] extra is not installed")

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import coerce_resource_to_filename

from mikoshi_progression.errors import InvalidArgumentError
from mikoshi_progression.sqlalchemy.migrations import (
    BRANCH_LABEL,
    REVISIONS,
    TABLES_REVISION,
    VERSION_LOCATION,
    VERSIONS_DIR,
    MigrationOptions,
    add_to,
    include_object,
    migration_options,
)

APP_REVISION = '''\
"""The team's own first revision."""
revision = "app_0001"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''


@pytest.fixture
def script_location(tmp_path: Path) -> Path:
    """A team's Alembic directory with one revision of its own in ``versions/``."""
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "migrations" / "versions" / "app_0001.py").write_text(APP_REVISION)
    return tmp_path / "migrations"


def revisions_seen(config: Config) -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def test_the_revisions_form_one_branch_with_its_label():
    """mikoshi_0001 <- mikoshi_0002 <- mikoshi_0003, rooted at base, labelled."""
    script = ScriptDirectory(str(VERSIONS_DIR.parent), version_locations=[str(VERSIONS_DIR)])
    assert script.get_bases() == [TABLES_REVISION]
    assert script.get_heads() == [REVISIONS[-1]]
    chain = [s.revision for s in script.walk_revisions("base", f"{BRANCH_LABEL}@head")]
    assert chain == list(reversed(REVISIONS))
    first = script.get_revision(TABLES_REVISION)
    assert first is not None
    assert first.branch_labels == {BRANCH_LABEL}
    assert script.get_revision(f"{BRANCH_LABEL}@{TABLES_REVISION}") == first


def test_the_package_resource_is_the_versions_directory():
    """VERSION_LOCATION, for alembic.ini, names VERSIONS_DIR."""
    assert coerce_resource_to_filename(VERSION_LOCATION).resolve() == VERSIONS_DIR


def test_revisions_import_nothing_of_the_live_library():
    """Frozen history: a revision's DDL is its own; it may use the options helper only."""
    allowed = {
        "__future__",
        "collections.abc",
        "mikoshi_progression.sqlalchemy.migrations._options",
    }
    files = sorted(VERSIONS_DIR.glob("mikoshi_*.py"))
    assert [f.name.split("_")[1] for f in files] == [r.split("_")[1] for r in REVISIONS]
    for path in files:
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert imported <= allowed, (path.name, imported - allowed)


def test_add_to_keeps_the_teams_versions_and_adds_the_librarys_once(script_location):
    """Without version_locations, Alembic's default <script_location>/versions stays."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    add_to(config)
    add_to(config)  # idempotent
    locations = config.get_version_locations_list()
    assert locations == [f"{script_location}/versions", str(VERSIONS_DIR)]
    assert revisions_seen(config) == {"app_0001", *REVISIONS}


def test_add_to_recognises_the_package_resource_in_alembic_ini(tmp_path, script_location):
    """An alembic.ini that already lists VERSION_LOCATION gets it once, not twice."""
    ini = tmp_path / "alembic.ini"
    ini.write_text(
        "[alembic]\n"
        f"script_location = {script_location}\n"
        "path_separator = newline\n"
        "version_locations =\n"
        "    %(here)s/migrations/versions\n"
        f"    {VERSION_LOCATION}\n"
        "mikoshi_progression.table_prefix = team_\n"
    )
    config = Config(str(ini))
    assert revisions_seen(config) == {"app_0001", *REVISIONS}
    add_to(config, schema="progression")
    assert config.get_version_locations_list() == [
        f"{tmp_path}/migrations/versions",
        VERSION_LOCATION,
    ]
    assert migration_options(config) == MigrationOptions(schema="progression", table_prefix="team_")


def test_add_to_on_a_legacy_config_declares_a_separator_and_keeps_prepend_sys_path(
    tmp_path, script_location
):
    """No path_separator: Alembic would split on spaces and warn; add_to declares one,
    and prepend_sys_path keeps the paths it meant."""
    ini = tmp_path / "alembic.ini"
    ini.write_text(
        "[alembic]\n"
        f"script_location = {script_location}\n"
        "prepend_sys_path = . src\n"
        f"version_locations = {script_location}/versions\n"
    )
    config = Config(str(ini))
    add_to(config)
    assert config.get_main_option("path_separator") == "os"
    assert config.get_version_locations_list() == [
        f"{script_location}/versions",
        str(VERSIONS_DIR),
    ]
    assert config.get_prepend_sys_paths_list() == [".", "src"]


def test_add_to_sets_options_and_checks_them_all_first(script_location):
    """Options given are written as mikoshi_progression.*; a bad set writes nothing."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    add_to(config, users_table="platform.users", add_users_columns=True, table_prefix="")
    assert config.get_main_option("mikoshi_progression.add_users_columns") == "true"
    assert migration_options(config) == MigrationOptions(
        table_prefix="", users_table="platform.users", add_users_columns=True
    )
    fresh = Config()
    fresh.set_main_option("script_location", str(script_location))
    with pytest.raises(InvalidArgumentError, match="add_users_columns"):
        add_to(fresh, add_users_columns=True)  # not in place
    assert fresh.get_main_option("mikoshi_progression.add_users_columns") is None
    assert fresh.get_main_option("version_locations") is None


def test_add_to_needs_a_script_location():
    """A config that names no revisions at all is a mistake, said so."""
    with pytest.raises(InvalidArgumentError, match="script_location"):
        add_to(Config())


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param({"tabel_prefix": "x_"}, "mikoshi_progression.tabel_prefix", id="typo"),
        pytest.param({"table_prefix": "p" * 52}, "table_prefix", id="long-prefix"),
        pytest.param({"schema": "s" * 64}, "schema", id="long-schema"),
        pytest.param({"users_table": "a.b.c"}, "users_table", id="three-parts"),
        pytest.param({"users_table": "a."}, "users_table", id="empty-part"),
        pytest.param({"add_users_columns": "maybe"}, "add_users_columns", id="not-a-bool"),
        pytest.param({"add_users_columns": "yes"}, "add_users_columns", id="not-in-place"),
    ],
)
def test_options_the_store_would_refuse_are_refused(raw, field):
    """The same limits as PostgresStore's, named by the option's key."""
    config = Config()
    for name, value in raw.items():
        config.set_main_option(f"mikoshi_progression.{name}", value)
    with pytest.raises(InvalidArgumentError, match=field):
        migration_options(config)


def test_options_default_to_the_stores_defaults():
    """No option: own tables named progression_*, where search_path says."""
    options = migration_options(Config())
    assert options == MigrationOptions()
    assert options.table_names() == [
        "progression_state",
        "progression_ledger",
        "progression_request_keys",
        "progression_migrations",
    ]
    assert options.table("ledger") == '"progression_ledger"'
    in_place = MigrationOptions(schema='we"ird', users_table="platform.users")
    assert in_place.table_names() == [
        "progression_ledger",
        "progression_request_keys",
        "progression_migrations",
    ]
    assert in_place.table("ledger") == '"we""ird"."progression_ledger"'
    assert in_place.users == '"platform"."users"'


def test_options_can_live_in_pyproject_toml(tmp_path):
    """[tool.alembic] of pyproject.toml (Alembic 1.16+): quoted keys, a real boolean."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[tool.alembic]\n"
        '"mikoshi_progression.users_table" = "users"\n'
        '"mikoshi_progression.add_users_columns" = true\n'
    )
    config = Config(toml_file=str(pyproject))
    assert migration_options(config) == MigrationOptions(
        users_table="users", add_users_columns=True
    )


def test_include_object_leaves_out_only_what_the_library_owns():
    """Reflected library tables and added users columns, absent from the model, are
    left out; the same names in the model, or in another schema, are not."""
    config = Config()
    add_options = {"schema": "progression", "users_table": "users", "add_users_columns": "true"}
    for name, value in add_options.items():
        config.set_main_option(f"mikoshi_progression.{name}", value)
    calls: list[str | None] = []

    def theirs(item, name, type_, reflected, compare_to):
        calls.append(name)
        return name != "secret"

    hook = include_object(config, theirs)
    meta = sa.MetaData()
    ledger = sa.Table("progression_ledger", meta, schema="progression")
    elsewhere = sa.Table("progression_ledger", meta, schema="public")
    users = sa.Table("users", meta, sa.Column("exp", sa.Integer), sa.Column("name", sa.Text))
    assert not hook(ledger, ledger.name, "table", True, None)
    assert hook(ledger, ledger.name, "table", True, ledger)  # the model declares it
    assert hook(elsewhere, elsewhere.name, "table", True, None)
    assert not hook(users.c.exp, "exp", "column", True, None)
    assert hook(users.c.exp, "exp", "column", True, users.c.exp)
    assert hook(users.c.name, "name", "column", True, None)
    assert not hook(users, "secret", "table", True, None)
    assert calls == ["progression_ledger", "progression_ledger", "exp", "name", "secret"]
