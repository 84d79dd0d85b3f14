"""Complaints escalate until closed: due times, the climb agent → supervisor → manager, the
steps on record, closing with a resolution, and what the customer is told through the outbox.

A complaint is due `due_hours` after it is opened (`serious_due_hours` for a serious one: high
or critical). Not resolved by then it goes to the next level, which has `escalate_hours` before
the next step; at the manager it stays, flagged overdue. Each step is one conditional UPDATE
(`… WHERE id = ? AND level = ? AND due_at <= now AND status IN (open, in_progress)`, rowcount 1
= ours) with its step row in the same transaction, so two backend processes scanning at once
record a step once (SQLite serialises writes; PostgreSQL re-checks the WHERE after the other
transaction commits).

The customer hears the outcome on their channel through the outbox (key complaint:event:1, so
exactly once); a complaint the backend opens itself (a 回访 that found the fault back) also
tells them its number and due time there, where the assistant's action cannot.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS
from bot.clock import Clock
from bot.db import Database
from bot.desk.loops import start_loop, stop_all, wait_unless_stopping
from bot.outbox import insert_once
from bot.settings import ComplaintSettings

log = logging.getLogger(__name__)

LEVELS = ("agent", "supervisor", "manager")
SERIOUS = frozenset({"high", "critical"})
# Escalation steps written in one transaction, and rounds of up to 200 steps per scan.
STEP_BATCH = 50
SCAN_ROUNDS = 10
# Still being handled: these escalate; "resolved" waits for a review, "closed" is done.
ACTIVE = ("open", "in_progress")
# Harm to a person or property makes any complaint critical, whoever opened it.
SAFETY = re.compile(r"起火|着火|冒烟|爆炸|触电|漏电|受伤|烫伤|烧焦")
# The outbox's responses of a complaint's notices (domain.yml).
NOTICES = {
    "complaint_opened": "utter_notice_complaint_opened",
    "complaint_closed": "utter_notice_complaint_closed",
}


def is_serious(severity: str) -> bool:
    return severity in SERIOUS


def due_after(settings: ComplaintSettings, severity: str) -> timedelta:
    hours = settings.serious_due_hours if is_serious(severity) else settings.due_hours
    return timedelta(hours=hours)


async def severity_of(conn: AsyncConnection, severity: str, text: str, order: str | None) -> str:
    """The severity to record: safety words make it critical; a complaint about an order that
    was complained about before, or closed more than once (the fault came back), is high."""
    if SAFETY.search(text):
        return "critical"
    if is_serious(severity) or order is None:
        return severity
    c, n = tables.complaints, tables.notifications
    earlier = await conn.scalar(select(func.count()).where(c.c.work_order_id == order))
    closes = await conn.scalar(
        select(func.count()).where(n.c.work_order_id == order, n.c.event == "csat")
    )
    return "high" if (earlier or 0) > 0 or (closes or 0) > 1 else severity


async def record(
    conn: AsyncConnection,
    complaint_id: str,
    now: datetime,
    kind: str,
    level: str,
    actor: str,
    note: str = "",
) -> None:
    """One step of the complaint, for the desk (`now` as stored: naive UTC)."""
    await conn.execute(
        tables.complaint_events.insert().values(
            complaint_id=complaint_id, at=now, kind=kind, level=level, actor=actor, note=note
        )
    )


def channel_of(complaint: Row) -> str | None:
    """The conversation's channel, else SMS to the contact, else nobody to tell."""
    if complaint.conversation_id and complaint.channel and complaint.channel != "sms":
        return str(complaint.channel)
    return "sms" if complaint.contact else None


async def notify(
    conn: AsyncConnection, complaint: Row, event: str, now: datetime, facts: dict[str, Any]
) -> bool:
    """Put one notice of the complaint in the outbox; False if it is there already."""
    done = await conn.execute(
        insert_once(conn, tables.notifications).values(
            complaint_id=complaint.id,
            event=event,
            round=1,
            response=NOTICES[event],
            facts=facts,
            urgent=False,
            status="pending",
            due_at=now,
            attempts=0,
            channel=channel_of(complaint),
            created_at=now,
        )
    )
    return bool(done.rowcount == 1)


