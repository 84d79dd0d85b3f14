"""Latency of the backend's HTTP API: warranty verdicts and bookings, p50/p95/p99.

Starts the backend in this process on a fresh, seeded database (a temporary SQLite file by
default, or the PostgreSQL database given with --database-url, which must be empty) and calls
it over real HTTP on loopback, one request at a time, then with concurrency.

    python scripts/bench_api.py [--requests 300] [--concurrency 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.contracts.rules import SLOTS
from bot.db import Database, create_engine
from bot.demo import SHOWCASE, seed_demo
from bot.migrate import upgrade
from bot.settings import Settings


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def timed(call: Callable[[], Awaitable[int]], n: int) -> tuple[list[float], int]:
    samples, failures = [], 0
    for _ in range(n):
        start = time.perf_counter()
        status = await call()
        samples.append((time.perf_counter() - start) * 1000)
        failures += status >= 400
    return samples, failures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    settings = Settings.from_env({"BOT_DATABASE_URL": url, "BOT_BOOKING_HORIZON_DAYS": "60"})
    clock = settings.clock()
    upgrade(url)
    db = Database(create_engine(url))
    await seed_demo(db, settings, clock)
    await db.close()

    runner = web.AppRunner(create_app(settings, clock))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    serials = [s.serial for s in SHOWCASE]

    async with aiohttp.ClientSession() as http:
        stations = await (
            await http.get(f"{base}/api/stations", params={"kind": "service", "limit": "100"})
        ).json()
        slots = [
            (s["code"], (clock.today() + timedelta(days=d)).isoformat(), start)
            for s in stations
            if "drop_off" in s["services"]
            for d in range(1, 60)
            for start, _ in SLOTS
        ]
        counter = iter(range(10**9))

        async def verdict() -> int:
            serial = serials[next(counter) % len(serials)]
            async with http.post(f"{base}/api/warranty/verdict", json={"serial": serial}) as r:
                await r.read()
                return r.status

        async def book() -> int:
            n = next(counter)
            station, day, start = slots[n % len(slots)]
            body = {
                "kind": "drop_off",
                "fault": "开机无显示",
                "station_code": station,
                "slot_date": day,
                "slot_start": start,
                "phone": "13800138000",
            }
            async with http.post(f"{base}/api/workorders", json=body) as r:
                await r.read()
                return r.status

        async def search() -> int:
            async with http.post(
                f"{base}/api/knowledge/search", json={"q": "打印机卡纸了怎么办"}
            ) as r:
                await r.read()
                return r.status

        await timed(verdict, 20)  # warm up
        rows = []
        for name, call in (
            ("warranty verdict", verdict),
            ("booking", book),
            ("knowledge search", search),
        ):
            samples, failures = await timed(call, args.requests)
            rows.append((name, samples, failures))
        started = time.perf_counter()
        total = args.requests
        results = await asyncio.gather(*(verdict() for _ in range(total)))
        elapsed = time.perf_counter() - started

    await runner.cleanup()
    tmp.cleanup()
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"backend API on {engine}, {args.requests} sequential requests each, loopback HTTP")
    print(
        f"{'operation':<18} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'errors':>7}"
    )
    for name, samples, failures in rows:
        print(
            f"{name:<18} {percentile(samples, 50):>8.1f} {percentile(samples, 95):>8.1f} "
            f"{percentile(samples, 99):>8.1f} {statistics.mean(samples):>8.1f} {failures:>7}"
        )
    print(
        f"verdict throughput, {total} requests all at once: {total / elapsed:.0f} req/s, "
        f"{sum(s >= 400 for s in results)} errors"
    )


if __name__ == "__main__":
    asyncio.run(main())
