"""The work orders behind a chart: a page of them for the drill-down, or all of them as CSV
(UTF-8 with BOM, for Excel on Chinese Windows) or XLSX, one row per order.

Rows are read from the database in batches and written as they come, so an export of any size
holds one batch in memory (XLSX: openpyxl's write-only workbook, which spools to a temporary
file that is then sent). No customer names, phones or addresses: a report is not a way around
the privacy rules. A cell that a spreadsheet would read as a formula (``= + - @``) gets a
leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from bot import tables
from bot.clock import Clock
from bot.reports.filters import Filters, where_dimensions
from bot.reports.rollups import UNCLASSIFIED, window

CityTiers = tuple[tuple[str, ...], tuple[str, ...]]

HEADER = (
    "工单号",
    "创建时间",
    "状态",
    "类型",
    "型号",
    "故障代码",
    "故障描述",
    "网点",
    "渠道",
    "预约日期",
    "评分",
)
BATCH = 2000
PAGE = 200


class OrderFilters(Filters):
    status: str | None = Field(None, max_length=20)
    fault: str | None = Field(None, max_length=30)
    day: date | None = None
    # The bars of the after-sales charts: a rating, on-site orders, a station's city tier.
    rating: int | None = Field(None, ge=1, le=5)
    kind: str | None = Field(None, max_length=10)
    tier: int | None = Field(None, ge=1, le=3)


def orders_query(clock: Clock, f: OrderFilters, tiers: CityTiers = ((), ())) -> Select:
    w = tables.work_orders
    first, last = (f.day, f.day) if f.day else (f.start, f.end)
    start, end = window(clock, first, last)
    stmt = (
        select(
            w.c.id,
            w.c.created_at,
            w.c.status,
            w.c.kind,
            w.c.model_code,
            w.c.error_code,
            w.c.fault,
            w.c.station_code,
            w.c.channel,
            w.c.slot_date,
            w.c.rating,
        )
        .where(w.c.created_at >= start, w.c.created_at < end)
        .order_by(w.c.created_at, w.c.id)
    )
    stmt = where_dimensions(stmt, f, w.c.model_code, w.c.station_code, w.c.channel)
    if f.rating is not None:
        stmt = stmt.where(w.c.rating == f.rating)
    if f.kind:
        stmt = stmt.where(w.c.kind == f.kind)
    if f.tier is not None:
        # Tier 1 and 2 are listed cities (BOT_CITY_TIERS); tier 3 is every other city.
        s = tables.stations
        city = s.c.city.in_(tiers[f.tier - 1]) if f.tier < 3 else ~s.c.city.in_(sum(tiers, ()))
        stmt = stmt.where(w.c.station_code.in_(select(s.c.code).where(city)))
    if f.status:
        stmt = stmt.where(w.c.status == f.status)
    if f.fault == UNCLASSIFIED:
        stmt = stmt.where(w.c.error_code.is_(None))
    elif f.fault:
        stmt = stmt.where(w.c.error_code == f.fault)
    return stmt


def _cells(row: Any, clock: Clock) -> list[Any]:
    return [
        row.id,
        clock.from_db(row.created_at).strftime("%Y-%m-%d %H:%M"),
        row.status,
        row.kind,
        row.model_code or "",
        row.error_code or "",
        row.fault,
        row.station_code,
        row.channel or "",
        row.slot_date.isoformat() if row.slot_date else "",
        row.rating if row.rating is not None else "",
    ]


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


async def page(
    conn: AsyncConnection, clock: Clock, f: OrderFilters, offset: int, tiers: CityTiers = ((), ())
) -> list[dict[str, Any]]:
    rows = await conn.execute(orders_query(clock, f, tiers).offset(offset).limit(PAGE))
    return [
        dict(
            zip(
                (
                    "id",
                    "created_at",
                    "status",
                    "kind",
                    "model_code",
                    "error_code",
                    "fault",
                    "station_code",
                    "channel",
                    "slot_date",
                    "rating",
                ),
                _cells(r, clock),
                strict=True,
            )
        )
        for r in rows
    ]


async def _rows(
    conn: AsyncConnection, clock: Clock, f: OrderFilters, tiers: CityTiers
) -> AsyncIterator[list[Any]]:
    result = await conn.stream(orders_query(clock, f, tiers).execution_options(yield_per=BATCH))
    async for row in result:
        yield [_safe(c) for c in _cells(row, clock)]


async def csv_chunks(
    conn: AsyncConnection, clock: Clock, f: OrderFilters, tiers: CityTiers = ((), ())
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADER)
    n = 0
    async for cells in _rows(conn, clock, f, tiers):
        writer.writerow(cells)
        n += 1
        if n % BATCH == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


async def xlsx_file(
    conn: AsyncConnection, clock: Clock, f: OrderFilters, tiers: CityTiers = ((), ())
) -> tempfile._TemporaryFileWrapper[bytes]:
    """The workbook in a temporary file (deleted when closed), positioned at its start."""
    from openpyxl import Workbook  # type: ignore[import-untyped]  # only for an XLSX

    book = Workbook(write_only=True)
    sheet = book.create_sheet("工单")
    sheet.append(list(HEADER))
    async for cells in _rows(conn, clock, f, tiers):
        sheet.append(cells)
    out = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 (the caller closes it)
    book.save(out)
    out.seek(0)
    return out
