"""Invariants every award must satisfy, checkable on any result (no hypothesis needed).

Call :func:`check_award` after each award in your own tests: it raises
``AssertionError`` naming the broken rule, whatever produced the result (the
pure core, a service over your store, or your HTTP endpoint's decoded body).
"""

from __future__ import annotations

from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..core.daily import reset_daily_limits_if_needed
from ..core.results import AwardResult, Outcome
from ..core.state import ProgressState

__all__ = ["check_award"]


def check_award(
    before: ProgressState, result: AwardResult, config: ProgressionConfig = DEFAULT_CONFIG
) -> None:
    """Assert that ``result`` is a lawful outcome of awarding ``result.action`` to ``before``.

    Checks: EXP never decreases and grows by exactly ``exp_added``; a rejection
    changes nothing but a day reset (an invalid action not even that); a success
    never passes the daily cap of the level the user had, nor the action's daily
    limit; ``exp_added`` never exceeds the reward and is short of it only when
    the cap cut it; the level is what the EXP reaches (never lower than before
    unless the config lets levels drop); the HTTP status matches the outcome.
    """
    after = result.state
    today = reset_daily_limits_if_needed(before, now=result.now, config=config)
    rule = config.actions.get(result.action)
    _require(result.exp_added >= 0, "exp_added is negative")
    _require(after.exp == before.exp + result.exp_added, "exp did not grow by exp_added")
    if result.outcome is Outcome.INVALID_ACTION:
        _require(rule is None, "a configured action was reported invalid")
        _require(after == before, "an invalid action changed the state")
        _require(result.http_status == 400, "an invalid action is not a 400")
        return
    _require(rule is not None, "an unknown action was not rejected as invalid")
    assert rule is not None
    if not result.success:
        _require(result.exp_added == 0, "a rejection added EXP")
        _require(after == today, "a rejection changed more than the day reset")
        _require(result.http_status == 429, "a limit or cap rejection is not a 429")
        if result.outcome is Outcome.ACTION_LIMIT:
            limit = rule.daily_limit
            _require(
                limit is not None and today.daily_action_counts.get(result.action, 0) >= limit,
                "rejected for its action limit below the limit",
            )
        else:
            _require(not rule.cap_exempt, "a cap-exempt action was rejected for the cap")
            _require(
                today.daily_exp_gained >= config.cap_for_level(today.level),
                "rejected for the cap below the cap",
            )
        return
    _require(result.http_status == 200, "a success is not a 200")
    _require(result.exp_added <= rule.exp, "more EXP than the action's reward")
    count = after.daily_action_counts.get(result.action, 0)
    _require(count == today.daily_action_counts.get(result.action, 0) + 1, "count not bumped")
    if rule.daily_limit is not None:
        _require(count <= rule.daily_limit, "action count passed its daily limit")
    if rule.cap_exempt:
        _require(result.exp_added == rule.exp, "a cap-exempt action was cut")
        _require(after.daily_exp_gained == today.daily_exp_gained, "cap-exempt EXP was counted")
    else:
        cap = config.cap_for_level(today.level)
        _require(
            after.daily_exp_gained == today.daily_exp_gained + result.exp_added,
            "daily_exp_gained did not grow by exp_added",
        )
        _require(after.daily_exp_gained <= cap, "daily_exp_gained passed the cap")
        if result.exp_added < rule.exp:
            _require(after.daily_exp_gained == cap, "a partial award left cap room unused")
            _require(result.outcome is Outcome.PARTIAL, "a cut award is not marked partial")
    reached = config.level_for_exp(after.exp)
    expected = reached if config.levels_can_drop else max(reached, today.level)
    _require(after.level == expected, f"level {after.level}, expected {expected}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(f"award invariant broken: {message}")
