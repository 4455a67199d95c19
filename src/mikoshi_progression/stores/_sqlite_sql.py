"""The SQLite store's tables and statements, with its table prefix filled in once."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..core.state import PLATFORM_FIELDS

__all__ = [
    "ADDED_LEDGER_COLUMNS",
    "ENTRY_COLUMNS",
    "KEY_COLUMNS",
    "LEDGER_COLUMNS",
    "LEDGER_KEYS",
    "PROGRESS_COLUMNS",
    "PROGRESS_KEYS",
    "REQUEST_KEYS",
    "STATE_COLUMNS",
    "Statements",
    "created_names",
]

STATE_COLUMNS = PLATFORM_FIELDS
PROGRESS_COLUMNS = ("user_id", *STATE_COLUMNS, "version")
PROGRESS_KEYS = (("user_id",),)
LEDGER_KEYS = (("user_id", "seq"), ("user_id", "kind", "idempotency_key"))
"""The unique keys each table's guarantees rest on."""
LEDGER_COLUMNS = (
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
ENTRY_COLUMNS = ", ".join(LEDGER_COLUMNS)
ADDED_LEDGER_COLUMNS = {"actor": "TEXT", "target": "TEXT", "reason": "TEXT"}
"""Ledger columns added after the first release: ``create_schema`` adds them to old files."""
KEY_COLUMNS = ("scope", "key", "request", "at")
REQUEST_KEYS = (("scope", "key"),)
_CREATED = re.compile(r'CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+IF\s+NOT\s+EXISTS\s+"([^"]+)"')


class Statements:
    """The store's statements, with its table names filled in once."""

    def __init__(self, prefix: str) -> None:
        self.progress = progress = f"{prefix}progress"
        self.ledger = ledger = f"{prefix}ledger"
        self.request_keys = request_keys = f"{prefix}request_keys"
        self.schema = (
            f"""CREATE TABLE IF NOT EXISTS "{progress}" (
                user_id TEXT PRIMARY KEY NOT NULL,
                exp INTEGER DEFAULT 0,
                level INTEGER DEFAULT 1,
                daily_exp_gained INTEGER DEFAULT 0,
                last_exp_reset_date TEXT,
                daily_action_counts TEXT DEFAULT '{{}}',
                last_chat_date TEXT,
                version INTEGER NOT NULL DEFAULT 0
            )""",
            # The day prefix of an ISO timestamp: the monitoring queries' index.
            f"""CREATE INDEX IF NOT EXISTS "{progress}_day"
                ON "{progress}" (substr(last_exp_reset_date, 1, 10))""",
            f"""CREATE TABLE IF NOT EXISTS "{ledger}" (
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
                reason TEXT
            )""",
            f"""CREATE UNIQUE INDEX IF NOT EXISTS "{ledger}_seq" ON "{ledger}" (user_id, seq)""",
            f"""CREATE UNIQUE INDEX IF NOT EXISTS "{ledger}_key"
                ON "{ledger}" (user_id, kind, idempotency_key)
                WHERE idempotency_key IS NOT NULL""",
            f"""CREATE TABLE IF NOT EXISTS "{request_keys}" (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                request TEXT NOT NULL,
                at TEXT NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
        )
        self.add_column = f'ALTER TABLE "{ledger}" ADD COLUMN {{}} {{}}'
        self.claim = (
            f'INSERT INTO "{request_keys}" (scope, key, request, at) '
            "VALUES (:scope, :key, :request, :at) ON CONFLICT (scope, key) DO NOTHING"
        )
        self.claimed = f'SELECT request FROM "{request_keys}" WHERE scope = :scope AND key = :key'
        state = ", ".join(STATE_COLUMNS)
        self.load = (
            f'SELECT {state}, version, EXISTS (SELECT 1 FROM "{ledger}" WHERE user_id = :user_id) '
            f'FROM "{progress}" WHERE user_id = :user_id'
        )
        self.keyed = (
            f'SELECT {ENTRY_COLUMNS} FROM "{ledger}" WHERE user_id = :user_id '
            "AND idempotency_key = :key AND kind IN ('award', 'revoke', 'adjust')"
        )
        self.insert_state = (
            f'INSERT INTO "{progress}" (user_id, {state}, version) '
            f"VALUES (:user_id, {', '.join(':' + c for c in STATE_COLUMNS)}, 1)"
        )
        self.update_state = (
            f'UPDATE "{progress}" SET '
            + ", ".join(f"{c} = :{c}" for c in STATE_COLUMNS)
            + ", version = version + 1 WHERE user_id = :user_id AND version = :version"
        )
        # seq: the user's next position, safe to compute under the write lock.
        values = ", ".join(
            f'(SELECT COALESCE(MAX(seq), 0) + 1 FROM "{ledger}" WHERE user_id = :user_id)'
            if c == "seq"
            else ":" + c
            for c in LEDGER_COLUMNS
        )
        self.insert_entry = f'INSERT INTO "{ledger}" ({ENTRY_COLUMNS}) VALUES ({values})'

        self.select_ledger = (
            f'SELECT {ENTRY_COLUMNS} FROM "{ledger}" WHERE user_id = :user_id ORDER BY seq'
        )
        self.activity = (
            f'SELECT user_id, {state} FROM "{progress}" '
            "WHERE substr(last_exp_reset_date, 1, 10) >= :day_floor"
        )
        self.read_state = f'SELECT {state} FROM "{progress}" WHERE user_id = :user_id'


def created_names(statements: Sequence[str]) -> tuple[str, ...]:
    """The tables and indexes that ``CREATE ... IF NOT EXISTS`` statements create."""
    return tuple(
        match.group(1)
        for statement in statements
        if (match := _CREATED.match(statement.strip())) is not None
    )
