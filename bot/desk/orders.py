"""The desk's work-order tools: a booking form filled in from what the customer already told
(the handoff package, then the conversation's slots), the stations and free slots to choose
from (the same availability the bot offers), and the customer's orders with the steps each
may take next, so an agent never retypes an id.

Phones and addresses reach the page masked, as everywhere at the desk; a booking made with
the number or address on file says so (`phone_on_file`, `address_on_file`) and the backend
puts in the real one, so the agent books a visit without revealing the number.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes, parse_model
from bot.contracts.base import Query
from bot.contracts.masking import mask_address, mask_phone, phone_digits
from bot.contracts.rules import TRANSITIONS
from bot.contracts.stations import Slot
from bot.contracts.workorders import CreateIn
from bot.desk.accounts import current
from bot.desk.queue import Item, handoff_id_of, load_item, require_visible
from bot.desk.rasa import RASA
from bot.stations import free_slots, get_station

routes = Routes("desk", audience="desk")
_KINDS = ("on_site", "drop_off", "remote")

# Steps an agent may take on a customer's order from the desk (a reopen is the customer's).
_DESK_STEPS = {
    status: tuple(to for to in steps if to != "created") for status, steps in TRANSITIONS.items()
}


class StationChoice(BaseModel):
    code: str
    name: str
    city: str
    district: str
    address: str
    phone: str
    hours: str
    services: list[str]


class Draft(BaseModel):
    """The booking form as the agent first sees it."""

    kind: str
    serial: str | None
    model_code: str | None
    category: str | None
    fault: str | None
    steps_tried: list[str]
    customer_name: str | None
    city: str | None
    phone_masked: str | None = Field(description="the number on file, masked")
    address_masked: str | None = Field(description="the address on file, masked")
    station_code: str | None
    stations: list[StationChoice]


def _slot_values(tracker: dict[str, Any]) -> dict[str, Any]:
    """The conversation's slots that hold a value: the tracker's current `slots`, or failing
    those, the last value each `slot` event set."""
    slots: dict[str, Any] = {}
    for event in tracker.get("events") or []:
        if event.get("event") == "slot" and event.get("name"):
            slots[event["name"]] = event.get("value")
    slots.update(tracker.get("slots") or {})
    return {k: v for k, v in slots.items() if v not in (None, "", [])}


async def _conversation_slots(request: web.Request, conversation: str) -> dict[str, Any]:
    """What the bot gathered in the conversation; nothing when the assistant is down."""
    try:
        return _slot_values(await request.app[RASA].tracker(conversation))
    except ApiError:
        return {}


async def on_file(
    conn: AsyncConnection, item: Item, slots: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The customer's phone and address as given: the package's contact, the callback number,
    then the conversation's slots. Unmasked: for the booking only, never for the page."""
    h, a = tables.handoffs, tables.desk_assignments
    package = await conn.scalar(select(h.c.package).where(h.c.id == item.id)) or {}
    callback = await conn.scalar(select(a.c.callback_phone).where(a.c.handoff_id == item.id))
    phone = None
    for raw in (package.get("contact"), callback, slots.get("phone")):
        digits = phone_digits(str(raw or ""))
        if len(digits) >= 7:
            phone = digits
            break
    address = slots.get("address")
    return phone, str(address) if address else None


async def _category(conn: AsyncConnection, model: str | None) -> str | None:
    if not model:
        return None
    m = tables.models
    found = await conn.scalar(select(m.c.category).where(m.c.code == model))
    return str(found) if found else None


async def _stations(
    conn: AsyncConnection, category: str | None, city: str | None, kind: str
) -> list[StationChoice]:
    """Stations that repair this category and offer this kind of service, the customer's city
    first."""
    s = tables.stations
    rows = await conn.execute(select(s).where(s.c.daily_capacity > 0).order_by(s.c.code))
    found = [
        StationChoice.parse_obj(r._mapping)
        for r in rows
        if (category is None or category in r.categories)
        and (kind not in ("on_site", "drop_off") or kind in r.services)
    ]
    return sorted(found, key=lambda st: (city is None or st.city != city, st.code))


