"""FastAPI integration: the platform's three progression endpoints, without its farming hole.

:func:`progression_router` builds an ``APIRouter`` over a
:class:`~mikoshi_progression.service.ProgressionService` that serves
``GET /api/levels``, ``GET /api/exp/limits`` and ``POST /api/exp/gain`` with the
platform's bodies and status codes, so the platform's web client keeps working.
Two things differ on purpose (see ``docs/fastapi.md``): clients may claim only
the actions the router is told they may (by default ``daily_chat``; the backend
awards the rest server-side through the service), and a creator award can never
go to the user who acted.

This module needs the ``[fastapi]`` extra; the core never imports it.

>>> import asyncio, httpx
>>> from fastapi import FastAPI
>>> from mikoshi_progression.service import ProgressionService
>>> from mikoshi_progression.stores import open_store
>>> service = ProgressionService(open_store("memory://"))
>>> app = FastAPI()
>>> app.include_router(progression_router(service, lambda: "alice"))
>>> async def claim(action):
...     transport = httpx.ASGITransport(app=app)
...     async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
...         response = await client.post("/api/exp/gain", json={"action": action})
...     return response.status_code, response.json()
>>> status, body = asyncio.run(claim("daily_chat"))
>>> status, body["awarded_to"], body["exp_added"], body["daily_exp_gained"]
(200, 'alice', 20, 20)
>>> asyncio.run(claim("daily_chat"))[1]["detail"]
'Daily limit reached for daily_chat (1/day)'
>>> asyncio.run(claim("create_character"))
(403, {'detail': 'create_character cannot be claimed by clients: the server awards it'})
"""

import hashlib
import inspect
import json
import math
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

try:
    from fastapi import APIRouter, Depends, HTTPException
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel
except ImportError as exc:  # pragma: no cover - exercised by a test that hides fastapi
    raise ImportError(
        "mikoshi_progression.fastapi needs FastAPI: "
        "install the [fastapi] extra (pip install -e '.[fastapi]' from a clone)",
        name=exc.name,
    ) from exc

from ._fastapi_models import (
    AwardBody,
    ErrorBody,
    GainRequestBody,
    LevelInfo,
    LimitsBody,
    RejectionBody,
)
from ._fastapi_request import (
    UNSUPPORTED_MEDIA_TYPE,
    Call,
    GainRequest,
    Steps,
    drive,
    drive_async,
    gain_request_reader,
)
from .core.identity import MAX_ID_LENGTH, check_id
from .core.levels import levels_view
from .core.results import AwardResult, Outcome
from .core.rules import DAILY_CHAT
from .errors import (
    ConcurrencyError,
    CreatorUserNotFound,
    IdempotencyError,
    InvalidIdError,
    SelfAwardError,
    StoreUnavailableError,
    UnknownUserError,
)
from .service import AsyncProgressionService, ProgressionService
from .stores.async_base import AsyncRequestKeyStore
from .stores.base import RequestKeyStore

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "RETRY_AFTER_SECONDS",
    "AwardBody",
    "CreatorLookup",
    "CreatorUserNotFound",
    "ErrorBody",
    "GainRequestBody",
    "LevelInfo",
    "LimitsBody",
    "RejectionBody",
    "creator_id",
    "default_user_id",
    "progression_router",
    "scoped_idempotency_key",
]

CreatorLookup = Callable[[str, int | str], str | int | Awaitable[str | int | None] | None]
"""``creator_of(target_type, target_id)``: the user id of the target's creator.

Returns ``None`` when there is no such target or it has no creator (404
``Character or creator not found``), and raises :class:`CreatorUserNotFound`
when the target names a creator whose user row is missing (404 ``Creator user
not found``). An integer id (an ORM column) is taken as its decimal text, the
same canonical form the caller's own id gets (:func:`creator_id`), so a creator
can never pass for someone else by the type of their id.

With a :class:`~mikoshi_progression.service.ProgressionService` it is called in
FastAPI's thread pool, with the rest of the request. With an
:class:`~mikoshi_progression.service.AsyncProgressionService` it may be an ``async``
function (an ``AsyncSession`` query), and is awaited; a plain function is then called
on the event loop, so it must not block.
"""

