"""Invariants every award must satisfy, checkable on any result (no hypothesis needed).

Call :func:`check_award` after each award in your own tests: it raises
``AssertionError`` naming the broken rule, whatever produced the result (the
pure core, a service over your store, or your HTTP endpoint's decoded body).
"""

from __future__ import annotations

from ..core.boosts import combine
from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..core.daily import reset_daily_limits_if_needed
from ..core.events import EVENT_ORDER, EventKind
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

    With levers on (``result.effects`` set): the action's EXP never passes what the
    boosts in force allow (``floor(reward * multiplier)``, the multiplier recomputed
    here from the config), nor the cap unless the config lets boosts raise it; bonuses
    are what the events say; a streak grows by at most one, or restarts at 1 when an
    event says it broke; a milestone is unlocked at most once.
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
    effects = result.effects
    reward, cap = rule.exp, config.cap_for_level(today.level)
    action_exp, counted_bonus = result.exp_added, 0
    if effects is not None:
        reward, cap, counted_bonus = _check_levers(today, result, config)
        action_exp = result.exp_added - result.bonus_exp
    _require(action_exp <= reward, "more EXP than the action's reward")
    count = after.daily_action_counts.get(result.action, 0)
    _require(count == today.daily_action_counts.get(result.action, 0) + 1, "count not bumped")
    if rule.daily_limit is not None:
        _require(count <= rule.daily_limit, "action count passed its daily limit")
    if rule.cap_exempt:
        _require(action_exp == reward, "a cap-exempt action was cut")
        _require(
            after.daily_exp_gained == today.daily_exp_gained + counted_bonus,
            "cap-exempt EXP was counted",
        )
    else:
        _require(
            after.daily_exp_gained == today.daily_exp_gained + action_exp + counted_bonus,
            "daily_exp_gained did not grow by exp_added",
        )
        _require(after.daily_exp_gained <= cap, "daily_exp_gained passed the cap")
        if action_exp < reward:
            _require(after.daily_exp_gained == cap, "a partial award left cap room unused")
            _require(result.outcome is Outcome.PARTIAL, "a cut award is not marked partial")
    reached = config.level_for_exp(after.exp)
    expected = reached if config.levels_can_drop else max(reached, today.level)
    _require(after.level == expected, f"level {after.level}, expected {expected}")


def _check_levers(
    today: ProgressState, result: AwardResult, config: ProgressionConfig
) -> tuple[int, int, int]:
    """Check what the levers did; return the boosted reward, the cap in force and the bonus
    EXP counted toward the cap."""
    effects = result.effects
    assert effects is not None
    after = result.state
    rule = config.actions[result.action]
    boosts = config.boosts
    active = (
        []
        if boosts is None
        else [b for b in boosts.windows if b.applies(result.action, result.now)]
    )
    cap = config.cap_for_level(today.level)
    if active:
        assert boosts is not None
        multiplier = combine([b.multiplier for b in active], boosts.stacking)
        _require(
            effects.boosts == tuple(b.name for b in active), "the boosts reported are not in force"
        )
        allowed = rule.exp * multiplier.numerator // multiplier.denominator
        _require(effects.boosted_exp == allowed, "a boost paid other than its multiplier allows")
        if boosts.raise_cap:
            cap = cap * multiplier.numerator // multiplier.denominator
    else:
        _require(effects.boosts == (), "a boost reported outside its window")
        _require(effects.boosted_exp == rule.exp, "an unboosted reward changed")
    _require(effects.base_exp == rule.exp, "base_exp is not the action's reward")
    kinds = [e.kind for e in effects.events]
    _require(
        kinds == sorted(kinds, key=EVENT_ORDER.index), "events are not in the documented order"
    )
    streak_bonus = sum(
        e["bonus_exp"] for e in effects.events if e.kind is EventKind.STREAK_EXTENDED
    )
    milestone_bonus = 0
    for e in effects.events:
        if e.kind is EventKind.MILESTONE_UNLOCKED:
            _require(e["milestone"] not in today.milestones, "a milestone was unlocked twice")
            milestone_bonus += e["bonus_exp"]
    unlocked = {e["milestone"] for e in effects.events if e.kind is EventKind.MILESTONE_UNLOCKED}
    _require(after.milestones == today.milestones | unlocked, "milestones are not what unlocked")
    _require(result.bonus_exp == streak_bonus + milestone_bonus, "bonus_exp is not the events'")
    if EventKind.STREAK_BROKEN in kinds:
        _require(after.streak == 1, "a broken streak did not restart at 1")
    else:
        _require(today.streak <= after.streak <= today.streak + 1, "a streak grew by more than 1")
    _require(after.best_streak >= after.streak, "best_streak is below the streak")
    streak = config.streak
    counted = streak_bonus if streak is not None and not streak.bonus_cap_exempt else 0
    return effects.boosted_exp, cap, counted


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(f"award invariant broken: {message}")
