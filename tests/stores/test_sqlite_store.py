"""What the SQLite store does beyond the contract: files, pragmas, errors, raw rows."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mikoshi_progression.core.state import MAX_COUNT, ProgressState
from mikoshi_progression.errors import (
    InvalidArgumentError,
    ReadOnlyStoreError,
    StateError,
    StoreError,
    StoreUnavailableError,
)
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import MonitoringStore, SchemaStore, StateReader, open_store
from mikoshi_progression.stores.sqlite import SQLiteStore
from mikoshi_progression.testing import store_contract as contract
from mikoshi_progression.testing.clock import FakeClock
from mikoshi_progression.testing.store_contract import START, StoreFactory

pytestmark = pytest.mark.sqlite


@pytest.fixture
def path(tmp_path):
    return tmp_path / "progress.db"


@pytest.fixture
def store(path):
    with SQLiteStore(path) as store:
        yield store


def raw(path, sql, params=()):
    """Run one statement on a connection of our own, committed; return its rows."""
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(sql, params).fetchall()


def service(store, now=START):
    return ProgressionService(store, clock=FakeClock(now))


def test_open_store_urls(path):
    """sqlite:///path opens that file, sqlite:// and sqlite://:memory: a private database."""
    with closing(open_store(f"sqlite:///{path}")) as store:
        assert isinstance(store, SQLiteStore)
        assert store.path == str(path)
        service(store).award("u", "create_scene")
        assert store.url == f"sqlite:///{path}"
    with closing(open_store(f"sqlite:///{path}")) as again:
        assert service(again).state("u").exp == 15
    for url in ("sqlite://", "sqlite://:memory:"):
        with closing(open_store(url)) as memory:
            assert isinstance(memory, SQLiteStore)
            assert memory.url == "sqlite://:memory:"
            assert service(memory).state("u").exp == 0


def test_optional_protocols(store):
    """The SQLite store answers schema checks, the monitoring queries and lock-free reads."""
    assert isinstance(store, SchemaStore)
    assert isinstance(store, MonitoringStore)
    assert isinstance(store, StateReader)


def test_file_runs_in_wal_mode(store, path):
    """The database file is switched to WAL, so readers never wait for the writer."""
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]


def test_in_memory_database_shared_by_threads():
    """ ":memory:" is one database shared by every thread, in turn, without lost updates."""
    with SQLiteStore(":memory:") as store:
        factory = StoreFactory("sqlite-memory", lambda: store)
        contract.check_threads_no_lost_update(factory)
        contract.check_concurrent_same_key(factory)


def test_check_schema_reports_what_is_missing(path):
    """check_schema names missing tables and columns; create_schema then completes them."""
    raw(path, "CREATE TABLE old_progress (user_id TEXT PRIMARY KEY, exp INTEGER)")
    with SQLiteStore(path, table_prefix="old_", create=False) as store:
        report = store.check_schema()
        assert not report.ok
        assert report.missing_tables == ("old_ledger", "old_request_keys", "old_migrations")
        assert "old_progress.version" in report.missing_columns
        assert "old_progress.exp" not in report.missing_columns
    with SQLiteStore(path, create=False) as fresh:
        report = fresh.check_schema()
        assert report.missing_tables == (
            "mikoshi_progress",
            "mikoshi_ledger",
            "mikoshi_request_keys",
            "mikoshi_migrations",
        )
        fresh.create_schema()
        assert fresh.check_schema().ok


def test_check_schema_reports_missing_unique_indexes(path):
    """A ledger made without its unique key index is reported, and create_schema restores it."""
    with SQLiteStore(path) as store:
        assert store.check_schema().ok
        raw(path, "DROP INDEX mikoshi_ledger_key")
        report = store.check_schema()
        assert report.missing_indexes == ("mikoshi_ledger (user_id, kind, idempotency_key)",)
        assert not report.ok
        store.create_schema()
        assert store.check_schema().ok