RETRY_AFTER_SECONDS = 1
"""The ``Retry-After`` of a 503 (the store is down or too contended right now)."""

MAX_IDEMPOTENCY_KEY_LENGTH = MAX_ID_LENGTH
"""The longest ``Idempotency-Key`` header accepted (255 characters)."""

MAX_BODY_BYTES = 16 * 1024
"""The largest ``POST /api/exp/gain`` body read (413 beyond it; the platform's is ~80 bytes)."""

_INVALID_ACTION = "Invalid or unsupported action"
_INVALID_TARGET = "Invalid character target"
_NOT_AUTHENTICATED = "Not authenticated"
_MISSING_TARGET = "Missing character target for creator award"
_TARGET_NOT_FOUND = "Character or creator not found"
_CREATOR_USER_NOT_FOUND = "Creator user not found"
_CHARACTER = "character"


def creator_id(value: object, field: str = "creator id") -> str:
    """A user id in the one canonical form the router compares: integer ids (an ORM
    column) as their decimal text, strings as they are, both checked by
    :func:`~mikoshi_progression.check_id`.

    >>> creator_id(7), creator_id("7"), creator_id(7) == creator_id("7")
    ('7', '7', True)

    Raises:
        InvalidIdError: neither an integer nor a canonical string.
    """
    if (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, UUID):
        value = str(value)
    return check_id(value, field)


def default_user_id(user: object) -> str:
    """The id of the object the authentication dependency returned.

    A string is the id itself; a mapping gives its ``"id"``; anything else (an
    ORM ``User``) its ``id`` attribute. Integer and UUID ids become their text
    (:func:`creator_id`), the form creators' ids are compared in.

    >>> default_user_id("u1"), default_user_id({"id": 7})
    ('u1', '7')

    Raises:
        InvalidIdError: no usable id can be found; pass
            ``progression_router(..., user_id=...)``.
    """
    if isinstance(user, str):
        return creator_id(user, "current user id")
    uid = user.get("id") if isinstance(user, Mapping) else getattr(user, "id", None)
    if uid is None:
        raise InvalidIdError(
            "current user id",
            f"found on the current user {type(user).__name__} (an 'id' key or attribute); "
            "else pass progression_router(..., user_id=lambda user: ...)",
        )
    return creator_id(uid, "current user id")


def scoped_idempotency_key(actor_id: str, header: str) -> str:
    """The service key for an ``Idempotency-Key`` header sent by ``actor_id``.

    Keys are unique per *recipient* in the store, and a creator award's recipient
    is someone else, so the header is namespaced by the actor: two users who
    send the same header value to one creator get two awards. The actor id is
    percent-encoded, so no pair of (actor, header) can spell another's key, and
    the ``exp-gain:`` prefix keeps them apart from the keys a backend uses for
    its own server-side awards. A pair too long for a key (255 characters) is
    named by its SHA-256 instead, under its own prefix.

    >>> scoped_idempotency_key("alice", "req-1")
    'exp-gain:alice:req-1'
    >>> scoped_idempotency_key("a:b", "c") != scoped_idempotency_key("a", "b:c")
    True
    >>> len(scoped_idempotency_key("u" * 255, "k" * 255))
    80
    """
    actor = quote(actor_id, safe="")
    key = f"exp-gain:{actor}:{header}"
    if len(key) <= MAX_ID_LENGTH:
        return key
    digest = hashlib.sha256(f"{actor}:{header}".encode()).hexdigest()
    return f"exp-gain-sha256:{digest}"


def _doc(description: str, model: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    return {"model": model, "description": description}


_UNAUTHORIZED = _doc(f"No current user: `{_NOT_AUTHENTICATED}`.")
_UNAVAILABLE = _doc(
    "The store is unreachable or too contended right now; retry after `Retry-After` seconds."
)


_GAIN_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": GainRequestBody.model_json_schema()}},
    },
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": (
                "Makes the request safe to retry: a repeat with the same key awards nothing "
                "and returns the first response. Scoped to the caller; reusing a key for "
                "another request (another action or target) is a 409, and nothing is done."
            ),
            "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH},
        }
    ],
}


# --- the router -------------------------------------------------------------------------


