"""The store contract, run over every backend: memory (the reference), SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mikoshi_progression.testing import store_contract as contract
from mikoshi_progression.testing.store_contract import NotApplicable, StoreFactory


def run(check: Callable[[StoreFactory], None], factory: StoreFactory) -> None:
    """Run one contract check; a backend it does not apply to skips it."""
    try:
        check(factory)
    except NotApplicable as exc:
        pytest.skip(str(exc))


def test_contract_lists_every_check():
    """CHECKS holds every check_* function of the contract module, once."""
    defined = {n.removeprefix("check_") for n in dir(contract) if n.startswith("check_")}
    assert set(contract.CHECKS) == defined


# --- awards, limits, caps, days


def test_new_user_defaults(store_factory):
    """An unknown user reads as a new user, with no ledger and a full day ahead."""
    run(contract.check_new_user_defaults, store_factory)


def test_award_persists(store_factory):
    """An award's state is stored and its ledger entry carries every field."""
    run(contract.check_award_persists, store_factory)


def test_limits_caps_and_partial_awards(store_factory):
    """Action limits and the daily cap reject, the cap cuts a partial award, all stored."""
    run(contract.check_limits_caps_and_partial_awards, store_factory)


def test_day_reset_persisted(store_factory):
    """A new day's first award resets the day, and the reset is stored."""
    run(contract.check_day_reset_persisted, store_factory)


def test_limits_persists_reset(store_factory):
    """GET limits on a new day shows and stores the reset, once."""
    run(contract.check_limits_persists_reset, store_factory)


def test_reset_daily(store_factory):
    """An operator's reset zeroes today's gained and counts, keeps EXP, and is stored."""
    run(contract.check_reset_daily, store_factory)


def test_datetimes_round_trip(store_factory):
    """Stored moments keep their instant and microseconds."""
    run(contract.check_datetimes_round_trip, store_factory)


# --- concurrency


def test_threads_no_lost_update(store_factory):
    """Eight threads on one hot user: totals equal what callers were told, caps hold."""
    run(contract.check_threads_no_lost_update, store_factory)


def test_processes_no_lost_update(store_factory):
    """Separate processes on one hot user: totals equal what callers were told, caps hold."""
    run(contract.check_processes_no_lost_update, store_factory)


# --- exactly once


def test_keyed_award_once(store_factory):
    """A repeated key awards once and returns the first result, even days later."""
    run(contract.check_keyed_award_once, store_factory)


def test_keys_scoped_per_user(store_factory):
    """One key on two users is two awards."""
    run(contract.check_keys_scoped_per_user, store_factory)


def test_key_reused_for_another_action(store_factory):
    """A key reused for another action raises IdempotencyError and changes nothing."""
    run(contract.check_key_reused_for_another_action, store_factory)


def test_concurrent_same_key(store_factory):
    """Threads sending one keyed award at once award it once and agree on the result."""
    run(contract.check_concurrent_same_key, store_factory)


# --- ledger


def test_replay_matches(store_factory):
    """Replaying the ledger of random awards, revocations and resets gives the stored state."""
    run(contract.check_replay_matches, store_factory)


def test_ledger_entries_round_trip(store_factory):
    """Every ledger field comes back as written, oldest first, with seq set."""
    run(contract.check_ledger_entries_round_trip, store_factory)


# --- revocation


def test_revoke_takes_back_partial_exp(store_factory):
    """Revoking a partial award removes what it granted, not the nominal reward."""
    run(contract.check_revoke_takes_back_partial_exp, store_factory)


def test_revoke_cannot_farm(store_factory):
    """Like/unlike/like gives back no cap room and no action count."""
    run(contract.check_revoke_cannot_farm, store_factory)


def test_revoke_twice_and_unknown(store_factory):
    """A second revoke is a no-op returning the first; an unknown key returns None."""
    run(contract.check_revoke_twice_and_unknown, store_factory)


def test_revoke_keeps_level_by_default(store_factory):
    """A revocation keeps the level by default and drops it only when the config allows."""
    run(contract.check_revoke_keeps_level_by_default, store_factory)


# --- creator awards, legacy rows, monitoring, schema


def test_creator_award_needs_another_actor(store_factory):
    """A creator award without an actor, or to its actor, raises SelfAwardError."""
    run(contract.check_creator_award_needs_another_actor, store_factory)


def test_legacy_rows(store_factory):
    """Platform rows with NULLs, string counts and removed actions award and normalise."""
    run(contract.check_legacy_rows, store_factory)


def test_monitoring_queries(store_factory):
    """Users at their cap and the most active today, with caps beyond the mapping."""
    run(contract.check_monitoring_queries, store_factory)


def test_schema_is_idempotent(store_factory):
    """create_schema runs twice harmlessly and the schema check finds nothing missing."""
    run(contract.check_schema_is_idempotent, store_factory)


# --- the transaction protocol


