"""OpenTelemetryObserver: real services on the memory stores, read back through the SDK's
in-memory span exporter and metric reader; and what the log and a service without an
observer do."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs the [otel] extra and opentelemetry-sdk")

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from flaky_stores import AsyncFlaky, Flaky
from mikoshi_progression import ProgressionConfig
from mikoshi_progression.errors import (
    ConcurrencyError,
    IdempotencyError,
    StoreError,
    StoreUnavailableError,
)
from mikoshi_progression.otel import DURATION_BUCKETS, OpenTelemetryObserver
from mikoshi_progression.service import AsyncProgressionService, Observer, ProgressionService
from mikoshi_progression.stores import AsyncInMemoryStore, InMemoryStore, StoreTransaction
from mikoshi_progression.stores.base import StaleVersionError
from mikoshi_progression.testing import FakeClock
from mikoshi_progression.testing.store_contract import START

CONFIG = ProgressionConfig.from_dict(
    {
        "levels": [
            {"number": 1, "name": "One", "exp_required": 0, "unlock": "-"},
            {"number": 2, "name": "Two", "exp_required": 10_000, "unlock": "-"},
        ],
        "actions": {"like": {"exp": 10, "daily_limit": 2}, "post": {"exp": 25}},
        "daily_exp_caps": {"1": 40, "2": 40},
    }
)
"""A like is worth 10 EXP twice a day, a post 25; at most 40 EXP a day."""


# --- the SDK's in-memory side ------------------------------------------------------------


@dataclass
class Telemetry:
    observer: OpenTelemetryObserver
    tracer_provider: TracerProvider
    spans_exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_exporter.get_finished_spans())

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """The data points of metric ``name``: attributes -> value (a sum's value, or a
        histogram point itself)."""
        data = self.reader.get_metrics_data()
        found: dict[frozenset[tuple[str, Any]], Any] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            value = getattr(point, "value", point)
                            found[frozenset(point.attributes.items())] = value
        return found

    def metric(self, name: str) -> Any:
        data = self.reader.get_metrics_data()
        assert data is not None
        (metric,) = [
            m
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for m in scope.metrics
            if m.name == name
        ]
        return metric

    def durations(self) -> dict[tuple[str, str], int]:
        """(operation, result) -> how many attempts ``mikoshi.store.duration`` counted."""
        return {
            (dict(key)["mikoshi.operation"], dict(key)["mikoshi.result"]): point.count
            for key, point in self.points("mikoshi.store.duration").items()
        }


def attrs(**values: Any) -> frozenset[tuple[str, Any]]:
    """Metric attributes, written as keywords (``mikoshi_outcome`` is ``mikoshi.outcome``)."""
    return frozenset((key.replace("_", ".", 1), value) for key, value in values.items())


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    observer = OpenTelemetryObserver(meter_provider=meter_provider, tracer_provider=tracer_provider)
    yield Telemetry(observer, tracer_provider, exporter, reader)
    meter_provider.shutdown()
    tracer_provider.shutdown()


# --- services, sync and async, behind one calling convention -----------------------------


class Driver:
    """Calls a sync or an async service the same way: ``driver.award(...)`` returns the
    result either way (the async service's coroutine run to its end)."""

    def __init__(self, kind: str, observer: Observer | None, *errors: StoreError, **options):
        self.kind = kind
        options.setdefault("clock", FakeClock(START))
        options.setdefault("config", CONFIG)
        if kind == "sync":
            self.service: Any = ProgressionService(Flaky(*errors), observer=observer, **options)
        else:
            self.service = AsyncProgressionService(
                AsyncFlaky(*errors), observer=observer, **options
            )

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.service, name)
        if self.kind == "sync":
            return method  # type: ignore[no-any-return]
        return lambda *args, **kwargs: asyncio.run(method(*args, **kwargs))


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])


# --- metrics -----------------------------------------------------------------------------


