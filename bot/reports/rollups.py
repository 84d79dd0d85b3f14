"""Daily rollups (``report_daily``): raw rows counted per day, metric, model, station, channel
and key.

Each *source* below counts one kind of raw row over a window of days; ``compute`` runs them
all. Another concern adds its figures by appending a source to ``SOURCES`` (the after-sales
loop's CSAT, 回访 and on-site SLA: ``bot.reports.aftersales``): the rollup table, refresh,
rebuild, check and charts then carry them without change.

- ``refresh`` (the backend's loop, every ``REFRESH_SECONDS``): recomputes today, yesterday
  and every day whose rows changed since the last refresh (a work order created last week and
  closed today moves last week's SLA), replacing those days' rows in one transaction each.
- ``rebuild`` (``python -m bot reports rebuild``): every day from the first raw row.
- ``check`` (``python -m bot reports check``): recomputes everything in memory and lists the
  counters that differ from the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.clock import Clock
from bot.db import Database
from bot.reports import aftersales
from bot.reports.counting import Context, Counts, Key, day_of
from bot.reports.definitions import sla_key
from bot.reports.grains import FINEST, coarsen, mismatches
from bot.settings import Settings

REFRESH_SECONDS = 30.0
Source = Callable[[AsyncConnection, Context, datetime, datetime, Counts], Awaitable[None]]
UNCLASSIFIED = "未分类"
CHUNK_DAYS = 31
__all__ = ["Context", "Counts", "Key", "check", "compute", "rebuild", "refresh"]


def window(clock: Clock, first: date, last: date) -> tuple[datetime, datetime]:
    """Naive UTC bounds of the civil days ``first``..``last``."""
    start = clock.local(first, "00:00")
    end = clock.local(last + timedelta(days=1), "00:00")
    return Clock.to_db(start), Clock.to_db(end)


def _day(clock: Clock, at: datetime) -> date:
    return day_of(clock, at)


async def _orders(
    conn: AsyncConnection, ctx: Context, start: datetime, end: datetime, out: Counts
) -> None:
    w, e = tables.work_orders, tables.work_order_events
    closed = (
        select(e.c.work_order_id, func.min(e.c.at).label("closed_at"))
        .where(e.c.status == "closed")
        .group_by(e.c.work_order_id)
        .subquery()
    )
    rows = await conn.stream(
        select(
            w.c.created_at,
            w.c.status,
            w.c.model_code,
            w.c.station_code,
            w.c.error_code,
            w.c.channel,
            closed.c.closed_at,
        )
        .select_from(w.outerjoin(closed, closed.c.work_order_id == w.c.id))
        .where(w.c.created_at >= start, w.c.created_at < end)
    )
    clock = ctx.clock
    async for at, status, model, station, code, channel, closed_at in rows:
        day, model, channel = _day(clock, at), model or "", channel or ""
        out[(day, "orders", model, station, channel, status)] += 1
        out[(day, "faults", model, station, channel, code or UNCLASSIFIED)] += 1
        out[(day, "sla", model, station, channel, sla_key(status, at, closed_at))] += 1


def _per_key(table: Any, column: str, metric: str) -> Source:
    """A source counting ``table``'s rows by their ``column`` and channel (no model or
    station)."""

    async def count(
        conn: AsyncConnection, ctx: Context, start: datetime, end: datetime, out: Counts
    ) -> None:
        t = table
        rows = await conn.execute(
            select(t.c.created_at, t.c.channel, t.c[column]).where(
                t.c.created_at >= start, t.c.created_at < end
            )
        )
        for at, channel, key in rows:
            out[(_day(ctx.clock, at), metric, "", "", channel or "", key)] += 1

    return count


async def _conversations(
    conn: AsyncConnection, ctx: Context, start: datetime, end: datetime, out: Counts
) -> None:
    r = tables.report_conversations
    rows = await conn.stream(
        select(r.c.day, r.c.channel, r.c.handed_off, r.c.user_turns, r.c.fallback_turns).where(
            r.c.first_at >= start, r.c.first_at < end
        )
    )
    async for day, channel, handed_off, turns, fallbacks in rows:
        outcome = "handed_off" if handed_off else "contained"
        out[(day, "conversations", "", "", channel, outcome)] += 1
        out[(day, "turns", "", "", channel, "customer")] += turns
        out[(day, "turns", "", "", channel, "fallback")] += fallbacks


async def _alerts(
    conn: AsyncConnection, ctx: Context, start: datetime, end: datetime, out: Counts
) -> None:
    a = tables.insight_alerts
    clock = ctx.clock
    first, last = _day(clock, start), _day(clock, end - timedelta(seconds=1))
    rows = await conn.execute(
        select(a.c.raised_on, a.c.model_code, a.c.rule).where(
            a.c.raised_on >= first, a.c.raised_on <= last
        )
    )
    for day, model, rule in rows:
        out[(day, "alerts", model, "", "", rule)] += 1


SOURCES: list[Source] = [
    _orders,
    _per_key(tables.handoffs, "reason", "handoffs"),
    _per_key(tables.complaints, "severity", "complaints"),
    _conversations,
    _alerts,
    aftersales.count,
]


async def compute(conn: AsyncConnection, ctx: Context, first: date, last: date) -> Counts:
    """Every counter of the days ``first``..``last``, from the raw rows."""
    start, end = window(ctx.clock, first, last)
    out: Counts = Counter()
    for source in SOURCES:
        await source(conn, ctx, start, end, out)
    return +out  # drop zeros (a conversation without fallbacks)


async def _replace(db: Database, first: date, last: date, counts: Counts) -> None:
    d = tables.report_daily
    async with db.write() as conn:
        await conn.execute(delete(d).where(d.c.day >= first, d.c.day <= last))
        rows = [
            {
                "day": k[0],
                "metric": k[1],
                "model_code": k[2],
                "station_code": k[3],
                "channel": k[4],
                "key": k[5],
                "grain": FINEST,
                "value": v,
            }
            for k, v in counts.items()
        ]
        if rows:
            await conn.execute(d.insert(), rows)
        await coarsen(conn, first, last)


def _context(clock: Clock, settings: Settings | None) -> Context:
    return Context(clock, settings or Settings.from_env({}))


async def refresh_days(db: Database, ctx: Context, days: set[date]) -> None:
    for day in sorted(days):
        async with db.read() as conn:
            counts = await compute(conn, ctx, day, day)
        await _replace(db, day, day, counts)


async def changed_days(db: Database, clock: Clock, since: datetime) -> set[date]:
    """Days whose orders, handoffs or complaints changed since ``since`` (naive UTC), and
    the days of the orders whose survey was sent or whose 回访 moved."""
    days: set[date] = set()
    async with db.read() as conn:
        for table in (tables.work_orders, tables.handoffs, tables.complaints):
            rows = await conn.execute(
                select(table.c.created_at).where(table.c.updated_at >= since).distinct()
            )
            days.update(_day(clock, at) for (at,) in rows)
        days.update(_day(clock, at) for at in await aftersales.changed(conn, since))
    return days


async def refresh(
    db: Database, clock: Clock, since: datetime | None, settings: Settings | None = None
) -> datetime:
    """One refresh; returns the moment to pass as ``since`` next time (naive UTC)."""
    started = Clock.to_db(clock.now())
    today = clock.today()
    days = {today, today - timedelta(days=1)}
    if since is not None:
        days |= await changed_days(db, clock, since)
    await refresh_days(db, _context(clock, settings), days)
    return started


async def first_day(db: Database, clock: Clock) -> date | None:
    firsts = []
    async with db.read() as conn:
        for column in (
            tables.work_orders.c.created_at,
            tables.handoffs.c.created_at,
            tables.complaints.c.created_at,
            tables.report_conversations.c.first_at,
        ):
            at = await conn.scalar(select(func.min(column)))
            if at is not None:
                firsts.append(_day(clock, at))
        raised = await conn.scalar(select(func.min(tables.insight_alerts.c.raised_on)))
    if raised is not None:
        firsts.append(raised)
    return min(firsts) if firsts else None


def _chunks(first: date, last: date) -> list[tuple[date, date]]:
    out = []
    while first <= last:
        end = min(last, first + timedelta(days=CHUNK_DAYS - 1))
        out.append((first, end))
        first = end + timedelta(days=1)
    return out


async def rebuild(db: Database, clock: Clock, settings: Settings | None = None) -> int:
    """Recount every day from the raw rows; returns how many counters were written."""
    ctx = _context(clock, settings)
    first, written = await first_day(db, clock), 0
    if first is None:
        async with db.write() as conn:
            await conn.execute(delete(tables.report_daily))
        return 0
    for lo, hi in _chunks(first, clock.today()):
        async with db.read() as conn:
            counts = await compute(conn, ctx, lo, hi)
        await _replace(db, lo, hi, counts)
        written += len(counts)
    return written


async def check(db: Database, clock: Clock, settings: Settings | None = None) -> list[str]:
    """The counters where the rollups and the raw rows disagree (empty: they are equal)."""
    ctx = _context(clock, settings)
    d = tables.report_daily
    stored: Counts = Counter()
    async with db.read() as conn:
        grains = await mismatches(conn)
        rows = await conn.stream(
            select(
                d.c.day,
                d.c.metric,
                d.c.model_code,
                d.c.station_code,
                d.c.channel,
                d.c.key,
                d.c.value,
            ).where(d.c.grain == FINEST)
        )
        async for day, metric, model, station, channel, key, value in rows:
            stored[(day, metric, model, station, channel, key)] = value
    raw: Counts = Counter()
    first = await first_day(db, clock)
    if first is not None:
        for lo, hi in _chunks(first, clock.today()):
            async with db.read() as conn:
                raw.update(await compute(conn, ctx, lo, hi))
    return grains + [
        f"{k[0]} {k[1]} {k[2] or '-'} {k[3] or '-'} {k[4] or '-'} {k[5]}:"
        f" rollup {stored[k]}, raw {raw[k]}"
        for k in sorted(set(stored) | set(raw))
        if stored[k] != raw[k]
    ]