def due_facts(clock: Clock, due_at: datetime) -> dict[str, Any]:
    """The due time as the responses name it (stored UTC → local)."""
    due = clock.from_db(due_at)
    return {"due_month": due.month, "due_day": due.day, "due_time": due.strftime("%H:%M")}


async def close(
    conn: AsyncConnection,
    clock: Clock,
    complaint: Row,
    *,
    resolution: str,
    actor: str,
    reviewed_by: str | None = None,
) -> None:
    """Close with its resolution, record the step, and queue the outcome for the customer."""
    c, now = tables.complaints, clock.to_db(clock.now())
    await conn.execute(
        c.update()
        .where(c.c.id == complaint.id)
        .values(
            status="closed",
            resolution=resolution,
            reviewed_by=reviewed_by,
            closed_at=now,
            updated_at=now,
        )
    )
    kind = "approved" if reviewed_by else "closed"
    await record(conn, complaint.id, now, kind, complaint.level, actor, resolution)
    facts = {"complaint_id": complaint.id, "resolution": resolution}
    await notify(conn, complaint, "complaint_closed", now, facts)


async def _step(conn: AsyncConnection, row: Row, now: datetime, step: timedelta) -> int:
    """Move one complaint a level up if it is still where it was and still due; 1 if moved."""
    c = tables.complaints
    higher = LEVELS[LEVELS.index(row.level) + 1]
    moved = await conn.execute(
        c.update()
        .where(
            c.c.id == row.id,
            c.c.level == row.level,
            c.c.status.in_(ACTIVE),
            c.c.due_at <= now,
        )
        .values(level=higher, due_at=row.due_at + step, updated_at=now)
    )
    if moved.rowcount != 1:
        return 0  # another process took this step, or someone resolved it meanwhile
    await record(conn, row.id, now, "escalated", higher, "system", f"{row.level} → {higher}")
    return 1


async def escalate_due(db: Database, clock: Clock, settings: ComplaintSettings) -> int:
    """Move every complaint past its due time one level up (repeatedly, if the backend was
    down through several steps); returns the number of steps this call recorded."""
    c = tables.complaints
    step = timedelta(hours=settings.escalate_hours)
    done = 0
    # Bounded: a scan does at most SCAN_ROUNDS × 200 steps; the next scan does the rest.
    for _ in range(SCAN_ROUNDS):
        now = clock.to_db(clock.now())
        async with db.read() as conn:
            due = list(
                await conn.execute(
                    select(c.c.id, c.c.level, c.c.due_at)
                    .where(c.c.status.in_(ACTIVE), c.c.due_at <= now, c.c.level != LEVELS[-1])
                    .order_by(c.c.due_at, c.c.id)
                    .limit(200)
                )
            )
        if not due:
            break
        # One transaction per batch (a commit per step is slow on SQLite); every UPDATE is
        # still conditional, and both scanners lock rows in the same order (no deadlock).
        for start in range(0, len(due), STEP_BATCH):
            moved = 0
            async with db.write() as conn:
                for row in due[start : start + STEP_BATCH]:
                    moved += await _step(conn, row, now, step)
            done += moved  # counted once committed
    return done


async def _escalating(app: web.Application) -> None:
    settings = app[SETTINGS].complaints
    while not await wait_unless_stopping(app, settings.scan_seconds):
        try:
            steps = await escalate_due(app[DB], app[CLOCK], settings)
        except (OperationalError, DBAPIError, OSError):
            log.warning("complaints: an escalation scan failed; retrying", exc_info=True)
            continue
        if steps:
            log.info("complaints: %d escalation step(s)", steps)


async def running(app: web.Application) -> AsyncIterator[None]:
    """The escalation scan of this process (every process may run one: steps are recorded
    once); none when `scan_seconds` is 0."""
    tasks = []
    if app[SETTINGS].complaints.scan_seconds > 0:
        tasks.append(start_loop("complaint escalation", _escalating, app))
    yield
    if tasks:
        await stop_all(app, tasks)
