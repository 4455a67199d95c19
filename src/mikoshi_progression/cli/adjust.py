"""``adjust USER (--delta N | --set-exp N | --reset-day)``: an operator's change, for support staff.

A grant or deduction of EXP (:meth:`ProgressionService.adjust
<mikoshi_progression.service.ProgressionService.adjust>`), a set balance
(:meth:`~mikoshi_progression.service.ProgressionService.set_exp`) or the guide's manual
reset of today's limits (:meth:`~mikoshi_progression.service.ProgressionService.reset_daily`),
each recorded in the ledger with the operator and the reason.

Before anything is written the command shows the user's state now and what the change
would make of it, computed with the pure core (:func:`~mikoshi_progression.adjust_exp`,
:func:`~mikoshi_progression.reset_daily_limits`) under ``--config``'s rules. ``--dry-run``
stops there and writes nothing; otherwise the operator confirms on the terminal
(``Apply? [y/N]``), or passes ``--yes``. Without a terminal and without ``--yes`` the
command refuses at once rather than wait for an answer that never comes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from ..core.config import ProgressionConfig
from ..core.daily import reset_daily_limits, reset_daily_limits_if_needed
from ..core.identity import check_id, check_optional_id, check_reason
from ..core.rules import adjust_exp, set_total_exp
from ..core.state import ProgressState
from ..errors import IdempotencyError, InvalidArgumentError, UnknownUserError
from ..service import ProgressionService, utc_now
from ..service._steps import check_repeated_adjustment
from ..stores import ADJUSTED, MANUAL_RESET, SET, EntryKind, LedgerEntry
from ._common import (
    PROG,
    CliError,
    Command,
    ExitCode,
    add_config_argument,
    cell,
    config_source,
    format_table,
    load_config_argument,
    print_json,
)
from .stores import add_store_options, display_url, opened_store, store_scheme

__all__ = ["ADJUST", "clock"]

clock: Callable[[], datetime] = utc_now
"""When the command's changes are made (and "today" is, in the preview): the current
moment. The tests and the documentation's examples replace it with a fixed one."""

_DELTA, _SET_EXP, _RESET_DAY = "delta", "set_exp", "reset_day"
_YES = ("y", "yes")


# --- arguments ---------------------------------------------------------------------------


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _delta(text: str) -> int:
    """An argparse type: a non-zero whole number (negative to deduct)."""
    value = _whole_number(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (an adjustment changes EXP)")
    return value


def _exp(text: str) -> int:
    """An argparse type: a whole number of at least 0."""
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"must be at least 0 (EXP never goes below 0), got {value}"
        )
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", metavar="USER", help="the user whose progression to change")
    change = parser.add_argument_group("the change (exactly one)").add_mutually_exclusive_group(
        required=True
    )
    change.add_argument(
        "--delta",
        metavar="N",
        type=_delta,
        help="grant N EXP, or deduct it if negative (--delta -30); outside the daily rules: "
        "no limit or cap applies, today's counts stay",
    )
    change.add_argument(
        "--set-exp",
        metavar="N",
        type=_exp,
        help="set the user's total EXP to N (a migrated balance): a grant or deduction of "
        "the difference",
    )
    change.add_argument(
        "--reset-day",
        action="store_true",
        help="reset today's EXP gained and action counts (the guide's manual reset)",
    )
    parser.add_argument(
        "--reason",
        metavar="TEXT",
        required=True,
        help="why, recorded in the ledger (1 to 1,000 printable characters)",
    )
    parser.add_argument(
        "--operator",
        metavar="ID",
        required=True,
        help="who makes the change (your staff id), recorded in the ledger as its actor",
    )
    parser.add_argument(
        "--key",
        metavar="K",
        help="an idempotency key: the same command with the same key is applied once, so a "
        "script may safely retry it; the key cannot name another request "
        "(not with --reset-day)",
    )
    add_store_options(parser)
    add_config_argument(parser, option=True)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show the user's state and what the change would make of it; write nothing",
    )
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="apply without asking (needed when stdin is not a terminal)",
    )


@dataclass(frozen=True, slots=True)
class _Change:
    """What the operator asked for, checked."""

    mode: str
    amount: int | None  # the delta, or the new EXP; None for a reset
    reason: str
    operator: str
    key: str | None

    @property
    def option(self) -> str:
        return {_DELTA: "--delta", _SET_EXP: "--set-exp", _RESET_DAY: "--reset-day"}[self.mode]

    def describe(self) -> str:
        if self.mode == _RESET_DAY:
            return "a manual reset of today's EXP gained and action counts"
        assert self.amount is not None
        if self.mode == _SET_EXP:
            return f"total EXP set to {self.amount:,}"
        word = "grant" if self.amount > 0 else "deduction"
        return f"a {word} of {self.amount:+,} EXP"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.mode,
            "delta": self.amount if self.mode == _DELTA else None,
            "exp": self.amount if self.mode == _SET_EXP else None,
            "reason": self.reason,
            "operator": self.operator,
            "key": self.key,
        }


