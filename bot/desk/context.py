"""The customer beside the conversation: who they are, what they own and what they asked
before, so the agent never asks again for what the service already knows.

One route, `GET /desk/api/handoffs/{id}/context`, with the reveal's audience (a supervisor for
any handoff; an agent for a conversation they hold, or held last once closed; a waiting one is
claimed first). Every phone and address in the answer is masked; the full number stays the
audited reveal (`bot.desk.reveal`).

Who "the customer" is: the chat of the conversation (its channel identity), and the phones the
customer proved in it (a matched phone check of a work order, `phone_checks`). The owner of a
proven phone is the customer of every work order booked with it, and of the conversations
those were booked in (as the bot's own lookup by phone after the proof); their devices are
those they named (the package), booked or complained about, and the devices registered to a
proven phone. A phone merely typed proves nothing, so it links nothing. The
warranty status of each device is the 三包 engine's verdict for today (`bot.warranty`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, ApiError, Routes
from bot.clock import Clock
from bot.contracts.customers import (
    ComplaintOut,
    CustomerContext,
    DeviceOut,
    OrderOut,
    PastConversation,
    Phone,
    Warranty,
)
from bot.contracts.masking import (
    mask_address,
    mask_contact,
    mask_phone,
    mask_phones_in,
    phone_digits,
)
from bot.contracts.warranty import Extension
from bot.desk.accounts import Staff, current
from bot.desk.queue import handoff_id_of, load_item, may_see, require_visible, staff_names
from bot.errors import DomainError
from bot.handoffs import holder_of
from bot.sanbao import Fault
from bot.warranty import load_device, verdict_for

routes = Routes("desk", audience="desk")

# Enough for any real customer, and a bound on what one panel may load.
MAX_ROWS = 50


def require_customer_view(staff: Staff, status: str, holder: int | None) -> None:
    """The reveal's rule: the customer behind a conversation is for whoever may call them."""
    if not may_see(staff, status, holder):
        raise ApiError(403, "not_yours", "this conversation is held by a colleague")
    if status == "waiting" and not staff.supervisor:
        raise ApiError(409, "not_holding", "claim the conversation first")


async def _conversations(
    conn: AsyncConnection, clock: Clock, staff: Staff, conversations: set[str], current_id: str
) -> list[PastConversation]:
    h, a = tables.handoffs, tables.desk_assignments
    rows = await conn.execute(
        select(h, a.c.staff_id, a.c.resolution)
        .select_from(h.outerjoin(a, a.c.handoff_id == h.c.id))
        .where(h.c.conversation_id.in_(conversations))
        .order_by(h.c.created_at.desc(), h.c.id.desc())
        .limit(MAX_ROWS)
    )
    names = await staff_names(conn)
    out = []
    for r in rows:
        holder = holder_of(r.status, r.staff_id)
        out.append(
            PastConversation(
                id=r.id,
                channel=r.channel,
                reason=r.reason,
                status=r.status,
                holder=names.get(holder) if holder else None,
                resolution=r.resolution,
                created_at=clock.from_db(r.created_at),
                current=r.id == current_id,
                openable=may_see(staff, r.status, holder),
            )
        )
    return out


async def _proven_orders(conn: AsyncConnection, conversation: str) -> set[str]:
    p = tables.phone_checks
    rows = await conn.execute(
        select(p.c.work_order_id).where(p.c.conversation_id == conversation, p.c.matched.is_(True))
    )
    return {r.work_order_id for r in rows}


async def _orders(conn: AsyncConnection, conversation: str, ids: set[str]) -> list[Any]:
    w = tables.work_orders
    match = w.c.conversation_id == conversation
    if ids:
        match = or_(match, w.c.id.in_(ids))
    return list(
        await conn.execute(
            select(w).where(match).order_by(w.c.created_at.desc(), w.c.id.desc()).limit(MAX_ROWS)
        )
    )


async def _with_phones(conn: AsyncConnection, key: Any, phone: Any, phones: set[str]) -> list[Any]:
    """The `key`s of rows whose `phone` is one of these numbers (digits)."""
    if not phones:
        return []
    # Stored as entered: compare digits, after a cheap filter on the last four.
    tails = {p[-4:] for p in phones}
    rows = await conn.execute(
        select(key.label("key"), phone.label("phone"))
        .where(or_(*(phone.like(f"%{t}") for t in tails)))
        .limit(MAX_ROWS * 4)
    )
    return [r.key for r in rows if r.phone and phone_digits(r.phone) in phones]


async def _warranty(conn: AsyncConnection, serial: str, today: date) -> Warranty:
    try:
        v = await verdict_for(conn, serial, Fault(), today)
    except DomainError as exc:
        return Warranty(problem=str(exc))
    return Warranty(
        remedy=v.remedy,
        until=v.until,
        basis=v.basis,
        policy_title=v.policy_title,
        coverage=v.coverage,
    )


