"""Fault injection under load: kill each process with -9 (and in scale-out mode restart
PostgreSQL, Redis and RabbitMQ), then check that nothing acknowledged was lost or doubled.

Starts the whole system as `make run` does (tests/support/stack.py: backend, action server,
Rasa with the latest model), runs a few customers in a closed loop on the REST channel
(tests/support/fault_load.py: bookings, questions, and a handed-off conversation whose
customer keeps writing), and in turn kills a process with SIGKILL and starts it again 1 s
later as `make run`'s supervisor does, waiting each time until it answers and the load has
settled. Then it stops every process with SIGTERM under the same load (timing each), and
reads the databases (tests/support/fault_checks.py). Prints one row per fault.

    .venv/bin/python scripts/bench_faults.py [--scale-out] [--faults backend,rasa] [--settle 20]

`--scale-out` runs Rasa on endpoints.scale.yml's kinds of stores (PostgreSQL trackers, Redis
locks, RabbitMQ events; the backend on PostgreSQL) with databases, a queue and an exchange
of its own, and also restarts the three servers on this machine, one at a time (root; the
commands are in tests/support/outages.py). The servers are started again at the end,
whatever happened.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.support.fault_checks import (
    DUPLICATED,
    LOST,
    Problem,
    answered_twice,
    check_bookings,
    check_desk,
    check_trackers,
)
from tests.support.fault_load import APOLOGY, OK, REFUSED, SILENT, Attempt, Customers
from tests.support.outages import (
    SERVICES,
    RestartableStack,
    ScaleOut,
    ensure_running,
    load_average,
    restart_service,
)

PROCESSES = ["backend", "actions", "rasa"]
# The supervisor's first restart comes 1 s after the exit (scripts/supervise.py).
RESTART_DELAY = 1.0


@dataclass
class Fault:
    name: str
    started: float
    answering: float
    """When the process or server answered again (its health URL, its own check)."""


async def inject(stack: RestartableStack, name: str) -> Fault:
    started = time.monotonic()
    if name in PROCESSES:
        await asyncio.to_thread(stack.kill, name)
        await asyncio.sleep(RESTART_DELAY)
        await asyncio.to_thread(stack.restart, name)
    else:
        await asyncio.to_thread(restart_service, name)
    return Fault(name, started, time.monotonic())


async def stop_all(stack: RestartableStack) -> tuple[Fault, dict[str, float]]:
    """SIGTERM in the supervisor's order, one at a time, timing each exit."""
    started, times = time.monotonic(), {}
    for name in reversed(PROCESSES):
        times[name] = await asyncio.to_thread(stack.terminate, name)
    return Fault("SIGTERM all", started, time.monotonic()), times


async def bench(
    stack: RestartableStack, faults: list[str], warmup: float, settle: float
) -> tuple[Customers, list[Fault], dict[str, float]]:
    customers = Customers(stack.rasa_url)
    load = asyncio.create_task(customers.run())
    await asyncio.sleep(warmup)
    done = []
    for name in faults:
        print(f"{time.strftime('%H:%M:%S')} {name}: fault (load {load_average()})", flush=True)
        done.append(await inject(stack, name))
        print(f"{time.strftime('%H:%M:%S')} {name}: answering again", flush=True)
        await asyncio.sleep(settle)
    stopped, times = await stop_all(stack)
    done.append(stopped)
    customers.stop.set()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(load, timeout=60)
    return customers, done, times


def window(attempts: list[Attempt], faults: list[Fault], index: int) -> list[Attempt]:
    """The attempts that began after fault `index` (-1: before the first) and before the next."""
    begin = faults[index].started if index >= 0 else 0.0
    end = faults[index + 1].started if index + 1 < len(faults) else float("inf")
    return [a for a in attempts if begin <= a.started < end]


