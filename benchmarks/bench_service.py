"""Cost of observing the service: awards/s through ProgressionService on InMemoryStore.

Run:  python benchmarks/bench_service.py [--repeat 11] [--number 20000]
                                         [--baseline-src PATH/src [--baseline-only]] [--cpu]

Contenders, every one timed in turn in each round (the order rotates from round to
round), medians of ``--repeat`` rounds printed with the load average before and after
(the habits of ``bench_core.py``):

- ``core``: ``award_exp_with_limits`` alone, the state folded from award to award: the
  ceiling of any service;
- ``(a) WARNING``: the service with no observer and the library's logger at WARNING
  (the default: nothing is logged on the award path);
- ``(b) DEBUG``: the same with the logger at DEBUG into a ``NullHandler`` (every award
  builds a record with its ``extra``);
- ``(c) OTel SDK``: the same as (a) with an ``OpenTelemetryObserver`` on the SDK's
  providers: spans to an exporter that discards them (through ``SimpleSpanProcessor``,
  so the export path's cost is in), metrics into an ``InMemoryMetricReader``;
- ``(c) SDK metrics`` and ``(c) SDK spans``: the same with a no-op provider for the
  spans, or for the metrics (how an application turns one of them off);
- ``(c) OTel API``: the observer on the global providers with no SDK installed (the
  no-op API): what an application pays for an observer it never wired up.

Every award lands (one action worth 1 EXP, no limit, a cap never reached) and writes
a ledger entry; each round of each contender gets a fresh store and service, made
outside the timing. ``timeit`` turns the garbage collector off while it times, as in
``bench_core.py``, for every contender alike.

**The figure before this work** (``--baseline-src``): the ``src/`` directory of an older
checkout (``mkdir /tmp/base && git archive b8cb252 src | tar -x -C /tmp/base`` gives
``/tmp/base/src``: the service before the sync/async split, its logging and the
observer hook; ``docs/performance.md`` has the figures) is timed against this
checkout's ``src/``, contender ``(a)`` in both. Each version runs in a
worker process of its own, started the same way (this script, ``--worker SRC``,
``PYTHONHASHSEED=0``), that imports nothing but the standard library and its own
``mikoshi_progression``, warms up, and then times one batch each time it is asked. The
two workers are asked back to back in each round (one slot of the rotation), the order
alternating, so each round's ratio compares them under the same load. This is sounder
than importing the old package under another name into this process: there, any
absolute import of ``mikoshi_progression`` inside the old code would silently bind to
the new one, both versions would share one heap grown by the other contenders (the
SDK, their spans), and only the new version would run in the process that imported
everything else. Two identical worker processes differ in the code under test alone,
so their ratio is the cost of the change. The current worker's figure beside the
in-process ``(a)`` shows what the process around it does to a figure. ``--cpu`` times
batches by their process's CPU time instead of the wall clock (on this project's
virtual machines it proved no steadier: a neighbour's load shows in both).

This is a measurement, never a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
CURRENT_SRC = HERE.parent.parent / "src"
LOGGER = "mikoshi_progression"
TIMER = time.perf_counter
"""The clock of every batch: wall time, or this process's CPU time with ``--cpu`` (set
in each worker through its environment)."""


def load_average() -> str:
    try:
        return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "load average unknown"


# --- the workload ----------------------------------------------------------------------


def throughput_config(mp: Any) -> Any:
    """One action, 1 EXP, no daily limit, a cap never reached: every award lands.

    ``mp`` is the ``mikoshi_progression`` package of the version under test.
    """
    return mp.ProgressionConfig(
        levels=(mp.Level(1, "Only", "", 0),),
        actions={"tick": mp.ActionRule(1)},
        daily_exp_caps={1: 10**15},
    )


def service_batch(mp: Any, number: int, **options: Any) -> float:
    """Seconds per award of ``number`` awards through a fresh service on a fresh store."""
    from mikoshi_progression.service import ProgressionService
    from mikoshi_progression.stores import InMemoryStore

    service = ProgressionService(InMemoryStore(), config=throughput_config(mp), **options)
    award = service.award
    award("u", "tick")  # the day's first award writes a day entry too: not timed
    return timeit.timeit(lambda: award("u", "tick"), number=number, timer=TIMER) / number


# --- a worker: one version of the package in a process of its own ---------------------


def worker(src: str) -> None:
    """Answer each line ``N`` on stdin with the seconds per award of N awards."""
    sys.path.insert(0, src)
    import mikoshi_progression as mp

    where = Path(mp.__file__).resolve()
    if not where.is_relative_to(Path(src).resolve()):
        raise SystemExit(f"worker for {src} imported {where} instead")
    logging.getLogger(LOGGER).setLevel(logging.WARNING)
    print(f"ready {where.parent}", flush=True)
    for line in sys.stdin:
        print(repr(service_batch(mp, int(line))), flush=True)


class Worker:
    """A worker process for the package in ``src``."""

    def __init__(self, src: Path, cpu: bool) -> None:
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), "--worker", str(src), *(["--cpu"] if cpu else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.where = self._read().removeprefix("ready ")

    def batch(self, number: int) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{number}\n")
        self.process.stdin.flush()
        return float(self._read())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def _read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"a worker died (exit code {self.process.wait()})")
        return line.strip()


# --- the contenders in this process ----------------------------------------------------


def in_process_contenders(number: int) -> dict[str, Callable[[], float]]:
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )
    from opentelemetry.trace import NoOpTracerProvider

    import mikoshi_progression as mp
    from mikoshi_progression.otel import OpenTelemetryObserver

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    config = throughput_config(mp)
    logger = logging.getLogger(LOGGER)
    null = logging.NullHandler()

    def core() -> float:
        from datetime import UTC, datetime

        award = mp.award_exp_with_limits
        state = award(mp.ProgressState(), "tick", now=datetime.now(UTC), config=config).state

        def one() -> None:
            nonlocal state
            state = award(state, "tick", now=datetime.now(UTC), config=config).state

        return timeit.timeit(one, number=number, timer=TIMER) / number

    def at(level: int, **options: Any) -> Callable[[], float]:
        def run() -> float:
            logger.setLevel(level)
            try:
                return service_batch(mp, number, **options)
            finally:
                logger.setLevel(logging.WARNING)

        return run

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Discard()))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    sdk = OpenTelemetryObserver(tracer_provider=tracer_provider, meter_provider=meter_provider)
    metrics_only = OpenTelemetryObserver(
        tracer_provider=NoOpTracerProvider(), meter_provider=meter_provider
    )
    spans_only = OpenTelemetryObserver(
        tracer_provider=tracer_provider, meter_provider=NoOpMeterProvider()
    )
    logger.addHandler(null)
    logger.propagate = False  # (b) goes to the NullHandler alone, never to a root handler
    return {
        "core": core,
        "(a) WARNING": at(logging.WARNING),
        "(b) DEBUG": at(logging.DEBUG),
        "(c) OTel SDK": at(logging.WARNING, observer=sdk),
        "(c) SDK metrics": at(logging.WARNING, observer=metrics_only),
        "(c) SDK spans": at(logging.WARNING, observer=spans_only),
        "(c) OTel API": at(logging.WARNING, observer=OpenTelemetryObserver()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11, help="rounds (medians are printed)")
    parser.add_argument("--number", type=int, default=20_000, help="awards per batch")
    parser.add_argument("--baseline-src", type=Path, help="src/ of an older checkout")
    parser.add_argument(
        "--baseline-only",
        action="store_true",
        help="time only the two workers (more rounds in the same time)",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time each batch by its process's CPU time, not by the wall clock "
        "(steadier on a machine shared with other work)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cpu:
        global TIMER
        TIMER = time.process_time
    if args.baseline_only and args.baseline_src is None:
        parser.error("--baseline-only needs --baseline-src")
    if args.worker:
        worker(args.worker)
        return

    sys.path.insert(0, str(CURRENT_SRC))
    contenders = {} if args.baseline_only else in_process_contenders(args.number)
    workers: dict[str, Worker] = {}
    if args.baseline_src is not None:
        workers["before (worker)"] = Worker(args.baseline_src, args.cpu)
        workers["after (worker)"] = Worker(CURRENT_SRC, args.cpu)

    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    clock = "CPU time of its process" if args.cpu else "wall clock"
    print(f"median of {args.repeat} rounds of {args.number:,} awards per contender ({clock}),")
    print("every contender timed in turn in each round (the order rotating)")
    for name, w in workers.items():
        print(f"  {name}: {w.where}")
    print(f"before: {load_average()}\n")

    for run in contenders.values():  # warm up: imports, first allocations, caches
        run()
    for w in workers.values():
        w.batch(args.number)

    # The two workers are one slot of the rotation, timed back to back (the order
    # alternating), so each round's ratio compares them under the same load.
    slots = [*contenders, *(["workers"] if workers else [])]
    names = [*contenders, *workers]
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.repeat):
        shift = round_ % len(slots)
        for slot in slots[shift:] + slots[:shift]:
            if slot != "workers":
                samples[slot].append(contenders[slot]())
                continue
            pair = list(workers.items())
            for name, w in pair if round_ % 2 == 0 else reversed(pair):
                samples[name].append(w.batch(args.number))
    for w in workers.values():
        w.close()

    medians = {name: statistics.median(times) for name, times in samples.items()}
    base = medians.get("(a) WARNING") or medians["after (worker)"]
    core = medians.get("core")
    print(f"{'contender':<18} {'us/award':>9} {'awards/s':>10} {'vs (a)':>7} {'vs core':>8}")
    for name in names:
        m = medians[name]
        against_core = f"{m / core:7.2f}x" if core else "       -"
        print(f"{name:<18} {m * 1e6:9.3f} {1 / m:10,.0f} {m / base:6.2f}x {against_core}")
    if workers:
        before, after = medians["before (worker)"], medians["after (worker)"]
        ratios = sorted(
            a / b
            for a, b in zip(samples["after (worker)"], samples["before (worker)"], strict=True)
        )
        quarter = len(ratios) // 4
        print(
            f"\nafter / before, time per award (target <= 1.03):\n"
            f"  ratio of the medians        {after / before:.3f}\n"
            f"  median of the round ratios  {statistics.median(ratios):.3f} "
            f"(middle half {ratios[quarter]:.3f} to {ratios[-1 - quarter]:.3f}, "
            f"all {ratios[0]:.3f} to {ratios[-1]:.3f})"
        )
    print(f"\nafter: {load_average()}")


if __name__ == "__main__":
    main()