def progression_router(
    service: ProgressionService | AsyncProgressionService,
    current_user_dependency: Callable[..., Any],
    *,
    user_id: Callable[[Any], str] = default_user_id,
    claimable_actions: AbstractSet[str] = frozenset({DAILY_CHAT}),
    creator_of: CreatorLookup | None = None,
    prefix: str = "/api",
    tags: Sequence[str] = ("progression",),
    max_body_bytes: int = MAX_BODY_BYTES,
) -> APIRouter:
    """An ``APIRouter`` serving the platform's progression endpoints over ``service``.

    With a :class:`~mikoshi_progression.service.ProgressionService` the endpoints are
    plain functions, which FastAPI runs in its thread pool (one hop per request); with an
    :class:`~mikoshi_progression.service.AsyncProgressionService` they are ``async`` and
    await the service on the event loop, with no thread hop. Both run the same request
    steps, so they answer alike, status codes and bodies included.

    Args:
        service: Awards, limits and the config (``service.config``) to serve.
        current_user_dependency: A FastAPI dependency (sync or async, with its
            own dependencies if it likes) returning the current user, or
            ``None`` when the request is not authenticated (then: 401).
        user_id: Turns that user into the id the service knows them by
            (default: :func:`default_user_id`).
        claimable_actions: The actions a client may claim through
            ``POST /api/exp/gain``. Default: ``daily_chat`` only. Every other
            action gets 403 there and is awarded by the backend itself, by
            calling ``service.award`` where the thing happens (a character
            created, a like stored).
        creator_of: Finds the recipient of a creator award (see
            :data:`CreatorLookup`); required if a claimable action is one.
        prefix: Where the endpoints live (``/api`` like the platform's).
        tags: OpenAPI tags of the endpoints.
        max_body_bytes: The largest ``POST /api/exp/gain`` body read (413 beyond).

    Raises:
        ValueError: ``claimable_actions`` names an action the config lacks, a
            claimable creator award has no ``creator_of``, or the service's store
            cannot claim request keys (needed when creator awards are claimable:
            see :class:`~mikoshi_progression.stores.RequestKeyStore`).
    """
    config = service.config
    asynchronous = isinstance(service, AsyncProgressionService)
    claimable = frozenset(claimable_actions)
    unknown = sorted(claimable - config.actions.keys())
    if unknown:
        raise ValueError(
            f"claimable_actions names actions the config does not have: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(config.actions))}); pass claimable_actions=..."
        )
    creator_actions = sorted(a for a in claimable if config.actions[a].creator_award)
    if creator_actions and creator_of is None:
        raise ValueError(
            f"claimable creator awards ({', '.join(creator_actions)}) need creator_of, "
            "which finds the creator of a target"
        )
    # A caller's key may pay someone else only if it is claimed in the caller's own
    # namespace first: then every keyed request is, so one key names one request.
    claims_keys = bool(creator_actions)
    key_store = AsyncRequestKeyStore if asynchronous else RequestKeyStore
    store: object = service.store
    if claims_keys and not isinstance(store, key_store):
        raise ValueError(
            f"claimable creator awards ({', '.join(creator_actions)}) need a store that "
            f"claims request keys ({key_store.__name__}); "
            f"{type(store).__name__} does not"
        )
    if not asynchronous and creator_of is not None and inspect.iscoroutinefunction(creator_of):
        raise ValueError(
            "creator_of is an async function: use it with an AsyncProgressionService "
            "(a ProgressionService runs the request in a thread, where it cannot be awaited)"
        )
    limit: object = max_body_bytes
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"max_body_bytes must be a positive integer, got {limit!r}")
    read_gain_request = gain_request_reader(max_body_bytes)

    router = APIRouter(prefix=prefix, tags=list(tags))

    async def current_user_id(
        user: Annotated[Any, Depends(current_user_dependency)],
    ) -> str:
        # async: nothing here blocks, and a sync dependency would cost a thread hop.
        if user is None:
            raise HTTPException(
                status_code=401,
                detail=_NOT_AUTHENTICATED,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return user_id(user)

    @router.get(
        "/levels",
        response_model=None,
        summary="The level table",
        responses={200: {"model": dict[str, LevelInfo], "description": "Keyed by level number."}},
    )
    async def get_levels() -> dict[str, dict[str, Any]]:
        """The level table keyed by level number as a string; no authentication needed."""
        return levels_view(service.config)

    def limits_steps(uid: str) -> Steps:
        try:
            return (yield Call(service.limits, (uid,)))
        except (StoreUnavailableError, ConcurrencyError) as exc:
            raise _unavailable() from exc

    def gain_steps(actor: str, request: GainRequest) -> Steps:
        action = request.action
        rule = None if action is None else service.config.actions.get(action)
        if action is None or rule is None:
            raise HTTPException(status_code=400, detail=_INVALID_ACTION)
        if action not in claimable:
            raise HTTPException(
                status_code=403,
                detail=f"{action} cannot be claimed by clients: the server awards it",
            )
        header = _idempotency_header(request.idempotency_key)
        recipient, target = actor, None
        if rule.creator_award:
            recipient, target = yield from _creator(creator_of, request)
        key = None
        try:
            if header is not None:
                key = scoped_idempotency_key(actor, header)
                if claims_keys:
                    recipient = yield from _claim(service, actor, header, action, target, recipient)
            result = yield Call(
                service.award,
                (recipient, action),
                {"key": key, "actor_id": actor, "target": target},
            )
        except SelfAwardError as exc:
            raise HTTPException(
                status_code=403, detail=f"{action} cannot be awarded to yourself"
            ) from exc
        except IdempotencyError as exc:
            raise _key_reused() from exc
        except UnknownUserError as exc:  # a store in place on users that lacks the row
            detail = _CREATOR_USER_NOT_FOUND if rule.creator_award else "User not found"
            raise HTTPException(status_code=404, detail=detail) from exc
        except (StoreUnavailableError, ConcurrencyError) as exc:
            raise _unavailable() from exc
        return _award_response(result, recipient)

    limits_route: dict[str, Any] = {
        "response_model": None,
        "summary": "Today's EXP, counts and limits of the current user",
        "responses": {
            200: {"model": LimitsBody, "description": "The platform's keys and `resets_at`."},
            401: _UNAUTHORIZED,
            503: _UNAVAILABLE,
        },
    }
    gain_route: dict[str, Any] = {
        "response_model": None,
        "summary": "Claim EXP for an action",
        "responses": {
            200: {"model": AwardBody, "description": "EXP awarded (in full or in part)."},
            400: _doc(
                f"`{_INVALID_ACTION}` (missing, malformed or unknown action), "
                f"`{_MISSING_TARGET}`, `{_INVALID_TARGET}`, or a malformed `Idempotency-Key`."
            ),
            401: _UNAUTHORIZED,
            403: _doc(
                "The action is not claimable by clients (the server awards it), or a "
                "creator award would go to the user who acted."
            ),
            404: _doc(f"`{_TARGET_NOT_FOUND}` or `{_CREATOR_USER_NOT_FOUND}`."),
            409: _doc(
                "The `Idempotency-Key` was already used for another request (another "
                "action or target); nothing was done."
            ),
            413: _doc(f"The body is larger than {max_body_bytes} bytes; it was not read."),
            415: _doc(f"`{UNSUPPORTED_MEDIA_TYPE}`; the body was not read."),
            429: _doc(
                "Rejected by the rules: the action's daily limit or the daily EXP cap. "
                "`Retry-After` says when the day resets.",
                RejectionBody,
            ),
            503: _UNAVAILABLE,
        },
        "openapi_extra": _GAIN_OPENAPI,
    }

    if asynchronous:

        @router.get("/exp/limits", **limits_route)
        async def get_limits(uid: Annotated[str, Depends(current_user_id)]) -> Any:
            """Today's limits, opening (and persisting) a new day first if one has begun."""
            return await drive_async(limits_steps(uid))

        @router.post("/exp/gain", **gain_route)
        async def gain_exp(
            actor: Annotated[str, Depends(current_user_id)],
            request: Annotated[GainRequest, Depends(read_gain_request)],
        ) -> Any:
            """Award an action's EXP under the daily limits and caps, to the caller or a
            creator."""
            return await drive_async(gain_steps(actor, request))

    else:

        @router.get("/exp/limits", **limits_route)
        def get_limits_sync(uid: Annotated[str, Depends(current_user_id)]) -> Any:
            """Today's limits, opening (and persisting) a new day first if one has begun."""
            return drive(limits_steps(uid))

        @router.post("/exp/gain", **gain_route)
        def gain_exp_sync(
            actor: Annotated[str, Depends(current_user_id)],
            request: Annotated[GainRequest, Depends(read_gain_request)],
        ) -> Any:
            """Award an action's EXP under the daily limits and caps, to the caller or a
            creator."""
            return drive(gain_steps(actor, request))

    return router


def _idempotency_header(header: str | None) -> str | None:
    """The ``Idempotency-Key`` header, checked like every key (400 if malformed)."""
    if header is None:
        return None
    try:
        return check_id(header, "Idempotency-Key")
    except InvalidIdError as exc:
        raise HTTPException(
            status_code=400,
            detail=(
                f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable "
                "characters, without spaces at either end"
            ),
        ) from exc


def _creator(
    creator_of: CreatorLookup | None, request: GainRequest
) -> Generator[Call, Any, tuple[str, str]]:
    """The recipient of a creator award and the target it is for, or the platform's 400/404.

    The creator's id is put in the canonical form the caller's id has (:func:`creator_id`),
    so that the self-award check compares like with like.
    """
    target_id = request.target_id
    if request.target_type != _CHARACTER or target_id is None:
        raise HTTPException(status_code=400, detail=_MISSING_TARGET)
    try:
        target = check_id(f"{_CHARACTER}:{target_id}", "target")
    except InvalidIdError as exc:
        raise HTTPException(status_code=400, detail=_INVALID_TARGET) from exc
    assert creator_of is not None  # checked when the router was built
    try:
        creator = yield Call(creator_of, (_CHARACTER, target_id))
    except CreatorUserNotFound as exc:
        raise HTTPException(status_code=404, detail=_CREATOR_USER_NOT_FOUND) from exc
    if creator is None:
        raise HTTPException(status_code=404, detail=_TARGET_NOT_FOUND)
    return creator_id(creator), target


def _claim(
    service: ProgressionService | AsyncProgressionService,
    actor: str,
    header: str,
    action: str,
    target: str | None,
    recipient: str,
) -> Generator[Call, Any, str]:
    """Claim the caller's key for this request; return the recipient to award.

    A retry of the same request gets the recipient its first call resolved, even if the
    target's creator changed since, so it can never pay a second creator. A key that
    named another request (another action or target) is a 409.
    """
    request = json.dumps(
        {"action": action, "target": target, "recipient": recipient},
        sort_keys=True,
        separators=(",", ":"),
    )
    named = yield Call(service.claim_key, (actor, header, request))
    if named == request:
        return recipient
    try:
        first = json.loads(named)
    except ValueError:
        first = None  # claimed by something else than this router: another request
    if (
        not isinstance(first, dict)
        or first.get("action") != action
        or first.get("target") != target
        or not isinstance(first.get("recipient"), str)
    ):
        raise _key_reused()
    return str(first["recipient"])


def _key_reused() -> HTTPException:
    return HTTPException(
        status_code=409,
        detail="Idempotency-Key was already used for another request",
    )


def _unavailable() -> HTTPException:
    return HTTPException(
        status_code=503,
        detail="Progression store unavailable, try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _award_response(result: AwardResult, recipient: str) -> Any:
    """The platform's 200, 429 or 400 for an award result, with a few added keys."""
    if result.outcome is Outcome.INVALID_ACTION:  # the router checked; a config swapped since
        raise HTTPException(status_code=400, detail=_INVALID_ACTION)
    resets_at = result.resets_at
    extra = {
        "outcome": str(result.outcome),
        "resets_at": resets_at.isoformat(),
        "remaining_exp": result.remaining_exp,
    }
    if result.success:
        return {"awarded_to": recipient, "action": result.action, **result.to_dict(), **extra}
    wait = max(1, math.ceil((resets_at - result.now).total_seconds()))
    return JSONResponse(
        status_code=result.http_status,
        content={"detail": result.reason, "action": result.action, **result.to_dict(), **extra},
        headers={"Retry-After": str(wait)},
    )
