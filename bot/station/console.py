"""The station console's API: a station's staff see their station's work orders with the
handoff package, accept them, assign an engineer and move them along their life cycle.

Every route needs a station session (bot.desk.accounts, the `/station/api/` portal) and works
on the logged-in account's own station only: another station's order is not found.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, Routes, path_param
from bot.clock import Clock
from bot.contracts.base import Query
from bot.contracts.errors import INVALID_BODY, INVALID_TRANSITION
from bot.contracts.ids import normalize_work_order_id
from bot.contracts.rules import OPEN_STATUSES, REOPEN, SLOT_ENDS, Status, station_steps
from bot.contracts.workorders import StepIn, TransitionIn, WorkOrder
from bot.desk import accounts
from bot.desk.accounts import STATION, LoggedOut, LoginIn, Me, current
from bot.errors import Invalid, NotFound, Refused, not_found
from bot.sanbao import Fault
from bot.settings import Settings
from bot.station.dispatch import Sla, is_late, response_sla
from bot.station.learning import PastCase, similar
from bot.warranty import verdict_for
from bot.workorders import advance, booking_lead, load

routes = Routes("station", audience="station")
STATIC = Path(__file__).resolve().parent.parent / "static" / "station"
# Finished orders the console lists (most recent first).
DONE_LIMIT = 50


class OrderCard(BaseModel):
    """One line of the station's list."""

    id: str
    kind: str
    status: Status
    model_code: str | None
    serial: str | None
    fault: str
    slot_date: date | None
    slot_start: str | None
    slot_end: str | None
    customer_name: str | None
    address: str | None
    engineer: str | None
    created_at: datetime
    accepted_at: datetime | None
    late: bool = Field(description="not accepted within the configured time")
    sla: Sla | None = Field(description="on-site orders: the response promised by city tier")


class VerdictSummary(BaseModel):
    """The 三包 verdict for the device today (what the customer may claim)."""

    remedy: str
    until: date | None
    policy_title: str
    basis: str


class OrderDetail(BaseModel):
    order: WorkOrder
    late: bool
    sla: Sla | None
    verdict: VerdictSummary | None
    next: list[str] = Field(description="the statuses the order may move to")
    similar: list[PastCase] = Field(
        description="closed repairs of the same model and error code, at any station"
    )


class OrdersQuery(Query):
    scope: Literal["open", "done"] = "open"


def _station(request: web.Request) -> str:
    code = current(request).station_code
    if code is None:  # the portal admits station accounts only, which all have a station
        raise not_found("station", "-")
    return code


def _card(row: Row, city: str, hours: str, clock: Clock, settings: Settings) -> OrderCard:
    now = clock.now()
    created = clock.from_db(row.created_at)
    slot = (row.slot_date, row.slot_start) if row.slot_date and row.slot_start else None
    return OrderCard(
        **{
            k: row._mapping[k]
            for k in (
                "id",
                "kind",
                "status",
                "model_code",
                "serial",
                "fault",
                "slot_date",
                "slot_start",
                "customer_name",
                "address",
                "engineer",
            )
        },
        slot_end=SLOT_ENDS.get(row.slot_start) if row.slot_start else None,
        created_at=created,
        accepted_at=clock.from_db(row.accepted_at) if row.accepted_at else None,
        late=is_late(row.status, clock.from_db(row.updated_at), hours, now, settings),
        sla=response_sla(
            kind=row.kind,
            city=city,
            booked_at=created,
            slot=slot,
            responded_at=clock.from_db(row.responded_at) if row.responded_at else None,
            now=now,
            clock=clock,
            settings=settings,
        ),
    )


async def _station_row(conn: AsyncConnection, code: str) -> Row:
    s = tables.stations
    return (await conn.execute(select(s.c.city, s.c.hours).where(s.c.code == code))).one()


@routes.post(
    "/station/api/login",
    summary="Log in to the station console (JSON body, same-origin only)",
    body=LoginIn,
    response=Me,
    errors=(401, 403, 415, 429, 503),
)
async def login(request: web.Request, body: LoginIn) -> web.StreamResponse:
    return await accounts.sign_in(request, body, STATION)


@routes.post(
    "/station/api/logout",
    summary="Log out of the station console",
    response=LoggedOut,
    errors=(401, 403),
)
async def logout(request: web.Request, _: None) -> web.StreamResponse:
    return await accounts.sign_out(request, STATION)


@routes.get("/station/api/me", summary="Who is logged in, and their station", response=Me)
async def me(request: web.Request, _: None) -> Me:
    who: Me = await accounts.me(request, None)
    return who


