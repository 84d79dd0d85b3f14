"""The after-sales loop's report figures (``bot.reports.definitions``): CSAT and response rate,
回访 outcomes, and the on-site SLA by city tier; a source of ``bot.reports.rollups.SOURCES``.

Every figure of an order is counted on the day the order was created, with the order's model,
station and channel, like its other figures: a survey answered next week moves the counters of
the order's day, which the refresh finds through ``changed``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Exists

from bot import tables
from bot.reports.counting import Context, Counts, day_of
from bot.reports.definitions import csat_key, followup_key, onsite_key, onsite_state
from bot.station.dispatch import city_tier, response_sla


def _survey_sent() -> Exists:
    n, w = tables.notifications, tables.work_orders
    return exists().where(n.c.work_order_id == w.c.id, n.c.event == "csat", n.c.status == "sent")


async def _orders(
    conn: AsyncConnection, ctx: Context, start: datetime, end: datetime, out: Counts
) -> None:
    """CSAT of the surveyed orders and the on-site SLA of the on-site ones."""
    w, s = tables.work_orders, tables.stations
    sent = _survey_sent().label("sent")
    rows = await conn.stream(
        select(
            w.c.created_at,
            w.c.status,
            w.c.kind,
            w.c.model_code,
            w.c.station_code,
            w.c.channel,
            w.c.rating,
            w.c.slot_date,
            w.c.slot_start,
            w.c.responded_at,
            s.c.city,
            sent,
        )
        .select_from(w.join(s, s.c.code == w.c.station_code))
        .where(
            w.c.created_at >= start,
            w.c.created_at < end,
            (w.c.kind == "on_site") | w.c.rating.is_not(None) | _survey_sent(),
        )
    )
    clock = ctx.clock
    async for r in rows:
        day, model, channel = day_of(clock, r.created_at), r.model_code or "", r.channel or ""
        dims = (day, model, r.station_code, channel)
        key = csat_key(r.rating, bool(r.sent))
        if key is not None:
            out[(dims[0], "csat", *dims[1:], key)] += 1
        if r.kind != "on_site":
            continue
        slot = (r.slot_date, r.slot_start) if r.slot_date and r.slot_start else None
        responded = clock.from_db(r.responded_at) if r.responded_at else None
        booked = clock.from_db(r.created_at)
        sla = response_sla(
            kind=r.kind,
            city=r.city,
            booked_at=booked,
            slot=slot,
            responded_at=responded,
            now=booked,
            clock=clock,
            settings=ctx.settings,
        )
        on_time = sla is not None and sla.state == "met"
        state = onsite_state(r.status, responded is not None, on_time)
        tier = city_tier(r.city, ctx.settings)
        out[(dims[0], "onsite", *dims[1:], onsite_key(tier, state))] += 1


async def _followups(
    conn: AsyncConnection, ctx: Context, start: datetime, end: datetime, out: Counts
) -> None:
    """Each order with a 回访 once, by the outcome of its latest round."""
    f, w = tables.followups, tables.work_orders
    rows = await conn.stream(
        select(
            f.c.work_order_id,
            f.c.status,
            f.c.outcome,
            w.c.created_at,
            w.c.model_code,
            w.c.station_code,
            w.c.channel,
        )
        .select_from(f.join(w, w.c.id == f.c.work_order_id))
        .where(w.c.created_at >= start, w.c.created_at < end)
        .order_by(f.c.work_order_id, f.c.round)
    )
    latest: dict[str, tuple[date, str, str, str, str]] = {}
    async for r in rows:
        latest[r.work_order_id] = (
            day_of(ctx.clock, r.created_at),
            r.model_code or "",
            r.station_code,
            r.channel or "",
            followup_key(r.status, r.outcome),
        )
    for day, model, station, channel, key in latest.values():
        out[(day, "followups", model, station, channel, key)] += 1


async def count(
    conn: AsyncConnection, ctx: Context, start: datetime, end: datetime, out: Counts
) -> None:
    await _orders(conn, ctx, start, end, out)
    await _followups(conn, ctx, start, end, out)


async def changed(conn: AsyncConnection, since: datetime) -> list[datetime]:
    """Creation moments of the orders whose survey was sent or whose 回访 changed since
    ``since`` (naive UTC): their days are counted again."""
    n, f, w = tables.notifications, tables.followups, tables.work_orders
    sent = (
        select(w.c.created_at)
        .join(n, and_(n.c.work_order_id == w.c.id))
        .where(n.c.event == "csat", n.c.sent_at >= since)
    )
    moved = (
        select(w.c.created_at).join(f, f.c.work_order_id == w.c.id).where(f.c.updated_at >= since)
    )
    return [at for (at,) in await conn.execute(sent.union(moved))]
