"""Type-checked, never run: the public API's types as users see them (``mypy typing_tests``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, assert_type

from mikoshi_progression import (
    DEFAULT_CONFIG,
    AwardResult,
    AwardResults,
    ConfigWarning,
    InvalidIdError,
    Outcome,
    ProgressionConfig,
    ProgressionEvent,
    ProgressState,
    apply_events,
    award_exp_with_limits,
    check_id,
    config_warnings,
    exp_limits_view,
    is_clock_fault,
    level_for_exp,
    level_progress,
    levels_view,
    load_config,
    reset_daily_limits_if_needed,
    revoke_exp,
)
from mikoshi_progression.errors import SchemaOutdatedError
from mikoshi_progression.otel import OpenTelemetryObserver
from mikoshi_progression.service import (
    AsyncProgressionService,
    Observer,
    ProgressionService,
    ReplayReport,
)
from mikoshi_progression.stores import (
    AsyncInMemoryStore,
    CommittedEvent,
    EventsPage,
    LedgerEntry,
    MigratingStore,
    ProgressStore,
    ReplayReader,
    ReplayRow,
    SQLiteStore,
    open_store,
)

now = datetime(2026, 1, 1, tzinfo=UTC)
state = ProgressState()

result = award_exp_with_limits(state, "daily_chat", now=now)
assert_type(result, AwardResult)
assert_type(result.outcome, Outcome)
assert_type(result.state, ProgressState)
assert_type(result.reason, str | None)
assert_type(result.action_limit, int | None)
assert_type(result.resets_at, datetime)
assert_type(result.to_dict(), dict[str, Any])

final, results = apply_events(state, [(now, "daily_chat")], DEFAULT_CONFIG)
assert_type(final, ProgressState)
assert_type(results, AwardResults)
assert_type(results[0], AwardResult)
assert_type(results[0:1], list[AwardResult])

assert_type(level_for_exp(10), int)
assert_type(level_progress(10), dict[str, Any])
assert_type(levels_view(), dict[str, dict[str, Any]])
assert_type(exp_limits_view(state, now=now), dict[str, Any])
assert_type(reset_daily_limits_if_needed(state, now=now), ProgressState)
assert_type(revoke_exp(state, 5), ProgressState)
assert_type(load_config("levels.toml"), ProgressionConfig)
warnings = config_warnings(load_config("levels.toml"), reference=DEFAULT_CONFIG)
assert_type(warnings, tuple[ConfigWarning, ...])
assert_type(warnings[0].path, str)
assert_type(warnings[0].suggestion, str | None)

store = open_store("memory://")
assert_type(store, ProgressStore)
service = ProgressionService(store)
assert_type(service.award("u", "daily_chat", key="k"), AwardResult)
assert_type(service.revoke("u", "k"), LedgerEntry | None)
assert_type(service.replay("u"), ReplayReport)
assert_type(service.limits("u"), dict[str, Any])

# Identities, keys and clocks.
assert_type(check_id("u"), str)
assert_type(is_clock_fault(state, now=now), bool)
assert_type(DEFAULT_CONFIG.max_clock_skew, timedelta)
assert_type(
    service.award("u", "forked", key="k", actor_id="fan", target="character:1"), AwardResult
)
assert_type(service.claim_key("fan", "k", "request"), str)
entry = LedgerEntry.from_dict({})
assert_type(entry.actor, str | None)
assert_type(entry.target, str | None)
error = InvalidIdError("user_id", "a string")
assert_type(error.field, str)

# Observability: the OpenTelemetry observer is an Observer, for both services.
observer: Observer = OpenTelemetryObserver(user_ids_on_spans=False)
ProgressionService(store, observer=observer)
AsyncProgressionService(AsyncInMemoryStore(), observer=OpenTelemetryObserver())

# The designer levers in the stores: time-zone moves, the events feed, migrations.
assert_type(service.set_timezone("u", "Asia/Tokyo", key="k"), ProgressState)
assert_type(service.set_timezone("u", None), ProgressState)
page = service.events(since=None, limit=10)
assert_type(page, EventsPage)
assert_type(page.cursor, str | None)
assert_type(page.events[0], CommittedEvent)
assert_type(page.events[0].event, ProgressionEvent)
assert_type(entry.events, tuple[ProgressionEvent, ...])
sqlite_store = SQLiteStore(":memory:")
assert_type(sqlite_store.migrate(dry_run=True), list[str])
assert_type(sqlite_store.check_schema().schema_version, int | None)
assert_type(isinstance(sqlite_store, MigratingStore), bool)
replay_reader: ReplayReader = sqlite_store
assert_type(sqlite_store.replay_rows("u"), list[ReplayRow])
outdated = SchemaOutdatedError("streak", "migrate")
assert_type(outdated.field, str)