_FIELDS = {"user_id": "USER", "reason": "--reason", "operator": "--operator", "key": "--key"}


def _bad_input(exc: InvalidArgumentError, change: _Change | None) -> CliError:
    """A library's refusal of an argument as a one-line error naming the option."""
    field = exc.field
    if field in ("delta", "exp") and change is not None:
        option = change.option
    else:
        option = _FIELDS.get(field, field)
    return CliError(f"{option}: {str(exc).removeprefix(f'{field}: ')}")


def _change(args: argparse.Namespace) -> _Change:
    if args.reset_day:
        mode, amount = _RESET_DAY, None
    elif args.set_exp is not None:
        mode, amount = _SET_EXP, args.set_exp
    else:
        mode, amount = _DELTA, args.delta
    if mode == _RESET_DAY and args.key is not None:
        raise CliError(
            "--key: a manual reset takes no idempotency key (it is never retried: "
            "run it again only after checking the ledger)"
        )
    try:
        check_id(args.user, "user_id")
        reason = check_reason(args.reason)
        operator = check_id(args.operator, "operator")
        key = check_optional_id(args.key, "key")
    except InvalidArgumentError as exc:
        raise _bad_input(exc, None) from exc
    assert reason is not None
    return _Change(mode, amount, reason, operator, key)


def _stdin_is_a_terminal() -> bool:
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


# --- the preview ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Preview:
    """The user's state now and what the change would make of it."""

    user_id: str
    before: ProgressState
    after: ProgressState
    now: datetime
    entries: int  # how many ledger entries the user has
    new_day: bool  # a day has begun since the stored one was opened
    repeat_of: LedgerEntry | None  # the entry a keyed repeat would return
    last_fingerprint: str | None  # the rules of the user's last entry


def _keyed_entry(entries: Sequence[LedgerEntry], key: str | None) -> LedgerEntry | None:
    """The award or adjustment the user's ledger holds for ``key`` (what a retry finds)."""
    if key is None:
        return None
    for entry in entries:
        if entry.key == key and entry.kind in (EntryKind.AWARD, EntryKind.ADJUST):
            return entry
    return None


def _preview(service: ProgressionService, user_id: str, change: _Change, now: datetime) -> _Preview:
    config = service.config
    before = service.state(user_id)
    ledger = service.ledger(user_id)
    repeat_of = _keyed_entry(ledger, change.key)
    if repeat_of is not None:
        assert change.amount is not None  # reset_day takes no key
        outcome = SET if change.mode == _SET_EXP else ADJUSTED
        try:  # refused as the service refuses it
            check_repeated_adjustment(
                repeat_of, change.key, outcome, change.amount, change.reason, change.operator
            )
        except IdempotencyError as exc:
            raise CliError(f"--key: {exc}") from exc
        after = before
    elif change.mode == _RESET_DAY:
        after = reset_daily_limits(before, now=now)
    else:
        assert change.amount is not None
        try:
            if change.mode == _SET_EXP:
                after = set_total_exp(before, change.amount, config=config)
            else:
                after = adjust_exp(before, change.amount, config=config)
        except InvalidArgumentError as exc:
            raise _bad_input(exc, change) from exc
    opened = reset_daily_limits_if_needed(before, now=now, config=config)
    return _Preview(
        user_id,
        before,
        after,
        now,
        len(ledger),
        opened is not before and before.last_exp_reset_date is not None,
        repeat_of,
        ledger[-1].config_fingerprint if ledger else None,
    )


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _level(config: ProgressionConfig, number: int) -> str:
    return f"{number} {config.level(number).name}"


def _today(config: ProgressionConfig, state: ProgressState) -> str:
    return f"{state.daily_exp_gained:,}/{config.cap_for_level(state.level):,}"


def _counts(state: ProgressState) -> str:
    return ", ".join(f"{a} {n}" for a, n in state.daily_action_counts.items()) or "-"


def _preview_lines(
    preview: _Preview, change: _Change, config: ProgressionConfig, label: str, store: str
) -> list[str]:
    before, after = preview.before, preview.after
    out = [
        f"Adjustment of {preview.user_id} in {store} under {label} "
        f"(fingerprint {config.fingerprint})",
        f"Change: {change.describe()}, by {change.operator}",
        f"Reason: {change.reason}",
    ]
    if change.key is not None:
        out.append(f"Key:    {change.key}")
    rows = [
        ["EXP", f"{before.exp:,}", f"{after.exp:,}"],
        ["Level", _level(config, before.level), _level(config, after.level)],
        ["Today's EXP", _today(config, before), _today(config, after)],
        ["Actions today", _counts(before), _counts(after)],
        [
            "Day opened (UTC)",
            _moment(before.last_exp_reset_date) or "-",
            _moment(after.last_exp_reset_date) or "-",
        ],
    ]
    out += ["", format_table(["", "Now", "After"], rows, "lll"), ""]
    out += _notes(preview, change, config, store)
    return out