async def _device(conn: AsyncConnection, serial: str, today: date) -> DeviceOut:
    try:
        device = await load_device(conn, serial)
    except DomainError:
        return DeviceOut(serial=serial, known=False)
    e = tables.warranty_extensions
    extensions = await conn.execute(
        select(e).where(e.c.serial == serial).order_by(e.c.starts_on, e.c.id)
    )
    return DeviceOut(
        serial=serial,
        known=True,
        model_code=device.model_code,
        model_name=device.model_name,
        invoice_date=device.invoice_date,
        extended_until=device.extended_until,
        warranty=await _warranty(conn, serial, today),
        extensions=[Extension.parse_obj(dict(x._mapping)) for x in extensions],
        repairs=device.repairs,
    )


async def _complaints(
    conn: AsyncConnection, conversations: set[str], ids: set[str], orders: set[str]
) -> list[Any]:
    c = tables.complaints
    match = [c.c.conversation_id.in_(conversations)]
    if ids:
        match.append(c.c.id.in_(ids))
    if orders:
        match.append(c.c.work_order_id.in_(orders))
    return list(
        await conn.execute(
            select(c).where(or_(*match)).order_by(c.c.created_at.desc()).limit(MAX_ROWS)
        )
    )


@routes.get(
    "/desk/api/handoffs/{id}/context",
    summary="The customer of a conversation: identity, devices with warranty, orders, history",
    response=CustomerContext,
    errors=(400, 401, 403, 404, 409),
)
async def customer_context(request: web.Request, _: None) -> CustomerContext:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    h = tables.handoffs
    async with request.config_dict[DB].read() as conn:
        item = await load_item(conn, clock, handoff_id)
        require_visible(staff, item)
        require_customer_view(staff, item.status, item.holder_id)
        row = (await conn.execute(select(h).where(h.c.id == handoff_id))).one()
        package = dict(row.package or {})
        proven = await _proven_orders(conn, item.conversation_id)
        proven_phones = {
            phone_digits(o.phone)
            for o in await _orders(conn, item.conversation_id, proven)
            if o.id in proven and o.phone
        }
        # The owner of a proven phone is the customer of every order booked with it, and of
        # the conversations those orders were booked in (as the bot's lookup by phone).
        w, d = tables.work_orders, tables.devices
        theirs = proven | set(await _with_phones(conn, w.c.id, w.c.phone, proven_phones))
        orders = await _orders(conn, item.conversation_id, theirs)
        linked = {item.conversation_id} | {
            o.conversation_id for o in orders if o.id in theirs and o.conversation_id
        }
        conversations = await _conversations(conn, clock, staff, linked, item.id)
        complaint_ids = {
            str(r.complaint_id)
            for r in await conn.execute(
                select(h.c.complaint_id).where(
                    h.c.conversation_id.in_(linked), h.c.complaint_id.is_not(None)
                )
            )
        }
        complaints = await _complaints(conn, linked, complaint_ids, {o.id for o in orders})
        serials: list[str] = []
        named = [
            package.get("serial"),
            *(o.serial for o in orders),
            *(c.serial for c in complaints),
        ]
        registered = await _with_phones(conn, d.c.serial, d.c.customer_phone, proven_phones)
        for serial in [*named, *registered]:
            if serial and str(serial).upper() not in serials:
                serials.append(str(serial).upper())
        devices = [await _device(conn, s, clock.today()) for s in serials[:MAX_ROWS]]
    phones = [Phone(masked=mask_contact(package.get("contact")) or "", source="contact")]
    if item.callback_phone:
        phones.append(Phone(masked=item.callback_phone, source="callback"))
    phones += [Phone(masked=mask_phone(p), source="proven") for p in sorted(proven_phones)]
    return CustomerContext(
        handoff_id=item.id,
        channel=item.channel,
        identity=item.conversation_id,
        customer_name=package.get("customer_name"),
        phones=[p for p in phones if p.masked],
        conversations=conversations,
        devices=devices,
        work_orders=[
            OrderOut(
                id=o.id,
                kind=o.kind,
                status=o.status,
                serial=o.serial,
                station_code=o.station_code,
                slot_date=o.slot_date,
                slot_start=o.slot_start,
                fault=mask_phones_in(o.fault),
                phone=mask_phone(o.phone) if o.phone else None,
                address=mask_address(o.address) if o.address else None,
                created_at=clock.from_db(o.created_at),
            )
            for o in orders
        ],
        complaints=[
            ComplaintOut(
                id=c.id,
                severity=c.severity,
                status=c.status,
                text=mask_phones_in(c.text),
                work_order_id=c.work_order_id,
                created_at=clock.from_db(c.created_at),
            )
            for c in complaints
        ],
    )