@KINDS
def test_awards_are_counted_by_action_and_outcome(kind: str, telemetry: Telemetry) -> None:
    """Each outcome of the core is one point of mikoshi.awards; EXP granted adds up."""
    service = Driver(kind, telemetry.observer)
    outcomes = [
        str(service.award("u", action).outcome)
        for action in ("like", "like", "like", "post", "post", "nope")
    ]
    assert outcomes == [
        "awarded",
        "awarded",
        "action_limit",
        "partial",
        "daily_cap",
        "invalid_action",
    ]
    award = {"mikoshi_operation": "award"}
    assert telemetry.points("mikoshi.awards") == {
        attrs(**award, mikoshi_action="like", mikoshi_outcome="awarded"): 2,
        attrs(**award, mikoshi_action="like", mikoshi_outcome="action_limit"): 1,
        attrs(**award, mikoshi_action="post", mikoshi_outcome="partial"): 1,
        attrs(**award, mikoshi_action="post", mikoshi_outcome="daily_cap"): 1,
        # An action the config does not know is the caller's free text: never a series.
        attrs(**award, mikoshi_action="_OTHER", mikoshi_outcome="invalid_action"): 1,
    }
    assert telemetry.points("mikoshi.exp.granted") == {
        attrs(**award, mikoshi_action="like", mikoshi_outcome="awarded"): 20,
        attrs(**award, mikoshi_action="post", mikoshi_outcome="partial"): 20,
    }
    assert telemetry.points("mikoshi.exp.taken") == {}
    assert telemetry.durations() == {("award", "ok"): 6}
    assert telemetry.points("mikoshi.conflicts") == {}
    assert telemetry.points("mikoshi.retries") == {}


@KINDS
def test_revocations_adjustments_and_resets(kind: str, telemetry: Telemetry) -> None:
    """EXP taken back is counted, as a positive amount, on mikoshi.exp.taken."""
    service = Driver(kind, telemetry.observer)
    service.award("u", "post", key="k1")
    service.award("u", "post", key="k1")  # a repeat of a keyed request: not a decision
    service.revoke("u", "k1")
    service.adjust("u", 7, reason="goodwill", operator="op")
    service.set_exp("u", 2, reason="migrated", operator="op")
    service.reset_daily("u", reason="support ticket", operator="op")
    assert telemetry.points("mikoshi.awards") == {
        attrs(mikoshi_operation="award", mikoshi_action="post", mikoshi_outcome="awarded"): 1,
        attrs(mikoshi_operation="revoke", mikoshi_action="post", mikoshi_outcome="revoked"): 1,
        attrs(mikoshi_operation="adjust", mikoshi_outcome="adjusted"): 1,
        attrs(mikoshi_operation="set_exp", mikoshi_outcome="set"): 1,
        attrs(mikoshi_operation="reset_daily", mikoshi_outcome="manual_reset"): 1,
    }
    assert telemetry.points("mikoshi.exp.granted") == {
        attrs(mikoshi_operation="award", mikoshi_action="post", mikoshi_outcome="awarded"): 25,
        attrs(mikoshi_operation="adjust", mikoshi_outcome="adjusted"): 7,
    }
    assert telemetry.points("mikoshi.exp.taken") == {
        attrs(mikoshi_operation="revoke", mikoshi_action="post", mikoshi_outcome="revoked"): 25,
        attrs(mikoshi_operation="set_exp", mikoshi_outcome="set"): 5,
    }
    assert telemetry.durations() == {
        ("award", "ok"): 2,
        ("revoke", "ok"): 1,
        ("adjust", "ok"): 1,
        ("set_exp", "ok"): 1,
        ("reset_daily", "ok"): 1,
    }


@KINDS
def test_conflicts_and_retries(kind: str, telemetry: Telemetry) -> None:
    """Two lost races, then a commit: two conflicts, two retries, three timed attempts."""
    service = Driver(kind, telemetry.observer, StaleVersionError("raced"), StaleVersionError("x"))
    assert service.award("u", "like").success
    assert telemetry.points("mikoshi.conflicts") == {attrs(mikoshi_operation="award"): 2}
    assert telemetry.points("mikoshi.retries") == {
        attrs(mikoshi_operation="award", mikoshi_reason="conflict"): 2
    }
    assert telemetry.points("mikoshi.store.duration").keys() == {
        attrs(mikoshi_operation="award", mikoshi_result="ok"),
        attrs(mikoshi_operation="award", mikoshi_result="conflict", error_type="StaleVersionError"),
    }
    assert telemetry.durations() == {("award", "ok"): 1, ("award", "conflict"): 2}
    # The decision is counted once, whatever the attempts.
    assert sum(telemetry.points("mikoshi.awards").values()) == 1


