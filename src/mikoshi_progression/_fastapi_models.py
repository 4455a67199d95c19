"""The OpenAPI documentation models of :mod:`mikoshi_progression.fastapi`'s endpoints
(re-exported there). Documentation only: the endpoints build plain dicts."""

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "AwardBody",
    "ErrorBody",
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


class AwardBody(BaseModel):
    """A successful award (200): the platform's keys, plus outcome, resets_at, remaining_exp.

    Documentation only, like every model here: the endpoints return plain dicts.
    """

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


class RejectionBody(ErrorBody):
    """A rejection by the rules (429): the platform's ``detail``, plus machine-readable keys."""

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