def _notes(preview: _Preview, change: _Change, config: ProgressionConfig, store: str) -> list[str]:
    before, after = preview.before, preview.after
    notes: list[str] = []
    if preview.repeat_of is not None:
        entry = preview.repeat_of
        notes.append(
            f"Key {change.key!r} already made this change (ledger entry #{entry.seq}, "
            f"{_moment(entry.at)} UTC): applying it again writes nothing."
        )
    elif change.mode != _RESET_DAY:
        delta = after.exp - before.exp
        if after.level > before.level:
            notes.append(f"EXP {delta:+,}: level up {before.level} -> {after.level}.")
        elif after.level < before.level:
            notes.append(
                f"EXP {delta:+,}: level down {before.level} -> {after.level} "
                "(levels_can_drop = true)."
            )
        elif config.level_for_exp(after.exp) < after.level:
            notes.append(
                f"EXP {delta:+,}: {after.exp:,} EXP is level "
                f"{config.level_for_exp(after.exp)}'s, but levels never drop under these rules "
                f"(levels_can_drop = false): the user keeps level {after.level}."
            )
        else:
            notes.append(f"EXP {delta:+,}: the level stays {after.level}.")
        notes.append("Today's EXP and action counts stay: an adjustment is not an action.")
    if preview.new_day and change.mode != _RESET_DAY:
        notes.append(
            "A new day has begun since the stored one was opened: its counts reset at the "
            "user's next award."
        )
    if preview.entries == 0 and before == ProgressState():
        notes.append(
            f"{preview.user_id} has no progression in {store} yet: check the user id (the "
            "first change creates the user)."
        )
    elif preview.entries == 0:
        notes.append(
            f"{preview.user_id} has no ledger entries yet: the change first records the "
            "stored state (an import entry)."
        )
    elif preview.last_fingerprint != config.fingerprint:
        notes.append(
            f"The user's last ledger entry was decided under other rules (fingerprint "
            f"{preview.last_fingerprint}): is --config the platform's config?"
        )
    if store_scheme(store) == "memory":
        notes.append("memory:// keeps nothing: the change is gone when the command exits.")
    return notes


def _preview_doc(
    preview: _Preview, change: _Change, config: ProgressionConfig, label: str, store: str
) -> dict[str, Any]:
    before, after = preview.before, preview.after
    return {
        "dry_run": True,
        "store": store,
        "config": config_source(label, config),
        "user_id": preview.user_id,
        "at": preview.now.isoformat(),
        "change": change.to_dict(),
        "before": before.to_dict(),
        "after": after.to_dict(),
        "daily_exp_cap": {
            "before": config.cap_for_level(before.level),
            "after": config.cap_for_level(after.level),
        },
        "exp_delta": after.exp - before.exp,
        "new_day": preview.new_day,
        "ledger_entries": preview.entries,
        "repeat_of": None if preview.repeat_of is None else preview.repeat_of.to_dict(),
    }


def _confirmed(out: TextIO) -> bool:
    """Ask ``Apply? [y/N]`` on ``out`` and read the answer from stdin (EOF is no)."""
    out.write("Apply? [y/N] ")
    out.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        out.write("\n")
    return answer.strip().lower() in _YES


# --- applying -------------------------------------------------------------------------------


def _apply(
    service: ProgressionService, user_id: str, change: _Change
) -> tuple[LedgerEntry | None, ProgressState]:
    """Make the change; the entry written (with its seq when the ledger tells it) and the
    state after."""
    try:
        if change.mode == _RESET_DAY:
            state = service.reset_daily(user_id, reason=change.reason, operator=change.operator)
            return _written_reset(service.ledger(user_id), state, change), state
        assert change.amount is not None
        make = service.set_exp if change.mode == _SET_EXP else service.adjust
        entry = make(
            user_id, change.amount, reason=change.reason, operator=change.operator, key=change.key
        )
    except InvalidArgumentError as exc:
        raise _bad_input(exc, change) from exc
    except IdempotencyError as exc:
        raise CliError(f"--key: {exc}") from exc
    if entry.seq is None:  # a new entry: the store numbered it as it wrote it
        for stored in reversed(service.ledger(user_id)):
            if stored == entry:  # seq is not compared
                entry = stored
                break
    return entry, entry.state_after


