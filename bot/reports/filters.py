"""The filters every chart takes, and the one query that sums the daily rollups under them.

A period (at most ``MAX_DAYS``), a model or a product category, a station or a region (the
station's city), and a channel. A figure without a model or station (conversations, handoffs,
complaints) ignores the model, category, station and region filters but follows the channel;
the alerts have a model but no station or channel. ``_sum`` is told which apply.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import Field, root_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.contracts.base import Query

MAX_DAYS = 366
MODEL, STATION, CHANNEL = "model", "station", "channel"
ALL = (MODEL, STATION, CHANNEL)


class Filters(Query):
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    model: str | None = Field(None, max_length=30)
    category: str | None = Field(None, max_length=20)
    station: str | None = Field(None, max_length=10)
    region: str | None = Field(None, max_length=20)
    channel: str | None = Field(None, max_length=20)

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


def where_dimensions(
    stmt: Any, f: Filters, model: Any, station: Any, channel: Any, applies: tuple[str, ...] = ALL
) -> Any:
    """``stmt`` narrowed by the filters that apply, on the given columns (the rollups' or the
    work orders'). Category and region go through the small catalogue and station tables."""
    m, s = tables.models, tables.stations
    if MODEL in applies:
        if f.model:
            stmt = stmt.where(model == f.model)
        if f.category:
            stmt = stmt.where(model.in_(select(m.c.code).where(m.c.category == f.category)))
    if STATION in applies:
        if f.station:
            stmt = stmt.where(station == f.station)
        if f.region:
            stmt = stmt.where(station.in_(select(s.c.code).where(s.c.city == f.region)))
    if CHANNEL in applies and f.channel:
        stmt = stmt.where(channel == f.channel)
    return stmt


async def sum_rollups(
    conn: AsyncConnection,
    f: Filters,
    metric: str,
    by: tuple[str, ...],
    applies: tuple[str, ...] = ALL,
) -> list[Any]:
    """The rollups of one metric over the period, summed by the columns ``by``."""
    d = tables.report_daily
    columns = [d.c[name] for name in by]
    stmt = (
        select(*columns, func.sum(d.c.value))
        .where(
            d.c.metric == metric,
            d.c.grain == _grain(f, by, applies),
            d.c.day >= f.start,
            d.c.day <= f.end,
        )
        .group_by(*columns)
    )
    stmt = where_dimensions(stmt, f, d.c.model_code, d.c.station_code, d.c.channel, applies)
    return list(await conn.execute(stmt))


def _grain(f: Filters, by: tuple[str, ...], applies: tuple[str, ...]) -> str:
    """The coarsest grain of the rollups that still has what a query filters or groups on."""
    keep = {
        "m": (MODEL in applies and bool(f.model or f.category)) or "model_code" in by,
        "s": (STATION in applies and bool(f.station or f.region)) or "station_code" in by,
        "c": (CHANNEL in applies and bool(f.channel)) or "channel" in by,
    }
    return "".join(letter for letter, kept in keep.items() if kept)


def daily(f: Filters, rows: list[Any], keys: tuple[str, ...]) -> dict[str, list[int]]:
    """(day, key, value) rows as one list of values per key, a value per day of the period."""
    index = {day: i for i, day in enumerate(f.days())}
    series = {key: [0] * len(index) for key in keys}
    for day, key, value in rows:
        if key in series and day in index:
            series[key][index[day]] = int(value)
    return series
