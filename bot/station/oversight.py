"""Supervisors' view of the repair stations (on the desk): every station's load, and the
orders flagged to them, bookings no station has accepted in time and on-site promises that
are running out or broken."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes
from bot.contracts.rules import OPEN_STATUSES, Status
from bot.desk.accounts import current
from bot.station.dispatch import UNACCEPTED, Sla, is_late, response_sla, station_loads
from bot.stations import open_weekdays

routes = Routes("stations-oversight", audience="supervisor")


class StationLoad(BaseModel):
    code: str
    name: str
    city: str
    open_orders: int
    oldest_open_at: datetime | None
    oldest_open_hours: float | None = Field(description="age of the oldest open order")
    booked_today: int
    capacity_today: int
    late: int = Field(description="bookings not accepted in time")
    sla_red: int = Field(description="on-site orders past their promised response")


class Flagged(BaseModel):
    id: str
    station_code: str
    station_name: str
    kind: str
    status: Status
    slot_date: date | None
    slot_start: str | None
    waiting_since: datetime
    reasons: list[Literal["not_accepted", "sla_amber", "sla_red"]]
    sla: Sla | None


def _supervisor(request: web.Request) -> None:
    if not current(request).supervisor:
        raise ApiError(403, "supervisors_only", "only supervisors oversee the stations")


async def _flagged(request: web.Request) -> list[Flagged]:
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    w, s = tables.work_orders, tables.stations
    now = clock.now()
    stmt = (
        select(w, s.c.name.label("station_name"), s.c.city, s.c.hours)
        .join(s, s.c.code == w.c.station_code)
        .where(
            w.c.status.in_(OPEN_STATUSES),
            or_(w.c.status.in_(UNACCEPTED), (w.c.kind == "on_site") & w.c.responded_at.is_(None)),
        )
        .order_by(w.c.created_at)
    )
    async with request.config_dict[DB].read() as conn:
        rows = (await conn.execute(stmt)).all()
    flagged = []
    for r in rows:
        since = clock.from_db(r.updated_at)
        created = clock.from_db(r.created_at)
        slot = (r.slot_date, r.slot_start) if r.slot_date and r.slot_start else None
        sla = response_sla(
            kind=r.kind,
            city=r.city,
            booked_at=created,
            slot=slot,
            responded_at=None,
            now=now,
            clock=clock,
            settings=settings,
        )
        reasons: list[Literal["not_accepted", "sla_amber", "sla_red"]] = []
        if is_late(r.status, since, r.hours, now, settings):
            reasons.append("not_accepted")
        if sla is not None and sla.state in ("amber", "red"):
            reasons.append("sla_red" if sla.state == "red" else "sla_amber")
        if reasons:
            flagged.append(
                Flagged(
                    id=r.id,
                    station_code=r.station_code,
                    station_name=r.station_name,
                    kind=r.kind,
                    status=r.status,
                    slot_date=r.slot_date,
                    slot_start=r.slot_start,
                    waiting_since=since,
                    reasons=reasons,
                    sla=sla,
                )
            )
    return flagged


@routes.get(
    "/desk/api/stations/flagged",
    summary="Orders flagged to supervisors: not accepted in time, on-site promise amber or red",
    response=list[Flagged],
    errors=(401, 403),
)
async def flagged(request: web.Request, _: None) -> list[Flagged]:
    _supervisor(request)
    return await _flagged(request)


@routes.get(
    "/desk/api/stations/load",
    summary="Every repair station's load: open orders, oldest open, today against capacity",
    response=list[StationLoad],
    errors=(401, 403),
)
async def load(request: web.Request, _: None) -> list[StationLoad]:
    _supervisor(request)
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].read() as conn:
        rows = await station_loads(conn, clock)
    flags = await _flagged(request)
    now = clock.now()
    return [
        StationLoad(
            code=r.code,
            name=r.name,
            city=r.city,
            open_orders=r.open_orders,
            oldest_open_at=r.oldest_open,
            oldest_open_hours=round((now - r.oldest_open).total_seconds() / 3600, 1)
            if r.oldest_open
            else None,
            booked_today=r.booked_today,
            capacity_today=r.daily_capacity if clock.today().weekday() in _days(r.hours) else 0,
            late=sum(1 for f in flags if f.station_code == r.code and "not_accepted" in f.reasons),
            sla_red=sum(1 for f in flags if f.station_code == r.code and "sla_red" in f.reasons),
        )
        for r in rows
    ]


def _days(hours: str) -> set[int]:
    return set(open_weekdays(hours)) or set(range(7))
