"""The reports for supervisors: the page, its charts, the drill-down and the exports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Extra, Field
from sqlalchemy import select

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes
from bot.desk.accounts import current
from bot.reports.charts import CHARTS, Filters
from bot.reports.exports import CityTiers, OrderFilters, csv_chunks, page, xlsx_file

routes = Routes("reports", audience="reports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Period(BaseModel):
    start: str = Field(alias="from")
    end: str = Field(alias="to")


class Chart(BaseModel):
    """One chart's figures; the fields depend on the chart (``bot.reports.charts``)."""

    days: list[str] | None = None

    class Config:
        extra = Extra.allow


class OrderRow(BaseModel):
    id: str
    created_at: str
    status: str
    kind: str
    model_code: str
    error_code: str
    fault: str
    station_code: str
    channel: str
    slot_date: str
    rating: int | str


PAGE_FILE = Path(__file__).resolve().parent.parent / "static" / "desk" / "reports.html"


def _supervisor(request: web.Request) -> None:
    if not current(request).reads_reports:
        raise ApiError(403, "supervisors_only", "only supervisors and operators read the reports")


def _tiers(request: web.Request) -> CityTiers:
    return request.config_dict[SETTINGS].city_tiers


DEFAULT_DAYS = 30


@routes.get(
    "/desk/api/reports/period",
    summary="The page's default period: the last 30 days in the service's time zone",
    response=Period,
    errors=(401, 403),
)
async def default_period(request: web.Request, _: None) -> dict[str, str]:
    _supervisor(request)
    today = request.config_dict[CLOCK].today()
    return {"from": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), "to": today.isoformat()}


class Option(BaseModel):
    code: str
    name: str


class Options(BaseModel):
    categories: list[Option]
    regions: list[str]
    channels: list[Option]


CHANNELS = (("webchat", "网页"), ("telegram", "Telegram"), ("rest", "接口"), ("sms", "短信"))


@routes.get(
    "/desk/api/reports/options",
    summary="What the filters offer: product categories, regions (station cities), channels",
    response=Options,
    errors=(401, 403),
)
async def options(request: web.Request, _: None) -> dict[str, Any]:
    _supervisor(request)
    c, s = tables.categories, tables.stations
    async with request.config_dict[DB].read() as conn:
        categories = list(await conn.execute(select(c.c.code, c.c.name).order_by(c.c.code)))
        cities = list(
            (
                await conn.execute(
                    select(s.c.city).where(s.c.kind != "dealer").distinct().order_by(s.c.city)
                )
            ).scalars()
        )
    return {
        "categories": [{"code": code, "name": name} for code, name in categories],
        "regions": cities,
        "channels": [{"code": code, "name": name} for code, name in CHANNELS],
    }


class ChartFilters(Filters):
    chart: str = Field(max_length=20)


@routes.get(
    "/desk/api/reports/chart",
    summary="One chart's figures over a period (supervisors; from the daily rollups)",
    query=ChartFilters,
    response=Chart,
    errors=(401, 403, 404),
)
async def read_chart(request: web.Request, query: ChartFilters) -> dict[str, Any]:
    _supervisor(request)
    chart = CHARTS.get(query.chart)
    if chart is None:
        raise ApiError(404, "chart_not_found", f"no chart {query.chart!r}: one of {sorted(CHARTS)}")
    async with request.config_dict[DB].read() as conn:
        return await chart(conn, query)


class OrderPage(OrderFilters):
    offset: int = Field(0, ge=0, le=1_000_000)


@routes.get(
    "/desk/api/reports/orders",
    summary="The work orders behind a chart's bar, 200 at a time (supervisors)",
    query=OrderPage,
    response=list[OrderRow],
    errors=(401, 403),
)
async def list_orders(request: web.Request, query: OrderPage) -> list[dict[str, Any]]:
    _supervisor(request)
    async with request.config_dict[DB].read() as conn:
        return await page(conn, request.config_dict[CLOCK], query, query.offset, _tiers(request))


def _filename(f: OrderFilters, ext: str) -> str:
    return f"workorders-{f.start.isoformat()}-{f.end.isoformat()}.{ext}"


@routes.get(
    "/desk/api/reports/orders.csv",
    summary="The work orders behind the charts as CSV, UTF-8 with BOM (supervisors)",
    query=OrderFilters,
    response="text/csv",
    errors=(401, 403),
)
async def export_csv(request: web.Request, query: OrderFilters) -> web.StreamResponse:
    _supervisor(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{_filename(query, "csv")}"',
        }
    )
    await response.prepare(request)
    async with request.config_dict[DB].read() as conn:
        async for chunk in csv_chunks(conn, request.config_dict[CLOCK], query, _tiers(request)):
            await response.write(chunk)
    await response.write_eof()
    return response


@routes.get(
    "/desk/api/reports/orders.xlsx",
    summary="The work orders behind the charts as an Excel workbook (supervisors)",
    query=OrderFilters,
    response=XLSX,
    errors=(401, 403),
)
async def export_xlsx(request: web.Request, query: OrderFilters) -> web.StreamResponse:
    _supervisor(request)
    async with request.config_dict[DB].read() as conn:
        spooled = await xlsx_file(conn, request.config_dict[CLOCK], query, _tiers(request))
    response = web.StreamResponse(
        headers={
            "Content-Type": XLSX,
            "Content-Disposition": f'attachment; filename="{_filename(query, "xlsx")}"',
        }
    )
    try:
        await response.prepare(request)
        while chunk := spooled.read(64 * 1024):
            await response.write(chunk)
    finally:
        spooled.close()
    await response.write_eof()
    return response


async def reports_page(_: web.Request) -> web.StreamResponse:
    return web.FileResponse(PAGE_FILE, headers={"Cache-Control": "no-store"})


def add_page(app: web.Application) -> None:
    app.router.add_get("/desk/reports.html", reports_page)
