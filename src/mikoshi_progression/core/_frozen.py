"""Fast construction of frozen, slotted dataclasses from values already known to be valid.

A frozen dataclass's generated ``__init__`` writes every field through
``object.__setattr__`` and then runs ``__post_init__`` validation; for the state
and the result of an award that is over half the cost of the award. The core
builds both from values it has just computed itself, so it takes a shortcut:
it fills a plain twin class that has the same slots (ordinary attribute stores,
the fastest write Python has) and then re-labels the object as the frozen
class. ``__class__`` assignment is allowed exactly because the two layouts are
identical, and from then on the object is an ordinary frozen instance.

Only the core uses this, only with values the public constructor would accept,
and a test checks that every builder's output equals the constructor's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def trusted_factory(cls: type[T]) -> Callable[..., T]:
    """Return ``build(*values)`` creating a ``cls`` without ``__init__`` or validation.

    ``cls`` must be a ``@dataclass(frozen=True, slots=True)``; ``values`` are
    positional, in field-definition order, every field included.
    """
    slots = tuple(cls.__slots__)  # type: ignore[attr-defined]
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if sorted(slots) != sorted(names):
        raise TypeError(f"{cls.__name__} must be a slotted dataclass with one slot per field")
    twin = type(f"_{cls.__name__}Builder", (), {"__slots__": slots})
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_twin": twin}
    body = "".join(f"    obj.{n} = {n}\n" for n in names)
    source = (
        f"def build({', '.join(names)}):\n"
        f"    obj = _new(_twin)\n{body}"
        f"    obj.__class__ = _cls\n"
        f"    return obj\n"
    )
    exec(source, namespace)  # source built above from the dataclass's own field names
    build: Callable[..., T] = namespace["build"]
    return build
