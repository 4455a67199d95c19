"""Metrics and traces of the services through OpenTelemetry (the ``[otel]`` extra).

:class:`OpenTelemetryObserver` is an :class:`~mikoshi_progression.service.Observer` that
speaks the OpenTelemetry **API** only: the SDK, its exporters, views and sampling are
the application's choice. Without providers it uses the global ones, which are no-ops
until the application installs an SDK (and become real at that moment)::

    from mikoshi_progression.otel import OpenTelemetryObserver
    service = ProgressionService(store, observer=OpenTelemetryObserver())

What it records (``docs/observability.md`` has the table and a runnable example):

- ``mikoshi.awards`` (counter, ``{award}``): commands decided and committed, by
  ``mikoshi.operation`` (``award``, ``revoke``, ``adjust``, ``set_exp``,
  ``reset_daily``), ``mikoshi.outcome`` and ``mikoshi.action``;
- ``mikoshi.exp.granted`` and ``mikoshi.exp.taken`` (counters, ``{exp}``): the EXP
  those commands added, and the EXP revocations and deductions took back (a positive
  amount), with the same attributes;
- ``mikoshi.conflicts`` (counter, ``{conflict}``): store attempts that lost a race with
  another writer (each one, the last one before a ``ConcurrencyError`` too);
- ``mikoshi.retries`` (counter, ``{retry}``): attempts tried again, by ``mikoshi.reason``
  (``conflict`` or ``fault``);
- ``mikoshi.store.duration`` (histogram, ``s``): each store attempt, by
  ``mikoshi.operation`` and ``mikoshi.result`` (``ok``, ``conflict``, ``fault``,
  ``error``), with ``error.type`` when it failed;
- a span ``mikoshi.<operation>`` around each store attempt, a child of the current span
  (the application's request span), and, when it is recorded (sampled), the current
  span while the attempt runs, so the spans of an instrumented database driver nest
  under it. A failed attempt's span has status ``ERROR``, the exception recorded as an
  event and ``error.type``. The attempt's duration is recorded while its span is still
  current, so a histogram exemplar points at it.

Choices:

- **No user id on metrics**: every attribute value comes from a small fixed set
  (operations, the config's actions, outcomes, results, exception class names), so the
  number of time series stays bounded. An action the config does not know (outcome
  ``invalid_action``, the caller's free text) is recorded as ``_OTHER``, as the
  semantic conventions do for unknown HTTP methods.
- **User ids on spans only when asked** (``user_ids_on_spans=True``, as ``enduser.id``):
  a span may carry a high-cardinality value, but the semantic conventions flag
  ``enduser.id`` as personal data, and the application's own request span usually
  names the user already. Exception messages recorded on failed spans may name the
  user whatever this says (``ConcurrencyError`` does).
- **Deductions on their own counter** rather than an UpDownCounter of net EXP: both
  stay monotonic, so a backend computes rates of each and never mistakes a burst of
  revocations for a reset; an UpDownCounter is exported as a gauge-like sum whose net
  hides how much was granted and taken back. The net is one subtraction away.
- **The decision is not on the span**: the service reports the outcome after the
  attempt has committed and its span has ended; it is on the metrics and in the
  DEBUG log record.

The observer never raises into the service: the API calls run user code (samplers,
span processors, views), so each method catches ``Exception``, logs the first failure
at WARNING on the ``mikoshi_progression.otel`` logger (later ones at DEBUG) and lets
the command go on.
"""

from __future__ import annotations

import logging
from contextvars import Token
from time import perf_counter
from typing import Final, TypeAlias, cast

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, SpanKind, StatusCode
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "OpenTelemetryObserver needs opentelemetry-api: "
        "install the [otel] extra (pip install -e '.[otel]' from a clone)",
        name=exc.name,
    ) from exc

from . import __version__
from .errors import StoreUnavailableError
from .stores.base import StaleVersionError

__all__ = ["DURATION_BUCKETS", "OpenTelemetryObserver"]

DURATION_BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""The bucket boundaries (seconds) advised for ``mikoshi.store.duration``: from 100 µs
(an in-memory or cached attempt) to 10 s (a database under a lock). A view of the
application's overrides them."""

OTHER: Final = "_OTHER"
"""The ``mikoshi.action`` of an action the config does not know."""

_INVALID_ACTION: Final = "invalid_action"
_INTERNAL: Final = SpanKind.INTERNAL
_ERROR: Final = StatusCode.ERROR

_log = logging.getLogger("mikoshi_progression.otel")


class _Operation:
    """An operation's span name and attribute sets, made once and shared (the SDK copies
    attributes it keeps; nothing here changes them)."""

    __slots__ = ("ok_attributes", "operation", "span_attributes", "span_name")

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.span_name = "mikoshi." + operation
        self.span_attributes = {"mikoshi.operation": operation}
        self.ok_attributes = {"mikoshi.operation": operation, "mikoshi.result": "ok"}


_Token: TypeAlias = "tuple[Span | None, Token[Context] | None, _Operation, float]"
"""What :meth:`OpenTelemetryObserver.attempt_started` returns: the span, the token that
restores the context, the operation, the start (``perf_counter``)."""


