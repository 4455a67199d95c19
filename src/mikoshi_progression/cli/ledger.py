"""The ledger export: ``ledger --store URL --user ID`` writes it, ``replay --ledger``
and ``diff --ledger`` read it.

An export is JSON lines (or a JSON array) of :meth:`LedgerEntry.to_dict()
<mikoshi_progression.stores.LedgerEntry.to_dict>` objects, any number of users
mixed in any order: readers group the entries by user and order each user's by
``seq``, then ``at``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

from ..errors import ProgressionError
from ..stores import LedgerEntry
from ._common import CliError, Command, ExitCode, format_table, read_json_records
from .stores import add_store_options, display_url, opened_store

__all__ = ["LEDGER", "by_user", "latest_entries", "read_ledger"]


# --- reading an export ------------------------------------------------------------------


def read_ledger(path: str, option: str = "--ledger") -> list[LedgerEntry]:
    """The entries of a ledger export, in file order.

    Anything that is not a ledger entry (malformed JSON, a missing field, a
    timestamp without a time zone, an impossible state) raises :class:`CliError`
    naming ``option``, the file and the line or item.
    """
    entries = []
    for where, record in read_json_records(path, option):
        prefix = f"{option} {path}: {where}"
        if not isinstance(record, dict):
            raise CliError(f"{prefix}: must be a JSON object (LedgerEntry.to_dict() form)")
        entries.append(_entry(record, prefix))
    return entries


def _entry(record: dict[str, Any], prefix: str) -> LedgerEntry:
    try:
        return LedgerEntry.from_dict(record)
    except ProgressionError as exc:
        raise CliError(f"{prefix}: {exc}") from exc


def by_user(entries: Iterable[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    """Entries grouped by user (in order of first appearance), each user's by ``seq``, then ``at``.

    Entries without a ``seq`` come after those with one.
    """
    users: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        users.setdefault(entry.user_id, []).append(entry)
    for user_entries in users.values():
        user_entries.sort(key=lambda e: (e.seq is None, e.seq or 0, e.at))
    return users


def latest_entries(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """Each user's latest entry (its ``state_after`` is the user's current state)."""
    return [user_entries[-1] for user_entries in by_user(entries).values()]


# --- the ledger command -----------------------------------------------------------------


def _configure(parser: argparse.ArgumentParser) -> None:
    add_store_options(parser)
    parser.add_argument(
        "--user",
        metavar="ID",
        action="append",
        required=True,
        help="the user whose ledger to show (repeat for several)",
    )


def _run(args: argparse.Namespace) -> int:
    with opened_store(args, read_only=True) as store:
        ledgers = [(user, store.ledger(user)) for user in args.user]
    if args.json:
        for _, entries in ledgers:
            for entry in entries:
                sys.stdout.write(json.dumps(entry.to_dict(), ensure_ascii=False) + "\n")
        return ExitCode.OK
    out: list[str] = []
    for user, entries in ledgers:
        if out:
            out.append("")
        out += _lines(user, entries, display_url(args.store))
    print("\n".join(out))
    return ExitCode.OK


def _lines(user: str, entries: Sequence[LedgerEntry], store: str) -> list[str]:
    if not entries:
        return [f"{user}: no ledger entries in {store}"]
    count = len(entries)
    out = [f"Ledger of {user} in {store}: {count} entr{'ies' if count != 1 else 'y'}", ""]
    out.append(
        format_table(
            [
                "Seq",
                "At (UTC)",
                "Kind",
                "Action",
                "EXP",
                "Level",
                "Key",
                "EXP after",
                "Today",
                "By",
                "Reason",
            ],
            [
                [
                    e.seq,
                    e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    str(e.kind),
                    e.action or e.outcome or None,
                    f"{e.exp_delta:+,}",
                    f"{e.level_before} -> {e.level_after}",
                    e.key,
                    e.state_after.exp,
                    e.state_after.daily_exp_gained,
                    e.actor,
                    e.reason,
                ]
                for e in entries
            ],
            "rlllrllrrll",
        )
    )
    last = entries[-1].state_after
    out += [
        "",
        f"Now: {last.exp:,} EXP, level {last.level}, {last.daily_exp_gained:,} EXP gained today",
    ]
    return out


LEDGER = Command(
    "ledger",
    "show or export a user's ledger",
    _configure,
    _run,
    "Show every change to a user's progression, oldest first. With --json, write it as JSON "
    "lines (one LedgerEntry.to_dict() per line), the export that replay --ledger and diff "
    "--ledger read.",
)
