"""The OpenAPI documentation models of :mod:`mikoshi_progression.fastapi`'s endpoints
(re-exported there). Documentation only: the endpoints build plain dicts."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .core.events import EventKind

__all__ = [
    "AwardBody",
    "ErrorBody",
    "EventBody",
    "GainRequestBody",
    "LevelInfo",
    "LimitsBody",
    "RejectionBody",
]


class ErrorBody(BaseModel):
    """Every error body: FastAPI's ``{"detail": "<message>"}``."""

    detail: str


class LevelInfo(BaseModel):
    """One entry of ``GET /api/levels``."""

    name: str
    unlock: str
    exp_required: int


class LimitsBody(BaseModel):
    """``GET /api/exp/limits``: the platform's keys, plus ``resets_at``."""

    level: int
    daily_exp_gained: int
    daily_exp_cap: int
    remaining_exp: int
    daily_action_counts: dict[str, int]
    action_limits: dict[str, int | None]
    exp_rewards: dict[str, int]
    resets_at: str = Field(description="When today's counts and EXP reset (ISO 8601, UTC).")


class GainRequestBody(BaseModel):
    """``POST /api/exp/gain``'s request body."""

    action: str
    target_type: str | None = Field(None, description='"character" for creator awards.')
    target_id: int | str | None = Field(None, description="The character, for creator awards.")


class EventBody(BaseModel):
    """One event of an award (``ProgressionEvent.to_dict()``): its ``kind`` and figures."""

    model_config = ConfigDict(extra="allow")

    kind: EventKind = Field(
        description="What happened. The other keys are the event's figures: "
        "`streak_frozen`: days, freezes_left; `streak_broken`: streak; `boost_applied`: "
        'boosts, multiplier (exact text such as "3/2"), base_exp, boosted_exp; '
        "`streak_extended`: streak, bonus_exp, freezes; `daily_cap_reached`: cap; "
        "`level_up`: from_level, to_level; `milestone_unlocked`: milestone, bonus_exp."
    )


_ONLY_WITH_LEVERS = " Present only when the config turns a lever on (boosts, streak, milestones)."


class _LeverKeys(BaseModel):
    """The keys ``AwardResult.to_dict()`` adds when the config uses levers."""

    base_exp: int | None = Field(
        None, description="The action's reward before boosts." + _ONLY_WITH_LEVERS
    )
    boosts: list[str] | None = Field(
        None, description="The names of the boosts that multiplied the reward." + _ONLY_WITH_LEVERS
    )
    bonus_exp: int | None = Field(
        None,
        description="Streak and milestone bonus EXP, included in exp_added." + _ONLY_WITH_LEVERS,
    )
    events: list[EventBody] | None = Field(
        None, description="What the award caused, in order." + _ONLY_WITH_LEVERS
    )


class _AwardKeys(BaseModel):
    """The keys of every successful award's body."""

    awarded_to: str
    action: str
    success: bool
    exp_added: int
    total_exp: int
    level: int
    leveled_up: bool
    daily_exp_gained: int
    daily_exp_cap: int
    action_count: int
    action_limit: int | None
    progress: dict[str, Any]
    outcome: str = Field(description='"awarded", or "partial" when the daily cap cut it.')
    resets_at: str
    remaining_exp: int


class _RejectionKeys(ErrorBody):
    """The keys of every rejection's body."""

    action: str
    success: bool
    reason: str
    exp_added: int
    outcome: str = Field(description='"action_limit" or "daily_cap".')
    resets_at: str
    remaining_exp: int
    action_count: int | None = None
    action_limit: int | None = None
    daily_exp_gained: int | None = None
    daily_exp_cap: int | None = None


# The levers' keys come last (a model's fields follow those of the bases listed after it).


class AwardBody(_LeverKeys, _AwardKeys):
    """A successful award (200): the platform's keys, plus outcome, resets_at, remaining_exp,
    and the levers' keys when the config uses levers.

    Documentation only, like every model here: the endpoints return plain dicts.
    """


class RejectionBody(_LeverKeys, _RejectionKeys):
    """A rejection by the rules (429): the platform's ``detail``, plus machine-readable keys,
    and the levers' keys when the config uses levers."""