def test_table_prefix_keeps_stores_apart(path):
    """Two prefixes in one file are two independent stores."""
    with SQLiteStore(path, table_prefix="a_") as first, SQLiteStore(path, table_prefix="b_") as b:
        assert first.tables == ("a_progress", "a_ledger")
        service(first).award("u", "create_scene")
        assert service(b).state("u").exp == 0
    names = {name for (name,) in raw(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"a_progress", "a_ledger", "b_progress", "b_ledger"} <= names


@pytest.mark.parametrize(
    "options",
    [
        {"table_prefix": "x; DROP"},
        {"table_prefix": 5},
        {"synchronous": "sometimes"},
        {"synchronous": None},
        {"timeout": -1},
        {"timeout": float("inf")},
        {"timeout": float("nan")},
        {"timeout": "30"},
        {"pool_size": -1},
        {"pool_size": 2.5},
        {"snapshot_cache": -1},
        {"snapshot_cache": True},
        {"snapshot_cache": 1.5},
    ],
    ids=repr,
)
def test_invalid_options(path, options):
    """Options that cannot work are refused with InvalidArgumentError before anything is opened."""
    (field,) = options
    with pytest.raises(InvalidArgumentError, match=field) as caught:
        SQLiteStore(path, **options)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert not path.exists()


@pytest.mark.parametrize("bad", [42, b"progress.db", "progress\0.db"], ids=repr)
def test_invalid_path(tmp_path, bad, monkeypatch):
    """A path that cannot name a file is refused with InvalidArgumentError, nothing created."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgumentError, match="path"):
        SQLiteStore(bad)
    assert list(tmp_path.iterdir()) == []


def test_busy_database_is_unavailable(path):
    """A write lock held past the timeout raises StoreUnavailableError, from the driver's error."""
    with SQLiteStore(path, timeout=0.05) as store:
        with closing(sqlite3.connect(path, isolation_level=None)) as holder:
            holder.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StoreUnavailableError, match="locked") as caught:
                service(store).award("u", "create_scene")
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            with pytest.raises(StoreUnavailableError):  # keyed: retried a few times first
                service(store).award("u", "create_scene", key="k")
            holder.execute("ROLLBACK")
        assert service(store).award("u", "create_scene", key="k").exp_added == 15


def test_not_a_database_is_a_store_error(path):
    """A file that is not a database raises StoreError (not 'unavailable'), from the driver's."""
    path.write_bytes(b"definitely not sqlite " * 100)
    with pytest.raises(StoreError) as caught:
        SQLiteStore(path)
    assert not isinstance(caught.value, StoreUnavailableError)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_unopenable_file_is_unavailable(tmp_path):
    """A file that cannot be created raises StoreUnavailableError."""
    with pytest.raises(StoreUnavailableError, match="open"):
        SQLiteStore(tmp_path / "no" / "such" / "dir.db")


@pytest.mark.parametrize("where", ["file", ":memory:"])
def test_closed_store_refuses_use(path, where):
    """A closed store raises StoreError on any use; closing twice is harmless."""
    store = SQLiteStore(path if where == "file" else ":memory:")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        service(store).award("u", "create_scene")
    with pytest.raises(StoreError, match="closed"):
        store.ledger("u")


def test_offsets_round_trip_exactly(store, path):
    """Moments come back with their own UTC offset and microseconds, as ISO 8601 text."""
    zone = timezone(timedelta(hours=5, minutes=30))
    moment = datetime(2026, 3, 2, 23, 59, 58, 123456, tzinfo=zone)
    service(store, moment).award("u", "daily_chat", key="k")
    state = service(store).state("u")
    assert state.last_chat_date == moment
    assert state.last_chat_date.utcoffset() == zone.utcoffset(None)
    entry = store.ledger("u")[-1]
    assert entry.at.utcoffset() == zone.utcoffset(None)
    assert entry.at.microsecond == 123456
    assert raw(path, "SELECT last_chat_date FROM mikoshi_progress") == [
        ("2026-03-02T23:59:58.123456+05:30",)
    ]


