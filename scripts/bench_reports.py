"""The reports at scale on PostgreSQL: a synthetic history, the rollup rebuild and check, the
chart queries over 90 days, the drill-down, the exports and the early-warning scan.

Makes a database of its own on the PostgreSQL server (``--url``, default the loopback server,
user postgres), migrates it, loads the demo catalogue and stations, generates ``--orders`` work
orders and ``--conversations`` conversations over ``--days`` days (``bot.reports.synthetic``),
then prints a markdown table: how long generation, rebuild and check took, and p50/p95 of
every chart over random 90-day windows (no filter, one model, one station), of a drill-down
page, of a CSV and an XLSX export of one station's 90 days and of one scan. Drops the database
at the end unless ``--keep``.

    python scripts/bench_reports.py [--orders 100000] [--conversations 300000] [--days 365]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import timedelta

import psycopg2
from sqlalchemy.engine import make_url

from bot.clock import Clock
from bot.db import Database, create_engine
from bot.demo import seed_demo
from bot.insight.alerts import scan
from bot.migrate import upgrade
from bot.reports import rollups
from bot.reports.charts import CHARTS, Filters
from bot.reports.exports import OrderFilters, csv_chunks, page, xlsx_file
from bot.reports.synthetic import Plan, generate
from bot.settings import Settings

WINDOW = 90


def _admin(url: str, sql: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _timed(work: object) -> float:
    started = time.perf_counter()
    await work  # type: ignore[misc]
    return (time.perf_counter() - started) * 1000


async def bench(url: str, args: argparse.Namespace) -> None:
    clock = Clock(Settings.from_env({}).timezone)
    settings = Settings.from_env({"BOT_DATABASE_URL": url})
    db = Database(create_engine(url))
    rows: list[tuple[str, str]] = []
    try:
        await seed_demo(db, settings, clock, devices=2000, codes=100)
        plan = Plan(
            days=args.days,
            orders_per_day=args.orders / args.days,
            conversations_per_day=args.conversations / args.days,
            seed=args.seed,
        )
        started = time.perf_counter()
        made = await generate(db, clock, plan)
        rows.append(
            (
                "generate",
                f"{made:,} work orders, ~{args.conversations:,} conversations: "
                f"{time.perf_counter() - started:.1f} s",
            )
        )
        started = time.perf_counter()
        written = await rollups.rebuild(db, clock)
        rows.append(
            ("rollup rebuild", f"{time.perf_counter() - started:.1f} s ({written:,} counters)")
        )
        started = time.perf_counter()
        wrong = await rollups.check(db, clock)
        rows.append(
            ("rollup check", f"{time.perf_counter() - started:.1f} s ({len(wrong)} differences)")
        )
        started = time.perf_counter()
        await rollups.refresh(db, clock, Clock.to_db(clock.now() - timedelta(seconds=60)))
        rows.append(
            (
                "rollup refresh (today, yesterday, changed days)",
                f"{(time.perf_counter() - started) * 1000:.0f} ms",
            )
        )

        rng = random.Random(args.seed)
        today = clock.today()
        async with db.read() as conn:
            models = [m for (m,) in await conn.exec_driver_sql("SELECT code FROM models")]
            stations = [
                s
                for (s,) in await conn.exec_driver_sql(
                    "SELECT code FROM stations WHERE kind <> 'dealer'"
                )
            ]

        def window() -> dict[str, str]:
            end = today - timedelta(days=rng.randrange(0, max(1, args.days - WINDOW)))
            return {"from": (end - timedelta(days=WINDOW - 1)).isoformat(), "to": end.isoformat()}

        for name, chart in CHARTS.items():
            times: list[float] = []
            for i in range(args.runs):
                extra = ({}, {"model": rng.choice(models)}, {"station": rng.choice(stations)})[
                    i % 3
                ]
                f = Filters.parse_obj(window() | extra)
                async with db.read() as conn:
                    times.append(await _timed(chart(conn, f)))
            rows.append(
                (
                    f"chart {name}, 90 days",
                    f"p50 {_pct(times, 0.5):.1f} ms, p95 {_pct(times, 0.95):.1f} ms",
                )
            )
        times = []
        for _ in range(args.runs):
            f = OrderFilters.parse_obj(window() | {"model": rng.choice(models)})
            async with db.read() as conn:
                times.append(await _timed(page(conn, clock, f, 0)))
        rows.append(
            (
                "drill-down page (200 orders), 90 days",
                f"p50 {_pct(times, 0.5):.1f} ms, p95 {_pct(times, 0.95):.1f} ms",
            )
        )

        f = OrderFilters.parse_obj(window())
        started, size = time.perf_counter(), 0
        async with db.read() as conn:
            async for chunk in csv_chunks(conn, clock, f):
                size += len(chunk)
        rows.append(
            (
                "CSV export, all orders of 90 days",
                f"{time.perf_counter() - started:.1f} s, {size / 1e6:.1f} MB",
            )
        )
        started = time.perf_counter()
        async with db.read() as conn:
            spooled = await xlsx_file(conn, clock, f)
        spooled.seek(0, 2)
        rows.append(
            (
                "XLSX export, all orders of 90 days",
                f"{time.perf_counter() - started:.1f} s, {spooled.tell() / 1e6:.1f} MB",
            )
        )
        spooled.close()
        started = time.perf_counter()
        new = await scan(db, clock)
        rows.append(
            (
                "early-warning scan (730 days)",
                f"{time.perf_counter() - started:.1f} s ({new} alerts)",
            )
        )
    finally:
        await db.close()
    print(
        f"\n| {args.orders:,} orders, {args.conversations:,} conversations,"
        f" {args.days} days, PostgreSQL | |"
    )
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    name = f"bench_reports_{uuid.uuid4().hex[:8]}"
    _admin(args.url, f'CREATE DATABASE "{name}"')
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        asyncio.run(bench(url, args))
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            _admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
