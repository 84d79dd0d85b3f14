"""The report page's charts, read from the daily rollups (never from the raw rows).

Every chart takes the same filters: a period (at most ``MAX_DAYS``), a model and a station.
Conversation, handoff and complaint figures have no model or station (a conversation is not
tied to one): those filters leave them unchanged, and the page says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from pydantic import Field, root_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.contracts.base import Query
from bot.reports.definitions import OUTCOMES, SLA_KEYS, share

MAX_DAYS = 366
TOP_FAULTS = 15


class Filters(Query):
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    model: str | None = Field(None, max_length=30)
    station: str | None = Field(None, max_length=10)

    @root_validator(skip_on_failure=True)
    def _period(cls, values: dict[str, Any]) -> dict[str, Any]:
        start, end = values["start"], values["end"]
        if end < start:
            raise ValueError("the period ends before it starts")
        if (end - start).days >= MAX_DAYS:
            raise ValueError(f"a period of at most {MAX_DAYS} days")
        return values

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


async def _sum(
    conn: AsyncConnection, f: Filters, metric: str, by: tuple[str, ...], dimensions: bool = True
) -> list[Any]:
    d = tables.report_daily
    columns = [d.c[name] for name in by]
    stmt = (
        select(*columns, func.sum(d.c.value))
        .where(d.c.metric == metric, d.c.day >= f.start, d.c.day <= f.end)
        .group_by(*columns)
    )
    if dimensions and f.model:
        stmt = stmt.where(d.c.model_code == f.model)
    if dimensions and f.station:
        stmt = stmt.where(d.c.station_code == f.station)
    return list(await conn.execute(stmt))


def _daily(f: Filters, rows: list[Any], keys: tuple[str, ...]) -> dict[str, list[int]]:
    index = {day: i for i, day in enumerate(f.days())}
    series = {key: [0] * len(index) for key in keys}
    for day, key, value in rows:
        if key in series and day in index:
            series[key][index[day]] = int(value)
    return series


async def conversations(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """Conversations by outcome per day, containment, handoff and fallback rates."""
    rows = await _sum(conn, f, "conversations", ("day", "key"), dimensions=False)
    series = _daily(f, rows, OUTCOMES)
    turns = dict((k, int(v)) for k, v in await _sum(conn, f, "turns", ("key",), dimensions=False))
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
    rows = await _sum(conn, f, "handoffs", ("key",), dimensions=False)
    return {"reasons": {k: int(v) for k, v in sorted(rows, key=lambda r: -r[1])}}


async def orders(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """Work orders by status, and the stations with the most orders."""
    by_status = await _sum(conn, f, "orders", ("key",))
    by_station = await _sum(conn, f, "orders", ("station_code",))
    stations = sorted(by_station, key=lambda r: -r[1])[:20]
    return {
        "statuses": {k: int(v) for k, v in sorted(by_status, key=lambda r: -r[1])},
        "stations": {k: int(v) for k, v in stations},
    }


async def faults(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """Top faults (Pareto by model and fault code) with the cumulative share."""
    rows = sorted(await _sum(conn, f, "faults", ("model_code", "key")), key=lambda r: -r[2])
    total = sum(int(r[2]) for r in rows)
    top, running = [], 0
    for model, key, value in rows[:TOP_FAULTS]:
        running += int(value)
        top.append(
            {"model": model, "fault": key, "count": int(value), "cumulative": share(running, total)}
        )
    return {"total": total, "top": top}


async def sla(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    rows = await _sum(conn, f, "sla", ("day", "key"))
    series = _daily(f, rows, SLA_KEYS)
    total = sum(sum(v) for v in series.values())
    return {
        "days": [d.isoformat() for d in f.days()],
        "series": series,
        "within_rate": share(sum(series["closed_3d"]), total),
    }


async def alerts(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    rows = await _sum(conn, f, "alerts", ("day", "key"))
    return {
        "days": [d.isoformat() for d in f.days()],
        "series": _daily(f, rows, ("cusum", "new_fault")),
    }


CHARTS: dict[str, Callable[[AsyncConnection, Filters], Awaitable[dict[str, Any]]]] = {
    "conversations": conversations,
    "handoffs": handoffs,
    "orders": orders,
    "faults": faults,
    "sla": sla,
    "alerts": alerts,
}
