"""The library's tables as SQLAlchemy ``Table`` objects, for ``create_all`` and Alembic.

:func:`progression_tables` describes exactly what
:meth:`~mikoshi_progression.stores.postgres.PostgresStore.create_schema` creates (names,
types, defaults, keys, the unique key index and the ``kind`` check), so a team can put
the tables into its own ``MetaData`` and let Alembic's autogenerate see them::

    from mikoshi_progression.sqlalchemy import progression_tables

    progression_tables(Base.metadata)          # in env.py, before target_metadata is used

In place (``users_table="users"``), the platform's ``users`` table is never part of the
library's ``MetaData`` (autogenerate must neither create nor drop it): the store reaches
it through a lightweight ``table()`` clause of the progression columns it reads and
writes (:attr:`Tables.users`).

The same tables work on SQLite (``JSONB`` becomes ``JSON`` there, and moments are kept
as UTC text by SQLAlchemy's ``DateTime``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    column,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.types import TypeEngine

from ..core.state import LEVER_FIELDS
from ..errors import InvalidArgumentError

__all__ = [
    "LEDGER_KINDS",
    "LEVER_COLUMNS",
    "Tables",
    "progression_metadata",
    "progression_tables",
]

LEDGER_KINDS = ("import", "day", "award", "revoke", "adjust", "timezone")
"""What the ledger's ``kind`` check admits (``adjust``: an operator's correction;
``timezone``: a user's move to another time zone)."""

ADDED_LEDGER_COLUMNS = ("actor", "target", "reason")
"""Ledger columns of later releases: :meth:`SQLAlchemyStore.create_schema` adds them to a
ledger created before them (as the other stores do)."""
FEED_COLUMNS = ("events", "txid")
"""The ledger columns of schema version 2: an entry's events, and the events feed's order."""
LEVER_COLUMNS = LEVER_FIELDS
"""The state columns of schema version 2 (the designer levers), named after the state's
fields: last in the state table, where migrating a table of version 1 adds them."""


def _json(*, none_as_null: bool = False) -> TypeEngine[Any]:
    """``jsonb`` on PostgreSQL, ``JSON`` elsewhere."""
    return JSON(none_as_null=none_as_null).with_variant(
        JSONB(none_as_null=none_as_null), "postgresql"
    )


def _moment() -> DateTime:
    return DateTime(timezone=True)


@dataclass(frozen=True, slots=True)
class Tables:
    """The tables one store uses.

    Attributes:
        metadata: The ``MetaData`` holding the library's own tables.
        state: The own state table (``None`` in place).
        ledger: The ledger (one row per change).
        request_keys: The request keys callers claimed (``claim_key``).
        migrations: The versions of the schema applied, and when (``migrate``).
        users: In place, the platform's table as a lightweight ``table()`` clause of its
            id and progression columns (never in :attr:`metadata`); ``None`` otherwise.
        id_column: In place, the key column of ``users``.
    """

    metadata: MetaData
    state: Table | None
    ledger: Table
    request_keys: Table
    migrations: Table
    users: TableClause | None = None
    id_column: str = "id"

    @property
    def own(self) -> tuple[Table, ...]:
        """The library's own tables, in creation order."""
        first = () if self.state is None else (self.state,)
        return (*first, self.ledger, self.request_keys, self.migrations)


