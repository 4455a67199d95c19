"""The SQLite store: the embedded default, on the standard library's ``sqlite3``.

It needs no server: the state lives in one file that any number of threads and
processes can share. Every transaction starts with ``BEGIN IMMEDIATE``, which
takes SQLite's single write lock *before* the state is read, so load, decision
and write of one award never interleave with another writer's (in this process
or any other). The write is still version-checked (``UPDATE ... WHERE version
= ?``, an ``INSERT`` for a new user), and a duplicate idempotency key, caught by
a unique index on the ledger, raises :class:`StaleVersionError`, so the service
reloads and returns the first result. The file runs in WAL mode, so readers are
never blocked by the writer, and waits up to ``timeout`` seconds for the lock.
``read_only=True`` opens an existing file for reading only, even one this process
cannot write.

>>> from mikoshi_progression.service import ProgressionService
>>> store = SQLiteStore(":memory:")
>>> service = ProgressionService(store)
>>> service.award("u1", "create_character", key="req-1").exp_added
30
>>> service.award("u1", "create_character", key="req-1").exp_added  # a retry: the first result
30
>>> service.state("u1").exp
30
>>> store.close()
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType

from ..core.days import require_aware
from ..core.identity import check_id
from ..core.state import PLATFORM_FIELDS, ProgressState
from ..errors import (
    InvalidArgumentError,
    ReadOnlyStoreError,
    StoreError,
    StoreUnavailableError,
)
from . import _sqlite_schema
from ._feed import (
    EventsPage,
    events_page,
    position_cursor,
)
from ._replay_rows import replay_rows_from_text, sqlite_replay_query
from ._rows import (
    refuse_feed,
    state_from_row,
)
from ._snapshots import SnapshotCache, SnapshotCacheInfo
from ._sqlite_batch import BatchScope
from ._sqlite_driver import (
    check_options,
    checked_path,
    connect_read_only,
    execute,
    read_only_uri,
    rollback,
    wrap,
)
from ._sqlite_sql import Statements
from ._sqlite_tx import ReadOnlyTransaction, SQLiteTransaction, entry_of_row, stored_state
from ._sqlite_write import WriteScope
from .base import (
    SCHEMA_VERSION,
    LedgerEntry,
    ReplayRow,
    SchemaReport,
    StoreTransaction,
    UserActivity,
    at_daily_cap,
    rank_activity,
)

__all__ = ["SQLiteStore"]


class SQLiteStore:
    """A :class:`~mikoshi_progression.stores.ProgressStore` in one SQLite file.

    Safe to share between threads: each transaction borrows a connection from a
    small pool (one per concurrent caller, at most ``pool_size`` kept idle), and
    takes the database's write lock for its whole duration. Safe across
    processes: each opens its own ``SQLiteStore`` on the same file (open it
    after forking, never before). ``":memory:"`` gives a private in-memory
    database on a single connection that transactions take turns on.

    Reads take no write lock: :meth:`read_state` (what ``ProgressionService.state``
    and ``replay`` use, see :class:`~mikoshi_progression.stores.StateReader`),
    :meth:`ledger`, the monitoring queries and :meth:`check_schema` read what is
    committed, never waiting for a writer. Opening reads the schema and takes the
    write lock only to create what is missing. Every driver error, including one
    met while fetching rows of a corrupt file, is raised as the library's
    :class:`~mikoshi_progression.errors.StoreError`.

    Args:
        path: The database file (created if missing), or ``":memory:"``.
        timeout: Seconds to wait for another writer's lock before giving up with
            :class:`~mikoshi_progression.errors.StoreUnavailableError`.
        table_prefix: Prefix of the two tables (``mikoshi_progress``,
            ``mikoshi_ledger`` by default); letters, digits and ``_``.
        synchronous: SQLite's ``PRAGMA synchronous``, the durability of a commit.
            ``"FULL"`` (the default) syncs the WAL to the disk at every commit: an
            award the service returned survives a power cut or an OS crash.
            ``"NORMAL"`` syncs only when the WAL is checkpointed into the file: much
            cheaper per commit (see ``docs/performance.md``), and the file is never
            corrupted, but a power cut or an OS crash may lose the last commits
            (awards that were already answered). A crash of the process loses nothing
            in either mode. Choose ``"NORMAL"`` when the last second of awards may be
            lost on a power cut (re-sent requests with keys are then awarded again).
        pool_size: How many idle connections to keep for reuse.
        create: Create the tables and indexes on opening if any is missing
            (default); a complete schema is only read.
        snapshot_cache: Remember the state this process last wrote or read for up to
            this many users (``0``: off) and let the next award start from it instead
            of reading and decoding the row; the version-checked write (under the
            write lock) refuses a stale one and the service loads again. Keyed awards
            still look their key up. See :mod:`~mikoshi_progression.stores._snapshots`
            for when it stops guessing (other processes writing the same users).
        read_only: Open an existing file read-only (``mode=ro``): nothing is ever
            created or altered (not the file, its journal mode or a table; ``create``
            is ignored), every read works, and every write (an award, a revocation,
            a reset, :meth:`create_schema`) raises
            :class:`~mikoshi_progression.errors.ReadOnlyStoreError`. It reads a file
            it cannot write, in WAL mode too: as any SQLite reader of a WAL database
            it uses the ``-shm`` and ``-wal`` files beside it, creating them where the
            directory allows; where it does not, the file is read as immutable if
            nobody can change it (read-only for everyone, or on a read-only file
            system, with no ``-wal`` left), and refused with StoreUnavailableError
            otherwise. Not for ``":memory:"``.

    Attributes:
        path: The database file, as given (``":memory:"`` in memory).
        read_only: Whether the store was opened read-only.

    Raises:
        InvalidArgumentError: an option that cannot work (before anything is opened).
        StoreUnavailableError: the file cannot be opened (or created; a read-only
            store's file is never created).
        StoreError: it is not a database, or another SQLite failure.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        table_prefix: str = "mikoshi_",
        synchronous: str = "FULL",
        pool_size: int = 8,
        create: bool = True,
        read_only: bool = False,
        snapshot_cache: int = 10_000,
    ) -> None:
        check_options(
            timeout=timeout,
            table_prefix=table_prefix,
            synchronous=synchronous,
            pool_size=pool_size,
            snapshot_cache=snapshot_cache,
        )
        self.path = checked_path(path)
        if read_only and self.path == ":memory:":
            raise InvalidArgumentError(
                "read_only", "False for an in-memory database (it starts empty)", read_only
            )
        self.timeout = timeout
        self.table_prefix = table_prefix
        self.read_only = bool(read_only)
        self._synchronous = synchronous.upper()
        self._pool_size = pool_size
        self._sql = Statements(table_prefix)
        # A read-only store opens the file through a URI (see _connect_read_only).
        self._uri = read_only_uri(self.path) if self.read_only else ""
        self._lock = threading.Lock()
        self._writer = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        # The writer's own connection: writes take turns under _writer, so one suffices.
        self._writing: sqlite3.Connection | None = None
        self._snapshots = (
            SnapshotCache(snapshot_cache) if snapshot_cache and not self.read_only else None
        )
        self._pid = os.getpid()
        self._closed = False
        # ":memory:" is private to one connection: every caller shares it, in turn.
        self._shared: sqlite3.Connection | None = None
        self._shared_lock = threading.RLock()
        if self.path == ":memory:":
            self._shared = self._connect()
        else:
            self._idle.append(self._connect())
        try:
            if create and not self.read_only:
                self.create_schema()
            else:
                with self._connection() as conn:
                    self._use(_sqlite_schema.inspect(conn, self._sql))
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The ``open_store`` URL of this database (for other processes)."""
        if self.path == ":memory:":
            return "sqlite://:memory:"
        return "sqlite:///" + os.path.abspath(self.path)

    @property
    def tables(self) -> tuple[str, str]:
        """The names of the state table and the ledger table."""
        return self._sql.progress, self._sql.ledger

    @property
    def request_keys_table(self) -> str:
        """The name of the table of claimed request keys (:meth:`claim_key`)."""
        return self._sql.request_keys

    # --- the protocol ------------------------------------------------------------------

    def transaction(self, user_id: str) -> AbstractContextManager[StoreTransaction]:
        """Open ``user_id``'s transaction under the database's write lock.

        A read-only store takes no lock: its transaction reads a snapshot of what
        is committed, and its ``write`` raises :class:`ReadOnlyStoreError`.
        """
        user_id = check_id(user_id)
        if self.read_only:
            return self._read_only_transaction(user_id)
        return WriteScope(self, user_id, SQLiteTransaction)

    @contextmanager
    def _read_only_transaction(self, user_id: str) -> Iterator[StoreTransaction]:
        with self._connection() as conn:
            execute(conn, "BEGIN", doing="begin a transaction")
            try:
                yield ReadOnlyTransaction(self, conn, user_id)
            finally:
                rollback(conn)

    def snapshot_cache_info(self) -> SnapshotCacheInfo | None:
        """How the snapshot cache is doing (``None`` when it is off)."""
        return None if self._snapshots is None else self._snapshots.info()

    batches = True
    """Awards of many users run in one transaction (:meth:`batch_transaction`)."""
    combine_users = True
    """SQLite writes one transaction at a time: the service combines concurrent awards of
    this process to any users into one (see ``ProgressionService(combine=...)``)."""

    def batch_transaction(self, user_ids: Collection[str]) -> BatchScope:
        """Open one transaction on many users' rows under the database's write lock (what
        ``award_many`` and combined awards use): one lock and one commit for them all.

        Raises:
            ReadOnlyStoreError: the store was opened with ``read_only=True``.
        """
        users = [check_id(user_id) for user_id in user_ids]
        if self.read_only:
            raise ReadOnlyStoreError(
                f"the SQLite store {self.path!r} is read-only: no batch can be written"
            )
        return BatchScope(self, users)

    def read_state(self, user_id: str) -> ProgressState:
        """The user's committed state (a new user's if unknown), read without a lock.

        A plain read in WAL mode: it never waits for a writer and sees only what is
        committed. Legacy values are normalised as a transaction's ``load`` does.

        Raises:
            StoreError: the stored row cannot be read as a state (the message names
                the user), or the database failed.
        """
        user_id = check_id(user_id)
        with self._connection() as conn:
            rows = execute(
                conn, self._sql.read_state, {"user_id": user_id}, doing="read a state"
            ).fetchall()
        return stored_state(user_id, self._sql.state_columns, rows[0]) if rows else ProgressState()

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """The user's ledger, oldest first, with ``seq`` set."""
        user_id = check_id(user_id)
        with self._connection() as conn:
            rows = execute(
                conn, self._sql.select_ledger, {"user_id": user_id}, doing="read the ledger"
            ).fetchall()
        return [entry_of_row(row) for row in rows]

    def replay_rows(self, user_id: str) -> list[ReplayRow]:
        """The user's ledger as a replay folds it (see :class:`.ReplayReader`)."""
        user_id = check_id(user_id)
        query = sqlite_replay_query(self._sql.ledger)
        with self._connection() as conn:
            rows = execute(conn, query, {"user_id": user_id}, doing="read the ledger").fetchall()
        return replay_rows_from_text(user_id, rows)

    def create_schema(self) -> None:
        """Create the tables and indexes that are missing, and add the ledger columns of
        the releases before the levers to an older file (safe to run twice). A file of an
        earlier release keeps its tables as they are: :meth:`migrate` brings them up to date.

        The schema is read first, without any lock: the database's write lock is
        taken only when something is missing, so opening a complete store never
        waits behind a writer in another process.

        Raises:
            ReadOnlyStoreError: the store was opened with ``read_only=True``.
        """
        if self.read_only:
            raise ReadOnlyStoreError(
                f"the SQLite store {self.path!r} is read-only: it cannot create its schema"
            )
        self._change_schema(migrate=False)

    def migrate(self, *, dry_run: bool = False) -> list[str]:
        """Bring the file to the current schema (``SCHEMA_VERSION``), keeping every row:
        create what is missing, add the columns of later releases to older tables, and
        record the versions reached in ``<prefix>migrations``.

        Returns the statements run (with ``dry_run``, the statements a run would execute,
        and nothing is changed); ``[]`` when the file is up to date. Idempotent, and safe
        beside running stores: it runs under the database's write lock, in one
        transaction. Stores opened before it keep the older statements until they meet a
        state only the new columns hold; then they switch (see ``docs/migrations.md``).

        Raises:
            ReadOnlyStoreError: the store was opened with ``read_only=True`` (a dry run works).
        """
        if dry_run:
            with self._connection() as conn:
                return _sqlite_schema.plan(
                    _sqlite_schema.inspect(conn, self._sql), self._sql, migrate=True
                )
        if self.read_only:
            raise ReadOnlyStoreError(
                f"the SQLite store {self.path!r} is read-only: it cannot migrate its schema"
            )
        return self._change_schema(migrate=True)

    def _change_schema(self, *, migrate: bool) -> list[str]:
        with self._connection() as conn:
            found = _sqlite_schema.inspect(conn, self._sql)
            if not _sqlite_schema.plan(found, self._sql, migrate=migrate):
                self._use(found)
                return []
            execute(conn, "BEGIN IMMEDIATE", doing="begin a transaction")
            try:
                # Read again under the lock: another process may have changed it since.
                found = _sqlite_schema.inspect(conn, self._sql)
                statements = _sqlite_schema.plan(found, self._sql, migrate=migrate)
                for statement in statements:
                    conn.execute(statement)
                found = _sqlite_schema.inspect(conn, self._sql)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                rollback(conn)
                raise wrap(exc, "migrate the schema" if migrate else "create the schema") from exc
            self._use(found)
            return statements

    def _use(self, found: _sqlite_schema.Found) -> None:
        """Run the statements of the schema version the file is at."""
        current = found.version(self._sql) in (0, SCHEMA_VERSION)
        if current != self._sql.levers:
            self._sql = Statements(self.table_prefix, levers=current)
            if self._snapshots is not None:
                self._snapshots.clear()  # states read without the lever columns

    def _reinspect(self, conn: sqlite3.Connection) -> bool:
        """Read the schema again (another process may have migrated it); whether the store
        now runs the current statements."""
        self._use(_sqlite_schema.inspect(conn, self._sql))
        return self._sql.levers

    def check_schema(self) -> SchemaReport:
        """Report the tables, columns and unique indexes this store needs that are missing,
        and the version of the schema the file is at (behind: :meth:`migrate`)."""
        with self._connection() as conn:
            return _sqlite_schema.report(conn, self._sql)

    def events(self, since: str | None, limit: int) -> EventsPage:
        """The events of ledger entries committed after ``since``, oldest first.

        A cursor is a ledger row's ``id``: SQLite has one writer at a time, so ids are
        handed out in commit order and a reader never sees a larger one before a smaller.

        Raises:
            SchemaOutdatedError: the file is at an earlier schema version (migrate it).
            InvalidArgumentError: ``since`` is no cursor of this store.
        """
        after = position_cursor(since, "SQLiteStore")
        with self._connection() as conn:
            sql = self._sql
            if not sql.levers and not self._reinspect(conn):
                refuse_feed(f"the SQLite database {self.path!r}")
            rows = execute(
                conn, self._sql.feed, {"after": after, "limit": limit}, doing="read the events"
            ).fetchall()
        return events_page(((str(row[0]), entry_of_row(row[1:])) for row in rows), since, limit)

    def close(self) -> None:
        """Close every connection; the store is unusable afterwards (safe to call twice)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        if self._writer.acquire(blocking=False):  # else the writer closes it on its way out
            try:
                if self._writing is not None:
                    self._writing.close()
                    self._writing = None
            finally:
                self._writer.release()
        with self._shared_lock:
            if self._shared is not None:
                self._shared.close()
                self._shared = None

    def claim_key(self, scope: str, key: str, request: str, at: datetime) -> str:
        """Tie ``key`` of caller ``scope`` to ``request`` unless it is tied already; return
        the request it is tied to (one ``INSERT ... ON CONFLICT DO NOTHING``, then a read).

        Raises:
            ReadOnlyStoreError: the store was opened with ``read_only=True``.
        """
        if self.read_only:
            raise ReadOnlyStoreError(
                f"the SQLite store {self.path!r} is read-only: it cannot claim a request key"
            )
        params = {
            "scope": check_id(scope, "scope"),
            "key": check_id(key, "key"),
            "request": request,
            "at": require_aware(at, "at").isoformat(),
        }
        with self._connection() as conn:
            execute(conn, self._sql.claim, params, doing="claim a request key")
            row = execute(conn, self._sql.claimed, params, doing="read a request key").fetchone()
        if row is None:  # pragma: no cover - the row was just written or already there
            raise StoreError(f"request key {key!r} of {scope!r} vanished after its claim")
        return str(row[0])

    # --- monitoring --------------------------------------------------------------------

    def users_at_daily_cap(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        """Users whose day opened at or after ``since`` and who reached their cap, most first."""
        return at_daily_cap(self._activity(caps, since))

    def most_active_users(
        self, caps: Mapping[int, int], since: datetime, limit: int = 10
    ) -> list[UserActivity]:
        """Users whose day opened at or after ``since``, by EXP gained today, most first."""
        return self._activity(caps, since)[:limit]

    def _activity(self, caps: Mapping[int, int], since: datetime) -> list[UserActivity]:
        require_aware(since, "since")
        # Timestamps keep their own offset, so compare instants in Python; the SQL
        # narrows by day prefix first (no offset moves a moment by a whole day).
        day_floor = (since.astimezone(UTC) - timedelta(days=1)).date().isoformat()
        with self._connection() as conn:
            rows = execute(
                conn, self._sql.activity, {"day_floor": day_floor}, doing="run a monitoring query"
            ).fetchall()
        states = []
        for user_id, *values in rows:
            try:
                states.append(
                    (user_id, state_from_row(**dict(zip(PLATFORM_FIELDS, values, strict=True))))
                )
            except (ValueError, TypeError):
                continue  # an unreadable row is skipped here; loading it for an award says why
        return rank_activity(states, caps, since)

    # --- connections -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise wrap(exc, f"open {self.path!r}") from exc
        try:
            if self.path != ":memory:":
                (journal,) = conn.execute("PRAGMA journal_mode").fetchone()
                if str(journal).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.Error as exc:
            conn.close()
            raise wrap(exc, f"open {self.path!r}") from exc
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        conn, self._uri = connect_read_only(self.path, self._uri, self.timeout)
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a connection (the shared one of an in-memory database, in turn)."""
        if self.path == ":memory:":
            with self._shared_lock:
                if self._shared is None:
                    raise StoreError("the store is closed")
                yield self._shared
            return
        conn = self._acquire()
        try:
            yield conn
        finally:
            self._release(conn)

    def _writer_turn(self) -> sqlite3.Connection:
        """Take this process's turn to write (threads queue here, woken as soon as it is
        free; only one per process then polls SQLite's lock against other processes),
        and the connection to write on."""
        self._check_fork()
        if not self._writer.acquire(timeout=self.timeout):
            raise StoreUnavailableError(
                f"SQLite could not begin a transaction: no turn to write within {self.timeout} s"
            )
        try:
            if self._closed:
                raise StoreError("the store is closed")
            if self.path == ":memory:":
                self._shared_lock.acquire()
                if self._shared is None:
                    self._shared_lock.release()
                    raise StoreError("the store is closed")
                return self._shared
            if self._writing is None:
                self._writing = self._connect()
            return self._writing
        except BaseException:
            self._writer.release()
            raise

    def _writer_done(self, conn: sqlite3.Connection) -> None:
        """End the turn; a connection left in a transaction (its rollback failed) or of a
        closed store is closed."""
        try:
            if conn is self._shared:
                self._shared_lock.release()
            elif conn.in_transaction or self._closed:
                conn.close()
                self._writing = None
        finally:
            self._writer.release()

    def _check_fork(self) -> None:
        """In a forked child, forget the parent's connections and locks (never use them)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._writer = threading.Lock()
            self._idle = []
            self._writing = None
            if self._snapshots is not None:  # its lock may have been held at the fork
                self._snapshots = SnapshotCache(self._snapshots.max_users)

    def _acquire(self) -> sqlite3.Connection:
        self._check_fork()
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn: sqlite3.Connection) -> None:
        if not conn.in_transaction:
            with self._lock:
                if not self._closed and len(self._idle) < self._pool_size:
                    self._idle.append(conn)
                    return
        conn.close()
