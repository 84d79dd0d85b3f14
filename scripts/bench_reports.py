"""The reports at scale on PostgreSQL: a synthetic history, the rollup rebuild and check, the
chart queries over 90 days, the drill-down, the exports and the early-warning scan.

Makes a database of its own on the PostgreSQL server (``--url``, default the loopback server,
user postgres; ``--name`` to choose its name), migrates it, loads the demo catalogue and
stations, generates ``--orders`` work orders (with closes, surveys, ratings, 回访, on-site
responses) and the conversations of ``--events`` bot events over ``--days`` days inside
PostgreSQL (``bot.reports.synthetic_sql``: generate_series, minutes for 10^6 orders), then
prints a markdown table, a line as each figure is measured: how long generation, the rollup
rebuild, a refresh and the check took, p50/p95 of every chart over random 90-day windows (no
filter, one model, one station, one category, one region, one channel) and of a drill-down
page, a CSV and an XLSX export of all orders of 90 days (``--export-days``), and with
``--scan`` one early-warning scan. Drops the database at the end unless ``--keep``;
``--database NAME`` measures a kept one again (no generation).

    python scripts/bench_reports.py [--orders 100000] [--events 3000000] [--days 365]
    nice -n 19 python scripts/bench_reports.py --orders 1000000 --events 10000000
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
from bot.reports.conversations import BATCH as FOLD_BATCH
from bot.reports.conversations import store_events
from bot.reports.exports import OrderFilters, csv_chunks, page, xlsx_file
from bot.reports.synthetic_sql import EVENTS_PER_CONVERSATION, BigPlan, generate_in_sql
from bot.settings import Settings

WINDOW = 90
CHANNELS = ("webchat", "telegram", "rest")


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
        conversations = args.events // EVENTS_PER_CONVERSATION
        made = (
            f"database {args.database} (kept)"
            if args.database
            else f"{args.orders:,} orders, {args.events:,} events ({conversations:,} conversations)"
        )
        print(f"\n| {made}, {args.days} days, PostgreSQL | |\n|---|---|", flush=True)

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
        if not args.generate_only:
            await measure(db, clock, args, rows)
        if args.fold:
            await fold_rate(db, clock, args.fold, rows)
    finally:
        await db.close()


async def generate_history(
    db: Database, settings: Settings, clock: Clock, args: argparse.Namespace, rows: Rows
) -> None:
    await seed_demo(db, settings, clock, devices=2000, codes=100)
    plan = BigPlan(
        orders=args.orders,
        events=args.events,
        days=args.days,
        last=clock.today(),
        timezone=str(settings.timezone),
    )
    started = time.perf_counter()
    made = await generate_in_sql(db, plan)
    took = time.perf_counter() - started
    rows.append(
        ("generate (in SQL)", f"{took:.0f} s: " + ", ".join(f"{v:,} {k}" for k, v in made.items()))
    )


async def _chart_times(db: Database, clock: Clock, args: argparse.Namespace, rows: Rows) -> None:
    rng = random.Random(args.seed)
    today = clock.today()
    async with db.read() as conn:
        models = [m for (m,) in await conn.exec_driver_sql("SELECT code FROM models")]
        categories = [c for (c,) in await conn.exec_driver_sql("SELECT code FROM categories")]
        cities = [
            c
            for (c,) in await conn.exec_driver_sql(
                "SELECT DISTINCT city FROM stations WHERE kind <> 'dealer'"
            )
        ]
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
            extra = (
                {},
                {"model": rng.choice(models)},
                {"station": rng.choice(stations)},
                {"category": rng.choice(categories)},
                {"region": rng.choice(cities)},
                {"channel": rng.choice(CHANNELS)},
            )[i % 6]
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
    end = today - timedelta(days=1)
    f = OrderFilters.parse_obj(
        {"from": (end - timedelta(days=args.export_days - 1)).isoformat(), "to": end.isoformat()}
    )
    started, size = time.perf_counter(), 0
    async with db.read() as conn:
        async for chunk in csv_chunks(conn, clock, f):
            size += len(chunk)
    took = time.perf_counter() - started
    rows.append(
        (f"CSV export, all orders of {args.export_days} days", f"{took:.1f} s, {size / 1e6:.1f} MB")
    )
    started = time.perf_counter()
    async with db.read() as conn:
        spooled = await xlsx_file(conn, clock, f)
    spooled.seek(0, 2)
    took = time.perf_counter() - started
    rows.append(
        (
            f"XLSX export, all orders of {args.export_days} days",
            f"{took:.1f} s, {spooled.tell() / 1e6:.1f} MB",
        )
    )
    spooled.close()


def _p(times: list[float]) -> str:
    return f"p50 {_pct(times, 0.5):.1f} ms, p95 {_pct(times, 0.95):.1f} ms"


async def measure(db: Database, clock: Clock, args: argparse.Namespace, rows: Rows) -> None:
    if args.charts_only:
        await _chart_times(db, clock, args, rows)
        return
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


async def fold_rate(db: Database, clock: Clock, events: int, rows: Rows) -> None:
    """How fast the backend folds Rasa's events into conversation facts (the loop's own
    ``store_events``, batches of its size), on events shaped like Rasa's: a customer message,
    the bot's action and answer, a slot now and then."""
    rng = random.Random(1)
    at = clock.now().timestamp() - 3600
    batch: list[tuple[int, str, dict[str, object]]] = []
    started = time.perf_counter()
    for i in range(events):
        sender = f"fold-{i // EVENTS_PER_CONVERSATION}"
        kind = ("user", "action", "bot", "slot", "user", "action", "bot", "user", "action", "bot")[
            i % EVENTS_PER_CONVERSATION
        ]
        event: dict[str, object] = {"event": kind, "timestamp": at + i * 0.001}
        if kind == "user":
            intent = "nlu_fallback" if rng.random() < 0.08 else "report_fault"
            event |= {"input_channel": "webchat", "parse_data": {"intent": {"name": intent}}}
        elif kind == "slot":
            event |= {"name": "kb_case", "value": f"KB{rng.randrange(100):03d}"}
        batch.append((i + 1, sender, event))
        if len(batch) == FOLD_BATCH:
            await store_events(db, clock, batch)
            batch = []
    await store_events(db, clock, batch)
    took = time.perf_counter() - started
    rows.append(
        (
            f"fold {events:,} Rasa events into conversation facts",
            f"{took:.0f} s ({events / took:,.0f} events/s)",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument(
        "--events",
        type=int,
        default=3_000_000,
        help=f"bot events (one conversation per {EVENTS_PER_CONVERSATION})",
    )
    parser.add_argument("--export-days", type=int, default=WINDOW)
    parser.add_argument(
        "--fold", type=int, default=0, help="also time folding this many events (backend's loop)"
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--database", help="measure this database of an earlier --keep run")
    parser.add_argument("--name", help="the name of the database to make (default: random)")
    parser.add_argument(
        "--generate-only", action="store_true", help="make the history and stop (with --keep)"
    )
    parser.add_argument(
        "--charts-only", action="store_true", help="time the charts, drill-down and exports only"
    )
    parser.add_argument("--scan", action="store_true", help="also time one early-warning scan")
    args = parser.parse_args()
    name = args.database or args.name or f"bench_reports_{uuid.uuid4().hex[:8]}"
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
