"""Latency of the station console and the supervisors' station panel with many open orders.

Starts the backend in this process on a fresh, seeded SQLite database (or the empty database
given with --database-url), books --orders work orders over every repair station and the next
two weeks, then times, one request at a time over loopback HTTP: a station's open-order list,
one order's detail (package, verdict, timeline, past cases), a step, and the supervisors'
flagged list and load table (which read every open order).

    python scripts/bench_stations.py [--orders 2000] [--requests 100] [--database-url URL]
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
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.contracts.rules import SLOTS
from bot.contracts.workorders import CreateIn
from bot.db import Database, create_engine
from bot.demo import seed_demo
from bot.desk.accounts import create_account
from bot.errors import Refused
from bot.migrate import upgrade
from bot.settings import Settings
from bot.workorders import book

PASSWORD = "a-bench-password"


async def prepare(db: Database, settings: Settings, clock: Clock, orders: int) -> int:
    """Book up to `orders` work orders, round-robin over stations, days and slots."""
    await seed_demo(db, settings, clock)
    s = tables.stations
    async with db.read() as conn:
        stations = (
            await conn.execute(select(s.c.code, s.c.services).where(s.c.daily_capacity > 0))
        ).all()
    places = [
        (code, clock.today() + timedelta(days=d), start)
        for d in range(1, settings.booking_horizon_days)
        for start, _ in SLOTS
        for code, services in stations
        if "drop_off" in services
    ]
    made = 0
    async with db.write() as conn:
        now = Clock.to_db(clock.now())
        await create_account(conn, "bench-bj01", "bench", "station", PASSWORD, now, "BJ01")
        await create_account(conn, "bench-boss", "bench", "supervisor", PASSWORD, now)
        for i in range(orders):
            code, day, start = places[i % len(places)]
            body = CreateIn(
                kind="drop_off",
                model_code="XB14",
                fault="开机无显示",
                station_code=code,
                slot_date=day,
                slot_start=start,
                phone="13800138000",
            )
            try:
                await book(conn, clock, settings, body)
                made += 1
            except Refused:  # a full slot: the next place
                continue
    return made


async def timed(call: Callable[[], Awaitable[int]], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        status = await call()
        samples.append((time.perf_counter() - start) * 1000)
        assert status < 400, status
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    settings = Settings.from_env({"BOT_DATABASE_URL": url})
    clock = settings.clock()
    upgrade(url)
    db = Database(create_engine(url))
    made = await prepare(db, settings, clock, args.orders)
    await db.close()

    runner = web.AppRunner(create_app(settings, clock))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        headers = {}
        for portal, user in (("station", "bench-bj01"), ("desk", "bench-boss")):
            async with http.post(
                f"{base}/{portal}/api/login", json={"username": user, "password": PASSWORD}
            ) as r:
                headers[portal] = {"X-CSRF-Token": (await r.json())["csrf_token"]}
        async with http.get(f"{base}/station/api/orders") as r:
            mine = [o["id"] for o in await r.json()]
        counter = iter(range(10**9))

        def getter(portal: str, path: Callable[[], str]) -> Callable[[], Awaitable[int]]:
            async def call() -> int:
                async with http.get(f"{base}{path()}", headers=headers[portal]) as r:
                    await r.read()
                    return r.status

            return call

        async def accept() -> int:
            order = mine[next(counter) % len(mine)]
            async with http.post(
                f"{base}/station/api/orders/{order}/steps",
                json={"to": "accepted", "engineer": "李工"},
                headers=headers["station"],
            ) as r:
                await r.read()
                # An order accepted already gets its engineer named again: a write either way.
                return r.status

        rows = [
            ("station order list", getter("station", lambda: "/station/api/orders")),
            (
                "station order detail",
                getter("station", lambda: f"/station/api/orders/{mine[next(counter) % len(mine)]}"),
            ),
            ("accept (a step)", accept),
            ("supervisor flagged", getter("desk", lambda: "/desk/api/stations/flagged")),
            ("supervisor load", getter("desk", lambda: "/desk/api/stations/load")),
        ]
        await timed(rows[0][1], 5)  # warm up
        results = [(name, await timed(call, args.requests)) for name, call in rows]
    await runner.cleanup()
    tmp.cleanup()
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"station console on {engine}: {made} open orders booked, {len(mine)} at BJ01; "
        f"{args.requests} sequential requests each, loopback HTTP"
    )
    print(f"{'operation':<22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'mean ms':>8}")
    for name, samples in results:
        q = statistics.quantiles(samples, n=20)
        print(
            f"{name:<22} {statistics.median(samples):>8.1f} {q[18]:>8.1f} "
            f"{max(samples):>8.1f} {statistics.mean(samples):>8.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