class OpenTelemetryObserver:
    """An :class:`~mikoshi_progression.service.Observer` recording OpenTelemetry metrics
    and spans (see the module's documentation for names and attributes).

    Args:
        meter_provider: Where the instruments come from (default: the global one).
        tracer_provider: Where the spans go (default: the global one).
        name: The instrumentation scope's name (the library's version is its version).
        user_ids_on_spans: Put the user id on each span as ``enduser.id`` (personal
            data; never on metrics).
    """

    __slots__ = (
        "_awards",
        "_conflicts",
        "_duration",
        "_granted",
        "_operations",
        "_retries",
        "_taken",
        "_tracer",
        "_user_ids",
        "failures",
    )

    def __init__(
        self,
        *,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        name: str = "mikoshi_progression",
        user_ids_on_spans: bool = False,
    ) -> None:
        meter = metrics.get_meter(name, __version__, meter_provider)
        self._tracer = trace.get_tracer(name, __version__, tracer_provider)
        self._user_ids = user_ids_on_spans
        self._operations: dict[str, _Operation] = {}
        self.failures = 0
        """How many times the OpenTelemetry API raised in this observer (and was ignored)."""
        self._awards = meter.create_counter(
            "mikoshi.awards",
            unit="{award}",
            description="Commands decided and committed (awards, revocations, adjustments, "
            "resets), by operation, action and outcome",
        )
        self._granted = meter.create_counter(
            "mikoshi.exp.granted", unit="{exp}", description="EXP added by committed commands"
        )
        self._taken = meter.create_counter(
            "mikoshi.exp.taken",
            unit="{exp}",
            description="EXP taken back by committed revocations and deductions",
        )
        self._conflicts = meter.create_counter(
            "mikoshi.conflicts",
            unit="{conflict}",
            description="Store attempts that lost a race with another writer",
        )
        self._retries = meter.create_counter(
            "mikoshi.retries",
            unit="{retry}",
            description="Store attempts tried again, after a conflict or a store fault",
        )
        self._duration = meter.create_histogram(
            "mikoshi.store.duration",
            unit="s",
            description="Duration of each store attempt (one transaction)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    # --- Observer ------------------------------------------------------------------------

    def attempt_started(self, operation: str, user_id: str) -> object:
        """Start the attempt's span, current until :meth:`attempt_ended`."""
        known = self._operations.get(operation) or self._operation(operation)
        span = context_token = None
        try:
            attributes = known.span_attributes
            if self._user_ids:
                attributes = {**attributes, "enduser.id": user_id}
            span = self._tracer.start_span(known.span_name, kind=_INTERNAL, attributes=attributes)
            if span.is_recording():  # else nothing nests under it: the caller's span stays
                context_token = otel_context.attach(trace.set_span_in_context(span))
        except Exception:
            self._failed()
        return (span, context_token, known, perf_counter())

    def attempt_ended(self, token: object, error: BaseException | None) -> None:
        """Record the attempt's duration and result; end its span."""
        elapsed = perf_counter()
        span, context_token, known, started = cast(_Token, token)
        elapsed -= started
        if error is None:
            result = "ok"
            attributes = known.ok_attributes
        else:
            if isinstance(error, StaleVersionError):
                result = "conflict"
            elif isinstance(error, StoreUnavailableError):
                result = "fault"
            else:
                result = "error"
            attributes = {
                "mikoshi.operation": known.operation,
                "mikoshi.result": result,
                "error.type": type(error).__qualname__,
            }
        # Measured while the attempt's span is still current: an exemplar links to it.
        try:
            self._duration.record(elapsed, attributes)
            if result == "conflict":
                self._conflicts.add(1, known.span_attributes)
        except Exception:
            self._failed()
        try:
            if span is not None:
                if error is None:
                    span.set_attribute("mikoshi.result", result)
                else:
                    span.set_attributes(attributes)
                    span.record_exception(error)
                    span.set_status(_ERROR, str(error) or attributes["error.type"])
                span.end()
        except Exception:
            self._failed()
        try:
            # Always restored, whatever happened above: the caller's span is current again.
            if context_token is not None:
                otel_context.detach(context_token)
        except Exception:  # pragma: no cover - detach logs its own failures
            self._failed()

    def retried(self, operation: str, user_id: str, conflict: bool) -> None:
        """Count a retry, by its reason."""
        try:
            self._retries.add(
                1,
                {
                    "mikoshi.operation": operation,
                    "mikoshi.reason": "conflict" if conflict else "fault",
                },
            )
        except Exception:
            self._failed()

    def decided(self, operation: str, user_id: str, action: str, outcome: str, exp: int) -> None:
        """Count the decision, and the EXP it granted or took back."""
        attributes = {"mikoshi.operation": operation, "mikoshi.outcome": outcome}
        if action:
            attributes["mikoshi.action"] = OTHER if outcome == _INVALID_ACTION else action
        try:
            self._awards.add(1, attributes)
            if exp > 0:
                self._granted.add(exp, attributes)
            elif exp < 0:
                self._taken.add(-exp, attributes)
        except Exception:
            self._failed()

    # --- internals -----------------------------------------------------------------------

    def _operation(self, operation: str) -> _Operation:
        """What the observer uses for ``operation``, made once (the service's operations
        are a small fixed set)."""
        known = self._operations[operation] = _Operation(operation)
        return known

    def _failed(self) -> None:
        """The API raised: note it, once at WARNING, and let the service go on."""
        self.failures += 1
        level = logging.WARNING if self.failures == 1 else logging.DEBUG
        _log.log(
            level,
            "OpenTelemetry raised in the observer (ignored; %s)",
            "later failures are logged at DEBUG" if self.failures == 1 else "again",
            exc_info=True,
        )
