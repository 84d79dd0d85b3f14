"""Work orders: booking a repair into a station slot, its life cycle, reschedule, cancel, rating.

Over 350 lines on purpose: the work order's whole life cycle (book, reschedule, cancel,
advance, rate) with its one lock discipline in one place.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import outbox, tables
from bot.api import CLOCK, DB, SETTINGS, Reply, Routes, idempotency_key, path_param
from bot.catalogue import model_category
from bot.clock import Clock
from bot.complaints import open_complaint
from bot.contracts.errors import (
    ALREADY_RATED,
    CATEGORY_NOT_SERVED,
    INVALID_QUERY,
    INVALID_SERIAL,
    INVALID_TRANSITION,
    NO_PHONE_ON_RECORD,
    NOT_CHANGEABLE,
    NOT_CLOSED,
    PHONE_CHECK_LOCKED,
    PHONE_TRIES_USED,
    RATING_EXPIRED,
    SAME_SLOT,
    SERVICE_NOT_OFFERED,
    SLOT_FULL,
    SLOT_UNAVAILABLE,
    TOO_LATE,
    TOO_MANY_RESCHEDULES,
    UNKNOWN_MODEL,
)
from bot.contracts.ids import (
    SERIAL_SHAPE,
    WORK_ORDER_PREFIX,
    normalize_serial,
    normalize_work_order_id,
)
from bot.contracts.masking import phone_digits
from bot.contracts.rules import (
    CHANGEABLE,
    MAX_RESCHEDULES,
    PHONE_LOCK_FAILURES,
    PHONE_LOCK_SECONDS,
    PHONE_TRIES,
    RESPONDED,
    SLOT_ENDS,
    TRANSITIONS,
)
from bot.contracts.workorders import (
    CancelIn,
    CreateIn,
    Event,
    ListQuery,
    PhoneCheck,
    PhoneCheckIn,
    PhoneLookupIn,
    RatingIn,
    RescheduleIn,
    StationRef,
    TransitionIn,
    WorkOrder,
)
from bot.db import replayed
from bot.errors import Invalid, Refused, canonical, not_found
from bot.sequences import next_id
from bot.settings import Settings
from bot.station.learning import record_outcome
from bot.stations import get_station, release_slot, reserve_slot, slot_problem

routes = Routes("workorders")


async def load(conn: AsyncConnection, clock: Clock, order_id: str, lead: timedelta) -> WorkOrder:
    w, s, ev = tables.work_orders, tables.stations, tables.work_order_events
    row = (
        await conn.execute(
            select(
                w,
                s.c.name.label("station_name"),
                s.c.address.label("station_address"),
                s.c.phone.label("station_phone"),
            )
            .join(s, s.c.code == w.c.station_code)
            .where(w.c.id == order_id)
        )
    ).one_or_none()
    if row is None:
        raise not_found("work_order", order_id)
    events = await conn.execute(select(ev).where(ev.c.work_order_id == order_id).order_by(ev.c.id))
    return _build(
        row,
        [
            Event(
                at=clock.from_db(e.at),
                status=e.status,
                note=e.note,
                actor=e.actor,
                parts=e.parts or [],
            )
            for e in events
        ],
        clock,
        lead,
    )


def _build(row: Row, timeline: list[Event], clock: Clock, lead: timedelta) -> WorkOrder:
    changeable = row.status in CHANGEABLE
    in_time = (
        row.slot_date is None or clock.local(row.slot_date, row.slot_start) >= clock.now() + lead
    )
    return WorkOrder(
        **{
            k: row._mapping[k]
            for k in (
                "id",
                "kind",
                "status",
                "serial",
                "model_code",
                "fault",
                "error_code",
                "steps_tried",
                "slot_date",
                "slot_start",
                "customer_name",
                "phone",
                "address",
                "conversation_id",
                "channel",
                "reschedule_count",
                "rating",
                "rating_comment",
                "engineer",
            )
        },
        accepted_at=clock.from_db(row.accepted_at) if row.accepted_at else None,
        station=StationRef(
            code=row.station_code,
            name=row.station_name,
            address=row.station_address,
            phone=row.station_phone,
        ),
        slot_end=SLOT_ENDS.get(row.slot_start) if row.slot_start else None,
        created_at=clock.from_db(row.created_at),
        updated_at=clock.from_db(row.updated_at),
        can_cancel=changeable,
        can_reschedule=changeable and in_time and row.reschedule_count < MAX_RESCHEDULES,
        timeline=timeline,
    )


async def _event(
    conn: AsyncConnection,
    order_id: str,
    at: datetime,
    status: str,
    note: str,
    actor: str,
    parts: list[str] | None = None,
) -> None:
    await conn.execute(
        tables.work_order_events.insert().values(
            work_order_id=order_id,
            at=at,
            status=status,
            note=note,
            actor=actor,
            parts=parts or None,
        )
    )


def _order_id(request: web.Request) -> str:
    return path_param(request, "id", normalize_work_order_id, "work_order_id")


def booking_lead(request: web.Request) -> timedelta:
    return timedelta(minutes=request.config_dict[SETTINGS].booking_lead_minutes)


async def _take_slot(
    conn: AsyncConnection,
    clock: Clock,
    settings: Settings,
    station_code: str,
    day: date,
    start: str,
    *,
    kind: str,
    category: str | None,
) -> None:
    station = await get_station(conn, station_code)
    if kind not in station.services:
        raise Refused(SERVICE_NOT_OFFERED, f"station {station.code} does not offer {kind}")
    if category is not None and category not in station.categories:
        raise Refused(CATEGORY_NOT_SERVED, f"station {station.code} does not repair {category}")
    lead = timedelta(minutes=settings.booking_lead_minutes)
    problem = slot_problem(station, day, start, clock, lead, settings.booking_horizon_days)
    if problem is not None:
        raise Refused(SLOT_UNAVAILABLE, problem)
    if not await reserve_slot(conn, station, day, start):
        raise Refused(SLOT_FULL, f"the slot {day} {start} at {station.code} is fully booked")


async def book(
    conn: AsyncConnection, clock: Clock, settings: Settings, body: CreateIn, key: str | None = None
) -> tuple[str, bool]:
    """Create a work order in a free slot; returns its id and whether it was created now."""
    w = tables.work_orders
    serial = None
    if body.serial:
        serial = canonical(body.serial, normalize_serial, "serial", INVALID_SERIAL, SERIAL_SHAPE)
    if (row := await replayed(conn, w, key)) is not None:
        return row.id, False
    model_code = body.model_code
    if serial:
        model_code = await conn.scalar(
            select(tables.devices.c.model_code).where(tables.devices.c.serial == serial)
        )
        if model_code is None:
            raise not_found("device", serial)
    category = await model_category(conn, model_code) if model_code else None
    if model_code and category is None:
        raise Invalid(UNKNOWN_MODEL, f"no model {model_code!r} in the catalogue")
    station_code = body.station_code.upper()
    await _take_slot(
        conn,
        clock,
        settings,
        station_code,
        body.slot_date,
        body.slot_start,
        kind=body.kind,
        category=category,
    )
    now = clock.to_db(clock.now())
    order_id = await next_id(conn, WORK_ORDER_PREFIX, clock.today())
    await conn.execute(
        w.insert().values(
            **body.dict(exclude={"serial", "model_code", "station_code"}),
            id=order_id,
            serial=serial,
            model_code=model_code,
            station_code=station_code,
            status="scheduled",
            reschedule_count=0,
            idempotency_key=key,
            created_at=now,
            updated_at=now,
        )
    )
    actor = f"customer:{body.channel}" if body.channel else "customer"
    await _event(conn, order_id, now, "created", body.fault, actor)
    await _event(
        conn,
        order_id,
        now,
        "scheduled",
        f"{body.slot_date} {body.slot_start} {station_code}",
        actor,
    )
    return order_id, True


@routes.post(
    "/api/workorders",
    summary="Book a repair: creates a work order in a free slot",
    body=CreateIn,
    response=WorkOrder,
    status=201,
    errors=(404, 409),
)
async def create(request: web.Request, body: CreateIn) -> Reply:
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    async with request.config_dict[DB].write() as conn:
        order_id, created = await book(conn, clock, settings, body, idempotency_key(request))
        return Reply(
            await load(conn, clock, order_id, booking_lead(request)), 201 if created else 200
        )


@routes.get(
    "/api/workorders/{id}",
    summary="A work order with its timeline",
    response=WorkOrder,
    errors=(400, 404),
)
async def show(request: web.Request, _: None) -> WorkOrder:
    async with request.config_dict[DB].read() as conn:
        return await load(
            conn, request.config_dict[CLOCK], _order_id(request), booking_lead(request)
        )


@routes.get(
    "/api/workorders",
    summary="Work orders of a serial number or a conversation, newest first",
    query=ListQuery,
    response=list[WorkOrder],
)
async def search(request: web.Request, query: ListQuery) -> list[WorkOrder]:
    w = tables.work_orders
    stmt = select(w.c.id).order_by(w.c.created_at.desc(), w.c.id.desc()).limit(20)
    if query.serial:
        serial = canonical(query.serial, normalize_serial, "serial", INVALID_SERIAL, SERIAL_SHAPE)
        stmt = stmt.where(w.c.serial == serial)
    elif query.conversation_id:
        stmt = stmt.where(w.c.conversation_id == query.conversation_id)
    else:
        raise Invalid(INVALID_QUERY, "give serial or conversation_id")
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].read() as conn:
        ids = (await conn.execute(stmt)).scalars().all()
        return [await load(conn, clock, i, booking_lead(request)) for i in ids]


async def _locked(conn: AsyncConnection, order_id: str) -> Row:
    w = tables.work_orders
    stmt = select(w).where(w.c.id == order_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).one_or_none()
    if row is None:
        raise not_found("work_order", order_id)
    return row


@routes.post(
    "/api/workorders/{id}/reschedule",
    summary="Move a booking to another slot",
    body=RescheduleIn,
    response=WorkOrder,
    errors=(400, 404, 409),
)
async def reschedule(request: web.Request, body: RescheduleIn) -> WorkOrder:
    clock = request.config_dict[CLOCK]
    order_id = _order_id(request)
    async with request.config_dict[DB].write() as conn:
        row = await _locked(conn, order_id)
        if row.status not in CHANGEABLE:
            raise Refused(NOT_CHANGEABLE, f"a {row.status} work order cannot be rescheduled")
        if row.reschedule_count >= MAX_RESCHEDULES:
            raise Refused(TOO_MANY_RESCHEDULES, f"a booking can be moved {MAX_RESCHEDULES} times")
        if row.slot_date and clock.local(
            row.slot_date, row.slot_start
        ) < clock.now() + booking_lead(request):
            raise Refused(TOO_LATE, "the current slot starts too soon to be moved")
        station_code = (body.station_code or row.station_code).upper()
        if (station_code, body.slot_date, body.slot_start) == (
            row.station_code,
            row.slot_date,
            row.slot_start,
        ):
            raise Refused(SAME_SLOT, "the work order is already in that slot")
        category = await model_category(conn, row.model_code) if row.model_code else None
        await _take_slot(
            conn,
            clock,
            request.config_dict[SETTINGS],
            station_code,
            body.slot_date,
            body.slot_start,
            kind=row.kind,
            category=category,
        )
        if row.slot_date:
            await release_slot(conn, row.station_code, row.slot_date, row.slot_start)
        await advance(
            conn,
            clock,
            order_id,
            TransitionIn(
                to="scheduled",
                note=f"rescheduled to {body.slot_date} {body.slot_start} {station_code}",
                actor="customer",
            ),
            moved_to=Move(station_code, body.slot_date, body.slot_start),
        )
        return await load(conn, clock, order_id, booking_lead(request))


@routes.post(
    "/api/workorders/{id}/cancel",
    summary="Cancel a booking and free its slot",
    body=CancelIn,
    response=WorkOrder,
    errors=(400, 404, 409),
)
async def cancel(request: web.Request, body: CancelIn) -> WorkOrder:
    clock = request.config_dict[CLOCK]
    order_id = _order_id(request)
    async with request.config_dict[DB].write() as conn:
        row = await _locked(conn, order_id)
        if row.status == "cancelled":
            return await load(conn, clock, order_id, booking_lead(request))
        if row.status not in CHANGEABLE:
            raise Refused(NOT_CHANGEABLE, f"a {row.status} work order cannot be cancelled")
        await advance(
            conn, clock, order_id, TransitionIn(to="cancelled", note=body.reason, actor="customer")
        )
        return await load(conn, clock, order_id, booking_lead(request))


@routes.post(
    "/api/workorders/{id}/transitions",
    summary="Move a work order along its life cycle (staff)",
    body=TransitionIn,
    response=WorkOrder,
    errors=(400, 404, 409),
    audience="staff",
)
async def transition(request: web.Request, body: TransitionIn) -> WorkOrder:
    clock = request.config_dict[CLOCK]
    order_id = _order_id(request)
    async with request.config_dict[DB].write() as conn:
        await advance(conn, clock, order_id, body)
        return await load(conn, clock, order_id, booking_lead(request))


@dataclass(frozen=True)
class Move:
    """Where a rescheduled order goes (its new slot is reserved by the caller)."""

    station_code: str
    slot_date: date
    slot_start: str


async def advance(
    conn: AsyncConnection,
    clock: Clock,
    order_id: str,
    body: TransitionIn,
    *,
    moved_to: Move | None = None,
) -> None:
    """The one writer of a work order's status and timeline once it is booked.

    A life-cycle step (TRANSITIONS), an engineer (re)assigned without a step (`to` the
    current status with `engineer`), a customer's cancel and a reschedule (`moved_to`, checked
    by the caller) all come here, so whatever must happen on every change (a notification to
    the customer, say) is written once, in this transaction. A repair lands in the device's
    history for the 三包 rules; a close with its outcome feeds the fault-case base.
    """
    row = await _locked(conn, order_id)
    reassign = body.to == row.status and body.engineer is not None
    if moved_to is None and not reassign and body.to not in TRANSITIONS[row.status]:
        allowed = ", ".join(TRANSITIONS[row.status]) or "none"
        raise Refused(
            INVALID_TRANSITION, f"{row.status} cannot go to {body.to}; allowed: {allowed}"
        )
    now = clock.to_db(clock.now())
    values: dict[str, Any] = {"status": body.to, "updated_at": now}
    if body.engineer is not None:
        values["engineer"] = body.engineer
    if body.to == "accepted":
        values["accepted_at"] = now
    if body.to in RESPONDED and row.kind == "on_site" and row.responded_at is None:
        values["responded_at"] = now
    if moved_to is not None:
        # Back in the queue: the (maybe other) station accepts the new slot afresh.
        values |= {
            "station_code": moved_to.station_code,
            "slot_date": moved_to.slot_date,
            "slot_start": moved_to.slot_start,
            "reschedule_count": row.reschedule_count + 1,
            "accepted_at": None,
        }
    if body.to == "cancelled" and row.slot_date:
        await release_slot(conn, row.station_code, row.slot_date, row.slot_start)
    if body.to == "repaired" and row.serial:
        await conn.execute(
            tables.repairs.insert().values(
                serial=row.serial,
                repaired_on=clock.today(),
                part=body.part or (body.parts[0] if body.parts else None),
                fault=row.fault,
                work_order_id=order_id,
                note=body.note,
            )
        )
    if body.to == "closed" and body.outcome is not None:
        await record_outcome(conn, row, body.outcome, body.parts, body.note, now)
    await conn.execute(
        tables.work_orders.update().where(tables.work_orders.c.id == order_id).values(**values)
    )
    note = body.note
    if reassign:
        note = f"engineer: {body.engineer}" + (f"; {note}" if note else "")
    await _event(conn, order_id, now, body.to, note, body.actor, body.parts)
    if not reassign:  # a new engineer is the station's business, not news for the customer
        event = "rescheduled" if moved_to is not None else body.to
        await outbox.status_changed(conn, clock, row, event, body.note, body.actor)


# A rating this low or lower opens a complaint for a supervisor (the "2 or less").
LOW_RATING = 2


@routes.post(
    "/api/workorders/{id}/rating",
    summary="Satisfaction rating (1-5) once the order is closed",
    body=RatingIn,
    response=WorkOrder,
    errors=(400, 404, 409),
)
async def rate(request: web.Request, body: RatingIn) -> WorkOrder:
    clock = request.config_dict[CLOCK]
    order_id = _order_id(request)
    async with request.config_dict[DB].write() as conn:
        row = await _locked(conn, order_id)
        if row.status != "closed":
            raise Refused(NOT_CLOSED, "a work order can be rated once it is closed")
        if row.rating is not None:
            raise Refused(ALREADY_RATED, "this work order has been rated already")
        now = clock.to_db(clock.now())
        closed_at = await outbox.closed_at(conn, order_id)
        expiry = timedelta(days=request.config_dict[SETTINGS].outbox.csat_expiry_days)
        if closed_at is not None and now > closed_at + expiry:
            raise Refused(RATING_EXPIRED, "the survey of this work order has expired")
        await conn.execute(
            tables.work_orders.update()
            .where(tables.work_orders.c.id == order_id)
            .values(rating=body.score, rating_comment=body.comment, rated_at=now, updated_at=now)
        )
        await _event(conn, order_id, now, "closed", f"rated {body.score}/5", "customer")
        if body.score <= LOW_RATING:
            # Here, not in the bot's action: a rating from any client (the survey's buttons,
            # an integration) is followed up by a supervisor, in the rating's transaction.
            await open_complaint(
                conn,
                clock,
                request.config_dict[SETTINGS].complaints,
                text=f"rating {body.score}/5: {body.comment}".strip().rstrip(":"),
                severity="medium",
                conversation_id=row.conversation_id,
                channel=row.channel,
                serial=row.serial,
                work_order_id=order_id,
                contact=row.phone,
            )
        return await load(conn, clock, order_id, booking_lead(request))


def phone_matches(phone: str, given: str) -> bool:
    """The last four digits, the whole number, or a landline's number without its area code."""
    digits, given = phone_digits(phone), phone_digits(given)
    # Bytes: compare_digest refuses non-ASCII strings, and other scripts' digits (٣, ४) are
    # \d too; they simply do not match.
    if len(given) == 4:
        return hmac.compare_digest(digits[-4:].encode(), given.encode())
    return len(given) >= 7 and hmac.compare_digest(digits[-len(given) :].encode(), given.encode())


