"""What an award attempt produced, and how the platform reports it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal, overload

from ._frozen import trusted_factory
from .config import ProgressionConfig
from .daily import next_reset_at, reset_daily_limits_if_needed
from .events import DETAILS, EventKind, ProgressionEvent
from .levels import level_progress
from .state import NO_LEVERS, LeverState, ProgressState

__all__ = ["AwardResult", "AwardResults", "LeverEffects", "Outcome", "Record"]


class Outcome(StrEnum):
    """How an award attempt ended."""

    AWARDED = "awarded"
    """The action's full reward was granted."""
    PARTIAL = "partial"
    """Part of the reward was granted: the rest would have passed the daily cap."""
    ACTION_LIMIT = "action_limit"
    """Rejected: the action was already performed its daily limit of times today."""
    DAILY_CAP = "daily_cap"
    """Rejected: the user had already reached today's EXP cap."""
    INVALID_ACTION = "invalid_action"
    """Rejected: the configuration has no such action."""


_HTTP_STATUS = {
    Outcome.AWARDED: 200,
    Outcome.PARTIAL: 200,
    Outcome.ACTION_LIMIT: 429,
    Outcome.DAILY_CAP: 429,
    Outcome.INVALID_ACTION: 400,
}


@dataclass(frozen=True, slots=True)
class LeverEffects:
    """What the designer levers did to one award (``AwardResult.effects``).

    Attributes:
        events: Every event the award caused, in :data:`~mikoshi_progression.EVENT_ORDER`.
        base_exp: The action's reward before boosts.
        boosted_exp: The reward after boosts, before the daily cap cut it.
        boosts: The names of the boosts that applied, in the order the config lists them.
        bonus_exp: Streak and milestone bonuses, included in ``exp_added``.
    """

    events: tuple[ProgressionEvent, ...]
    base_exp: int
    boosted_exp: int
    boosts: tuple[str, ...] = ()
    bonus_exp: int = 0