@KINDS
def test_faults_are_retried_only_where_safe(kind: str, telemetry: Telemetry) -> None:
    """A keyed award is retried through a fault; an unkeyed one is not (and is raised)."""
    service = Driver(kind, telemetry.observer, StoreUnavailableError("down"))
    assert service.award("u", "like", key="k").success  # fault, retried, then committed
    service.service.store.errors.append(StoreUnavailableError("down"))
    with pytest.raises(StoreUnavailableError):
        service.award("u", "like")  # fault: not retried
    assert telemetry.points("mikoshi.retries") == {
        attrs(mikoshi_operation="award", mikoshi_reason="fault"): 1
    }
    assert telemetry.durations() == {("award", "ok"): 1, ("award", "fault"): 2}
    assert telemetry.points("mikoshi.conflicts") == {}


@KINDS
def test_giving_up_counts_every_conflict(kind: str, telemetry: Telemetry) -> None:
    """The last conflict, before ConcurrencyError, is a conflict but not a retry."""
    errors = [StaleVersionError("raced") for _ in range(9)]
    service = Driver(kind, telemetry.observer, *errors, max_attempts=3)
    with pytest.raises(ConcurrencyError):
        service.award("u", "like")
    assert telemetry.points("mikoshi.conflicts") == {attrs(mikoshi_operation="award"): 3}
    assert telemetry.points("mikoshi.retries") == {
        attrs(mikoshi_operation="award", mikoshi_reason="conflict"): 2
    }
    assert telemetry.points("mikoshi.awards") == {}


def test_the_duration_histogram(telemetry: Telemetry) -> None:
    """Seconds, with the advised buckets, each attempt's duration recorded once."""
    service = Driver("sync", telemetry.observer)
    for _ in range(3):
        service.limits("u")
    metric = telemetry.metric("mikoshi.store.duration")
    assert metric.unit == "s"
    (point,) = metric.data.data_points
    assert point.count == 3
    assert tuple(point.explicit_bounds) == DURATION_BUCKETS
    assert 0 < point.min <= point.max < 1  # the memory store takes microseconds
    assert dict(point.attributes) == {"mikoshi.operation": "limits", "mikoshi.result": "ok"}


def test_units_and_kinds(telemetry: Telemetry) -> None:
    """Counters are monotonic sums, in curly-brace annotation units."""
    service = Driver("sync", telemetry.observer, StaleVersionError("raced"))
    service.award("u", "like")
    service.revoke("u", "none")
    service.adjust("u", -5, reason="abuse", operator="op")
    for name, unit in [
        ("mikoshi.awards", "{award}"),
        ("mikoshi.exp.granted", "{exp}"),
        ("mikoshi.exp.taken", "{exp}"),
        ("mikoshi.conflicts", "{conflict}"),
        ("mikoshi.retries", "{retry}"),
    ]:
        metric = telemetry.metric(name)
        assert (metric.unit, metric.data.is_monotonic) == (unit, True), name


def test_no_user_id_on_any_metric(telemetry: Telemetry) -> None:
    service = Driver("sync", telemetry.observer, StaleVersionError("raced"))
    service.award("user-4242", "like", key="k")
    service.revoke("user-4242", "k")
    data = telemetry.reader.get_metrics_data()
    assert data is not None
    values = {
        value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
        for value in point.attributes.values()
    }
    assert values
    assert not any("4242" in str(value) for value in values)


# --- spans -------------------------------------------------------------------------------


