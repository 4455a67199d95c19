"""How the FastAPI router takes a request in and runs it: the ``POST /api/exp/gain`` body,
read safely (media type, size, a lenient parse), and a request's steps, run by a sync or
an async driver (so that the sync and the async endpoints share every decision).

Private to :mod:`mikoshi_progression.fastapi`.
"""

import inspect
import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

__all__ = ["UNSUPPORTED_MEDIA_TYPE", "Call", "GainRequest", "drive", "drive_async"]

UNSUPPORTED_MEDIA_TYPE = "Content-Type must be application/json"

# --- the request ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GainRequest:
    """What the router reads of a ``POST /api/exp/gain`` request (``None``: absent or malformed)."""

    action: str | None
    target_type: str | None
    target_id: int | str | None
    idempotency_key: str | None


def gain_request_reader(max_body_bytes: int) -> Callable[[Request], Any]:
    """The dependency that reads ``POST /api/exp/gain``'s body, at most ``max_body_bytes``."""

    async def read_gain_request(request: Request) -> GainRequest:
        """Refuse what is not JSON (415) or too large (413), then parse leniently, so
        that no malformed request ever gets FastAPI's 422.

        Only ``application/json`` is read: a cross-site form or ``text/plain`` post
        (which a browser sends without asking, with the victim's cookies) is refused
        before anything is read. The size is checked against ``Content-Length`` first
        and then while the body streams in, so a large body is never read whole. The
        platform answers a missing action with 400, and its client never parses
        errors; anything that is not a JSON object with a string ``action`` is read
        as "no action", and a target of the wrong type as "no target".
        """
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise HTTPException(status_code=415, detail=UNSUPPORTED_MEDIA_TYPE)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
            raise _too_large(max_body_bytes)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                raise _too_large(max_body_bytes)
        return parse_gain_request(bytes(body), request.headers.get("idempotency-key"))

    return read_gain_request


def _too_large(limit: int) -> HTTPException:
    return HTTPException(status_code=413, detail=f"Request body larger than {limit} bytes")


def parse_gain_request(body: bytes, key: str | None) -> GainRequest:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        return GainRequest(None, None, None, key)
    action = data.get("action")
    target_type = data.get("target_type")
    target_id = data.get("target_id")
    valid_id = (isinstance(target_id, int) and not isinstance(target_id, bool)) or (
        isinstance(target_id, str) and target_id != ""
    )
    return GainRequest(
        action if isinstance(action, str) else None,
        target_type if isinstance(target_type, str) else None,
        target_id if valid_id else None,
        key,
    )


# --- the request's steps, run by a sync or an async driver -------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """Step: call ``function(*args, **kwargs)``; a sync driver calls it, an async one awaits
    it when it returns an awaitable."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


Steps = Generator[Call, Any, Any]


def drive(steps: Steps) -> Any:
    """Run a request's steps, calling each service call in turn (in the thread FastAPI
    runs a sync endpoint in); an exception is thrown back into the steps."""
    try:
        call = next(steps)
        while True:
            try:
                value = call.function(*call.args, **call.kwargs)
            except Exception as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(value)
    except StopIteration as done:
        return done.value


async def drive_async(steps: Steps) -> Any:
    """Run a request's steps on the event loop, awaiting what the calls return."""
    try:
        call = next(steps)
        while True:
            try:
                value = call.function(*call.args, **call.kwargs)
                if inspect.isawaitable(value):
                    value = await value
            except Exception as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(value)
    except StopIteration as done:
        return done.value