def test_legacy_text_values_normalised(store, path):
    """Numbers as text, a DATE, a naive timestamp and counts that are not JSON all load."""
    raw(
        path,
        "INSERT INTO mikoshi_progress (user_id, exp, level, daily_exp_gained, "
        "last_exp_reset_date, daily_action_counts, last_chat_date) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("old", "45", "2", None, "2026-03-02 08:00:00", "{not json", "2026-03-01"),
    )
    state = service(store).state("old")
    assert (state.exp, state.level, state.daily_exp_gained) == (45, 2, 0)
    assert state.last_exp_reset_date == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert state.last_chat_date == datetime(2026, 3, 1, tzinfo=UTC)
    assert dict(state.daily_action_counts) == {}
    assert service(store).award("old", "create_scene").state.daily_exp_gained == 15
    assert raw(
        path,
        "SELECT exp, daily_action_counts, last_exp_reset_date, version FROM mikoshi_progress",
    ) == [(60, '{"create_scene":1}', "2026-03-02T08:00:00+00:00", 1)]


def test_unreadable_timestamp_reads_as_no_day_opened(store, path):
    """A timestamp that is no date at all never crashes an award: a new day is opened."""
    raw(
        path,
        "INSERT INTO mikoshi_progress (user_id, daily_exp_gained, last_exp_reset_date)"
        " VALUES (?, ?, ?)",
        ("bad", 150, "last tuesday"),
    )
    result = service(store).award("bad", "create_scene")
    assert result.success
    assert result.state.daily_exp_gained == 15


def test_ledger_seq_counts_per_user(store):
    """seq is each user's own position in their ledger: 1, 2, 3..."""
    svc = service(store)
    for user in ("a", "b", "a"):
        svc.award(user, "create_scene")
    assert [e.seq for e in store.ledger("a")] == [1, 2, 3]
    assert [e.seq for e in store.ledger("b")] == [1, 2]


def test_monitoring_compares_instants_across_offsets(store):
    """A day opened at another UTC offset counts by its instant, not by its written date."""
    since = datetime(2026, 3, 2, tzinfo=UTC)
    late = datetime(2026, 3, 1, 20, tzinfo=timezone(timedelta(hours=-5)))  # 01:00 UTC on the 2nd
    early = datetime(2026, 3, 2, 8, tzinfo=timezone(timedelta(hours=9)))  # 23:00 UTC on the 1st
    service(store, late).award("late", "create_scene")
    service(store, early).award("early", "create_character")
    caps = {1: 150}
    assert [a.user_id for a in store.most_active_users(caps, since)] == ["late"]
    assert store.users_at_daily_cap(caps, since) == []
    with pytest.raises(ValueError, match="aware"):
        store.most_active_users(caps, since.replace(tzinfo=None))


# --- opening, and reading beside a writer ----------------------------------------------------


def test_opening_a_complete_store_takes_no_write_lock(path):
    """Opening a store whose tables exist only reads the schema: it never waits for a writer."""
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with SQLiteStore(path, timeout=2) as store:
            assert store.check_schema().ok
        assert time.monotonic() - started < 1
        holder.execute("ROLLBACK")


def test_opening_creates_what_is_missing_under_the_write_lock(path):
    """A store missing an index waits for the write lock on opening, then creates it."""
    SQLiteStore(path).close()
    raw(path, "DROP INDEX mikoshi_ledger_key")
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailableError, match="locked"):
            SQLiteStore(path, timeout=0.05)
        holder.execute("ROLLBACK")
    with SQLiteStore(path) as store:
        assert store.check_schema().ok