@KINDS
def test_a_span_per_attempt_under_the_callers_span(kind: str, telemetry: Telemetry) -> None:
    """``mikoshi.<operation>`` spans are children of the application's current span."""
    tracer = telemetry.tracer_provider.get_tracer("app")
    service = Driver(kind, telemetry.observer, StaleVersionError("raced"))

    if kind == "sync":
        with tracer.start_as_current_span("POST /api/exp/award") as request:
            service.award("u", "like")
    else:

        async def handler() -> None:
            with tracer.start_as_current_span("POST /api/exp/award") as span:
                nonlocal request
                request = span
                await service.service.award("u", "like")

        request: Any = None
        asyncio.run(handler())

    *attempts, app = telemetry.spans()
    assert app.name == "POST /api/exp/award"
    assert [span.name for span in attempts] == ["mikoshi.award", "mikoshi.award"]
    for span in attempts:
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id
        assert span.context.trace_id == request.get_span_context().trace_id
        assert span.kind is trace.SpanKind.INTERNAL
        assert "enduser.id" not in span.attributes  # not unless asked

    conflict, ok = attempts
    assert conflict.status.status_code is StatusCode.ERROR
    assert conflict.status.description == "raced"
    assert dict(conflict.attributes) == {
        "mikoshi.operation": "award",
        "mikoshi.result": "conflict",
        "error.type": "StaleVersionError",
    }
    (event,) = conflict.events
    assert event.name == "exception"
    # The SDK names the exception in full; error.type is the class's own name.
    assert event.attributes["exception.type"] == "mikoshi_progression.stores.base.StaleVersionError"
    assert event.attributes["exception.message"] == "raced"

    assert ok.status.status_code is StatusCode.UNSET
    assert dict(ok.attributes) == {"mikoshi.operation": "award", "mikoshi.result": "ok"}
    assert ok.events == ()
    assert conflict.end_time <= ok.start_time


def test_without_a_current_span_an_attempt_is_a_root(telemetry: Telemetry) -> None:
    service = Driver("sync", telemetry.observer)
    service.state("u")  # a StateReader's read: no transaction, no attempt, no span
    service.limits("u")
    (span,) = telemetry.spans()
    assert (span.name, span.parent) == ("mikoshi.limits", None)


@KINDS
def test_the_attempts_span_is_current_inside_the_store(kind: str, telemetry: Telemetry) -> None:
    """A database driver's own spans nest under the attempt; afterwards the caller's span
    is current again."""
    seen: list[int] = []

    class Watching(InMemoryStore):
        @contextmanager
        def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
            seen.append(trace.get_current_span().get_span_context().span_id)
            with super().transaction(user_id) as tx:
                yield tx

    observer = telemetry.observer
    if kind == "sync":
        ProgressionService(Watching(), config=CONFIG, observer=observer).award("u", "like")
    else:

        class AsyncWatching(AsyncInMemoryStore):
            def transaction(self, user_id: str) -> Any:
                seen.append(trace.get_current_span().get_span_context().span_id)
                return super().transaction(user_id)

            async def run_in_transaction(self, user_id: str, attempt: Any) -> Any:
                seen.append(trace.get_current_span().get_span_context().span_id)
                return await super().run_in_transaction(user_id, attempt)

        service = AsyncProgressionService(AsyncWatching(), config=CONFIG, observer=observer)
        asyncio.run(service.award("u", "like"))
    (span,) = telemetry.spans()
    assert seen == [span.context.span_id]
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_an_error_inside_the_transaction(telemetry: Telemetry) -> None:
    """A refusal raised inside the attempt (a key reused for another request) is an
    ``error`` result, with the span in ERROR."""
    service = Driver("sync", telemetry.observer)
    service.award("u", "like", key="k")
    with pytest.raises(IdempotencyError):
        service.award("u", "post", key="k")
    assert telemetry.durations() == {("award", "ok"): 1, ("award", "error"): 1}
    _, refused = telemetry.spans()
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.attributes["error.type"] == "IdempotencyError"
    assert refused.events[0].attributes["exception.type"].endswith(".IdempotencyError")