def row(label: str, fault: Fault | None, attempts: list[Attempt], problems: list[Problem]) -> str:
    affected = [a for a in attempts if a.outcome != OK]
    # A customer's message counts once however often it was sent again.
    messages = {(a.sender, a.text) for a in attempts}
    hit = {(a.sender, a.text) for a in affected}
    count = {k: sum(a.outcome == k for a in attempts) for k in (APOLOGY, REFUSED, SILENT)}
    outage = f"{fault.answering - fault.started:.1f}" if fault else "-"
    recovery = "-"
    if fault:
        recovery = f"{max(a.ended for a in affected) - fault.started:.1f}" if affected else "0"
    lost = sum(p.kind == LOST for p in problems)
    doubled = sum(p.kind == DUPLICATED for p in problems)
    return (
        f"| {label} | {outage} | {len(messages)} | {len(hit)} | {count[APOLOGY]} "
        f"| {count[REFUSED]} | {count[SILENT]} | {lost} | {doubled} | {recovery} |"
    )


def report(stack: RestartableStack, customers: Customers, faults: list[Fault]) -> None:
    record = customers.record
    bot_db = stack.env["BOT_DATABASE_URL"]
    tracker_db = (
        stack.scale.pg_url(stack.scale.rasa_db)
        if stack.scale
        else f"sqlite:///{stack.workdir / 'rasa.db'}"
    )
    booking_problems, unseen = check_bookings(record, bot_db)
    problems = (
        booking_problems
        + check_desk(record, bot_db)
        + check_trackers(record, tracker_db)
        + answered_twice(record)
    )
    print()
    print(
        "| fault | outage s | messages | affected | apologies | refused | silent | lost "
        "| duplicated | recovery s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for index in range(-1, len(faults)):
        fault = faults[index] if index >= 0 else None
        attempts = window(record.attempts, faults, index)
        begin = fault.started if fault else 0.0
        end = faults[index + 1].started if index + 1 < len(faults) else float("inf")
        mine = [p for p in problems if begin <= p.at < end]
        label = fault.name if fault else "no fault (warm-up)"
        if fault and fault.name in PROCESSES:
            label = f"kill -9 {fault.name}"
        elif fault and fault.name in SERVICES:
            label = f"restart {fault.name}"
        print(row(label, fault, attempts, mine))
    acknowledged = [b for b in record.bookings if b.work_order]
    held = [a for a in record.attempts if a.expect_silence and a.outcome == OK]
    print(
        f"\n{len(record.attempts)} attempts, {len(acknowledged)} bookings acknowledged, "
        f"{unseen} stored but never confirmed to the customer, "
        f"{len(held)} messages to a person acknowledged"
    )
    refused = Counter(a.status for a in record.attempts if a.outcome == REFUSED)
    if refused:
        print(
            "refused by HTTP status (0: no answer): "
            + ", ".join(f"{status}: {count}" for status, count in sorted(refused.items()))
        )
    for problem in problems[:30]:
        print(f"  {problem.kind}: {problem.what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-out", action="store_true")
    parser.add_argument("--faults", help="comma-separated; default: every one of the mode")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--settle", type=float, default=20)
    parser.add_argument("--workdir", type=Path, help="keep the logs and databases here")
    args = parser.parse_args()
    scale = ScaleOut() if args.scale_out else None
    faults = (
        args.faults.split(",") if args.faults else PROCESSES + (list(SERVICES) if scale else [])
    )
    unknown = set(faults) - set(PROCESSES) - (set(SERVICES) if scale else set())
    if unknown:
        parser.error(f"unknown faults for this mode: {', '.join(sorted(unknown))}")
    print(f"load average at start: {load_average()}", flush=True)
    try:
        if scale:
            scale.reset()
        place: contextlib.AbstractContextManager[str] = tempfile.TemporaryDirectory()
        if args.workdir:
            place = contextlib.nullcontext(str(args.workdir))
        with place as workdir:
            Path(workdir).mkdir(parents=True, exist_ok=True)
            stack = RestartableStack(Path(workdir), scale=scale)
            stack.start()
            try:
                customers, done, times = asyncio.run(bench(stack, faults, args.warmup, args.settle))
            finally:
                stack.stop()
            report(stack, customers, done)
            print(
                "\nSIGTERM under load, seconds to exit: "
                + ", ".join(f"{name} {seconds:.1f}" for name, seconds in times.items())
            )
    finally:
        if scale:
            print(f"shared servers answering: {ensure_running()}")
        print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
