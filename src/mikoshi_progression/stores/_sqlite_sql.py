"""The SQLite store's tables and statements, with its table prefix filled in once.

Two sets of statements: those of the current schema (:data:`SCHEMA_VERSION`), and those
of a file an earlier release made (version 1: no lever columns, no ledger ``events``),
which a store uses until the file is migrated.
"""

from __future__ import annotations

from ..core.state import PLATFORM_FIELDS
from ._rows import LEVER_COLUMNS

__all__ = [
    "ADDED_LEDGER_COLUMNS",
    "KEY_COLUMNS",
    "LEDGER_COLUMNS",
    "LEDGER_KEYS",
    "LEGACY_LEDGER_COLUMNS",
    "LEVER_COLUMN_TYPES",
    "MIGRATION_COLUMNS",
    "PROGRESS_COLUMNS",
    "PROGRESS_KEYS",
    "REQUEST_KEYS",
    "Statements",
]

PROGRESS_KEYS = (("user_id",),)
LEDGER_KEYS = (("user_id", "seq"), ("user_id", "kind", "idempotency_key"))
"""The unique keys each table's guarantees rest on."""
LEGACY_LEDGER_COLUMNS = (
    "user_id",
    "seq",
    "kind",
    "action",
    "exp_delta",
    "level_before",
    "level_after",
    "idempotency_key",
    "at",
    "config_fingerprint",
    "state_after",
    "outcome",
    "actor",
    "target",
    "reason",
)
LEDGER_COLUMNS = (*LEGACY_LEDGER_COLUMNS, "events")
PROGRESS_COLUMNS = ("user_id", *PLATFORM_FIELDS, *LEVER_COLUMNS, "version")
ADDED_LEDGER_COLUMNS = {"actor": "TEXT", "target": "TEXT", "reason": "TEXT"}
"""Ledger columns added after the first release: ``create_schema`` adds them to old files."""
LEVER_COLUMN_TYPES = {
    "timezone": "TEXT",
    "day_extended_until": "TEXT",
    "streak": "INTEGER NOT NULL DEFAULT 0",
    "best_streak": "INTEGER NOT NULL DEFAULT 0",
    "last_streak_day": "TEXT",
    "streak_freezes": "INTEGER NOT NULL DEFAULT 0",
    "milestones": "TEXT NOT NULL DEFAULT '[]'",
    "lifetime_counts": "TEXT NOT NULL DEFAULT '{}'",
}
"""The state columns of schema version 2, as ``migrate`` adds them to a version-1 file."""
KEY_COLUMNS = ("scope", "key", "request", "at")
REQUEST_KEYS = (("scope", "key"),)
MIGRATION_COLUMNS = ("version", "description", "applied_at")


