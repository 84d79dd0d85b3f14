"""Complaints: recorded with severity, linked to conversation and work order, tracked to closure.

The internal API here (the assistant records, staff tools move); the escalation, due times
and customer notices are in `bot.complaints.escalation`, the desk's panel in
`bot.complaints.desk`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import (
    CLOCK,
    DB,
    SETTINGS,
    Reply,
    Routes,
    fetch_one,
    from_row,
    idempotency_key,
    path_param,
)
from bot.clock import Clock
from bot.complaints import escalation
from bot.contracts.complaints import Complaint, ComplaintIn, ComplaintQuery, ComplaintUpdate
from bot.contracts.errors import (
    INVALID_BODY,
    INVALID_TRANSITION,
    RESOLUTION_NEEDED,
    REVIEW_NEEDED,
)
from bot.contracts.ids import (
    COMPLAINT_PREFIX,
    normalize_daily_id,
    normalize_serial,
    normalize_work_order_id,
)
from bot.db import replayed
from bot.errors import Refused, canonical
from bot.sequences import next_id
from bot.settings import ComplaintSettings

routes = Routes("complaints")

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "resolved", "closed"),
    "in_progress": ("resolved", "closed"),
    "resolved": ("closed", "in_progress"),
    "closed": (),
}


TIMES = ("created_at", "updated_at", "due_at", "closed_at")


def _out(row: Any, clock: Clock) -> Complaint:
    return from_row(Complaint, row, clock, *TIMES)


def _optional_id(raw: str | None, normalize: Any, field: str) -> str | None:
    if not raw:
        return None
    return canonical(raw, normalize, field, INVALID_BODY, f"a valid {field}")


@routes.post(
    "/api/complaints",
    summary="Record a complaint",
    body=ComplaintIn,
    response=Complaint,
    status=201,
)
async def create(request: web.Request, body: ComplaintIn) -> Complaint | Reply:
    clock = request.config_dict[CLOCK]
    key = idempotency_key(request)
    c = tables.complaints
    values = {
        **body.dict(),
        "serial": _optional_id(body.serial, normalize_serial, "serial"),
        "work_order_id": _optional_id(body.work_order_id, normalize_work_order_id, "work_order_id"),
    }
    async with request.config_dict[DB].write() as conn:
        if (row := await replayed(conn, c, key)) is not None:
            return Reply(_out(row, clock), 200)
        settings = request.config_dict[SETTINGS].complaints
        complaint_id = await open_complaint(conn, clock, settings, key=key, **values)
        return _out(await fetch_one(conn, c.c.id, complaint_id, "complaint"), clock)


async def open_complaint(
    conn: AsyncConnection,
    clock: Clock,
    settings: ComplaintSettings,
    *,
    key: str | None = None,
    notify: bool = False,
    **values: Any,
) -> str:
    """Record a complaint, open, for the agents, due by its severity (also from the backend: a
    回访 that found the fault back, with `notify` to tell the customer its number); its id."""
    moment = clock.now()
    now = clock.to_db(moment)
    severity = await escalation.severity_of(
        conn,
        values.pop("severity", "medium"),
        values.get("text") or "",
        values.get("work_order_id"),
    )
    due_at = clock.to_db(moment + escalation.due_after(settings, severity))
    complaint_id = await next_id(conn, COMPLAINT_PREFIX, clock.today())
    await conn.execute(
        tables.complaints.insert().values(
            **values,
            id=complaint_id,
            severity=severity,
            status="open",
            level="agent",
            due_at=due_at,
            idempotency_key=key,
            created_at=now,
            updated_at=now,
        )
    )
    await escalation.record(conn, complaint_id, now, "opened", "agent", "system", severity)
    if notify:
        row = await fetch_one(conn, tables.complaints.c.id, complaint_id, "complaint")
        facts = {"complaint_id": complaint_id} | escalation.due_facts(clock, due_at)
        await escalation.notify(conn, row, "complaint_opened", now, facts)
    return complaint_id


def id_param(request: web.Request) -> str:
    return path_param(
        request, "id", lambda s: normalize_daily_id(s, COMPLAINT_PREFIX), "complaint_id"
    )


@routes.get(
    "/api/complaints/{id}",
    summary="One complaint (staff)",
    response=Complaint,
    errors=(400, 404),
    audience="staff",
)
async def show(request: web.Request, _: None) -> Complaint:
    complaint_id = id_param(request)
    async with request.config_dict[DB].read() as conn:
        row = await fetch_one(conn, tables.complaints.c.id, complaint_id, "complaint")
    return _out(row, request.config_dict[CLOCK])


@routes.get(
    "/api/complaints",
    summary="Complaints by status or conversation, most severe first",
    query=ComplaintQuery,
    response=list[Complaint],
    audience="staff",
)
async def search(request: web.Request, query: ComplaintQuery) -> list[Complaint]:
    c = tables.complaints
    stmt = select(c).order_by(c.c.created_at).limit(200)
    if query.status:
        stmt = stmt.where(c.c.status == query.status)
    if query.conversation_id:
        stmt = stmt.where(c.c.conversation_id == query.conversation_id)
    if query.work_order_id:
        stmt = stmt.where(c.c.work_order_id == query.work_order_id)
    async with request.config_dict[DB].read() as conn:
        rows = (await conn.execute(stmt)).all()
    order = ("critical", "high", "medium", "low")
    clock = request.config_dict[CLOCK]
    return sorted((_out(r, clock) for r in rows), key=lambda x: order.index(x.severity))


@routes.get(
    "/api/workorders/{id}/complaints",
    summary="A work order's complaints, oldest first (the assistant tells the customer the number)",
    response=list[Complaint],
    errors=(400,),
)
async def of_work_order(request: web.Request, _: None) -> list[Complaint]:
    """The complaints on one work order, for the assistant (the staff's search is staff-only):
    a poor rating opens one in the backend, and the customer is told its number and due time."""
    order_id = path_param(request, "id", normalize_work_order_id, "work_order_id")
    c = tables.complaints
    stmt = select(c).where(c.c.work_order_id == order_id).order_by(c.c.created_at).limit(200)
    async with request.config_dict[DB].read() as conn:
        rows = (await conn.execute(stmt)).all()
    clock = request.config_dict[CLOCK]
    return [_out(r, clock) for r in rows]


@routes.patch(
    "/api/complaints/{id}",
    summary="Move a complaint along (staff)",
    body=ComplaintUpdate,
    response=Complaint,
    errors=(400, 404, 409),
    audience="staff",
)
async def update(request: web.Request, body: ComplaintUpdate) -> Complaint:
    complaint_id = id_param(request)
    clock = request.config_dict[CLOCK]
    c = tables.complaints
    async with request.config_dict[DB].write() as conn:
        row = await fetch_one(conn, c.c.id, complaint_id, "complaint")
        if body.status != row.status and body.status not in TRANSITIONS[row.status]:
            raise Refused(INVALID_TRANSITION, f"{row.status} cannot go to {body.status}")
        resolution = body.resolution or row.resolution
        if body.status in ("resolved", "closed") and not resolution:
            raise Refused(RESOLUTION_NEEDED, "a complaint is resolved with a resolution")
        if body.status == "closed" and row.status != "closed":
            # The staff member named on the call (X-Staff-User) reviews a serious one.
            staff = request.headers.get("X-Staff-User", "staff")
            if escalation.is_serious(row.severity) and row.status != "resolved":
                raise Refused(REVIEW_NEEDED, "a serious complaint is resolved, then reviewed")
            reviewer = staff if escalation.is_serious(row.severity) else None
            await escalation.close(
                conn, clock, row, resolution=str(resolution), actor=staff, reviewed_by=reviewer
            )
        else:
            await conn.execute(
                c.update()
                .where(c.c.id == complaint_id)
                .values(
                    status=body.status,
                    resolution=resolution,
                    updated_at=clock.to_db(clock.now()),
                )
            )
        return _out(await fetch_one(conn, c.c.id, complaint_id, "complaint"), clock)