@routes.get(
    "/desk/api/handoffs/{id}/booking",
    summary="The booking form filled in from the package and the conversation, with stations",
    response=Draft,
    errors=(400, 401, 403, 404),
)
async def booking_draft(request: web.Request, _: None) -> Draft:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    async with request.config_dict[DB].read() as conn:
        item = await load_item(conn, clock, handoff_id)
        require_visible(staff, item)
    slots = await _conversation_slots(request, item.conversation_id)
    p = item.package
    model = p.get("model_code") or slots.get("device_model") or slots.get("model")
    kind = str(slots["repair_kind"]) if slots.get("repair_kind") in _KINDS else "drop_off"
    async with request.config_dict[DB].read() as conn:
        phone, address = await on_file(conn, item, slots)
        category = await _category(conn, model)
        city = slots.get("city")
        stations = await _stations(conn, category, city, kind)
    return Draft(
        kind=kind,
        serial=p.get("serial") or slots.get("serial_number"),
        model_code=model,
        category=category,
        fault=p.get("fault") or slots.get("fault"),
        steps_tried=list(p.get("steps_tried") or []),
        customer_name=p.get("customer_name"),
        city=city,
        phone_masked=mask_phone(phone) if phone else None,
        address_masked=mask_address(address) if address else None,
        station_code=slots.get("station_code"),
        stations=stations,
    )


class SlotQuery(Query):
    start: date | None = None
    days: int = Field(7, ge=1, le=14)


@routes.get(
    "/desk/api/stations/{code}/slots",
    summary="A station's repair slots with free places (as the bot offers them)",
    query=SlotQuery,
    response=list[Slot],
    errors=(401, 403, 404),
)
async def station_slots(request: web.Request, query: SlotQuery) -> list[Slot]:
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    first = max(query.start or clock.today(), clock.today())
    async with request.config_dict[DB].read() as conn:
        station = await get_station(conn, request.match_info["code"])
        if station.daily_capacity <= 0:
            return []
        if first > clock.today() + timedelta(days=settings.booking_horizon_days):
            return []
        slots = await free_slots(
            conn,
            station,
            first,
            query.days,
            clock,
            timedelta(minutes=settings.booking_lead_minutes),
            settings.booking_horizon_days,
        )
    return [slot for slot in slots if slot.free > 0]


class OrderLine(BaseModel):
    id: str
    status: str
    kind: str
    station_code: str
    slot_date: date | None
    slot_start: str | None
    next: list[str] = Field(description="the statuses the agent may move it to")


@routes.get(
    "/desk/api/handoffs/{id}/workorders",
    summary="The work orders of this conversation's customer, with their possible next steps",
    response=list[OrderLine],
    errors=(400, 401, 403, 404),
)
async def customer_orders(request: web.Request, _: None) -> list[OrderLine]:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    w = tables.work_orders
    async with request.config_dict[DB].read() as conn:
        item = await load_item(conn, clock, handoff_id)
        require_visible(staff, item)
        rows = list(
            await conn.execute(
                select(w)
                .where(w.c.conversation_id == item.conversation_id)
                .order_by(w.c.created_at.desc(), w.c.id.desc())
            )
        )
    return [
        OrderLine(
            id=r.id,
            status=r.status,
            kind=r.kind,
            station_code=r.station_code,
            slot_date=r.slot_date,
            slot_start=r.slot_start,
            next=list(_DESK_STEPS.get(r.status, ())),
        )
        for r in rows
    ]


async def fill_on_file(request: web.Request, item: Item, body: CreateIn) -> CreateIn:
    """The booking with the phone and address on file put in where the agent asked for them,
    checked as any booking is (an on-site visit needs both)."""
    values = body.dict()
    wants_phone = values.pop("phone_on_file", False) and not body.phone
    wants_address = values.pop("address_on_file", False) and not body.address
    if wants_phone or wants_address:
        slots = await _conversation_slots(request, item.conversation_id)
        async with request.config_dict[DB].read() as conn:
            phone, address = await on_file(conn, item, slots)
        if wants_phone:
            values["phone"] = phone
        if wants_address:
            values["address"] = address
    return parse_model(CreateIn, values, where="body")