class Statements:
    """The store's statements, with its table names filled in once.

    Args:
        prefix: The tables' prefix.
        levers: The statements of the current schema; ``False``: of a version-1 file.
    """

    def __init__(self, prefix: str, *, levers: bool = True) -> None:
        self.levers = levers
        self.progress = progress = f"{prefix}progress"
        self.ledger = ledger = f"{prefix}ledger"
        self.request_keys = request_keys = f"{prefix}request_keys"
        self.migrations = migrations = f"{prefix}migrations"
        levers_ddl = "".join(f"{c} {t},\n" for c, t in LEVER_COLUMN_TYPES.items())
        # name -> its CREATE statement, in creation order (tables before their indexes).
        self.creates: dict[str, str] = {
            progress: f"""CREATE TABLE IF NOT EXISTS "{progress}" (
                user_id TEXT PRIMARY KEY NOT NULL,
                exp INTEGER DEFAULT 0,
                level INTEGER DEFAULT 1,
                daily_exp_gained INTEGER DEFAULT 0,
                last_exp_reset_date TEXT,
                daily_action_counts TEXT DEFAULT '{{}}',
                last_chat_date TEXT,
                {levers_ddl}version INTEGER NOT NULL DEFAULT 0
            )""",
            # The day prefix of an ISO timestamp: the monitoring queries' index.
            f"{progress}_day": f"""CREATE INDEX IF NOT EXISTS "{progress}_day"
                ON "{progress}" (substr(last_exp_reset_date, 1, 10))""",
            ledger: f"""CREATE TABLE IF NOT EXISTS "{ledger}" (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                kind TEXT NOT NULL,
                action TEXT NOT NULL DEFAULT '',
                exp_delta INTEGER NOT NULL,
                level_before INTEGER NOT NULL,
                level_after INTEGER NOT NULL,
                idempotency_key TEXT,
                at TEXT NOT NULL,
                config_fingerprint TEXT NOT NULL,
                state_after TEXT NOT NULL,
                outcome TEXT NOT NULL DEFAULT '',
                actor TEXT,
                target TEXT,
                reason TEXT,
                events TEXT
            )""",
            f"{ledger}_seq": f"""CREATE UNIQUE INDEX IF NOT EXISTS "{ledger}_seq"
                ON "{ledger}" (user_id, seq)""",
            f"{ledger}_key": f"""CREATE UNIQUE INDEX IF NOT EXISTS "{ledger}_key"
                ON "{ledger}" (user_id, kind, idempotency_key)
                WHERE idempotency_key IS NOT NULL""",
            # The events feed reads the entries with events in the order of their ids:
            # one writer at a time, so an id is never handed out before a smaller one.
            f"{ledger}_feed": f"""CREATE INDEX IF NOT EXISTS "{ledger}_feed"
                ON "{ledger}" (id) WHERE events IS NOT NULL""",
            request_keys: f"""CREATE TABLE IF NOT EXISTS "{request_keys}" (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                request TEXT NOT NULL,
                at TEXT NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
            migrations: f"""CREATE TABLE IF NOT EXISTS "{migrations}" (
                version INTEGER PRIMARY KEY,
                description TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )""",
        }
        self.add_column = """ALTER TABLE "{}" ADD COLUMN {} {}"""
        # applied_at: the moment of the run, as ISO 8601 in UTC like the store's moments.
        self.stamp = (
            f'INSERT INTO "{migrations}" (version, description, applied_at) '
            "VALUES ({}, '{}', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')) "
            "ON CONFLICT (version) DO NOTHING"
        )
        self.claim = (
            f'INSERT INTO "{request_keys}" (scope, key, request, at) '
            "VALUES (:scope, :key, :request, :at) ON CONFLICT (scope, key) DO NOTHING"
        )
        self.claimed = f'SELECT request FROM "{request_keys}" WHERE scope = :scope AND key = :key'

        self.state_columns = state_columns = (
            (*PLATFORM_FIELDS, *LEVER_COLUMNS) if levers else PLATFORM_FIELDS
        )
        self.ledger_columns = ledger_columns = LEDGER_COLUMNS if levers else LEGACY_LEDGER_COLUMNS
        state = ", ".join(state_columns)
        entry = ", ".join(ledger_columns)
        # The statements of an award take positional parameters (``?1`` is the user):
        # cheaper to bind than names, and the same text every time, so each connection
        # prepares them once (sqlite3's statement cache).
        self.load = (
            f'SELECT {state}, version, EXISTS (SELECT 1 FROM "{ledger}" WHERE user_id = ?1) '
            f'FROM "{progress}" WHERE user_id = ?1'
        )
        self.keyed = (
            f'SELECT {entry} FROM "{ledger}" WHERE user_id = ?1 '
            "AND idempotency_key = ?2 AND kind IN ('award', 'revoke', 'adjust', 'timezone')"
        )
        self.version = f'SELECT version FROM "{progress}" WHERE user_id = ?1'
        width = len(state_columns)
        self.insert_state = (
            f'INSERT INTO "{progress}" (user_id, {state}, version) '
            f"VALUES (?1, {', '.join(f'?{i}' for i in range(2, width + 2))}, 1)"
        )
        self.update_state = (
            f'UPDATE "{progress}" SET '
            + ", ".join(f"{c} = ?{i}" for i, c in enumerate(state_columns, 2))
            + f", version = version + 1 WHERE user_id = ?1 AND version = ?{width + 2}"
        )
        # An award within the day its row already opened, touching no lever: the day and
        # the levers' columns keep their values, and the day's index is left alone.
        self.update_award = (
            f'UPDATE "{progress}" SET exp = ?2, level = ?3, daily_exp_gained = ?4, '
            "daily_action_counts = ?5, last_chat_date = ?6, version = version + 1 "
            "WHERE user_id = ?1 AND version = ?7"
        )
        # seq: the user's next position, safe to compute under the write lock. The
        # parameters: the user, then the other columns in order (seq is not one).
        numbers = iter(range(2, len(ledger_columns) + 1))
        values = ", ".join(
            "?1"
            if c == "user_id"
            else f'(SELECT COALESCE(MAX(seq), 0) + 1 FROM "{ledger}" WHERE user_id = ?1)'
            if c == "seq"
            else f"?{next(numbers)}"
            for c in ledger_columns
        )
        self.insert_entry = f'INSERT INTO "{ledger}" ({entry}) VALUES ({values})'

        self.select_ledger = f'SELECT {entry} FROM "{ledger}" WHERE user_id = :user_id ORDER BY seq'
        self.feed = (
            f'SELECT id, {entry} FROM "{ledger}" WHERE id > :after AND events IS NOT NULL '
            "ORDER BY id LIMIT :limit"
        )
        platform = ", ".join(PLATFORM_FIELDS)
        self.activity = (
            f'SELECT user_id, {platform} FROM "{progress}" '
            "WHERE substr(last_exp_reset_date, 1, 10) >= :day_floor"
        )
        self.read_state = f'SELECT {state} FROM "{progress}" WHERE user_id = :user_id'