@dataclass(frozen=True, slots=True)
class AwardResult:
    """The outcome of one :func:`award_exp_with_limits` call.

    Only what the award decided is stored; everything else is derived from it on
    access, which keeps an award cheap.

    Attributes:
        action: The action asked for.
        outcome: How the attempt ended (an :class:`Outcome`).
        exp_added: EXP granted (0 on rejection; less than the reward if partial).
        previous_level: The user's level before the award.
        state: The new state. On a limit or cap rejection it still carries the
            day reset if one happened; on an invalid action it is the input state.
        now: The moment of the attempt.
        config: The rules the award was decided by.
        success: Whether any EXP was granted (awarded or partial).
        leveled_up: Whether the award raised the level.
        reason: The platform's message for a rejection, ``None`` on success.
        http_status: 200 on success, 429 for a limit or cap, 400 for an invalid action.
        daily_exp_cap: The daily cap now in force (after a level-up, the new level's; for a
            config whose boosts raise the cap, as the boosts in force raise it for this
            action).
        action_count: Times the action has been awarded today, this one included.
        action_limit: The action's daily limit, ``None`` if unlimited or unknown.
        remaining_exp: EXP that can still be earned today under the cap.
        resets_at: When today's limits reset (aware UTC), for "come back at ..." UIs.
        effects: What boosts, streaks and milestones did, for an award those levers
            decided (``None`` on the seed's path and for rejections).
        events: The events the award caused (:class:`ProgressionEvent`), in order.
        base_exp: The action's reward before boosts (0 for an invalid action).
        boosts: The names of the boosts that applied.
        bonus_exp: Streak and milestone bonus EXP included in ``exp_added``.
    """

    action: str
    outcome: Outcome
    exp_added: int
    previous_level: int
    state: ProgressState
    now: datetime
    config: ProgressionConfig = field(repr=False)
    effects: LeverEffects | None = field(default=None, repr=False)

    @property
    def events(self) -> tuple[ProgressionEvent, ...]:
        effects = self.effects
        if effects is not None:
            return effects.events
        if not self.success:
            return ()
        # The seed's path decides no lever: its events follow from the result itself.
        found: list[ProgressionEvent] = []
        state = self.state
        rule = self.config.actions[self.action]
        cap = self.config.cap_for_level(self.previous_level)
        gained = state.daily_exp_gained
        if not rule.cap_exempt and gained >= cap > gained - self.exp_added:
            found.append(ProgressionEvent(EventKind.DAILY_CAP_REACHED, {"cap": cap}))
        if state.level > self.previous_level:
            found.append(
                ProgressionEvent(
                    EventKind.LEVEL_UP, {"from_level": self.previous_level, "to_level": state.level}
                )
            )
        return tuple(found)

    @property
    def base_exp(self) -> int:
        if self.effects is not None:
            return self.effects.base_exp
        rule = self.config.actions.get(self.action)
        return 0 if rule is None else rule.exp

    @property
    def boosts(self) -> tuple[str, ...]:
        return () if self.effects is None else self.effects.boosts

    @property
    def bonus_exp(self) -> int:
        return 0 if self.effects is None else self.effects.bonus_exp

    @property
    def success(self) -> bool:
        return self.outcome is Outcome.AWARDED or self.outcome is Outcome.PARTIAL

    @property
    def leveled_up(self) -> bool:
        return self.state.level > self.previous_level

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self.outcome]

    @property
    def reason(self) -> str | None:
        outcome = self.outcome
        if outcome is Outcome.ACTION_LIMIT:
            return f"Daily limit reached for {self.action} ({self.action_limit}/day)"
        if outcome is Outcome.DAILY_CAP:
            level = self.state.level
            return f"Daily EXP cap reached ({self.daily_exp_cap} EXP/day for level {level})"
        if outcome is Outcome.INVALID_ACTION:
            return f"Invalid action: {self.action}"
        return None

    @property
    def action_limit(self) -> int | None:
        rule = self.config.actions.get(self.action)
        return None if rule is None else rule.daily_limit

    @property
    def action_count(self) -> int:
        if self.outcome is Outcome.INVALID_ACTION:
            return 0
        return self.state.daily_action_counts.get(self.action, 0)

    @property
    def daily_exp_cap(self) -> int:
        return self._raised(self.config.cap_for_level(self.state.level))

    @property
    def remaining_exp(self) -> int:
        today = reset_daily_limits_if_needed(self.state, now=self.now, config=self.config)
        return max(0, self._raised(self.config.cap_for_level(today.level)) - today.daily_exp_gained)

    def _raised(self, cap: int) -> int:
        """``cap`` as the boosts in force raise it for this action, when they raise caps."""
        boosts = self.config.boosts
        if boosts is None or not boosts.raise_cap:
            return cap
        return boosts.boosted(cap, self.action, self.now)

    @property
    def resets_at(self) -> datetime:
        return next_reset_at(self.state, now=self.now, config=self.config)

    def to_dict(self) -> dict[str, Any]:
        """The platform's JSON body for this attempt, with its exact keys.

        On success: ``success, exp_added, total_exp, level, leveled_up,
        daily_exp_gained, daily_exp_cap, action_count, action_limit, progress``.
        On rejection: ``success, reason, exp_added`` plus ``action_count,
        action_limit`` (action limit) or ``daily_exp_gained, daily_exp_cap``
        (daily cap).
        """
        state = self.state
        if self.success:
            return {
                "success": True,
                "exp_added": self.exp_added,
                "total_exp": state.exp,
                "level": state.level,
                "leveled_up": self.leveled_up,
                "daily_exp_gained": state.daily_exp_gained,
                "daily_exp_cap": self.daily_exp_cap,
                "action_count": self.action_count,
                "action_limit": self.action_limit,
                "progress": level_progress(state.exp, self.config, level=state.level),
                **self._lever_keys(),
            }
        body: dict[str, Any] = {"success": False, "reason": self.reason, "exp_added": 0}
        if self.outcome is Outcome.ACTION_LIMIT:
            body["action_count"] = self.action_count
            body["action_limit"] = self.action_limit
        elif self.outcome is Outcome.DAILY_CAP:
            body["daily_exp_gained"] = state.daily_exp_gained
            body["daily_exp_cap"] = self.daily_exp_cap
        return body | self._lever_keys()

    def _lever_keys(self) -> dict[str, Any]:
        """The levers' keys, in a body only when the config turns a lever on (so the
        seed's bodies keep exactly the platform's keys)."""
        if not self.config._levers and self.effects is None:
            return {}
        return {
            "base_exp": self.base_exp,
            "boosts": list(self.boosts),
            "bonus_exp": self.bonus_exp,
            "events": [e.to_dict() for e in self.events],
        }


