"""Alembic revisions of the library's PostgreSQL tables, for a team's own Alembic history.

The revisions in :data:`VERSIONS_DIR` form their own branch, labelled
``mikoshi_progression``, rooted at ``base``: add the directory to your
``version_locations`` (:data:`VERSION_LOCATION` in ``alembic.ini``, or :func:`add_to` on a
``Config``) and ``alembic upgrade heads`` runs them beside your own revisions.

======================  =======================================================================
``mikoshi_0001``        the tables as ``PostgresStore.create_schema()`` of 0.1.0 creates them
``mikoshi_0002``        the ledger's nullable ``reason`` and the ``'adjust'`` kind
``mikoshi_0003``        in place, opt-in: the progression columns ``users`` lacks
``mikoshi_0004``        the designer levers: state columns, ledger events, the ``'timezone'`` kind
======================  =======================================================================

Options are keys of Alembic's main section (``[alembic]`` of ``alembic.ini``, or
``[tool.alembic]`` of ``pyproject.toml`` with Alembic 1.16+), read by every revision
when it runs: ``mikoshi_progression.schema``, ``mikoshi_progression.table_prefix``,
``mikoshi_progression.users_table`` and ``mikoshi_progression.add_users_columns``, with
the meanings of the store's options (:class:`._options.MigrationOptions`). Set them
once, before the first upgrade, and never change them: a downgrade must find the tables
where the upgrade put them. See ``docs/migrations.md``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..schema import LEVER_COLUMNS
from ._options import (
    DEFAULT_TABLE_PREFIX,
    OPTION_NAMES,
    OPTION_PREFIX,
    MigrationOptions,
    options_from,
    raw_options,
)

if TYPE_CHECKING:
    from alembic.config import Config

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]
"""Alembic's ``include_object`` hook: ``(object, name, type_, reflected, compare_to)``."""

__all__ = [
    "ADJUST_REVISION",
    "BRANCH_LABEL",
    "DEFAULT_TABLE_PREFIX",
    "LEVERS_REVISION",
    "OPTION_NAMES",
    "OPTION_PREFIX",
    "REVISIONS",
    "TABLES_REVISION",
    "USERS_COLUMNS_REVISION",
    "VERSIONS_DIR",
    "VERSION_LOCATION",
    "MigrationOptions",
    "add_to",
    "include_object",
    "migration_options",
]

BRANCH_LABEL = "mikoshi_progression"
"""The branch label of the library's revisions: ``alembic upgrade mikoshi_progression@head``."""
TABLES_REVISION = "mikoshi_0001"
"""The first revision: the tables as ``create_schema()`` of 0.1.0 makes them. A database
whose tables ``create_schema()`` made is stamped with it (``docs/migrations.md``)."""
ADJUST_REVISION = "mikoshi_0002"
"""The ledger's ``reason`` column and ``'adjust'`` kind."""
USERS_COLUMNS_REVISION = "mikoshi_0003"
"""In place, with ``add_users_columns``: the progression columns ``users`` lacks."""
LEVERS_REVISION = "mikoshi_0004"
"""The designer levers (schema version 2): the state's lever columns (in place, on
``users`` with ``add_users_columns``), the ledger's events, the ``'timezone'`` kind."""
REVISIONS = (TABLES_REVISION, ADJUST_REVISION, USERS_COLUMNS_REVISION, LEVERS_REVISION)
"""Every revision of the branch, oldest first."""

VERSIONS_DIR = Path(__file__).resolve().parent / "versions"
"""The directory of the library's revision files, for ``version_locations``."""
VERSION_LOCATION = "mikoshi_progression.sqlalchemy.migrations:versions"
"""The same directory as an Alembic package resource, for ``alembic.ini`` (needs a
``path_separator`` other than ``:``/``os`` on POSIX, which would split it)."""

_PROGRESSION_COLUMNS = frozenset(
    {
        "level",
        "exp",
        "last_chat_date",
        "daily_exp_gained",
        "last_exp_reset_date",
        "daily_action_counts",
        *LEVER_COLUMNS,
    }
)
_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}


