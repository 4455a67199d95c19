"""A guided tour of the library on the default config and the embedded SQLite store.

``mikoshi-progression demo`` runs it: a day in the life of two users, with every
rule of the platform showing once (limits, the daily cap, a partial award, a
level-up, an idempotent retry, a like that is revoked, a midnight reset) and the
ledger replayed at the end. The clock is simulated so that the run is the same
every time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from .core.config import DEFAULT_CONFIG, ProgressionConfig
from .core.results import AwardResult
from .errors import SelfAwardError
from .service import ProgressionService
from .stores import open_store

__all__ = ["run_demo"]


class _SteppingClock:
    """A clock that moves a few minutes on every reading, from a fixed start."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=7)
        return self.now

    def jump_to(self, moment: datetime) -> None:
        self.now = moment


@contextmanager
def _database(path: str | None) -> Iterator[str]:
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="mikoshi-demo-") as folder:
        yield str(Path(folder) / "demo.db")


def run_demo(
    out: TextIO, *, db_path: str | None = None, config: ProgressionConfig = DEFAULT_CONFIG
) -> int:
    """Print the tour to ``out``; use ``db_path`` (kept) or a temporary database."""
    clock = _SteppingClock(datetime(2026, 3, 14, 8, 0, tzinfo=UTC))
    with _database(db_path) as path:
        store = open_store(f"sqlite:///{path}")
        try:
            store.create_schema()
            service = ProgressionService(store, config=config, clock=clock)
            _tour(service, clock, out, path)
        finally:
            store.close()
    return 0


def _line(out: TextIO, who: str, what: str, result: AwardResult) -> None:
    state = result.state
    if result.success:
        verdict = f"+{result.exp_added:<3} {result.outcome.value}"
    else:
        verdict = f"refused ({result.http_status}): {result.reason}"
    extra = "  LEVEL UP!" if result.leveled_up else ""
    out.write(
        f"  {who:<6} {what:<28} {verdict:<62} exp={state.exp:<4} L{state.level} "
        f"today={state.daily_exp_gained}/{result.daily_exp_cap}{extra}\n"
    )


def _tour(service: ProgressionService, clock: _SteppingClock, out: TextIO, path: str) -> None:
    config = service.config
    out.write(f"mikoshi-progression demo: default config, SQLite store at {path}\n\n")
    out.write(
        "Levels: "
        + ", ".join(f"{lv.number} {lv.name} ({lv.exp_required})" for lv in config.levels)
        + "\n\n"
    )

    out.write("Alice's first day (limits 1-2/day, cap 150 EXP/day at levels 1-2):\n")
    for action in (
        "daily_chat",
        "create_character",
        "create_character",
        "create_character",
        "create_scene",
        "create_scene",
        "create_persona",
        "create_persona",
    ):
        _line(out, "alice", action, service.award("alice", action))
    _line(
        out,
        "alice",
        "paid_char_sold (bob buys)",
        service.award("alice", "paid_char_sold", key="sale:order-1", actor_id="bob"),
    )
    _line(
        out,
        "alice",
        "forked (by bob)",
        service.award("alice", "forked", key="fork:bob:char-1", actor_id="bob"),
    )
    try:
        service.award("alice", "paid_char_sold", key="sale:order-2", actor_id="alice")
    except SelfAwardError as exc:
        out.write(f"  alice  {'paid_char_sold (her own)':<28} refused: {exc}\n")

    out.write("\nA client retries a request with the same idempotency key:\n")
    for attempt in ("first try", "retry"):
        result = service.award("bob", "create_character", key="req-42")
        _line(out, "bob", f"create_character ({attempt})", result)
    out.write(f"  bob's EXP after both: {service.state('bob').exp} (awarded once)\n")

    out.write("\nBob likes Carol's character, unlikes it, likes it again:\n")
    _line(
        out,
        "carol",
        "character_liked",
        service.award("carol", "character_liked", key="like:bob:char-7", actor_id="bob"),
    )
    revoked = service.revoke("carol", "like:bob:char-7")
    taken = -revoked.exp_delta if revoked else 0
    out.write(f"  carol  {'unlike':<28} -{taken} EXP taken back; today's count and cap stay\n")
    _line(
        out,
        "carol",
        "character_liked",
        service.award("carol", "character_liked", key="like:bob:char-7:2", actor_id="bob"),
    )
    out.write("  (20 likes a day at most, whatever the unlikes: like/unlike cannot farm EXP)\n")

    out.write("\nAn unknown action is refused and stores nothing:\n")
    _line(out, "alice", "chat_used_50", service.award("alice", "chat_used_50"))

    clock.jump_to(datetime(2026, 3, 15, 0, 0, 5, tzinfo=UTC))
    limits = service.limits("alice")
    out.write(
        f"\nMidnight UTC has passed: alice has {limits['remaining_exp']} EXP of "
        f"{limits['daily_exp_cap']} left today, counts {limits['daily_action_counts']}\n"
    )
    _line(out, "alice", "daily_chat", service.award("alice", "daily_chat"))

    entries = service.ledger("alice")
    report = service.replay("alice")
    out.write(f"\nAlice's ledger: {len(entries)} entries\n")
    for entry in entries:
        out.write(
            f"  #{entry.seq:<3} {entry.at:%Y-%m-%d %H:%M} {entry.kind.value:<6} "
            f"{entry.action or '-':<17} {entry.exp_delta:+4d}  "
            f"L{entry.level_before}->L{entry.level_after}\n"
        )
    verdict = "matches" if report.matches else "DOES NOT MATCH"
    out.write(
        f"Replaying the ledger gives exp={report.state.exp}, level {report.state.level}: "
        f"{verdict} the stored state.\n"
    )
