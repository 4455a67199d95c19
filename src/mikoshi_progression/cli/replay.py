"""``replay``: rebuild users' states from their ledger and check them.

From a ledger export (``--ledger FILE``), each user's entries are folded through
:func:`~mikoshi_progression.service.replay_ledger` and the result is compared
with the ``state_after`` of their last entry; from a live store (``--store URL
--user ID``), :meth:`ProgressionService.replay
<mikoshi_progression.service.ProgressionService.replay>` compares it with the
stored state. Any difference exits 1: the ledger does not explain the state.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from ..core.config import ProgressionConfig
from ..core.state import ProgressState
from ..service import ProgressionService, replay_ledger
from ._common import (
    CliError,
    Command,
    ExitCode,
    add_config_argument,
    config_source,
    format_table,
    load_config_argument,
    print_json,
)
from .ledger import by_user, read_ledger
from .stores import add_store_options, display_url, opened_store

__all__ = ["REPLAY"]


@dataclass(frozen=True, slots=True)
class _Replayed:
    """One user's replay.

    Attributes:
        user_id: The user.
        entries: How many ledger entries were replayed.
        state: The state the ledger leads to.
        expected: The state to compare with (the last entry's, or the stored one).
        foreign_fingerprints: Fingerprints of entries decided under other rules.
    """

    user_id: str
    entries: int
    state: ProgressState
    expected: ProgressState
    foreign_fingerprints: tuple[str, ...]

    @property
    def matches(self) -> bool:
        return self.state == self.expected

    def differences(self) -> list[dict[str, Any]]:
        replayed, expected = self.state.to_dict(), self.expected.to_dict()
        # A lever field at its default is left out of to_dict(): compare every field either has.
        names = dict.fromkeys([*replayed, *expected])
        return [
            {"field": name, "replayed": replayed.get(name), "expected": expected.get(name)}
            for name in names
            if replayed.get(name) != expected.get(name)
        ]


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="FILE",
        help="a ledger export: JSON lines or a JSON array of LedgerEntry.to_dict() objects "
        "(what ledger --json writes)",
    )
    add_store_options(parser, required=False)
    parser.add_argument(
        "--user",
        metavar="ID",
        action="append",
        help="replay only this user (repeat for several; required with --store)",
    )
    add_config_argument(parser, option=True)


def _from_ledger(
    path: str, users: Sequence[str] | None, config: ProgressionConfig
) -> list[_Replayed]:
    ledgers = by_user(read_ledger(path, "--ledger"))
    if users is not None:
        absent = [user for user in users if user not in ledgers]
        if absent:
            raise CliError(f"--ledger {path}: no entries for user {', '.join(map(repr, absent))}")
        ledgers = {user: ledgers[user] for user in dict.fromkeys(users)}
    return [
        _Replayed(
            user,
            len(entries),
            replay_ledger(entries, config),
            entries[-1].state_after,
            tuple(sorted({e.config_fingerprint for e in entries} - {config.fingerprint})),
        )
        for user, entries in ledgers.items()
    ]


def _from_store(args: argparse.Namespace, config: ProgressionConfig) -> list[_Replayed]:
    replayed = []
    with opened_store(args, read_only=True) as store:
        service = ProgressionService(store, config=config)
        for user in dict.fromkeys(args.user):
            report = service.replay(user)
            replayed.append(
                _Replayed(
                    user, report.entries, report.state, report.stored, report.foreign_fingerprints
                )
            )
    return replayed


def _run(args: argparse.Namespace) -> int:
    if (args.ledger is None) == (args.store is None):
        raise CliError("replay needs either --ledger FILE or --store URL --user ID, not both")
    if args.store is not None and not args.user:
        raise CliError("replay --store needs --user ID (the store cannot list its users)")
    config, label = load_config_argument(args.config)
    if args.ledger is not None:
        users = _from_ledger(args.ledger, args.user, config)
        source, against = {"ledger": args.ledger}, "last_entry"
    else:
        users = _from_store(args, config)
        source, against = {"store": display_url(args.store)}, "stored_state"
    mismatched = sum(not user.matches for user in users)
    if args.json:
        print_json(
            {
                "config": config_source(label, config),
                "source": source,
                "compared_with": against,
                "users": [_user_doc(user, config) for user in users],
                "matched": len(users) - mismatched,
                "mismatched": mismatched,
            }
        )
    else:
        where = args.ledger if args.ledger is not None else display_url(args.store)
        print("\n".join(_lines(users, where, label, config, against)))
    return ExitCode.INVALID if mismatched else ExitCode.OK


def _user_doc(user: _Replayed, config: ProgressionConfig) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "entries": user.entries,
        "state": user.state.to_dict(),
        "daily_exp_cap": config.cap_for_level(user.state.level),
        "expected": user.expected.to_dict(),
        "matches": user.matches,
        "differences": user.differences(),
        "foreign_fingerprints": list(user.foreign_fingerprints),
    }


def _lines(
    users: Sequence[_Replayed],
    where: str,
    label: str,
    config: ProgressionConfig,
    against: str,
) -> list[str]:
    entries = sum(user.entries for user in users)
    out = [
        f"Replay of {where} under {label} (fingerprint {config.fingerprint}): "
        f"{len(users):,} user{'s' if len(users) != 1 else ''}, {entries:,} entries"
    ]
    if not users:
        return out
    rows = []
    for user in users:
        state = user.state
        opened = state.last_exp_reset_date
        rows.append(
            [
                user.user_id,
                user.entries,
                state.exp,
                state.level,
                f"{state.daily_exp_gained:,}/{config.cap_for_level(state.level):,}",
                ", ".join(f"{a} {n}" for a, n in state.daily_action_counts.items()) or None,
                None if opened is None else opened.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "matches" if user.matches else "MISMATCH",
            ]
        )
    out += [
        "",
        format_table(
            [
                "User",
                "Entries",
                "EXP",
                "Level",
                "Today's EXP",
                "Actions today",
                "Day opened (UTC)",
                "Replay",
            ],
            rows,
            "lrrrrlll",
        ),
    ]
    what = "the last entry's state_after" if against == "last_entry" else "the stored state"
    for user in users:
        if user.matches:
            continue
        out += ["", f"{user.user_id}: the replayed state differs from {what}:"]
        out += [
            f"  {d['field']}: replayed {d['replayed']!r}, expected {d['expected']!r}"
            for d in user.differences()
        ]
        if not user.entries:
            out.append(
                "  (no ledger entries: a row from before the library is adopted into the "
                "ledger on its first change)"
            )
    foreign = sorted({f for user in users for f in user.foreign_fingerprints})
    if foreign:
        out += [
            "",
            f"Note: some entries were decided under other rules (fingerprint "
            f"{', '.join(foreign)}); replay them with the config they were made under (--config).",
        ]
    mismatched = sum(not user.matches for user in users)
    out.append("")
    if len(users) == 1:
        out.append(f"The user {'does not match' if mismatched else 'matches'} {what}.")
    elif mismatched:
        verb = "does" if mismatched == 1 else "do"
        out.append(f"{mismatched:,} of {len(users):,} users {verb} not match {what}.")
    else:
        out.append(f"All {len(users):,} users match {what}.")
    return out


REPLAY = Command(
    "replay",
    "rebuild states from a ledger and check them",
    _configure,
    _run,
    "Rebuild each user's state from their ledger through the pure core and compare it with "
    "the recorded one: the last entry's state_after in a ledger export (--ledger), or the "
    "stored state (--store). Exits 1 if any user's state does not match.",
)