# --- the results of a fold ---------------------------------------------------------------

Record = tuple[Any, ...]
"""One event of a fold, enough to rebuild its :class:`AwardResult` on demand:
``(action, outcome, exp_added, previous_level, exp, level, gained, last_reset, counts,
last_chat, now)``, and for a fold the levers decided two more: the :class:`LeverState`
after the event and its effects (``None``, or ``(events, base_exp, boosted_exp, boosts,
bonus_exp)`` with each event a tuple ``(kind, *values)`` of its :data:`DETAILS`).
``counts`` dicts are never mutated once recorded."""

_Column = Literal[
    "action",
    "outcome",
    "exp_added",
    "previous_level",
    "exp",
    "level",
    "daily_exp_gained",
    "now",
    "effects",
]
_COLUMNS: dict[str, int] = {
    "action": 0,
    "outcome": 1,
    "exp_added": 2,
    "previous_level": 3,
    "exp": 4,
    "level": 5,
    "daily_exp_gained": 6,
    "now": 10,
}
_build_state = trusted_factory(ProgressState)
_build_result = trusted_factory(AwardResult)
_build_effects = trusted_factory(LeverEffects)
_build_event = trusted_factory(ProgressionEvent)


class AwardResults(Sequence[AwardResult]):
    """The results of :func:`~mikoshi_progression.apply_events`, one per event, in order.

    A read-only sequence. Each :class:`AwardResult` is built when it is first
    read, so a long replay that only needs its final state costs no result objects.
    """

    __slots__ = ("_config", "_records")

    def __init__(self, records: list[Record], config: ProgressionConfig) -> None:
        self._records = records
        self._config = config

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> AwardResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[AwardResult]: ...

    def __getitem__(self, index: int | slice) -> AwardResult | list[AwardResult]:
        if isinstance(index, slice):
            return [self._build(r) for r in self._records[index]]
        return self._build(self._records[index])

    def __iter__(self) -> Iterator[AwardResult]:
        return map(self._build, self._records)

    def __repr__(self) -> str:
        return f"<AwardResults of {len(self._records)} events>"

    def column(self, name: _Column) -> list[Any]:
        """One field of every result, straight from the fold's records, without building
        result objects: ``"action"``, ``"outcome"``, ``"exp_added"``, ``"previous_level"``,
        ``"exp"``, ``"level"``, ``"daily_exp_gained"`` (the last three after the event) or
        ``"now"``, or ``"effects"`` (each result's :class:`LeverEffects`, ``None`` where
        no lever decided). For simulations that read millions of results.

        >>> from datetime import datetime, timezone
        >>> from mikoshi_progression import ProgressState, apply_events
        >>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> _, results = apply_events(ProgressState(), [(now, "create_scene")] * 3)
        >>> results.column("exp_added"), results.column("outcome")[-1].value
        ([15, 15, 0], 'action_limit')
        """
        if name == "effects":
            return [
                None if len(record) == 11 or record[12] is None else _effects(record[12])
                for record in self._records
            ]
        index = _COLUMNS[name]
        return [record[index] for record in self._records]

    def _build(self, record: Record) -> AwardResult:
        action, outcome, added, previous, exp, level, gained, reset, counts, chat, now = record[:11]
        levers: LeverState = NO_LEVERS
        effects = None
        if len(record) > 11:  # a fold the levers decided
            levers, raw = record[11], record[12]
            if raw is not None:
                effects = _effects(raw)
        state = _build_state(exp, level, gained, reset, MappingProxyType(counts), chat, levers)
        return _build_result(action, outcome, added, previous, state, now, self._config, effects)


def _effects(raw: tuple[Any, ...]) -> LeverEffects:
    """The :class:`LeverEffects` of a record's effects (see :data:`Record`)."""
    events, base, boosted, boosts, bonus = raw
    return _build_effects(
        tuple(
            _build_event(kind, MappingProxyType(dict(zip(DETAILS[kind], values, strict=True))))
            for kind, *values in events
        ),
        base,
        boosted,
        boosts,
        bonus,
    )
