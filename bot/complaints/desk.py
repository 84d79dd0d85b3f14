"""The desk's complaints panel: the list with each complaint's steps, the badge count for the
caller's level, taking one, resolving it and (supervisors and managers) reviewing serious ones.

Who acts: agents take and resolve complaints at the agent level; past due, a complaint shows for
supervisors, then managers (bot/complaints/escalation.py). A complaint that is not serious is
closed by its resolution; a serious one waits for a supervisor's or manager's review, by someone
other than who resolved it, and is closed by the approval (a rejection sends it back).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from bot import tables
from bot.api import CLOCK, DB, Routes, fetch_one, from_row
from bot.clock import Clock
from bot.complaints import TIMES, escalation, id_param
from bot.contracts.complaints import (
    Complaint,
    ComplaintStep,
    ComplaintSummary,
    DeskComplaint,
    DeskComplaintQuery,
    ResolveIn,
    ReviewIn,
)
from bot.contracts.errors import INVALID_TRANSITION, OWN_RESOLUTION
from bot.desk.accounts import Staff, audit, current
from bot.errors import Refused

routes = Routes("desk-complaints", audience="desk")
review_routes = Routes("desk-complaints-review", audience="supervisor")


def _waiting_for(staff: Staff) -> ColumnElement[bool]:
    """Complaints at the member's own level (an agent's, a supervisor's, a manager's), or
    owned by them."""
    c = tables.complaints
    return or_(c.c.level == staff.role, c.c.owner == staff.username)


async def _steps(conn: AsyncConnection, ids: list[str], clock: Clock) -> dict[str, list[Row]]:
    e = tables.complaint_events
    found: dict[str, list[Row]] = {i: [] for i in ids}
    if ids:
        for row in await conn.execute(
            select(e).where(e.c.complaint_id.in_(ids)).order_by(e.c.at, e.c.id)
        ):
            found[row.complaint_id].append(row)
    return found


def _out(row: Row, steps: list[Row], clock: Clock, now: datetime) -> DeskComplaint:
    base = from_row(Complaint, row, clock, *TIMES)
    return DeskComplaint(
        **base.dict(),
        serious=escalation.is_serious(row.severity),
        overdue=bool(
            row.due_at and row.status in escalation.ACTIVE and clock.from_db(row.due_at) < now
        ),
        steps=[
            ComplaintStep(
                at=clock.from_db(s.at), kind=s.kind, level=s.level, actor=s.actor, note=s.note
            )
            for s in steps
        ],
    )


@routes.get(
    "/desk/api/complaints",
    summary="Complaints with their steps: open ones (due first), the caller's, or closed ones",
    query=DeskComplaintQuery,
    response=list[DeskComplaint],
    errors=(401, 403),
)
async def listing(request: web.Request, query: DeskComplaintQuery) -> list[DeskComplaint]:
    staff, clock = current(request), request.config_dict[CLOCK]
    c = tables.complaints
    stmt = select(c).limit(200)
    if query.view == "closed":
        stmt = stmt.where(c.c.status == "closed").order_by(c.c.closed_at.desc())
    else:
        stmt = stmt.where(c.c.status != "closed").order_by(c.c.due_at, c.c.id)
        if query.view == "mine":
            mine = _waiting_for(staff)
            # Resolutions of serious complaints wait for any supervisor's or manager's review.
            stmt = stmt.where(or_(mine, c.c.status == "resolved") if staff.supervisor else mine)
    async with request.config_dict[DB].read() as conn:
        rows = list(await conn.execute(stmt))
        steps = await _steps(conn, [r.id for r in rows], clock)
    now = clock.now()
    return [_out(r, steps[r.id], clock, now) for r in rows]


@routes.get(
    "/desk/api/complaints/summary",
    summary="The badge: complaints waiting for the caller's level, overdue ones, reviews due",
    response=ComplaintSummary,
    errors=(401, 403),
)
async def summary(request: web.Request, _: None) -> ComplaintSummary:
    staff, clock = current(request), request.config_dict[CLOCK]
    c = tables.complaints
    now = clock.to_db(clock.now())
    active = (c.c.status.in_(escalation.ACTIVE), _waiting_for(staff))
    async with request.config_dict[DB].read() as conn:
        waiting = await conn.scalar(select(func.count()).where(*active))
        overdue = await conn.scalar(select(func.count()).where(*active, c.c.due_at < now))
        review = (
            await conn.scalar(select(func.count()).where(c.c.status == "resolved"))
            if staff.supervisor
            else 0
        )
    return ComplaintSummary(waiting=waiting or 0, overdue=overdue or 0, review=review or 0)


async def _load(conn: AsyncConnection, clock: Clock, complaint_id: str) -> DeskComplaint:
    row = await fetch_one(conn, tables.complaints.c.id, complaint_id, "complaint")
    steps = await _steps(conn, [complaint_id], clock)
    return _out(row, steps[complaint_id], clock, clock.now())


async def _active(conn: AsyncConnection, complaint_id: str, *statuses: str) -> Row:
    row = await fetch_one(conn, tables.complaints.c.id, complaint_id, "complaint")
    if row.status not in statuses:
        raise Refused(INVALID_TRANSITION, f"the complaint {complaint_id} is {row.status}")
    return row


def _complaint_id(request: web.Request) -> str:
    return id_param(request)


@routes.post(
    "/desk/api/complaints/{id}/take",
    summary="Take a complaint: the caller owns it, it is in progress",
    response=DeskComplaint,
    errors=(400, 401, 403, 404, 409),
)
async def take(request: web.Request, _: None) -> DeskComplaint:
    staff, clock = current(request), request.config_dict[CLOCK]
    complaint_id, c = _complaint_id(request), tables.complaints
    async with request.config_dict[DB].write() as conn:
        row = await _active(conn, complaint_id, *escalation.ACTIVE)
        now = clock.to_db(clock.now())
        await conn.execute(
            c.update()
            .where(c.c.id == complaint_id)
            .values(owner=staff.username, status="in_progress", updated_at=now)
        )
        await escalation.record(conn, complaint_id, now, "taken", row.level, staff.username)
        await audit(conn, clock.now(), staff.id, "complaint_take", None, {"id": complaint_id})
        return await _load(conn, clock, complaint_id)


@routes.post(
    "/desk/api/complaints/{id}/resolve",
    summary="Resolve with a resolution: closes it, or a serious one waits for a review",
    body=ResolveIn,
    response=DeskComplaint,
    errors=(400, 401, 403, 404, 409),
)
async def resolve(request: web.Request, body: ResolveIn) -> DeskComplaint:
    staff, clock = current(request), request.config_dict[CLOCK]
    complaint_id, c = _complaint_id(request), tables.complaints
    text = body.resolution.strip()
    async with request.config_dict[DB].write() as conn:
        row = await _active(conn, complaint_id, *escalation.ACTIVE)
        if escalation.is_serious(row.severity):
            now = clock.to_db(clock.now())
            await conn.execute(
                c.update()
                .where(c.c.id == complaint_id)
                .values(status="resolved", resolution=text, updated_at=now)
            )
            await escalation.record(
                conn, complaint_id, now, "resolved", row.level, staff.username, text
            )
        else:
            await escalation.close(conn, clock, row, resolution=text, actor=staff.username)
        await audit(conn, clock.now(), staff.id, "complaint_resolve", None, {"id": complaint_id})
        return await _load(conn, clock, complaint_id)


@review_routes.post(
    "/desk/api/complaints/{id}/review",
    summary="A supervisor's review of a serious complaint's resolution: approve closes it",
    body=ReviewIn,
    response=DeskComplaint,
    errors=(400, 401, 403, 404, 409),
)
async def review(request: web.Request, body: ReviewIn) -> DeskComplaint:
    staff, clock = current(request), request.config_dict[CLOCK]
    complaint_id, c, e = _complaint_id(request), tables.complaints, tables.complaint_events
    async with request.config_dict[DB].write() as conn:
        row = await _active(conn, complaint_id, "resolved")
        resolver = await conn.scalar(
            select(e.c.actor)
            .where(e.c.complaint_id == complaint_id, e.c.kind == "resolved")
            .order_by(e.c.id.desc())
            .limit(1)
        )
        if resolver == staff.username:
            raise Refused(OWN_RESOLUTION, "a resolution is reviewed by someone else")
        if body.approve:
            await escalation.close(
                conn,
                clock,
                row,
                resolution=str(row.resolution),
                actor=staff.username,
                reviewed_by=staff.username,
            )
        else:
            now = clock.to_db(clock.now())
            await conn.execute(
                c.update()
                .where(c.c.id == complaint_id)
                .values(status="in_progress", updated_at=now)
            )
            await escalation.record(
                conn, complaint_id, now, "returned", row.level, staff.username, body.note
            )
        details = {"id": complaint_id, "approve": body.approve}
        await audit(conn, clock.now(), staff.id, "complaint_review", None, details)
        return await _load(conn, clock, complaint_id)
