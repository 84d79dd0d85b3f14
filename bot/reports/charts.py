"""The report page's charts, read from the daily rollups (never from the raw rows).

Every chart takes the same filters (``bot.reports.filters``): a period, a model or product
category, a station or region, a channel. Conversation, handoff and complaint figures have no
model or station (a conversation is not tied to one): those filters leave them unchanged, and
the page says so. The after-sales loop's charts (CSAT, 回访, on-site SLA, station load) are in
``bot.reports.loop_charts``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.reports import loop_charts
from bot.reports.definitions import OUTCOMES, SLA_KEYS, share
from bot.reports.filters import CHANNEL, MAX_DAYS, MODEL, Filters, daily, sum_rollups

TOP_FAULTS = 15
__all__ = ["CHARTS", "MAX_DAYS", "Filters"]


async def conversations(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """Conversations by outcome per day, containment, handoff and fallback rates."""
    rows = await sum_rollups(conn, f, "conversations", ("day", "key"), (CHANNEL,))
    series = daily(f, rows, OUTCOMES)
    turns = {k: int(v) for k, v in await sum_rollups(conn, f, "turns", ("key",), (CHANNEL,))}
    total = sum(sum(v) for v in series.values())
    return {
        "days": [d.isoformat() for d in f.days()],
        "series": series,
        "total": total,
        "containment_rate": share(sum(series["contained"]), total),
        "handoff_rate": share(sum(series["handed_off"]), total),
        "fallback_rate": share(turns.get("fallback", 0), turns.get("customer", 0)),
    }


async def handoffs(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    rows = await sum_rollups(conn, f, "handoffs", ("key",), (CHANNEL,))
    return {"reasons": {k: int(v) for k, v in sorted(rows, key=lambda r: -r[1])}}


async def orders(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """Work orders by status, and the stations with the most orders."""
    by_status = await sum_rollups(conn, f, "orders", ("key",))
    by_station = await sum_rollups(conn, f, "orders", ("station_code",))
    stations = sorted(by_station, key=lambda r: -r[1])[:20]
    return {
        "statuses": {k: int(v) for k, v in sorted(by_status, key=lambda r: -r[1])},
        "stations": {k: int(v) for k, v in stations},
    }


async def faults(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """Top faults (Pareto by model and fault code) with the cumulative share."""
    rows = sorted(await sum_rollups(conn, f, "faults", ("model_code", "key")), key=lambda r: -r[2])
    total = sum(int(r[2]) for r in rows)
    top, running = [], 0
    for model, key, value in rows[:TOP_FAULTS]:
        running += int(value)
        top.append(
            {"model": model, "fault": key, "count": int(value), "cumulative": share(running, total)}
        )
    return {"total": total, "top": top}


async def sla(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    rows = await sum_rollups(conn, f, "sla", ("day", "key"))
    series = daily(f, rows, SLA_KEYS)
    total = sum(sum(v) for v in series.values())
    return {
        "days": [d.isoformat() for d in f.days()],
        "series": series,
        "within_rate": share(sum(series["closed_3d"]), total),
    }


async def alerts(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    rows = await sum_rollups(conn, f, "alerts", ("day", "key"), (MODEL,))
    return {
        "days": [d.isoformat() for d in f.days()],
        "series": daily(f, rows, ("cusum", "new_fault")),
    }


CHARTS: dict[str, Callable[[AsyncConnection, Filters], Awaitable[dict[str, Any]]]] = {
    "conversations": conversations,
    "handoffs": handoffs,
    "orders": orders,
    "faults": faults,
    "sla": sla,
    "alerts": alerts,
    **loop_charts.CHARTS,
}