@routes.post(
    "/api/workorders/{id}/verify-phone",
    summary="Check the phone a customer gives against the work order's, without revealing it",
    body=PhoneCheckIn,
    response=PhoneCheck,
    errors=(400, 404, 409),
)
async def verify_phone(request: web.Request, body: PhoneCheckIn) -> PhoneCheck:
    """A customer proves an order is theirs. Every check is recorded: a conversation has
    PHONE_TRIES tries on an order, and PHONE_LOCK_FAILURES failures on one order from all
    conversations within PHONE_LOCK_SECONDS lock its check (409 phone_check_locked, with
    retry_after), so that 10,000 combinations cannot be tried through many conversations."""
    clock = request.config_dict[CLOCK]
    order_id = _order_id(request)
    p = tables.phone_checks
    async with request.config_dict[DB].write() as conn:
        # Locked (on PostgreSQL) so that concurrent guesses on one order are counted in turn.
        row = await _locked(conn, order_id)
        if not row.phone:
            raise Refused(NO_PHONE_ON_RECORD, f"work order {order_id} has no phone to check")
        now = clock.now()
        window = timedelta(seconds=PHONE_LOCK_SECONDS)
        failures = (
            (
                await conn.execute(
                    select(p.c.at)
                    .where(
                        p.c.work_order_id == order_id,
                        p.c.matched.is_(False),
                        p.c.at > clock.to_db(now - window),
                    )
                    .order_by(p.c.at.desc())
                    .limit(PHONE_LOCK_FAILURES)
                )
            )
            .scalars()
            .all()
        )
        if len(failures) >= PHONE_LOCK_FAILURES:
            opens = clock.from_db(failures[-1]) + window
            retry_after = max(1, int((opens - now).total_seconds()) + 1)
            raise Refused(
                PHONE_CHECK_LOCKED,
                f"too many failed phone checks on {order_id}; retry later",
                extra={"retry_after": retry_after},
            )
        mine = await conn.scalar(
            select(func.count()).where(
                p.c.work_order_id == order_id,
                p.c.conversation_id == body.conversation_id,
                p.c.matched.is_(False),
            )
        )
        if (mine or 0) >= PHONE_TRIES:
            raise Refused(PHONE_TRIES_USED, f"this conversation has used its tries on {order_id}")
        matched = phone_matches(row.phone, body.digits)
        await conn.execute(
            p.insert().values(
                work_order_id=order_id,
                conversation_id=body.conversation_id,
                matched=matched,
                at=clock.to_db(now),
            )
        )
        failed = (mine or 0) + (0 if matched else 1)
        return PhoneCheck(matched=matched, tries_left=max(0, PHONE_TRIES - failed))


@routes.post(
    "/api/workorders/by-phone",
    summary="Work orders booked with a phone number, newest first (for its owner)",
    body=PhoneLookupIn,
    response=list[WorkOrder],
    errors=(422,),
)
async def by_phone(request: web.Request, body: PhoneLookupIn) -> list[WorkOrder]:
    """A POST, so that the number stays out of URLs and access logs."""
    w = tables.work_orders
    wanted = phone_digits(body.phone)
    if len(wanted) < 7:
        raise Invalid(
            INVALID_QUERY,
            "give the whole phone number",
            fields=[{"field": "phone", "message": "the whole number"}],
        )
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].read() as conn:
        rows = await conn.execute(
            select(w.c.id, w.c.phone)
            .where(w.c.phone.like(f"%{wanted[-4:]}"))
            .order_by(w.c.created_at.desc(), w.c.id.desc())
        )
        ids = [r.id for r in rows if r.phone and phone_digits(r.phone) == wanted][:20]
        return [await load(conn, clock, i, booking_lead(request)) for i in ids]
