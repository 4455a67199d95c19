"""``SQLAlchemyStore``: a :class:`~mikoshi_progression.stores.ProgressStore` on a SQLAlchemy
``Engine``, that also runs an award inside the caller's own transaction (``join``).

Every statement and every decoded row comes from :mod:`._plans` (shared with the async
store); this module only runs plans on a ``Connection``.

>>> from sqlalchemy import create_engine
>>> from mikoshi_progression.service import ProgressionService
>>> store = SQLAlchemyStore(create_engine("sqlite://"))
>>> service = ProgressionService(store)
>>> service.award("u1", "create_character", key="req-1").exp_added
30
>>> service.award("u1", "create_character", key="req-1").exp_added  # a retry: the first result
30
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from ..core.days import require_aware
from ..core.identity import check_id
from ..core.state import ProgressState
from ..errors import InvalidArgumentError, SchemaOutdatedError, StoreError
from ..stores._feed import (
    EventsPage,
)
from ..stores.base import (
    LedgerEntry,
    SchemaReport,
    Snapshot,
    StaleVersionError,
    StoreTransaction,
    UserActivity,
    at_daily_cap,
    rank_activity,
)
from . import _ddl, _plans, _reads
from ._options import Options, stored_form
from ._plans import Plan, wrap

__all__ = ["SQLAlchemyStore", "run"]

T = TypeVar("T")


def run(conn: Connection, plan: Plan[T]) -> T:
    """Run ``plan`` on ``conn``: each step's statement, its rows sent back; any failure
    raised as the library's error."""
    try:
        step = next(plan)
        while True:
            try:
                result = conn.execute(step.statement, step.params)
                rows: Sequence[Any] = result.all() if result.returns_rows else ()
            except SQLAlchemyError as exc:
                raise wrap(exc, step.doing, writing=step.writing) from exc
            step = plan.send(rows)
    except StopIteration as done:
        value: T = done.value
        return value


def _sync(conn: Connection, work: Callable[[Connection], T], doing: str) -> T:
    try:
        return work(conn)
    except SQLAlchemyError as exc:
        raise wrap(exc, doing) from exc


