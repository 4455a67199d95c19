"""The options of the library's migrations, read from the Alembic config, and SQL helpers.

The revisions in ``versions/`` depend on this module for the names of the tables (from
the options) and for running their statements. It may grow, but what an option means
and the names it gives must never change: a revision applied long ago has to find its
tables under the same names when it is downgraded. The DDL itself lives in each
revision, frozen; nothing here reads the library's live models or statements.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import op

from ...errors import InvalidArgumentError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "DEFAULT_TABLE_PREFIX",
    "OPTION_NAMES",
    "OPTION_PREFIX",
    "MigrationOptions",
    "current_options",
    "do_block",
    "execute",
    "literal",
    "options_from",
    "quote",
    "raw_options",
]

OPTION_PREFIX = "mikoshi_progression."
"""The options are keys ``mikoshi_progression.<name>`` of Alembic's main section."""
OPTION_NAMES = ("schema", "table_prefix", "users_table", "add_users_columns")
DEFAULT_TABLE_PREFIX = "progression_"
_IDENTIFIER_BYTES = 63
"""PostgreSQL's longest identifier (NAMEDATALEN - 1): longer names are silently cut."""
_LONGEST_SUFFIX = "request_keys"
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True, slots=True)
class MigrationOptions:
    """Where the library's migrations put its tables: the store's own options.

    Attributes:
        schema: The schema of the library's tables (created if missing, never dropped);
            ``None``: where ``search_path`` says, like ``PostgresStore(schema=None)``.
        table_prefix: Prefix of the table names (``<prefix>state``, ``<prefix>ledger``,
            ``<prefix>request_keys``); at most 51 bytes.
        users_table: In place: the platform's table (``"users"`` or
            ``"platform.users"``) carries the state, so no state table is created.
        add_users_columns: In place, add the progression columns ``users`` lacks
            (revision ``mikoshi_0003``; its downgrade drops only those it added).
    """

    schema: str | None = None
    table_prefix: str = DEFAULT_TABLE_PREFIX
    users_table: str | None = None
    add_users_columns: bool = False

    def __post_init__(self) -> None:
        if self.schema is not None:
            _check_name(OPTION_PREFIX + "schema", self.schema)
        users_table: object = self.users_table
        if users_table is not None:
            field = OPTION_PREFIX + "users_table"
            parts = users_table.split(".") if isinstance(users_table, str) else [users_table]
            if len(parts) > 2:
                raise InvalidArgumentError(field, "a table name, or schema.table", users_table)
            for part in parts:
                _check_name(field, part)
        room = _IDENTIFIER_BYTES - len(_LONGEST_SUFFIX)
        prefix: object = self.table_prefix
        if not isinstance(prefix, str) or len(prefix.encode()) > room:
            raise InvalidArgumentError(
                OPTION_PREFIX + "table_prefix",
                f"at most {room} bytes, so that '<prefix>{_LONGEST_SUFFIX}' fits "
                f"PostgreSQL's {_IDENTIFIER_BYTES}-byte names",
                prefix,
            )
        if not isinstance(self.add_users_columns, bool):
            raise InvalidArgumentError(
                OPTION_PREFIX + "add_users_columns", "true or false", self.add_users_columns
            )
        if self.add_users_columns and self.users_table is None:
            raise InvalidArgumentError(
                OPTION_PREFIX + "add_users_columns",
                f"false unless {OPTION_PREFIX}users_table is set (the columns go in place, "
                "on the platform's users table)",
                self.add_users_columns,
            )

    @property
    def in_place(self) -> bool:
        """Whether the platform's ``users`` table carries the state."""
        return self.users_table is not None

    def table_names(self) -> list[str]:
        """The tables the library's revisions create, unqualified."""
        own = () if self.in_place else ("state",)
        tables = (*own, "ledger", "request_keys", "migrations")
        return [self.table_prefix + table for table in tables]

    def table(self, suffix: str) -> str:
        """The quoted, schema-qualified name of the library's table ``<prefix><suffix>``."""
        name = quote(self.table_prefix + suffix)
        return f"{quote(self.schema)}.{name}" if self.schema is not None else name

    def index(self, suffix: str) -> str:
        """The quoted name of the library's index ``<prefix><suffix>`` (in its table's schema)."""
        return quote(self.table_prefix + suffix)

    @property
    def users(self) -> str:
        """The quoted (maybe schema-qualified) name of ``users_table``."""
        if self.users_table is None:
            raise InvalidArgumentError(OPTION_PREFIX + "users_table", "set (in place)")
        return ".".join(quote(part) for part in self.users_table.split("."))


