"""The store contract: what every ``ProgressStore`` must do, proven through the service.

Backend-independent and free of pytest, so that a test kit can ship it to
third-party adapters. Each ``check_*`` function takes a :class:`StoreFactory`
(how to reach one backend) and raises ``AssertionError`` when the store breaks
the contract, or :class:`NotApplicable` when the backend lacks what the check
needs (another process, raw legacy rows, monitoring queries). ``CHECKS`` lists
them all by name, for a one-line parametrisation::

    @pytest.mark.parametrize("check", CHECKS.values(), ids=list(CHECKS))
    def test_my_store(check, my_store_factory):
        check(my_store_factory)

The in-memory store is the reference: a check that it fails is a wrong check.
"""

from __future__ import annotations

from collections.abc import Callable

from ._support import LEVERS, START, FakeClock, NotApplicable, StoreFactory
from .adjustments import (
    check_adjustment_limits,
    check_adjustments_recorded,
    check_keyed_adjustment_once,
)
from .awards import (
    check_award_persists,
    check_creator_award_needs_another_actor,
    check_datetimes_round_trip,
    check_day_reset_persisted,
    check_legacy_rows,
    check_limits_caps_and_partial_awards,
    check_limits_persists_reset,
    check_monitoring_queries,
    check_new_user_defaults,
    check_reset_daily,
    check_schema_is_idempotent,
)
from .batches import (
    check_award_many_beside_single_awards,
    check_award_many_exactly_once_under_concurrency,
    check_award_many_matches_one_by_one,
    check_combined_awards_keyed_once,
)
from .concurrency import check_processes_no_lost_update, check_threads_no_lost_update
from .keys import (
    check_concurrent_same_key,
    check_key_reused_for_another_action,
    check_keyed_award_once,
    check_keys_scoped_per_user,
    check_revoke_cannot_farm,
    check_revoke_keeps_level_by_default,
    check_revoke_takes_back_partial_exp,
    check_revoke_twice_and_unknown,
)
from .ledger import check_ledger_entries_round_trip, check_replay_matches
from .levers import (
    check_events_feed,
    check_feed_under_concurrent_awards,
    check_keyed_award_with_levers_repeats_its_result,
    check_lever_fields_round_trip,
    check_levers_replay_matches,
    check_timezone_changes_recorded,
)
from .protocol import (
    check_duplicate_key_is_stale,
    check_every_write_is_version_checked,
    check_stale_version_rejected,
    check_transaction_rolls_back_on_error,
    check_write_is_all_or_nothing,
)
from .replay import check_replay_rows_match_the_ledger
from .seams import (
    check_clock_fault_reopens_the_day,
    check_far_future_days_never_overflow,
    check_ids_are_canonical_strings,
    check_key_names_one_request,
    check_no_self_award_across_id_types,
    check_request_keys_claimed_once,
)

CHECKS: dict[str, Callable[[StoreFactory], None]] = {
    check.__name__.removeprefix("check_"): check
    for check in (
        check_new_user_defaults,
        check_award_persists,
        check_limits_caps_and_partial_awards,
        check_day_reset_persisted,
        check_limits_persists_reset,
        check_reset_daily,
        check_datetimes_round_trip,
        check_threads_no_lost_update,
        check_processes_no_lost_update,
        check_keyed_award_once,
        check_keys_scoped_per_user,
        check_key_reused_for_another_action,
        check_concurrent_same_key,
        check_replay_matches,
        check_revoke_takes_back_partial_exp,
        check_revoke_cannot_farm,
        check_revoke_twice_and_unknown,
        check_revoke_keeps_level_by_default,
        check_creator_award_needs_another_actor,
        check_legacy_rows,
        check_monitoring_queries,
        check_schema_is_idempotent,
        check_stale_version_rejected,
        check_duplicate_key_is_stale,
        check_transaction_rolls_back_on_error,
        check_ledger_entries_round_trip,
        check_ids_are_canonical_strings,
        check_no_self_award_across_id_types,
        check_key_names_one_request,
        check_request_keys_claimed_once,
        check_clock_fault_reopens_the_day,
        check_far_future_days_never_overflow,
        check_every_write_is_version_checked,
        check_write_is_all_or_nothing,
        check_adjustments_recorded,
        check_adjustment_limits,
        check_keyed_adjustment_once,
        check_lever_fields_round_trip,
        check_timezone_changes_recorded,
        check_levers_replay_matches,
        check_replay_rows_match_the_ledger,
        check_keyed_award_with_levers_repeats_its_result,
        check_events_feed,
        check_feed_under_concurrent_awards,
        check_award_many_matches_one_by_one,
        check_award_many_exactly_once_under_concurrency,
        check_award_many_beside_single_awards,
        check_combined_awards_keyed_once,
    )
}
"""Every check, by name (without the ``check_`` prefix), in the order a suite runs them."""

__all__ = [
    "CHECKS",
    "LEVERS",
    "START",
    "FakeClock",
    "NotApplicable",
    "StoreFactory",
    "check_adjustment_limits",
    "check_adjustments_recorded",
    "check_award_many_beside_single_awards",
    "check_award_many_exactly_once_under_concurrency",
    "check_award_many_matches_one_by_one",
    "check_award_persists",
    "check_clock_fault_reopens_the_day",
    "check_combined_awards_keyed_once",
    "check_concurrent_same_key",
    "check_creator_award_needs_another_actor",
    "check_datetimes_round_trip",
    "check_day_reset_persisted",
    "check_duplicate_key_is_stale",
    "check_events_feed",
    "check_every_write_is_version_checked",
    "check_far_future_days_never_overflow",
    "check_feed_under_concurrent_awards",
    "check_ids_are_canonical_strings",
    "check_key_names_one_request",
    "check_key_reused_for_another_action",
    "check_keyed_adjustment_once",
    "check_keyed_award_once",
    "check_keyed_award_with_levers_repeats_its_result",
    "check_keys_scoped_per_user",
    "check_ledger_entries_round_trip",
    "check_legacy_rows",
    "check_lever_fields_round_trip",
    "check_levers_replay_matches",
    "check_limits_caps_and_partial_awards",
    "check_limits_persists_reset",
    "check_monitoring_queries",
    "check_new_user_defaults",
    "check_no_self_award_across_id_types",
    "check_processes_no_lost_update",
    "check_replay_matches",
    "check_replay_rows_match_the_ledger",
    "check_request_keys_claimed_once",
    "check_reset_daily",
    "check_revoke_cannot_farm",
    "check_revoke_keeps_level_by_default",
    "check_revoke_takes_back_partial_exp",
    "check_revoke_twice_and_unknown",
    "check_schema_is_idempotent",
    "check_stale_version_rejected",
    "check_threads_no_lost_update",
    "check_timezone_changes_recorded",
    "check_transaction_rolls_back_on_error",
    "check_write_is_all_or_nothing",
]