class SQLAlchemyStore:
    """Progression state and ledger through a SQLAlchemy ``Engine`` (PostgreSQL or SQLite).

    Its own transactions (:meth:`transaction`) take a connection of the engine and
    commit on a clean exit; :meth:`join` runs inside a transaction the caller holds
    (a ``Session`` or ``Connection``), in a SAVEPOINT, and never commits or rolls back
    the caller's transaction. On PostgreSQL the user's row is loaded ``FOR UPDATE``; on
    SQLite every transaction takes the write lock before it reads (see
    :func:`._plans.begin`). Every write is version-checked all the same.

    Args:
        engine: An ``Engine`` (the store never disposes it), or a SQLAlchemy URL
            (``postgresql+psycopg://...``, ``sqlite:///progress.db``) for an engine of
            the store's own, disposed by :meth:`close`.
        schema: The PostgreSQL schema of the library's tables (``None``: the search path).
        table_prefix: Prefix of the library's table names.
        users_table: In place (PostgreSQL only): the platform's table whose progression
            columns hold the state (``"users"`` or ``"schema.users"``).
        id_column: In place: the key column of ``users_table``.
        tables: The :class:`~mikoshi_progression.sqlalchemy.Tables` to use (from
            :func:`~mikoshi_progression.sqlalchemy.progression_tables`, in your own
            ``MetaData``) instead of describing them from the three options above.
        create: Create the library's missing tables when the store opens (the default).

    Raises:
        InvalidArgumentError: a dialect other than PostgreSQL and SQLite, in place on
            SQLite, or a bad name.
        StoreUnavailableError: the database cannot be reached.
        StoreError: in place, ``users_table`` or its ``id_column`` does not exist.
    """

    def __init__(
        self,
        engine: Engine | str,
        *,
        schema: str | None = None,
        table_prefix: str = "progression_",
        users_table: str | None = None,
        id_column: str = "id",
        tables: Any = None,
        create: bool = True,
    ) -> None:
        self._owns_engine = not isinstance(engine, Engine)
        if isinstance(engine, Engine):
            self.engine = engine
        else:
            try:
                self.engine = create_engine(engine)
            except (ArgumentError, ImportError, ValueError) as exc:
                raise InvalidArgumentError(
                    "engine", "an Engine or a SQLAlchemy URL", engine
                ) from exc
        self._options = Options.build(
            self.engine.dialect.name, schema, table_prefix, users_table, id_column, tables
        )
        self.tables = self._options.layout.tables
        self._closed = False
        try:
            if self._options.layout.in_place:
                with self._connect() as conn:
                    self._options.id_type_found(run(conn, _plans.find_id_type(self._layout)))
            behind = False
            if create:
                with self._connect() as conn:
                    behind = _sync(
                        conn, lambda c: _ddl.schema_behind(self.tables, c), "check the schema"
                    )
            if behind:
                self.create_schema()
            else:
                with self._connect() as conn:
                    self._schema_found(conn)
        except BaseException:
            self.close()
            raise

    @property
    def _layout(self) -> _plans.Layout:
        return self._options.layout

    def __repr__(self) -> str:
        where = self._options.describe()
        return f"<SQLAlchemyStore {self.engine.url.render_as_string()!r} {where}>"

    def __enter__(self) -> SQLAlchemyStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the protocol ----------------------------------------------------------------

    @contextmanager
    def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        """A transaction of the store's own on ``user_id``; commits on a clean exit."""
        user_id = self.check_user_id(user_id)
        with self._connect() as conn:
            try:
                run(conn, _plans.begin(self._layout, conn.dialect.name))
                yield _Transaction(self, conn, user_id)
            except BaseException:
                _quietly(conn.rollback)
                raise
            _sync(conn, lambda c: c.commit(), "commit")

    def join(self, within: object, user_id: str) -> AbstractContextManager[StoreTransaction]:
        """A transaction on ``user_id`` inside the caller's open transaction.

        ``within`` is a ``Session`` (its connection for the default bind is used) or a
        ``Connection``; a transaction is begun on it if none is. The block runs in a
        SAVEPOINT, released on a clean exit and rolled back otherwise (a lost race, a
        refused key, any exception): the caller's transaction, and everything else done
        in it, is never committed or rolled back here. On PostgreSQL the user's row stays
        locked until the caller ends the transaction.
        """
        if not isinstance(within, Session | Connection):
            raise InvalidArgumentError(
                "within", "a SQLAlchemy Session or Connection in a transaction", within
            )
        return self._join(within, self.check_user_id(user_id))

    @contextmanager
    def _join(self, within: Session | Connection, user_id: str) -> Iterator[StoreTransaction]:
        try:
            conn = within.connection() if isinstance(within, Session) else within
            run(conn, _plans.begin(self._layout, conn.dialect.name))
            nested: SessionTransaction | Any = within.begin_nested()
        except SQLAlchemyError as exc:
            raise wrap(exc, "open a savepoint") from exc
        try:
            yield _Transaction(self, conn, user_id)
        except BaseException:
            # A connection that broke took the caller's transaction with it: the original
            # error says why, and the caller's own rollback or commit will fail too.
            _quietly(nested.rollback)
            raise
        try:
            nested.commit()
        except SQLAlchemyError as exc:
            raise wrap(exc, "release the savepoint") from exc

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """The user's ledger, oldest first, with ``seq`` set."""
        user_id = self.check_user_id(user_id)
        return self._read(_reads.ledger(self._layout, user_id))

    def create_schema(self) -> None:
        """Create the library's missing tables (and the ledger columns of the releases
        before the levers); never ``users`` in place. Safe to run twice, and concurrently
        on PostgreSQL. Tables of an earlier release keep their columns: migrate them with
        Alembic (revision ``mikoshi_0004``, see ``docs/migrations.md``)."""
        with self._connect() as conn:
            _sync(conn, lambda c: _ddl.create_tables(self.tables, c), "create the schema")
            _sync(conn, lambda c: c.commit(), "create the schema")
            self._schema_found(conn)

    def _schema_found(self, conn: Connection) -> bool:
        """Read the tables' version and run the plans of it; whether they are current."""
        version = _sync(conn, lambda c: _ddl.schema_version(self.tables, c), "check the schema")
        return self._options.schema_found(version)

    def events(self, since: str | None, limit: int) -> EventsPage:
        """The events of ledger entries committed after ``since``, oldest first (see
        :class:`~mikoshi_progression.stores.EventFeedStore`; on PostgreSQL ordered and
        held back as ``PostgresStore.events`` does, on SQLite in the order of the writes).

        Raises:
            SchemaOutdatedError: the tables are of an earlier version.
            InvalidArgumentError: ``since`` is no cursor of this store.
        """
        dialect = self.engine.dialect.name
        with self._connect() as conn:
            if not self._layout.levers:
                self._schema_found(conn)  # another process may have migrated them
            return run(conn, _reads.events(self._layout, dialect, since, limit))

    def drop_schema(self) -> None:
        """Drop the library's own tables (never ``users``, never a schema)."""
        with self._connect() as conn:
            _sync(conn, lambda c: _ddl.drop_tables(self.tables, c), "drop the schema")
            _sync(conn, lambda c: c.commit(), "drop the schema")

    def close(self) -> None:
        """Dispose of the store's own engine (an engine passed in stays open); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_engine:
            self.engine.dispose()

    # --- optional capabilities --------------------------------------------------------

    def check_schema(self) -> SchemaReport:
        """Which of the tables, columns and unique keys this store needs are missing."""
        with self._connect() as conn:
            return _sync(conn, lambda c: _ddl.schema_report(self.tables, c), "check the schema")

    def read_state(self, user_id: str) -> ProgressState:
        """The user's committed state, read without locking it (a new user's if unknown)."""
        user_id = self.check_user_id(user_id)
        return self._read(_reads.read_state(self._layout, user_id))

    def check_user_id(self, user_id: str, field: str = "user_id") -> str:
        """Return ``user_id`` if it is the spelling this store keeps the user under (in
        place on an ``integer`` or ``uuid`` id column, only the column's own spelling).

        Raises:
            InvalidIdError: another spelling, or a value the id column cannot hold.
        """
        user_id = check_id(user_id, field)
        if not self._layout.in_place:
            return user_id
        canonical = _plans.answered_without_io(_plans.canonical_spelling(self._layout, user_id))
        if canonical is _plans.NEEDS_A_QUERY:
            canonical = self._read(_plans.canonical_spelling(self._layout, user_id))
        if canonical != user_id:
            raise _plans.spelling_error(self._layout, user_id, canonical, field)
        return user_id

    def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str:
        """Tie ``key`` of caller ``scope`` to ``request`` unless it is tied already; return
        the request it is tied to."""
        plan = _reads.claim_key(
            self._layout,
            self.engine.dialect.name,
            check_id(scope, "scope"),
            check_id(key, "key"),
            request,
            require_aware(at, "at"),
        )
        with self._connect() as conn:
            claimed = run(conn, plan)
            _sync(conn, lambda c: c.commit(), "claim a request key")
        return claimed

    def users_at_daily_cap(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        """Users whose day opened at or after ``since`` and who reached their level's cap."""
        return at_daily_cap(self._activity(caps, since))

    def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]:
        """Users whose day opened at or after ``since``, by EXP gained today, most first."""
        return self._activity(caps, since)[:limit]

    def stored_form(self, state: ProgressState) -> ProgressState:
        """``state`` as this store reads it back (in place, ``last_chat_date`` is a DATE)."""
        return stored_form(self._layout, state)

    # --- internals ---------------------------------------------------------------------

    def _activity(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        since = require_aware(since, "since")
        return rank_activity(self._read(_reads.activity(self._layout, since)), caps, since)

    def _read(self, plan: Plan[T]) -> T:
        with self._connect() as conn:
            return run(conn, plan)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        if self._closed:
            raise StoreError("the SQLAlchemy store is closed")
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise wrap(exc, "connect") from exc
        with conn:
            yield conn


class _Transaction:
    """One user's transaction on a connection: load, then at most one write (at once)."""

    __slots__ = ("_conn", "_layout", "_store", "_user_id", "_written")

    def __init__(self, store: SQLAlchemyStore, conn: Connection, user_id: str) -> None:
        self._store = store
        self._layout = store._layout
        self._conn = conn
        self._user_id = user_id
        self._written = False

    def load(self, key: str | None = None) -> Snapshot:
        plan = _plans.load(self._layout, self._conn.dialect.name, self._user_id, key)
        return run(self._conn, plan)

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        if self._written:
            raise StoreError("a store transaction writes at most once")
        self._written = True
        plan = _plans.write(
            self._layout, self._conn.dialect.name, self._user_id, state, version, entries
        )
        try:
            run(self._conn, plan)
        except SchemaOutdatedError:
            # Tables of version 1, unless migrated since this store looked: then load again,
            # with the lever columns this load did not read.
            if self._store._schema_found(self._conn):
                raise StaleVersionError(
                    f"the tables were migrated since user {self._user_id!r} was loaded"
                ) from None
            raise


def _quietly(action: Callable[[], object]) -> None:
    with suppress(SQLAlchemyError):
        action()