def test_user_ids_on_spans_when_asked(telemetry: Telemetry) -> None:
    observer = OpenTelemetryObserver(
        tracer_provider=telemetry.tracer_provider, user_ids_on_spans=True
    )
    Driver("sync", observer).award("user-7", "like")
    (span,) = telemetry.spans()
    assert span.attributes["enduser.id"] == "user-7"


# --- never into the service --------------------------------------------------------------


class Exploding(SpanProcessor):
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        raise RuntimeError("on_start")

    def on_end(self, span: Any) -> None:
        raise RuntimeError("on_end")


class BrokenProvider:
    """A provider whose tracer, meter and instruments raise at every use."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("get_", "create_")):  # get_tracer, get_meter, create_counter...
            return lambda *args, **kwargs: self

        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"{name} is broken")

        return fail


@KINDS
def test_a_failing_sdk_never_reaches_the_service(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Processors, tracers and instruments that raise: the commands go on, one WARNING."""
    caplog.set_level(logging.DEBUG, logger="mikoshi_progression.otel")
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(Exploding())
    broken = BrokenProvider()
    for observer in (
        OpenTelemetryObserver(tracer_provider=tracer_provider, meter_provider=broken),  # type: ignore[arg-type]
        OpenTelemetryObserver(tracer_provider=broken, meter_provider=broken),  # type: ignore[arg-type]
    ):
        service = Driver(kind, observer, StaleVersionError("raced"))
        assert service.award("u", "like", key="k").success
        service.revoke("u", "k")
        assert observer.failures > 4
        assert trace.get_current_span() is trace.INVALID_SPAN  # the context restored
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per observer; the rest at DEBUG
    assert warnings[0].name == "mikoshi_progression.otel"
    assert warnings[0].exc_info is not None
    tracer_provider.shutdown()


def test_the_default_providers_are_the_global_no_ops() -> None:
    """Without an SDK the observer costs a little and records nothing anywhere."""
    service = Driver("sync", OpenTelemetryObserver(), StaleVersionError("raced"))
    assert service.award("u", "like").success


def test_a_clear_error_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "mikoshi_progression.otel")
    with pytest.raises(ImportError, match=r"install the \[otel\] extra") as raised:
        importlib.import_module("mikoshi_progression.otel")
    assert raised.value.name == "opentelemetry"


# --- logging, and a service without an observer -----------------------------------------


def test_log_records_carry_structured_extra(caplog: pytest.LogCaptureFixture) -> None:
    """Awards at DEBUG, conflicts at INFO, faults at WARNING, adjustments at INFO: each
    with its ``mikoshi_*`` fields."""
    caplog.set_level(logging.DEBUG, logger="mikoshi_progression")
    service = Driver("sync", None, StaleVersionError("raced"), StoreUnavailableError("down"))
    service.award("u", "like", key="k")
    service.adjust("u", -3, reason="abuse", operator="op-1")
    records = {(r.levelname, r.getMessage().split(" ")[0]): r for r in caplog.records}
    assert set(records) == {
        ("INFO", "conflict"),
        ("WARNING", "store"),
        ("DEBUG", "award"),
        ("INFO", "adjust"),
    }

    def extra(record: logging.LogRecord) -> dict[str, Any]:
        return {k: v for k, v in vars(record).items() if k.startswith("mikoshi_")}

    assert extra(records["INFO", "conflict"]) == {
        "mikoshi_operation": "award",
        "mikoshi_user_id": "u",
        "mikoshi_attempt": 1,
        "mikoshi_conflicts": 1,
        "mikoshi_faults": 0,
        "mikoshi_error": "StaleVersionError",
    }
    assert extra(records["WARNING", "store"]) == {
        "mikoshi_operation": "award",
        "mikoshi_user_id": "u",
        "mikoshi_attempt": 2,
        "mikoshi_conflicts": 1,
        "mikoshi_faults": 1,
        "mikoshi_error": "StoreUnavailableError",
    }
    assert extra(records["DEBUG", "award"]) == {
        "mikoshi_operation": "award",
        "mikoshi_user_id": "u",
        "mikoshi_action": "like",
        "mikoshi_outcome": "awarded",
        "mikoshi_exp": 10,
    }
    assert extra(records["INFO", "adjust"]) == {
        "mikoshi_operation": "adjust",
        "mikoshi_user_id": "u",
        "mikoshi_operator": "op-1",
        "mikoshi_exp": -3,
        "mikoshi_reason": "abuse",
    }