def test_stale_version_rejected(store_factory):
    """A write with an outdated version, or a second insert, raises StaleVersionError."""
    run(contract.check_stale_version_rejected, store_factory)


def test_duplicate_key_is_stale(store_factory):
    """A key already in the user's ledger for that kind raises StaleVersionError."""
    run(contract.check_duplicate_key_is_stale, store_factory)


def test_transaction_rolls_back_on_error(store_factory):
    """An exception inside a transaction keeps nothing of it."""
    run(contract.check_transaction_rolls_back_on_error, store_factory)


# --- identity, keys and clocks (issue: trust at the seams)


def test_ids_are_canonical_strings(store_factory):
    """Non-canonical ids (an int, padded, a lone surrogate, NFD...) are refused everywhere."""
    run(contract.check_ids_are_canonical_strings, store_factory)


def test_no_self_award_across_id_types(store_factory):
    """42 and "42" never let a user like, fork or buy their own character."""
    run(contract.check_no_self_award_across_id_types, store_factory)


def test_key_names_one_request(store_factory):
    """A key reused with another action, actor or target is refused; the ledger records both."""
    run(contract.check_key_names_one_request, store_factory)


def test_request_keys_claimed_once(store_factory):
    """A caller's key is tied to one request, once, even under concurrent claims."""
    run(contract.check_request_keys_claimed_once, store_factory)


def test_clock_fault_reopens_the_day(store_factory):
    """A day stamped in 2099 by a broken clock reopens at the real moment, recorded."""
    run(contract.check_clock_fault_reopens_the_day, store_factory)


def test_far_future_days_never_overflow(store_factory):
    """Rows stamped in year 9999 or year 1 load, award and answer limits without overflow."""
    run(contract.check_far_future_days_never_overflow, store_factory)


# --- the version check and the single transaction, a second time


def test_every_write_is_version_checked(store_factory):
    """Generated interleavings: a write commits exactly when it holds the current version."""
    run(contract.check_every_write_is_version_checked, store_factory)


def test_write_is_all_or_nothing(store_factory):
    """A write refused for one entry keeps none of its state, version or entries."""
    run(contract.check_write_is_all_or_nothing, store_factory)


# --- operators' adjustments


def test_adjustments_recorded(store_factory):
    """Grants, deductions, set balances and manual resets are in the ledger and replay."""
    run(contract.check_adjustments_recorded, store_factory)


def test_adjustment_limits(store_factory):
    """Impossible adjustments are refused and store nothing; levels follow the policy."""
    run(contract.check_adjustment_limits, store_factory)


def test_keyed_adjustment_once(store_factory):
    """A keyed adjustment happens once; its key names one request."""
    run(contract.check_keyed_adjustment_once, store_factory)


# --- the designer levers and the events feed


def test_lever_fields_round_trip(store_factory):
    """Every state field (the levers' too) and an entry's events come back as written."""
    run(contract.check_lever_fields_round_trip, store_factory)


def test_timezone_changes_recorded(store_factory):
    """A time-zone move is stored and recorded once per key; replay follows it."""
    run(contract.check_timezone_changes_recorded, store_factory)


def test_levers_replay_matches(store_factory):
    """With every lever on, random commands store their events and replay exactly."""
    run(contract.check_levers_replay_matches, store_factory)


def test_replay_rows_match_the_ledger(store_factory):
    """A store's replay rows are its ledger's, and replay reads the same report through
    them as through the ledger (imports, days, awards, revocations, adjustments, zones)."""
    run(contract.check_replay_rows_match_the_ledger, store_factory)


def test_keyed_award_with_levers_repeats_its_result(store_factory):
    """A repeated keyed award returns the first result's levers' effects and body."""
    run(contract.check_keyed_award_with_levers_repeats_its_result, store_factory)


def test_events_feed(store_factory):
    """The feed hands out every committed event once, in order, page by page."""
    run(contract.check_events_feed, store_factory)


def test_feed_under_concurrent_awards(store_factory):
    """A notifier polling during concurrent awards sees every event exactly once."""
    run(contract.check_feed_under_concurrent_awards, store_factory)


# --- many awards at once


def test_award_many_matches_one_by_one(store_factory):
    """A batch stores and returns what its requests sent one by one would have."""
    run(contract.check_award_many_matches_one_by_one, store_factory)


def test_award_many_exactly_once_under_concurrency(store_factory):
    """The same keyed batch from several threads: every key lands once."""
    run(contract.check_award_many_exactly_once_under_concurrency, store_factory)


def test_award_many_beside_single_awards(store_factory):
    """Batches and single awards at once: no update lost, no cap passed."""
    run(contract.check_award_many_beside_single_awards, store_factory)


def test_combined_awards_keyed_once(store_factory):
    """Combined awards to a hot user: each key once, every caller told its first result."""
    run(contract.check_combined_awards_keyed_once, store_factory)