def progression_tables(
    metadata: MetaData | None = None,
    *,
    schema: str | None = None,
    table_prefix: str = "progression_",
    users_table: str | None = None,
    id_column: str = "id",
) -> Tables:
    """Describe the library's tables in ``metadata`` (a new ``MetaData`` by default).

    Args:
        metadata: Add the tables to this ``MetaData`` (your application's, so Alembic's
            autogenerate sees them); a new one if ``None``.
        schema: The PostgreSQL schema of the library's tables (``None``: the search path).
        table_prefix: Prefix of the table names (``progression_state``,
            ``progression_ledger``, ``progression_request_keys``,
            ``progression_migrations``).
        users_table: In place: the platform's table (``"users"`` or ``"schema.users"``)
            whose progression columns hold the state; no state table is described then.
        id_column: In place: the key column of ``users_table``.

    Raises:
        InvalidArgumentError: a name PostgreSQL would cut (over 63 bytes), or tables
            already in ``metadata`` under these names.
    """
    _check_names(schema, users_table, id_column, table_prefix)
    metadata = MetaData() if metadata is None else metadata
    p = table_prefix
    for name in (f"{p}state", f"{p}ledger", f"{p}request_keys", f"{p}migrations"):
        key = f"{schema}.{name}" if schema else name
        if key in metadata.tables:
            raise InvalidArgumentError(
                "metadata", f"a MetaData without a table {key!r} (described twice?)", metadata
            )
    state: Table | None = None
    users: TableClause | None = None
    if users_table is None:
        state = Table(
            f"{p}state",
            metadata,
            Column("user_id", Text, primary_key=True),
            Column("level", Integer, nullable=False, server_default=text("1")),
            Column("exp", BigInteger, nullable=False, server_default=text("0")),
            Column("last_chat_date", _moment()),
            Column("daily_exp_gained", BigInteger, nullable=False, server_default=text("0")),
            Column("last_exp_reset_date", _moment()),
            Column("daily_action_counts", _json(), nullable=False, server_default=text("'{}'")),
            Column("version", BigInteger, nullable=False, server_default=text("1")),
            Column("seq", BigInteger, nullable=False, server_default=text("0")),
            *_lever_columns(in_place=False),
            Index(f"{p}state_day", "last_exp_reset_date"),
            schema=schema,
        )
    else:
        users_schema, _, users_name = users_table.rpartition(".")
        users = table(
            users_name,
            column(id_column),
            column("level", Integer),
            column("exp", BigInteger),
            column("last_chat_date", Date),
            column("daily_exp_gained", BigInteger),
            column("last_exp_reset_date", _moment()),
            column("daily_action_counts", _json()),
            *(column(c.name, c.type) for c in _lever_columns(in_place=True)),
            schema=users_schema or None,
        )
    kinds = ", ".join(f"'{kind}'" for kind in LEDGER_KINDS)
    ledger = Table(
        f"{p}ledger",
        metadata,
        Column("user_id", Text, nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("kind", Text, nullable=False),
        Column("action", Text, nullable=False, server_default=text("''")),
        Column("exp_delta", BigInteger, nullable=False),
        Column("level_before", Integer, nullable=False),
        Column("level_after", Integer, nullable=False),
        Column("key", Text),
        Column("at", _moment(), nullable=False),
        Column("config_fingerprint", Text, nullable=False, server_default=text("''")),
        Column("state_after", _json(), nullable=False),
        Column("outcome", Text, nullable=False, server_default=text("''")),
        Column("actor", Text),
        Column("target", Text),
        Column("reason", Text),
        # NULL when an entry has no events (not JSON null): the feed's index skips them.
        Column("events", _json(none_as_null=True)),
        # The writing transaction's id on PostgreSQL (a per-write counter on SQLite): the
        # events feed's order.
        Column("txid", BigInteger),
        PrimaryKeyConstraint("user_id", "seq"),
        # The name PostgresStore.create_schema() and the migrations give the check.
        CheckConstraint(f"kind IN ({kinds})", name=f"{p}ledger_kinds"),
        schema=schema,
    )
    Index(
        f"{p}ledger_key",
        ledger.c.user_id,
        ledger.c.kind,
        ledger.c.key,
        unique=True,
        postgresql_where=ledger.c.key.isnot(None),
        sqlite_where=ledger.c.key.isnot(None),
    )
    feed = ledger.c.events.isnot(None) & ledger.c.txid.isnot(None)
    Index(
        f"{p}ledger_feed",
        ledger.c.txid,
        ledger.c.user_id,
        ledger.c.seq,
        postgresql_where=feed,
        sqlite_where=feed,
    )
    request_keys = Table(
        f"{p}request_keys",
        metadata,
        Column("scope", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("request", Text, nullable=False),
        Column("at", _moment(), nullable=False),
        PrimaryKeyConstraint("scope", "key"),
        schema=schema,
    )
    migrations = Table(
        f"{p}migrations",
        metadata,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("description", Text, nullable=False),
        Column("applied_at", _moment(), nullable=False, server_default=text("CURRENT_TIMESTAMP")),
        schema=schema,
    )
    return Tables(metadata, state, ledger, request_keys, migrations, users, id_column)


def _lever_columns(*, in_place: bool) -> list[Column[Any]]:
    """The state columns of the designer levers: as the library's own table has them (counts
    and JSON ``NOT NULL`` with defaults), or in place as ``migrate`` adds them to ``users``
    (nullable, with the defaults)."""
    required = not in_place
    return [
        Column("timezone", Text),
        Column("day_extended_until", _moment()),
        Column("streak", BigInteger, nullable=not required, server_default=text("0")),
        Column("best_streak", BigInteger, nullable=not required, server_default=text("0")),
        Column("last_streak_day", Date),
        Column("streak_freezes", BigInteger, nullable=not required, server_default=text("0")),
        Column("milestones", _json(), nullable=not required, server_default=text("'[]'")),
        Column("lifetime_counts", _json(), nullable=not required, server_default=text("'{}'")),
    ]


_IDENTIFIER_BYTES = 63
"""PostgreSQL's longest identifier: longer names are silently cut (two could collide)."""


def _check_names(schema: object, users_table: object, id_column: object, prefix: object) -> None:
    """Refuse names PostgreSQL would cut to 63 bytes (as ``PostgresStore`` does)."""

    def check(field: str, name: object, room: int = _IDENTIFIER_BYTES) -> None:
        if not isinstance(name, str) or not name or len(name.encode()) > room:
            raise InvalidArgumentError(
                field, f"a name of 1 to {room} bytes (PostgreSQL cuts longer names)", name
            )

    if schema is not None:
        check("schema", schema)
    if users_table is not None:
        parts = users_table.split(".") if isinstance(users_table, str) else [users_table]
        if len(parts) > 2:
            raise InvalidArgumentError("users_table", "a table name, or schema.table", users_table)
        for part in parts:
            check("users_table", part)
    check("id_column", id_column)
    room = _IDENTIFIER_BYTES - len("request_keys")
    if not isinstance(prefix, str) or len(prefix.encode()) > room:
        raise InvalidArgumentError(
            "table_prefix", f"at most {room} bytes, so that every table name fits", prefix
        )


def progression_metadata(
    *,
    schema: str | None = None,
    table_prefix: str = "progression_",
    users_table: str | None = None,
) -> MetaData:
    """A new ``MetaData`` holding only the library's tables (see :func:`progression_tables`).

    >>> sorted(progression_metadata().tables)  # doctest: +NORMALIZE_WHITESPACE
    ['progression_ledger', 'progression_migrations', 'progression_request_keys',
     'progression_state']
    >>> sorted(progression_metadata(users_table="users", schema="game").tables)
    ['game.progression_ledger', 'game.progression_migrations', 'game.progression_request_keys']
    """
    return progression_tables(
        schema=schema, table_prefix=table_prefix, users_table=users_table
    ).metadata