def test_state_is_read_beside_a_writer(path):
    """service.state and replay return the committed state at once while another holds the lock."""
    with SQLiteStore(path, timeout=1) as store:
        svc = service(store)
        svc.award("u", "create_scene")
        with closing(sqlite3.connect(path, isolation_level=None)) as holder:
            holder.execute("BEGIN IMMEDIATE")
            holder.execute("UPDATE mikoshi_progress SET exp = 999")
            started = time.monotonic()
            assert svc.state("u").exp == 15
            assert svc.state("nobody") == ProgressState()
            assert svc.replay("u").matches
            assert time.monotonic() - started < 0.5
            holder.execute("ROLLBACK")


# --- read-only ---------------------------------------------------------------------------------


def filled(path, journal="wal"):
    """A store at ``path`` with two users' history, closed, in ``journal`` mode; its bytes."""
    with SQLiteStore(path) as store:
        svc = service(store)
        svc.award("u", "create_character", key="k1")
        svc.award("u", "create_scene")
        svc.award("v", "daily_chat")
    raw(path, f"PRAGMA journal_mode = {journal}")
    return path.read_bytes()


def read_everything(store):
    """What a read-only store must answer: state, ledger, replay, monitoring and schema."""
    svc = service(store)
    caps = {1: 150}
    return {
        "exp": svc.state("u").exp,
        "unknown": svc.state("nobody") == ProgressState(),
        "ledger": [e.kind.value for e in store.ledger("u")],
        "replay": svc.replay("u").matches,
        "active": [a.user_id for a in store.most_active_users(caps, START)],
        "at_cap": store.users_at_daily_cap(caps, START),
        "schema": store.check_schema().ok,
    }


EVERYTHING = {
    "exp": 45,
    "unknown": True,
    "ledger": ["day", "award", "award"],
    "replay": True,
    "active": ["u", "v"],
    "at_cap": [],
    "schema": True,
}


def write_attempts(store):
    """Every write of the service and the store, each as the message of its ReadOnlyStoreError."""
    svc = service(store)
    messages = []
    for write in (
        lambda: svc.award("u", "create_scene", key="k2"),
        lambda: svc.award("new", "create_scene"),
        lambda: svc.revoke("u", "k1"),
        lambda: svc.reset_daily("u"),
        store.create_schema,
    ):
        with pytest.raises(ReadOnlyStoreError) as caught:
            write()
        messages.append(str(caught.value))
    return messages


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_read_only_store_reads_and_refuses_every_write(path, journal):
    """read_only=True reads, refuses each write with ReadOnlyStoreError and alters nothing."""
    before = filled(path, journal)
    with SQLiteStore(path, read_only=True) as store:
        assert store.read_only
        assert read_everything(store) == EVERYTHING
        messages = write_attempts(store)
        assert all("read-only" in m for m in messages), messages
        assert read_everything(store) == EVERYTHING
    assert issubclass(ReadOnlyStoreError, StoreError)
    assert path.read_bytes() == before
    # A WAL reader needs the -shm (and an empty -wal), as any SQLite reader does.
    beside = {p.name: p.stat().st_size for p in path.parent.iterdir() if p != path}
    assert beside == (
        {} if journal == "delete" else {"progress.db-shm": 32768, "progress.db-wal": 0}
    )
    assert raw(path, "PRAGMA journal_mode") == [(journal,)]


def test_read_only_store_creates_nothing(tmp_path):
    """A read-only store never creates a file or a table, and refuses an in-memory database."""
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreUnavailableError, match="read-only"):
        SQLiteStore(missing, read_only=True)
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    raw(empty, "PRAGMA user_version = 1")
    with SQLiteStore(empty, read_only=True) as store:
        assert store.check_schema().missing_tables == (
            "mikoshi_progress",
            "mikoshi_ledger",
            "mikoshi_request_keys",
            "mikoshi_migrations",
        )
    assert raw(empty, "SELECT name FROM sqlite_master") == []
    with pytest.raises(InvalidArgumentError, match="read_only"):
        SQLiteStore(":memory:", read_only=True)


