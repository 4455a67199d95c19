"""What the store machine compares after its steps: awards, ledgers, the events feed."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from ..core.results import AwardResult
from ..stores.base import LedgerEntry, ProgressStore, Snapshot, StaleVersionError

__all__ = [
    "entry_summary",
    "expect_refusal",
    "load",
    "same_award",
    "same_ledger",
]


def load(store: ProgressStore, user: str) -> Snapshot:
    with store.transaction(user) as tx:
        return tx.load()


def expect_refusal(what: str, write: Callable[[], None]) -> None:
    try:
        write()
    except StaleVersionError:
        return
    except Exception as exc:
        raise AssertionError(f"{what} raised {exc!r}, not StaleVersionError") from exc
    raise AssertionError(f"{what} was accepted")


def same_award(what: str, actual: AwardResult, expected: AwardResult) -> None:
    def summary(result: AwardResult) -> tuple[object, ...]:
        return (
            str(result.outcome),
            result.exp_added,
            result.previous_level,
            result.state,
            result.now,
            result.to_dict(),
        )

    if summary(actual) != summary(expected):
        raise AssertionError(
            f"{what} differs:\n  store under test: {summary(actual)}\n"
            f"  reference:        {summary(expected)}"
        )


def entry_summary(entry: LedgerEntry | None) -> str:
    if entry is None:
        return "None"
    return repr(
        (
            str(entry.kind),
            entry.action,
            entry.exp_delta,
            entry.level_before,
            entry.level_after,
            entry.key,
            entry.at.isoformat(),
            entry.outcome,
        )
    )


def same_ledger(user: str, actual: list[LedgerEntry], expected: list[LedgerEntry]) -> None:
    for index, (got, want) in enumerate(zip(actual, expected, strict=False)):
        if got != want:
            raise AssertionError(
                f"ledger entry {index} of {user!r} differs:\n"
                f"  store under test: {entry_summary(got)} -> {got.state_after}\n"
                f"  reference:        {entry_summary(want)} -> {want.state_after}"
            )
    if len(actual) != len(expected):
        extra = actual[len(expected) :] or expected[len(actual) :]
        raise AssertionError(
            f"the ledger of {user!r} has {len(actual)} entries in the store under test, "
            f"{len(expected)} in the reference; the first unmatched: {entry_summary(extra[0])}"
        )
    seqs = [entry.seq for entry in actual]
    numbers = [seq for seq in seqs if isinstance(seq, int)]
    if len(numbers) != len(seqs) or any(a >= b for a, b in pairwise(numbers)):
        raise AssertionError(f"the ledger of {user!r} has seq {seqs}, not increasing numbers")