def _check_name(field: str, name: object) -> None:
    if not isinstance(name, str) or not name or len(name.encode()) > _IDENTIFIER_BYTES:
        raise InvalidArgumentError(
            field,
            f"a name of 1 to {_IDENTIFIER_BYTES} bytes (PostgreSQL cuts longer names)",
            name,
        )


def raw_options(config: Config) -> dict[str, object]:
    """The ``mikoshi_progression.*`` keys of the config's main section (``alembic.ini``,
    or ``Config.set_main_option``), then of ``[tool.alembic]`` in ``pyproject.toml``
    (Alembic 1.16+), by name without the prefix; an unknown name is refused."""
    found: dict[str, object] = {}
    for key, value in _config_items(config):
        if not key.startswith(OPTION_PREFIX):
            continue
        name = key.removeprefix(OPTION_PREFIX)
        if name not in OPTION_NAMES:
            raise InvalidArgumentError(
                key, "one of " + ", ".join(OPTION_PREFIX + n for n in OPTION_NAMES) + " (a typo?)"
            )
        found.setdefault(name, value)
    return found


def _config_items(config: Config) -> Iterator[tuple[str, object]]:
    parser = config.file_config
    section = config.config_ini_section
    if parser.has_section(section):
        for key in parser.options(section):
            if key.startswith(OPTION_PREFIX):
                yield key, parser.get(section, key)
    toml: Mapping[str, Any] = getattr(config, "toml_alembic_config", None) or {}
    yield from toml.items()


def options_from(raw: Mapping[str, object]) -> MigrationOptions:
    """:class:`MigrationOptions` from option values as a config holds them (text)."""

    def text(name: str) -> str | None:
        value = raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise InvalidArgumentError(OPTION_PREFIX + name, "a name", value)
        return value.strip()

    prefix = raw.get("table_prefix", DEFAULT_TABLE_PREFIX)
    if isinstance(prefix, str):
        prefix = prefix.strip()
    add: object = raw.get("add_users_columns", False)
    if isinstance(add, str):
        word = add.strip().lower()
        if word not in _TRUE | _FALSE:
            raise InvalidArgumentError(OPTION_PREFIX + "add_users_columns", "true or false", add)
        add = word in _TRUE
    return MigrationOptions(
        schema=text("schema"),
        table_prefix=prefix,  # type: ignore[arg-type]  # checked by MigrationOptions
        users_table=text("users_table"),
        add_users_columns=add,  # type: ignore[arg-type]  # checked by MigrationOptions
    )


def current_options() -> MigrationOptions:
    """The options of the migration running now (``alembic.context.config``)."""
    from alembic import context

    return options_from(raw_options(context.config))


# --- SQL ------------------------------------------------------------------------------------


def quote(name: str) -> str:
    """``name`` as a quoted PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a PostgreSQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def do_block(body: str, declare: str = "") -> str:
    """A PL/pgSQL ``DO`` block (runs online and in ``--sql`` output alike)."""
    tag, n = "$mikoshi$", 0
    while tag in body or tag in declare:
        n += 1
        tag = f"$mikoshi{n}$"
    declarations = f"DECLARE\n{declare}\n" if declare else ""
    return f"DO {tag}\n{declarations}BEGIN\n{body}\nEND\n{tag}"


_BIND = re.compile(r"(?<![:\w\\]):(?=\w)")


def execute(statement: str) -> None:
    """Run ``statement`` through Alembic, as plain SQL: a ``:name`` in it (inside a quoted
    identifier, say) is not a bound parameter."""
    op.execute(sa.text(_BIND.sub(r"\\:", statement)))