def test_open_store_passes_read_only(path):
    """open_store("sqlite:///...", read_only=True) opens the file read-only."""
    filled(path)
    with closing(open_store(f"sqlite:///{path}", read_only=True)) as store:
        assert isinstance(store, SQLiteStore)
        assert store.read_only
        assert service(store).state("u").exp == 45
        with pytest.raises(ReadOnlyStoreError):
            service(store).award("u", "create_scene")


def locked_down(folder, journal="wal"):
    """A filled store in ``folder/db/`` with the file and its directory read-only; its path."""
    path = folder / "db" / "progress.db"
    path.parent.mkdir()
    filled(path, journal)
    path.chmod(0o444)
    path.parent.chmod(0o555)
    return path


def read_locked_down(path):
    """In an unprivileged child: everything a read-only store reads, and the errors of writes."""
    with SQLiteStore(path, read_only=True) as store:
        answers = read_everything(store)
        try:
            service(store).award("u", "create_scene")
        except StoreError as exc:
            answers["write"] = type(exc).__name__
    try:  # the child cannot write here: a store that may write fails (typed), as it should
        SQLiteStore(path).close()
    except StoreError as exc:
        answers["writable open"] = type(exc).__name__
    return answers


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_read_only_file_in_a_read_only_directory(public_dir, unprivileged, journal):
    """A chmod 444 file in a read-only directory is read (WAL too, as immutable), never changed."""
    path = locked_down(public_dir, journal)
    before = path.read_bytes()
    assert unprivileged(lambda: read_locked_down(path)) == {
        **EVERYTHING,
        "write": "ReadOnlyStoreError",
        "writable open": "ReadOnlyStoreError",
    }
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["progress.db"]


def test_read_only_wal_sees_commits_not_yet_in_the_file(public_dir, unprivileged):
    """Beside a writer whose commits are still in the -wal, a read-only store reads them too."""
    path = locked_down(public_dir)
    with closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("UPDATE mikoshi_progress SET exp = 1000 WHERE user_id = 'u'")
        assert os.path.getsize(f"{path}-wal") > 0

        def read():
            with SQLiteStore(path, read_only=True) as store:
                return service(store).state("u").exp

        assert unprivileged(read) == 1000


@pytest.mark.parametrize("unsafe", ["wal with commits", "writable file"])
def test_read_only_refuses_what_it_cannot_read_safely(public_dir, unprivileged, unsafe):
    """A WAL file with no -shm in a read-only directory is refused unless nobody can change it."""
    path = public_dir / "db" / "progress.db"
    path.parent.mkdir()
    filled(path)
    if unsafe == "wal with commits":  # a crash's leftovers: commits in the -wal, no -shm
        with closing(sqlite3.connect(path, isolation_level=None)) as writer:
            writer.execute("PRAGMA wal_autocheckpoint = 0")
            writer.execute("UPDATE mikoshi_progress SET exp = 1000 WHERE user_id = 'u'")
            wal = Path(f"{path}-wal").read_bytes()
        Path(f"{path}-wal").write_bytes(wal)
        path.chmod(0o444)
    path.parent.chmod(0o555)

    def read():
        with SQLiteStore(path, read_only=True) as store:
            return service(store).state("u").exp

    raised = unprivileged(read)
    assert "StoreUnavailableError" in raised.classes, raised
    assert "-shm" in raised.message


def test_read_only_unreadable_file_is_unavailable(public_dir, unprivileged):
    """A file the process may not read raises StoreUnavailableError saying so, and is not read."""
    path = public_dir / "progress.db"
    filled(path)
    path.chmod(0)
    raised = unprivileged(lambda: SQLiteStore(path, read_only=True).close())
    assert "StoreUnavailableError" in raised.classes, raised
    assert "unable to open database file" in raised.message
    assert "-shm" not in raised.message


# --- corrupt files ------------------------------------------------------------------------------