def _written_reset(
    entries: Sequence[LedgerEntry], state: ProgressState, change: _Change
) -> LedgerEntry | None:
    for entry in reversed(entries):
        if (
            entry.kind is EntryKind.DAY
            and entry.outcome == MANUAL_RESET
            and entry.state_after == state
            and (entry.actor, entry.reason) == (change.operator, change.reason)
        ):
            return entry
    return None


def _entry_lines(
    entry: LedgerEntry | None,
    state: ProgressState,
    repeated: bool,
    user_id: str,
    config: ProgressionConfig,
    store: str,
) -> list[str]:
    if entry is None:  # not found in the ledger after writing it: say what is known
        return [
            f"Applied to {user_id} in {store}: {state.exp:,} EXP, level {state.level}, "
            f"today's EXP {_today(config, state)}"
        ]
    number = "" if entry.seq is None else f" #{entry.seq}"
    if repeated:
        head = (
            f"Already applied: ledger entry{number} of {user_id} in {store} (nothing new written)"
        )
    else:
        head = f"Applied: ledger entry{number} of {user_id} in {store}"
    after = entry.state_after
    before_exp = after.exp - entry.exp_delta
    rows: list[tuple[str, str | None]] = [
        ("At (UTC)", _moment(entry.at)),
        ("Kind", f"{entry.kind} ({entry.outcome})"),
        ("EXP", f"{entry.exp_delta:+,} ({before_exp:,} -> {after.exp:,})"),
        ("Level", f"{entry.level_before} -> {entry.level_after}"),
        ("Today's EXP", _today(config, after)),
        ("Actions today", _counts(after)),
        ("Operator", entry.actor),
        ("Reason", entry.reason),
    ]
    if entry.key is not None:
        rows.append(("Key", entry.key))
    rows.append(("Rules", f"fingerprint {entry.config_fingerprint}"))
    width = max(len(name) for name, _ in rows)
    return [head, *(f"  {name.ljust(width)}  {cell(value)}" for name, value in rows)]


# --- the command ------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    change = _change(args)
    if not args.dry_run and not args.yes and not _stdin_is_a_terminal():
        raise CliError(
            "adjust asks for confirmation, but stdin is not a terminal: pass --yes to apply "
            "the change without asking, or --dry-run to only preview it"
        )
    config, label = load_config_argument(args.config)
    store_label = display_url(args.store)
    with opened_store(args, read_only=args.dry_run) as store:
        service = ProgressionService(store, config=config, clock=clock)
        user_id: str = args.user
        previewed: _Preview | None = None  # what the operator confirmed
        try:
            if args.dry_run or not args.yes:
                preview = _preview(service, user_id, change, clock())
                lines = _preview_lines(preview, change, config, label, store_label)
                if args.dry_run:
                    if args.json:
                        print_json(_preview_doc(preview, change, config, label, store_label))
                    else:
                        print("\n".join([*lines, "", "Dry run: nothing was written."]))
                    return ExitCode.OK
                # With --json, stdout holds only the entry: the preview and question go to stderr.
                out = sys.stderr if args.json else sys.stdout
                out.write("\n".join(lines) + "\n")
                if not _confirmed(out):
                    raise CliError("not confirmed: nothing was written", ExitCode.INVALID)
                repeated = preview.repeat_of is not None
                previewed = preview
            else:
                repeated = _keyed_entry(service.ledger(user_id), change.key) is not None
            entry, state = _apply(service, user_id, change)
        except UnknownUserError as exc:
            raise CliError(f"USER: {exc}") from exc
    if args.json:
        print_json(entry.to_dict() if entry is not None else {"state_after": state.to_dict()})
    else:
        print("\n".join(_entry_lines(entry, state, repeated, user_id, config, store_label)))
    if previewed is not None and not repeated and _drifted(previewed, entry, state):
        (sys.stderr if args.json else sys.stdout).write(
            "Note: the user's state changed between the preview and the change (another "
            "request landed in between): the entry above is what was applied.\n"
        )
    return ExitCode.OK


def _drifted(preview: _Preview, entry: LedgerEntry | None, state: ProgressState) -> bool:
    """Whether what was applied differs from what the operator was shown and confirmed."""
    shown = preview.after
    if (state.exp, state.level) != (shown.exp, shown.level):
        return True
    return entry is not None and entry.exp_delta != shown.exp - preview.before.exp


ADJUST = Command(
    "adjust",
    "an operator's grant, deduction, set balance or manual daily reset",
    _configure,
    _run,
    "Change a user's progression by hand, for support staff: grant or deduct EXP (--delta), "
    "set the total (--set-exp) or reset today's limits (--reset-day), recorded in the ledger "
    "with --operator and --reason. The state now and after the change is shown first; "
    "--dry-run stops there, otherwise the change is applied after you confirm (or with "
    f"--yes). {PROG} replay --store checks the ledger still explains the state.",
)