def test_at_warning_a_plain_award_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mikoshi_progression")
    Driver("sync", None, StaleVersionError("raced")).award("u", "like")
    assert caplog.records == []


class Recording:
    """An Observer that lists the calls it hears."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def attempt_started(self, operation: str, user_id: str) -> object:
        self.calls.append("attempt_started")
        return None

    def attempt_ended(self, token: object, error: BaseException | None) -> None:
        self.calls.append("attempt_ended")

    def retried(self, operation: str, user_id: str, conflict: bool) -> None:
        self.calls.append("retried")

    def decided(self, operation: str, user_id: str, action: str, outcome: str, exp: int) -> None:
        self.calls.append("decided")


def _calls_made(run: Callable[[], object]) -> set[str]:
    """The names of the Python functions ``run`` called (through ``sys.setprofile``)."""
    names: set[str] = set()

    def profile(frame: Any, event: str, arg: object) -> None:
        if event == "call":
            names.add(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return names


HOOKS = {"attempt_started", "attempt_ended", "retried", "decided"}


@KINDS
def test_without_an_observer_no_observer_call_is_made(kind: str) -> None:
    """Every command, conflicts and faults too, with no observer: none of the hooks'
    names is ever called; the same run with an observer calls all four."""

    def commands(observer: Observer | None) -> Callable[[], None]:
        def run() -> None:
            service = Driver(kind, observer, StaleVersionError("x"), StoreUnavailableError("y"))
            service.award("u", "like", key="k")
            service.revoke("u", "k")
            service.adjust("u", 5, reason="r", operator="op")
            service.set_exp("u", 1, reason="r", operator="op")
            service.reset_daily("u")
            service.limits("u")
            service.state("u")

        return run

    assert _calls_made(commands(None)) & HOOKS == set()
    recording = Recording()
    assert _calls_made(commands(recording)) & HOOKS == HOOKS
    assert recording.calls.count("decided") == 5


@KINDS
def test_a_repeat_of_a_keyed_request_is_no_decision(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A client's retry of a keyed award, revocation or adjustment returns the first
    answer: the observer hears no second decision (its EXP would count twice) and the
    log has no second record of it."""
    caplog.set_level(logging.DEBUG, logger="mikoshi_progression")
    recording = Recording()
    service = Driver(kind, recording)
    for _ in range(2):
        service.award("u", "post", key="a")
        service.adjust("u", 5, reason="goodwill", operator="op", key="b")
        service.set_exp("u", 50, reason="migrated", operator="op", key="c")
        service.revoke("u", "a")
    assert recording.calls.count("decided") == 4
    decisions = [r.getMessage().split(" ")[0] for r in caplog.records]
    assert decisions == ["award", "adjust", "set_exp", "revoke"]


def test_a_span_not_recorded_is_not_made_current() -> None:
    """Sampled out, the attempt's span records nothing and nothing nests under it: the
    caller's context stays current, and the metrics are recorded all the same."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    seen: list[object] = []

    class Watching(InMemoryStore):
        @contextmanager
        def transaction(self, user_id: str) -> Iterator[StoreTransaction]:
            seen.append(trace.get_current_span())
            with super().transaction(user_id) as tx:
                yield tx

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(sampler=ALWAYS_OFF)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    observer = OpenTelemetryObserver(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    ProgressionService(Watching(), config=CONFIG, observer=observer).award("u", "like")
    assert seen == [trace.INVALID_SPAN]
    assert exporter.get_finished_spans() == ()
    telemetry = Telemetry(observer, tracer_provider, exporter, reader)
    assert telemetry.durations() == {("award", "ok"): 1}
    assert observer.failures == 0
