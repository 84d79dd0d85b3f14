"""回访 (follow-up visits) of closed work orders: the customer's answer to the bot, and the
task list of staff who call the customers the bot could not reach.

The bot asks `followup_days` after a close (bot/outbox_worker.py). "Solved" ends the
follow-up; "没解决/又坏了" ends it too, reopens the order (closed → created: booked again,
round 2 of its surveys) and opens a complaint for a supervisor. Without an answer within
`followup_answer_hours` (or when the customer has no channel) it is due for staff: the desk
lists today's and overdue tasks; staff record satisfied, recurred (as above) or unreachable
(due again the next day). Every outcome lands on the order's timeline.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, Routes, path_param
from bot.clock import Clock
from bot.complaints import open_complaint
from bot.contracts.errors import FOLLOWUP_CLOSED
from bot.contracts.followups import (
    Followup,
    FollowupAnswerIn,
    FollowupOutcomeIn,
    FollowupQuery,
)
from bot.contracts.ids import normalize_work_order_id
from bot.contracts.workorders import TransitionIn
from bot.desk.accounts import audit, current
from bot.errors import Refused, not_found
from bot.settings import ComplaintSettings
from bot.workorders import advance

routes = Routes("followups")
desk_routes = Routes("desk", audience="desk")
RETRY_AFTER = timedelta(days=1)


async def _record(
    conn: AsyncConnection,
    clock: Clock,
    task: Row,
    *,
    settings: ComplaintSettings,
    status: str,
    outcome: str,
    note: str,
    actor: str,
    attempts: int | None = None,
    due_at: datetime | None = None,
) -> None:
    """Store an outcome on the task and the order's timeline; a recurred fault reopens."""
    f, w = tables.followups, tables.work_orders
    now = clock.to_db(clock.now())
    await conn.execute(
        f.update()
        .where(f.c.id == task.id)
        .values(
            status=status,
            outcome=outcome,
            note=note or task.note,
            attempts=task.attempts if attempts is None else attempts,
            due_at=task.due_at if due_at is None else due_at,
            updated_at=now,
        )
    )
    order = (await conn.execute(select(w).where(w.c.id == task.work_order_id))).one()
    text = f"followup {outcome}: {note}".strip().rstrip(":")
    if outcome != "recurred":
        await conn.execute(
            tables.work_order_events.insert().values(
                work_order_id=order.id, at=now, status=order.status, note=text, actor=actor
            )
        )
        return
    if order.status == "closed":
        await advance(conn, clock, order.id, TransitionIn(to="created", note=text, actor=actor))
    await open_complaint(
        conn,
        clock,
        settings,
        notify=True,
        text=f"回访 {order.id}: {outcome} {note}".strip(),
        # The fault came back after a repair: a recurrence is serious (due sooner, reviewed).
        severity="high",
        conversation_id=order.conversation_id,
        channel=order.channel,
        serial=order.serial,
        work_order_id=order.id,
        contact=order.phone,
    )


@routes.post(
    "/api/workorders/{id}/followup",
    summary="The customer's answer to the 回访 of the order's latest close",
    body=FollowupAnswerIn,
    response=Followup,
    errors=(400, 404, 409),
)
async def answer(request: web.Request, body: FollowupAnswerIn) -> Followup:
    order_id = path_param(request, "id", normalize_work_order_id, "work_order_id")
    clock, f = request.config_dict[CLOCK], tables.followups
    async with request.config_dict[DB].write() as conn:
        task = (
            await conn.execute(
                select(f).where(f.c.work_order_id == order_id).order_by(f.c.round.desc()).limit(1)
            )
        ).one_or_none()
        if task is None or task.status != "scheduled":
            raise Refused(FOLLOWUP_CLOSED, f"no 回访 of {order_id} is waiting for an answer")
        await _record(
            conn,
            clock,
            task,
            settings=request.config_dict[SETTINGS].complaints,
            status="answered",
            outcome=body.outcome,
            note="",
            actor="customer:followup",
        )
        return await _load(conn, clock, task.id)


async def _load(conn: AsyncConnection, clock: Clock, task_id: int) -> Followup:
    rows = await _rows(conn, tables.followups.c.id == task_id)
    if not rows:
        raise not_found("followup", str(task_id))
    return _out(rows[0], clock)


async def _rows(conn: AsyncConnection, *where: object) -> list[Row]:
    f, w = tables.followups, tables.work_orders
    stmt = (
        select(
            f,
            w.c.customer_name,
            w.c.phone,
            w.c.station_code,
            w.c.fault,
        )
        .join(w, w.c.id == f.c.work_order_id)
        .where(*where)
        .order_by(f.c.due_at, f.c.id)
    )
    return list(await conn.execute(stmt))


def _out(row: Row, clock: Clock) -> Followup:
    today = datetime.combine(clock.today(), time(0), tzinfo=clock.tz)
    due = clock.from_db(row.due_at) if row.due_at else None
    return Followup(
        id=row.id,
        work_order_id=row.work_order_id,
        round=row.round,
        status=row.status,
        outcome=row.outcome,
        note=row.note,
        attempts=row.attempts,
        asked_at=clock.from_db(row.asked_at) if row.asked_at else None,
        due_at=due,
        overdue=bool(due and row.status == "scheduled" and due < today),
        customer_name=row.customer_name,
        phone=row.phone,
        station_code=row.station_code,
        fault=row.fault,
    )


@desk_routes.get(
    "/desk/api/followups",
    summary="回访 tasks for phone calls: due today and overdue, or every open one",
    query=FollowupQuery,
    response=list[Followup],
    errors=(401, 403),
)
async def tasks(request: web.Request, query: FollowupQuery) -> list[Followup]:
    clock, f = request.config_dict[CLOCK], tables.followups
    where = [f.c.status == "scheduled", f.c.due_at.is_not(None)]
    if query.due == "today":
        tomorrow = datetime.combine(clock.today() + timedelta(days=1), time(0), tzinfo=clock.tz)
        where.append(f.c.due_at < clock.to_db(tomorrow))
    async with request.config_dict[DB].read() as conn:
        return [_out(r, clock) for r in await _rows(conn, *where)]


@desk_routes.post(
    "/desk/api/followups/{id}/outcome",
    summary="What the phone 回访 found: satisfied, recurred (reopens) or unreachable (retry)",
    body=FollowupOutcomeIn,
    response=Followup,
    errors=(400, 401, 403, 404, 409),
)
async def record_outcome(request: web.Request, body: FollowupOutcomeIn) -> Followup:
    staff, clock = current(request), request.config_dict[CLOCK]
    task_id = int(
        path_param(request, "id", lambda s: s if s.isdigit() and len(s) < 10 else None, "followup")
    )
    f = tables.followups
    async with request.config_dict[DB].write() as conn:
        task = (await conn.execute(select(f).where(f.c.id == task_id))).one_or_none()
        if task is None:
            raise not_found("followup", str(task_id))
        if task.status != "scheduled":
            raise Refused(FOLLOWUP_CLOSED, f"the 回访 {task_id} is {task.status}")
        retry = body.outcome == "unreachable"
        await _record(
            conn,
            clock,
            task,
            settings=request.config_dict[SETTINGS].complaints,
            status="scheduled" if retry else "done",
            outcome=body.outcome,
            note=body.note,
            actor=f"staff:{staff.username}",
            attempts=task.attempts + 1,
            due_at=clock.to_db(clock.now() + RETRY_AFTER) if retry else None,
        )
        await audit(
            conn,
            clock.now(),
            staff.id,
            "followup",
            None,
            {"task": task_id, "outcome": body.outcome},
        )
        return await _load(conn, clock, task_id)
