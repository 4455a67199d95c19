"""The award rules: limits, caps, partial awards, level-ups, revocation, replay.

Every function here is pure: the moment ``now`` is an argument, nothing is read
from a clock or a database, and no argument is changed. A backend loads a state,
calls :func:`award_exp_with_limits`, and persists ``result.state``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError, SelfAwardError, StateError
from ._frozen import trusted_factory
from .config import DEFAULT_CONFIG, ProgressionConfig
from .daily import reset_daily_limits_if_needed
from .days import EARLIEST_MOMENT, LATEST_MOMENT, require_aware
from .identity import check_id, check_optional_id
from .levered import apply_with_levers, award_with_levers
from .results import AwardResult, AwardResults, Outcome, Record
from .state import EMPTY_COUNTS, MAX_COUNT, NO_LEVERS, ProgressState

__all__ = [
    "DAILY_CHAT",
    "AwardResults",
    "adjust_exp",
    "apply_events",
    "award_exp_with_limits",
    "check_actor",
    "exp_limits_view",
    "revoke_exp",
    "set_total_exp",
]

DAILY_CHAT = "daily_chat"
"""The action whose award also stamps ``last_chat_date``."""

_build_state = trusted_factory(ProgressState)
_build_result = trusted_factory(AwardResult)
_AWARDED = Outcome.AWARDED
_PARTIAL = Outcome.PARTIAL
_ACTION_LIMIT = Outcome.ACTION_LIMIT
_DAILY_CAP = Outcome.DAILY_CAP
_INVALID = Outcome.INVALID_ACTION
_EMPTY = EMPTY_COUNTS
_EARLIEST = EARLIEST_MOMENT
_NO_LEVERS = NO_LEVERS
_LATEST = LATEST_MOMENT


def check_actor(
    action: str,
    *,
    recipient: str,
    actor: str | None,
    config: ProgressionConfig = DEFAULT_CONFIG,
) -> None:
    """Refuse a creator award (``ActionRule.creator_award``) that no other user earned.

    A like, a fork or a sale pays the creator for what another user did: without
    ``actor`` (the user who acted), or with the recipient as the actor, it raises
    :class:`~mikoshi_progression.errors.SelfAwardError`. Other actions pass.

    Both ids must be canonical (:func:`~mikoshi_progression.check_id`), so that
    one person can never pass for two: ``42`` and ``"42"``, or ``"é"`` spelled
    with a combining accent, are refused rather than compared.

    >>> check_actor("forked", recipient="7", actor="7")
    Traceback (most recent call last):
    ...
    mikoshi_progression.errors.SelfAwardError: forked cannot be awarded to its own actor ('7')

    Raises:
        InvalidIdError: ``recipient`` or ``actor`` is not a canonical id.
        SelfAwardError: a creator award without an actor, or to its own actor.
    """
    recipient = check_id(recipient, "user_id")
    actor = check_optional_id(actor, "actor_id")
    if not isinstance(action, str):
        raise _not_an_action(action)
    rule = config.actions.get(action)
    if rule is None or not rule.creator_award:
        return
    if actor is None:
        raise SelfAwardError(
            f"{action} is awarded to a creator for what another user did: "
            "pass actor_id, the user who acted"
        )
    if actor == recipient:
        raise SelfAwardError(f"{action} cannot be awarded to its own actor ({recipient!r})")


def award_exp_with_limits(
    state: ProgressState,
    action: str,
    *,
    now: datetime,
    config: ProgressionConfig = DEFAULT_CONFIG,
) -> AwardResult:
    """Try to award ``action`` to a user in ``state`` at the moment ``now``.

    The platform's rules, in its order:

    1. if ``now`` begins a new day, reset the daily EXP gained and action counts;
    2. an action the config does not know is rejected (400), the state untouched;
    3. an action already performed ``daily_limit`` times today is rejected (429);
    4. a user whose EXP gained today already reached their level's cap is
       rejected (429), unless the action is ``cap_exempt``;
    5. otherwise ``min(reward, cap - gained)`` EXP is added (a *partial* award
       when the cap cuts it), the level is recomputed, and the action's count
       and the day's EXP gained go up.

    >>> from datetime import datetime, timezone
    >>> r = award_exp_with_limits(ProgressState(), "create_character",
    ...                           now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> r.outcome, r.exp_added, r.state.exp, r.remaining_exp
    (<Outcome.AWARDED: 'awarded'>, 30, 30, 120)

    A day stamped further ahead of ``now`` than ``config.max_clock_skew`` is a
    clock fault and reopens at ``now`` (see :func:`~mikoshi_progression.is_clock_fault`).

    With a lever on (the config's ``boosts``, ``streak`` or ``milestones``, or the
    user's own ``timezone``) the award also applies them, as
    :mod:`~mikoshi_progression.core.levered` describes; without, exactly the above.

    Raises:
        InvalidMomentError: ``now`` is naive, or outside the supported years.
        StateError: the award would take EXP past 2**63 - 1.
    """
    if getattr(now, "tzinfo", None) is None:
        require_aware(now)
    if config._levers or state.levers is not _NO_LEVERS:
        return award_with_levers(state, action, now, config)
    try:
        rule = config._rule_table.get(action)
    except TypeError:  # unhashable: no action name at all
        raise _not_an_action(action) from None
    if rule is None:
        if not _EARLIEST <= now <= _LATEST:  # resets_at is reckoned from it
            require_aware(now)
        return _build_result(action, _INVALID, 0, state.level, state, now, config, None)
    reward, limit, cap_exempt = rule
    # open_day(), inlined: a call frame here is a tenth of an award's cost. ``now``'s
    # years are checked where it can enter a state (a day's opening, a chat's stamp):
    # otherwise it lies within a day or the clock tolerance of a checked moment.
    last = state.last_exp_reset_date
    try:
        opens = (
            last is None
            or (now < last and last - now > config._max_skew)  # a clock fault
            or config._is_later_day(now, last)
        )
    except OverflowError:  # a moment so far out that a time-zone shift overflows
        require_aware(now)
        raise
    if opens:
        if not _EARLIEST <= now <= _LATEST:
            require_aware(now)
        today = _build_state(
            state.exp,
            state.level,
            0,
            now,
            _EMPTY,
            state.last_chat_date,
            _NO_LEVERS,
        )
    else:
        today = state
    counts = today.daily_action_counts
    count = counts.get(action, 0)
    level = today.level
    if limit is not None and count >= limit:
        return _build_result(action, _ACTION_LIMIT, 0, level, today, now, config, None)
    gained = today.daily_exp_gained
    if cap_exempt:
        added = reward
    else:
        try:  # inlined cap_for_level: this is the hottest path
            cap = config._caps[level]
        except IndexError:
            cap = config._caps[-1]
        room = cap - gained
        if room <= 0:
            return _build_result(action, _DAILY_CAP, 0, level, today, now, config, None)
        added = reward if reward <= room else room
        gained += added
    exp = today.exp + added
    if exp > MAX_COUNT:
        raise _exp_overflow(today.exp, added)
    new_level = bisect_right(config._thresholds, exp) or 1
    if new_level < level and not config.levels_can_drop:
        new_level = level
    # Always a MappingProxyType over a dict; its copy() is five times faster than dict().
    new_counts: dict[str, int] = counts.copy()  # type: ignore[attr-defined]
    new_counts[action] = count + 1
    last_chat: datetime | None
    if action == DAILY_CHAT:
        if not _EARLIEST <= now <= _LATEST:
            require_aware(now)
        last_chat = now
    else:
        last_chat = today.last_chat_date
    new_state = _build_state(
        exp,
        new_level,
        gained,
        today.last_exp_reset_date,
        MappingProxyType(new_counts),
        last_chat,
        _NO_LEVERS,
    )
    outcome = _AWARDED if added == reward else _PARTIAL
    return _build_result(action, outcome, added, level, new_state, now, config, None)


def revoke_exp(
    state: ProgressState, exp: int, *, config: ProgressionConfig = DEFAULT_CONFIG
) -> ProgressState:
    """Take back ``exp`` EXP that an earlier award granted (an unlike, a refund).

    Only total EXP goes down (never below 0). Today's EXP gained and action
    counts stay as they are, so undoing an award never makes room for another:
    like, unlike, like cannot farm EXP. The level drops with the EXP only if
    ``config.levels_can_drop``; by default it stays until EXP passes the next
    threshold again.

    Raises:
        InvalidArgumentError: ``exp`` is not a non-negative integer.
    """
    amount: object = exp
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise InvalidArgumentError("exp", "a non-negative integer (the EXP to take back)", exp)
    remaining = max(0, state.exp - exp)
    level = config.level_for_exp(remaining) if config.levels_can_drop else state.level
    return _with_exp(state, remaining, level)


def adjust_exp(
    state: ProgressState, delta: int, *, config: ProgressionConfig = DEFAULT_CONFIG
) -> ProgressState:
    """An operator's adjustment: ``delta`` EXP added (a grant) or, negative, taken away
    (a deduction), outside the daily rules.

    An adjustment is not an action: today's EXP gained and action counts stay as they
    are, so it neither uses room under the daily cap nor makes any. The level rises
    with EXP as the thresholds say; it falls with it only if ``config.levels_can_drop``.

    >>> adjust_exp(ProgressState(exp=90), 20).level
    2

    Raises:
        InvalidArgumentError: ``delta`` is not an integer, or would take EXP below 0
            or above 2**63-1 (``field`` is ``"delta"``).
    """
    amount: object = delta
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidArgumentError("delta", "an integer (EXP to add; negative to take away)", delta)
    exp = state.exp + delta
    if exp < 0:
        raise InvalidArgumentError(
            "delta",
            f"at least {-state.exp} (the user has {state.exp} EXP; EXP never goes below 0)",
            delta,
        )
    if exp > MAX_COUNT:
        raise InvalidArgumentError("delta", f"at most {MAX_COUNT - state.exp}", delta)
    reached = config.level_for_exp(exp)
    level = reached if config.levels_can_drop else max(reached, state.level)
    return _with_exp(state, exp, level)


def set_total_exp(
    state: ProgressState, exp: int, *, config: ProgressionConfig = DEFAULT_CONFIG
) -> ProgressState:
    """An operator sets the user's total EXP (a migrated balance): :func:`adjust_exp` by
    the difference, under the same rules (today's counts stay; levels per the policy).

    >>> set_total_exp(ProgressState(exp=90), 350).level
    3

    Raises:
        InvalidArgumentError: ``exp`` is not a non-negative integer (``field`` is
            ``"exp"``), or passes 2**63-1.
    """
    total: object = exp
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise InvalidArgumentError("exp", "a non-negative integer (EXP never goes below 0)", exp)
    return adjust_exp(state, exp - state.exp, config=config)


def exp_limits_view(
    state: ProgressState, *, now: datetime, config: ProgressionConfig = DEFAULT_CONFIG
) -> dict[str, Any]:
    """The body of ``GET /api/exp/limits`` for a user in ``state``, as of ``now``.

    A day that has begun since the last reset is shown reset (the caller should
    persist ``reset_daily_limits_if_needed`` as the platform does).
    """
    today = reset_daily_limits_if_needed(state, now=now, config=config)
    cap = config.cap_for_level(today.level)
    return {
        "level": today.level,
        "daily_exp_gained": today.daily_exp_gained,
        "daily_exp_cap": cap,
        "remaining_exp": max(0, cap - today.daily_exp_gained),
        "daily_action_counts": dict(today.daily_action_counts),
        "action_limits": {name: r.daily_limit for name, r in config.actions.items()},
        "exp_rewards": {name: r.exp for name, r in config.actions.items()},
    }


def _with_exp(state: ProgressState, exp: int, level: int) -> ProgressState:
    return _build_state(
        exp,
        level,
        state.daily_exp_gained,
        state.last_exp_reset_date,
        state.daily_action_counts,
        state.last_chat_date,
        state.levers,
    )


def _not_an_action(action: object) -> InvalidArgumentError:
    return InvalidArgumentError("action", "an action name (a string)", action)


def _exp_overflow(exp: int, added: int) -> StateError:
    return StateError(
        "exp", f"an award of {added} would take {exp} EXP past 2**63 - 1, what a store can hold"
    )


# --- replay -----------------------------------------------------------------------


def apply_events(
    state: ProgressState,
    events: Iterable[tuple[datetime, str]],
    config: ProgressionConfig = DEFAULT_CONFIG,
) -> tuple[ProgressState, AwardResults]:
    """Fold ``(now, action)`` events, in order, through :func:`award_exp_with_limits`.

    Returns the final state and every event's result, exactly as calling
    :func:`award_exp_with_limits` event by event would (the equivalence is
    property-tested). The fold keeps its running state in local variables, so
    replays and simulations run at over a million awards per second; nothing
    a caller can see is ever mutated.

    Raises:
        InvalidMomentError: an event's ``now`` is naive, or outside the supported years.
        StateError: an award would take EXP past 2**63 - 1.
    """
    if config._levers or state.levers is not _NO_LEVERS:
        return apply_with_levers(state, events, config)
    exp = state.exp
    level = state.level
    gained = state.daily_exp_gained
    last_reset = state.last_exp_reset_date
    counts: dict[str, int] = dict(state.daily_action_counts)
    last_chat = state.last_chat_date
    rules = config._rule_table
    day_of = config._day_of
    # Plain locals instead of config methods: a call per event is a third of the fold.
    caps = config._caps
    top_cap = caps[-1]
    cap_count = len(caps)
    thresholds = config._thresholds
    can_drop = config.levels_can_drop
    max_skew = config._max_skew
    earliest, latest = _EARLIEST, _LATEST
    day = None if last_reset is None else day_of(last_reset)
    # An event before this moment finds the day stamped beyond the clock tolerance.
    fault_before = None if last_reset is None else last_reset - max_skew
    records: list[Record] = []
    record = records.append
    empty: dict[str, int] = {}

    for now, action in events:
        try:
            if now.tzinfo is None:
                require_aware(now)
        except AttributeError:  # not a datetime at all
            require_aware(now)
        previous = level
        added = 0
        try:
            rule = rules.get(action)
        except TypeError:
            raise _not_an_action(action) from None
        if rule is None:
            if not earliest <= now <= latest:  # the result is reckoned from it
                require_aware(now)
            outcome = _INVALID
        else:
            reward, limit, cap_exempt = rule
            try:
                today = day_of(now)
            except OverflowError:  # so far out that a time-zone shift overflows
                require_aware(now)
                raise
            if day is None or today > day or now < fault_before:  # type: ignore[operator]
                # As in award_exp_with_limits, years are checked where a moment is kept.
                if not earliest <= now <= latest:
                    require_aware(now)
                day = today
                gained = 0
                counts = empty
                last_reset = now
                fault_before = now - max_skew
            count = counts.get(action, 0)
            if cap_exempt:
                room = reward
            else:
                room = (caps[level] if level < cap_count else top_cap) - gained
            if limit is not None and count >= limit:
                outcome = _ACTION_LIMIT
            elif room <= 0 and not cap_exempt:
                outcome = _DAILY_CAP
            else:
                added = reward if reward <= room else room
                outcome = _AWARDED if added == reward else _PARTIAL
                if not cap_exempt:
                    gained += added
                exp += added
                if exp > MAX_COUNT:
                    raise _exp_overflow(exp - added, added)
                new_level = bisect_right(thresholds, exp) or 1
                level = new_level if new_level > level or can_drop else level
                counts = counts.copy()  # a new dict: recorded ones are never mutated
                counts[action] = count + 1
                if action == DAILY_CHAT:
                    if not earliest <= now <= latest:
                        require_aware(now)
                    last_chat = now
        record(
            (
                action,
                outcome,
                added,
                previous,
                exp,
                level,
                gained,
                last_reset,
                counts,
                last_chat,
                now,
            )
        )

    final = _build_state(
        exp, level, gained, last_reset, MappingProxyType(counts), last_chat, _NO_LEVERS
    )
    return final, AwardResults(records, config)