def many_pages(path):
    """A closed store whose tables span many pages: 150 users, and user u awarded on 150 days."""
    clock = FakeClock(START)
    with SQLiteStore(path, synchronous="OFF") as store:
        svc = ProgressionService(store, clock=clock)
        for number in range(150):
            svc.award(f"user{number:03}", "create_scene")
        for number in range(150):
            svc.award("u", "create_scene", key=f"k{number}")
            clock.advance(days=1)


def garbage(size, seed=0):
    return random.Random(seed).randbytes(size)


def corrupt_last_leaves(path):
    """Garbage over the last leaf page of each table: reads fail midway, after the first rows."""
    rows = raw(path, "SELECT name, max(pageno) FROM dbstat WHERE pagetype = 'leaf' GROUP BY name")
    (page_size,) = raw(path, "PRAGMA page_size")[0]
    with open(path, "r+b") as file:
        for name, page in rows:
            if name in ("mikoshi_progress", "mikoshi_ledger"):
                file.seek((page - 1) * page_size)
                file.write(garbage(page_size, page))


def garbage_after_header(path):
    data = path.read_bytes()
    path.write_bytes(data[:100] + garbage(len(data) - 100))


def truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def not_a_database(path):
    path.write_bytes(garbage(len(path.read_bytes())))


def reads(store):
    """Every read of the store and of the service over it."""
    svc = service(store)
    caps = {1: 150}
    return {
        "ledger": lambda: store.ledger("u"),
        "replay": lambda: svc.replay("u"),
        "state": lambda: svc.state("u"),
        "state of another": lambda: svc.state("user149"),
        "most active": lambda: store.most_active_users(caps, START),
        "at cap": lambda: store.users_at_daily_cap(caps, START),
        "schema": store.check_schema,
    }


def outcome(call):
    """``"ok"``, or the class of the library's error raised and of its driver cause."""
    try:
        call()
    except StoreError as exc:
        return type(exc), type(exc.__cause__)
    return "ok"


@pytest.mark.parametrize(
    "corrupt", [corrupt_last_leaves, garbage_after_header, truncated, not_a_database]
)
@pytest.mark.parametrize("when", ["before opening", "while open"])
@pytest.mark.parametrize("read_only", [False, True], ids=["writable", "read-only"])
def test_corrupt_file_raises_store_errors(path, corrupt, when, read_only):
    """Reading a corrupt file (also midway through fetching rows) raises StoreError, never raw."""
    many_pages(path)
    options = {"create": False, **({"read_only": True} if read_only else {})}
    if when == "before opening":
        corrupt(path)
        opened = outcome(lambda: SQLiteStore(path, **options).close())
        if opened != "ok":  # found out on opening, as it should be
            assert corrupt is not corrupt_last_leaves
            assert issubclass(opened[1], sqlite3.DatabaseError)
            return
    with SQLiteStore(path, **options) as store:
        if when == "while open":
            corrupt(path)
        outcomes = {name: outcome(read) for name, read in reads(store).items()}
    failed = {name for name, result in outcomes.items() if result != "ok"}
    assert all(issubclass(outcomes[name][1], sqlite3.DatabaseError) for name in failed)
    assert {"ledger", "replay", "most active", "at cap"} <= failed
    if corrupt is corrupt_last_leaves:
        assert "schema" not in failed


# --- 64-bit bounds ------------------------------------------------------------------------------


def legacy_row(path, user, **columns):
    """Insert a raw state row, as the platform or an older version might have left it."""
    names = ", ".join(["user_id", *columns])
    marks = ", ".join("?" * (len(columns) + 1))
    raw(path, f"INSERT INTO mikoshi_progress ({names}) VALUES ({marks})", (user, *columns.values()))