def add_to(
    config: Config,
    *,
    schema: str | None = None,
    table_prefix: str | None = None,
    users_table: str | None = None,
    add_users_columns: bool | None = None,
) -> Config:
    """Add the library's revisions and options to an Alembic ``Config``; returns it.

    :data:`VERSIONS_DIR` joins ``version_locations`` (once); when the config listed none,
    your own ``<script_location>/versions``, Alembic's default, is kept beside it. An
    option given is set as ``mikoshi_progression.<name>``; one not given (``None``) is
    left as the config has it. All options together are checked at once.

    Use it where you build a ``Config`` in code (tests, a deployment script, an app that
    migrates on start): Alembic reads ``version_locations`` before ``env.py`` runs, so
    for the ``alembic`` command put them in ``alembic.ini`` instead.

    Raises:
        InvalidArgumentError: an option is not one the store would take, or the config
            has neither ``version_locations`` nor ``script_location``.
    """
    from ...errors import InvalidArgumentError

    given: dict[str, object] = {
        name: value
        for name, value in (
            ("schema", schema),
            ("table_prefix", table_prefix),
            ("users_table", users_table),
            ("add_users_columns", add_users_columns),
        )
        if value is not None
    }
    options_from({**raw_options(config), **given})  # checks the whole set
    for name, value in given.items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        config.set_main_option(OPTION_PREFIX + name, text.replace("%", "%%"))

    locations, separator = _version_locations(config)
    if locations is None:
        script_location = config.get_main_option("script_location")
        if not script_location:
            raise InvalidArgumentError(
                "config", "an Alembic config with script_location or version_locations"
            )
        locations = [f"{script_location.rstrip('/')}/versions"]
    if not any(_is_ours(location) for location in locations):
        locations.append(str(VERSIONS_DIR))
    if separator is None or any(separator in location for location in locations):
        _take_over_separator(config, locations)
        separator = _SEPARATORS[config.get_main_option("path_separator", "os")]
    config.set_main_option(
        "version_locations", separator.join(p.replace("%", "%%") for p in locations)
    )
    return config


def _version_locations(config: Config) -> tuple[list[str] | None, str | None]:
    """The config's version locations and the separator it declares (``None``: none)."""
    separator = None
    for name in ("path_separator", "version_path_separator"):
        value = config.get_main_option(name)
        if value is not None:
            separator = _SEPARATORS.get(value)
            break
    with warnings.catch_warnings():  # the legacy split's deprecation warning: we fix it below
        warnings.simplefilter("ignore", DeprecationWarning)
        listed = config.get_version_locations_list()
    return (list(listed) if listed else None), separator


def _take_over_separator(config: Config, locations: list[str]) -> None:
    """Declare a ``path_separator`` none of the paths contains, keeping how Alembic split
    ``prepend_sys_path`` before (``os``, else ``newline``)."""
    # Alembic before 1.16 always splits prepend_sys_path its own way: leave it then.
    read_prepend = getattr(config, "get_prepend_sys_paths_list", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        prepend: list[str] | None = read_prepend() if read_prepend is not None else None
    paths = [*locations, *(prepend or ())]
    name = "os" if not any(os.pathsep in p for p in paths) else "newline"
    config.set_main_option("path_separator", name)
    config.set_main_option("version_path_separator", name)  # Alembic before 1.16
    if prepend:
        joined = _SEPARATORS[name].join(p.replace("%", "%%") for p in prepend)
        config.set_main_option("prepend_sys_path", joined)


def _is_ours(location: str) -> bool:
    if location.replace(" ", "") == VERSION_LOCATION:
        return True
    try:
        return Path(location).resolve() == VERSIONS_DIR
    except OSError:  # pragma: no cover - a path the OS cannot even resolve
        return False


def migration_options(config: Config) -> MigrationOptions:
    """The options the library's revisions will read from ``config``, checked.

    Raises:
        InvalidArgumentError: an unknown ``mikoshi_progression.*`` key, or a value the
            store would not take.
    """
    return options_from(raw_options(config))


def include_object(config: Config, also: IncludeObject | None = None) -> IncludeObject:
    """An ``include_object`` hook for ``context.configure()`` that keeps autogenerate off
    the library's schema, so ``alembic revision --autogenerate`` never proposes to drop
    what your ``MetaData`` does not declare.

    It leaves out, when the database has them and your ``MetaData`` does not: the
    library's tables (their indexes and constraints with them) and, with
    ``add_users_columns``, the progression columns of ``users_table``. Everything else
    goes to ``also`` (your own hook), or is included. Autogenerate calls the
    connection's default schema ``None``, so a table of the library's name there counts
    as the library's too.
    """
    options = migration_options(config)
    tables = set(options.table_names())
    users = options.users_table.split(".") if options.users_table else None

    def ours(schema: str | None, wanted: str | None) -> bool:
        return schema is None or schema == wanted

    def include(item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if reflected and compare_to is None:
            if type_ == "table" and name in tables and ours(item.schema, options.schema):
                return False
            if (
                type_ == "column"
                and options.add_users_columns
                and users is not None
                and name in _PROGRESSION_COLUMNS
                and item.table.name == users[-1]
                and (len(users) == 1 or ours(item.table.schema, users[0]))
            ):
                return False
        return also(item, name, type_, reflected, compare_to) if also is not None else True

    return include
