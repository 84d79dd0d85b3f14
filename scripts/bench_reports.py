"""The reports at scale on PostgreSQL: a synthetic history, the rollup rebuild and check, the
chart queries over 90 days, the drill-down, the exports and the early-warning scan.

Makes a database of its own on the PostgreSQL server (``--url``, default the loopback server,
user postgres), migrates it, loads the demo catalogue and stations, generates ``--orders`` work
orders and ``--conversations`` conversations over ``--days`` days (``bot.reports.synthetic``),
then prints a markdown table, a line as each figure is measured: how long generation, the
rollup rebuild, a refresh and the check took, p50/p95 of every chart over random 90-day windows
(no filter, one model, one station) and of a drill-down page, a CSV and an XLSX export of all
orders of 90 days, and with ``--scan`` one early-warning scan. Drops the database at the end
unless ``--keep``; ``--database NAME`` measures a kept one again (no generation).

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


class Rows:
    """The result table, printed a line at a time (a long run shows what it measured so far)."""

    def __init__(self, args: argparse.Namespace) -> None:
        print(
            f"\n| {args.orders:,} orders, {args.conversations:,} conversations,"
            f" {args.days} days, PostgreSQL | |\n|---|---|",
            flush=True,
        )

    def append(self, row: tuple[str, str]) -> None:
        print(f"| {row[0]} | {row[1]} |", flush=True)


async def bench(url: str, args: argparse.Namespace) -> None:
    clock = Clock(Settings.from_env({}).timezone)
    settings = Settings.from_env({"BOT_DATABASE_URL": url})
    db = Database(create_engine(url))
    rows = Rows(args)
    try:
        if not args.database:
            await generate_history(db, settings, clock, args, rows)
        await measure(db, clock, args, rows)
    finally:
        await db.close()


async def generate_history(
    db: Database, settings: Settings, clock: Clock, args: argparse.Namespace, rows: Rows
) -> None:
    await seed_demo(db, settings, clock, devices=2000, codes=100)
    plan = Plan(
        days=args.days,
        orders_per_day=args.orders / args.days,
        conversations_per_day=args.conversations / args.days,
        seed=args.seed,
    )
    started = time.perf_counter()
    made = await generate(db, clock, plan)
    took = time.perf_counter() - started
    rows.append(
        ("generate", f"{made:,} work orders, ~{args.conversations:,} conversations: {took:.0f} s")
    )


async def _chart_times(db: Database, clock: Clock, args: argparse.Namespace, rows: Rows) -> None:
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
            extra = ({}, {"model": rng.choice(models)}, {"station": rng.choice(stations)})[i % 3]
            f = Filters.parse_obj(window() | extra)
            async with db.read() as conn:
                times.append(await _timed(chart(conn, f)))
        rows.append((f"chart {name}, 90 days", _p(times)))
    times = []
    for _ in range(args.runs):
        f = OrderFilters.parse_obj(window() | {"model": rng.choice(models)})
        async with db.read() as conn:
            times.append(await _timed(page(conn, clock, f, 0)))
    rows.append(("drill-down page (200 orders of a model), 90 days", _p(times)))
    f = OrderFilters.parse_obj(window())
    started, size = time.perf_counter(), 0
    async with db.read() as conn:
        async for chunk in csv_chunks(conn, clock, f):
            size += len(chunk)
    took = time.perf_counter() - started
    rows.append(("CSV export, all orders of 90 days", f"{took:.1f} s, {size / 1e6:.1f} MB"))
    started = time.perf_counter()
    async with db.read() as conn:
        spooled = await xlsx_file(conn, clock, f)
    spooled.seek(0, 2)
    took = time.perf_counter() - started
    rows.append(
        ("XLSX export, all orders of 90 days", f"{took:.1f} s, {spooled.tell() / 1e6:.1f} MB")
    )
    spooled.close()


def _p(times: list[float]) -> str:
    return f"p50 {_pct(times, 0.5):.1f} ms, p95 {_pct(times, 0.95):.1f} ms"


async def measure(db: Database, clock: Clock, args: argparse.Namespace, rows: Rows) -> None:
    started = time.perf_counter()
    written = await rollups.rebuild(db, clock)
    took = time.perf_counter() - started
    rows.append(("rollup rebuild", f"{took:.0f} s ({written:,} counters)"))
    started = time.perf_counter()
    await rollups.refresh(db, clock, Clock.to_db(clock.now() - timedelta(seconds=60)))
    took = time.perf_counter() - started
    rows.append(("rollup refresh (today, yesterday, changed days)", f"{took * 1000:.0f} ms"))
    await _chart_times(db, clock, args, rows)
    started = time.perf_counter()
    wrong = await rollups.check(db, clock)
    took = time.perf_counter() - started
    rows.append(("rollup check", f"{took:.0f} s ({len(wrong)} differences)"))
    if args.scan:
        started = time.perf_counter()
        new = await scan(db, clock)
        took = time.perf_counter() - started
        rows.append(("early-warning scan (730 days)", f"{took:.1f} s ({new} alerts)"))


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
    parser.add_argument("--database", help="measure this database of an earlier --keep run")
    parser.add_argument("--scan", action="store_true", help="also time one early-warning scan")
    args = parser.parse_args()
    name = args.database or f"bench_reports_{uuid.uuid4().hex[:8]}"
    if not args.database:
        _admin(args.url, f'CREATE DATABASE "{name}"')
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        asyncio.run(bench(url, args))
    finally:
        if args.keep or args.database:
            print(f"kept {url}")
        else:
            _admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