def test_state_at_the_64_bit_bound_round_trips(store, path):
    """An award landing exactly on 2**63 - 1 EXP is stored as an integer, read back, replayed."""
    legacy_row(path, "max", exp=MAX_COUNT - 15, level=6, daily_action_counts='{"forked": 3}')
    svc = service(store)
    result = svc.award("max", "create_scene", key="k")
    assert (result.exp_added, result.state.exp) == (15, MAX_COUNT)
    assert raw(path, "SELECT exp, typeof(exp) FROM mikoshi_progress") == [(MAX_COUNT, "integer")]
    assert svc.state("max").exp == MAX_COUNT
    assert [(e.kind.value, e.state_after.exp) for e in store.ledger("max")] == [
        ("import", MAX_COUNT - 15),
        ("day", MAX_COUNT - 15),
        ("award", MAX_COUNT),
    ]
    assert svc.replay("max").matches
    assert [a.user_id for a in store.most_active_users({1: 150}, START)] == ["max"]


def test_award_past_the_64_bit_bound_stores_nothing(store, path):
    """An award that would pass 2**63 - 1 EXP raises StateError: no state, version or entry kept."""
    legacy_row(path, "max", exp=MAX_COUNT - 1, level=6)
    before = raw(path, "SELECT * FROM mikoshi_progress")
    for key in ("k", None):
        with pytest.raises(StateError, match="exp"):
            service(store).award("max", "create_scene", key=key)
    assert raw(path, "SELECT * FROM mikoshi_progress") == before
    assert store.ledger("max") == []
    assert service(store).state("max").exp == MAX_COUNT - 1


@pytest.mark.parametrize(
    ("column", "stored", "reads_as"),
    [
        ("exp", 45.0, {"exp": 45}),
        ("exp", 1e30, None),
        ("exp", 2.0**63, None),
        ("exp", "99999999999999999999", None),
        ("level", 2**40, None),
        ("daily_exp_gained", 2.5, {"daily_exp_gained": 0}),
        ("daily_action_counts", '{"forked": 1e400}', {"daily_action_counts": {}}),
        ("daily_action_counts", '{"forked": 99999999999999999999}', None),
        ("version", 1.5, {}),
    ],
    ids=repr,
)
def test_legacy_numbers_beyond_64_bits(store, path, column, stored, reads_as):
    """A REAL or huge stored number reads normalised, or raises a StoreError naming the user."""
    legacy_row(path, "old", **{column: stored})
    svc = service(store)
    monitored = store.most_active_users({1: 150}, datetime(2000, 1, 1, tzinfo=UTC))
    assert monitored == []  # the row opened no day: skipped, whatever it holds
    if reads_as is None:
        with pytest.raises(StoreError, match="'old'") as caught:
            svc.state("old")
        assert not isinstance(caught.value, StoreUnavailableError)
    else:
        state = svc.state("old")
        assert {name: getattr(state, name) for name in reads_as} == reads_as
    if reads_as is None or column == "version":
        with pytest.raises(StoreError, match="'old'"):
            svc.award("old", "create_scene")
        assert store.ledger("old") == []
    else:
        assert svc.award("old", "create_scene").exp_added == 15


def test_a_file_of_an_earlier_release_is_upgraded_on_opening(path):
    """A file made before ledgers recorded actor and target, and before request keys,
    gains both when a store opens it; its history stays and new awards record the actor."""
    filled(path)
    raw(path, "ALTER TABLE mikoshi_ledger DROP COLUMN actor")
    raw(path, "ALTER TABLE mikoshi_ledger DROP COLUMN target")
    raw(path, "DROP TABLE mikoshi_request_keys")
    with SQLiteStore(path, create=False) as old:
        report = old.check_schema()
        assert report.missing_tables == ("mikoshi_request_keys",)
        assert report.missing_columns == ("mikoshi_ledger.actor", "mikoshi_ledger.target")
    with SQLiteStore(path) as store:
        assert store.check_schema().ok
        svc = service(store)
        assert [e.actor for e in svc.ledger("u")] == [None, None, None]
        svc.award("u", "forked", actor_id="fan", target="character:1")
        assert svc.ledger("u")[-1].actor == "fan"
        assert svc.replay("u").matches
        assert store.claim_key("fan", "k", "request", START) == "request"