@routes.get(
    "/station/api/orders",
    summary="The station's open work orders by slot, or its latest finished ones",
    query=OrdersQuery,
    response=list[OrderCard],
)
async def orders(request: web.Request, query: OrdersQuery) -> list[OrderCard]:
    code = _station(request)
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    w = tables.work_orders
    stmt = select(w).where(w.c.station_code == code)
    if query.scope == "open":
        stmt = stmt.where(w.c.status.in_(OPEN_STATUSES)).order_by(
            w.c.slot_date, w.c.slot_start, w.c.created_at
        )
    else:
        stmt = (
            stmt.where(w.c.status.notin_(OPEN_STATUSES))
            .order_by(w.c.updated_at.desc())
            .limit(DONE_LIMIT)
        )
    async with request.config_dict[DB].read() as conn:
        station = await _station_row(conn, code)
        rows = (await conn.execute(stmt)).all()
    return [_card(r, station.city, station.hours, clock, settings) for r in rows]


async def _own_order(conn: AsyncConnection, order_id: str, code: str) -> Row:
    w = tables.work_orders
    row = (await conn.execute(select(w).where(w.c.id == order_id))).one_or_none()
    # Another station's order is answered like a missing one: its existence is not this
    # station's business.
    if row is None or row.station_code != code:
        raise not_found("work_order", order_id)
    return row


async def _verdict(conn: AsyncConnection, serial: str | None, today: date) -> VerdictSummary | None:
    if not serial:
        return None
    try:
        v = await verdict_for(conn, serial, Fault(), today)
    except NotFound:
        return None
    return VerdictSummary(
        remedy=v.remedy, until=v.until, policy_title=v.policy_title, basis=v.basis
    )


async def _detail(request: web.Request, conn: AsyncConnection, order_id: str) -> OrderDetail:
    code = _station(request)
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    row = await _own_order(conn, order_id, code)
    station = await _station_row(conn, code)
    card = _card(row, station.city, station.hours, clock, settings)
    return OrderDetail(
        order=await load(conn, clock, order_id, booking_lead(request)),
        late=card.late,
        sla=card.sla,
        verdict=await _verdict(conn, row.serial, clock.today()),
        next=list(station_steps(row.status)),
        similar=await similar(conn, clock, row.model_code, row.error_code, order_id),
    )


def _order_id(request: web.Request) -> str:
    return path_param(request, "id", normalize_work_order_id, "work_order_id")


@routes.get(
    "/station/api/orders/{id}",
    summary="One of the station's work orders: handoff package, verdict, timeline, next steps",
    response=OrderDetail,
    errors=(400, 404),
)
async def show(request: web.Request, _: None) -> OrderDetail:
    async with request.config_dict[DB].read() as conn:
        return await _detail(request, conn, _order_id(request))


@routes.post(
    "/station/api/orders/{id}/steps",
    summary="Accept, assign an engineer (to the current status), or move the order along;"
    " closing needs the outcome (root cause and fix)",
    body=StepIn,
    response=OrderDetail,
    errors=(400, 404, 409),
)
async def step(request: web.Request, body: StepIn) -> OrderDetail:
    order_id = _order_id(request)
    if body.to == "closed" and body.outcome is None:
        raise Invalid(
            INVALID_BODY,
            "closing a repair needs its outcome: the root cause and the fix, coded",
            fields=[{"field": "outcome", "message": "required with to=closed"}],
        )
    staff = current(request)
    code = _station(request)
    async with request.config_dict[DB].write() as conn:
        row = await _own_order(conn, order_id, code)
        if (row.status, body.to) == REOPEN:
            raise Refused(INVALID_TRANSITION, "a station does not reopen an order; the 回访 does")
        await advance(
            conn,
            request.config_dict[CLOCK],
            order_id,
            TransitionIn(
                to=body.to,
                note=body.note,
                actor=f"station:{code}:{staff.username}"[:60],
                parts=body.parts,
                engineer=body.engineer,
                outcome=body.outcome,
            ),
        )
        return await _detail(request, conn, order_id)


class Engineers(BaseModel):
    names: list[str]


@routes.get(
    "/station/api/engineers",
    summary="Engineers who have taken this station's orders (suggestions; any name may be typed)",
    response=Engineers,
)
async def engineers(request: web.Request, _: None) -> Engineers:
    w = tables.work_orders
    async with request.config_dict[DB].read() as conn:
        names = await conn.execute(
            select(w.c.engineer)
            .where(w.c.station_code == _station(request), w.c.engineer.is_not(None))
            .distinct()
            .order_by(w.c.engineer)
        )
        return Engineers(names=[n for n in names.scalars() if n])


async def _page(_: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def _to_page(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/station/")


def add_page(app: web.Application) -> None:
    app.router.add_get("/station/", _page)
    app.router.add_get("/station", _to_page)
    app.router.add_static("/station/static/", STATIC)
