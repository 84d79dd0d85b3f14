"""The outbox's worker: claims due notifications with a lease, sends them, marks them sent.

Claiming is one conditional UPDATE per row (`… WHERE id = ? AND status = 'pending' AND
(claimed_by IS NULL OR lease_until < now)`, rowcount 1 = ours), which works alike on SQLite
(writes are serialised) and PostgreSQL (the second UPDATE re-reads the row after the first
commits and no longer matches): two workers, in one process or several, never both hold a row.
The send happens outside any transaction; marking it sent checks the claim is still ours.

A worker that dies mid-send (`kill -9`) leaves its claim; after `lease_seconds` another worker
takes the row and sends it again. The customer then sees the message twice only if the first
send had reached the channel before the crash and the mark had not been written; the message
carries its key and first-attempt timestamp (`bot.notices`) so a channel can drop the repeat.
A failed send is retried with exponential back-off, up to `max_attempts`.

Policy at send time: the survey waits `csat_delay_minutes` after the close, its reminder goes
once `csat_reminder_hours` after it, neither after `csat_expiry_days` or once rated or
reopened; the 回访 question goes `followup_days` after the close, and an unanswered one becomes
a staff task `followup_answer_hours` later; non-urgent messages wait out the quiet hours; a
customer sent the survey of another order within `survey_gap_days` is not surveyed again.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, OperationalError

from bot import tables
from bot.api import CLOCK, DB, SETTINGS
from bot.clock import Clock
from bot.db import Database
from bot.desk.loops import start_loop, stop_all, stopping, wait_unless_stopping
from bot.desk.rasa import RASA
from bot.notices import Delivery, LoggingSms, RasaSender, Responses, Senders, SendFailed, SmsChannel
from bot.outbox import (
    RESPONSES,
    backoff,
    in_quiet_hours,
    insert_once,
    quiet_end,
    surveyed_since,
    values_of,
)
from bot.settings import PROJECT_ROOT, OutboxSettings

log = logging.getLogger(__name__)

# Rows leased at once, and claiming rounds per call of deliver_due (then the loop sleeps).
CLAIM_BATCH = 10
ROUNDS = 20


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:60]


class Worker:
    """One process's worker; `deliver_due` is one round (the tests call it on their clock)."""

    def __init__(
        self,
        db: Database,
        settings: OutboxSettings,
        senders: Senders,
        responses: Responses,
        name: str | None = None,
    ) -> None:
        self.db, self.settings, self.senders, self.responses = db, settings, senders, responses
        self.name = name or worker_name()
        self._rounds = itertools.count(1)

    async def deliver_due(self, clock: Clock, stop: Callable[[], bool] = lambda: False) -> int:
        """Send what is due now; returns how many rows this worker finished (sent or dropped)."""
        done = 0
        for _ in range(ROUNDS):
            token, claimed = await self.claim(clock)
            if not claimed:
                break
            began = time.monotonic()
            for row, order in claimed:
                # Between two rows is the safe point to stop: each is sent and marked whole. A
                # batch that takes half its lease gives the rest back rather than outlive it.
                if stop() or time.monotonic() - began > self.settings.lease_seconds / 2:
                    await self._unclaim(token)
                    return done
                done += await self._handle(row, order, clock, token)
        return done

    async def claim(self, clock: Clock) -> tuple[str, list[tuple[Row, Row]]]:
        """Lease up to CLAIM_BATCH due rows under a token of this round; the rows and their
        orders. One write transaction: on SQLite it holds the write lock (BEGIN IMMEDIATE), on
        PostgreSQL SKIP LOCKED lets two workers take different rows, and the UPDATE's own
        conditions keep a row from being taken twice in any case."""
        n, w, s = tables.notifications, tables.work_orders, tables.stations
        c = tables.complaints
        now = clock.to_db(clock.now())
        token = f"{self.name}#{next(self._rounds)}"
        claimable = (
            n.c.status == "pending",
            n.c.due_at <= now,
            or_(n.c.claimed_by.is_(None), n.c.lease_until < now),
        )
        async with self.db.write() as conn:
            due = select(n.c.id).where(*claimable).order_by(n.c.due_at, n.c.id).limit(CLAIM_BATCH)
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list((await conn.execute(due)).scalars())
            if not ids:
                return token, []
            await conn.execute(
                n.update()
                .where(n.c.id.in_(ids), *claimable)
                .values(
                    claimed_by=token,
                    lease_until=now + timedelta(seconds=self.settings.lease_seconds),
                    attempts=n.c.attempts + 1,
                    stamp=func.coalesce(n.c.stamp, time.time()),
                )
            )
            rows = list(
                await conn.execute(select(n).where(n.c.claimed_by == token).order_by(n.c.id))
            )
            orders = {
                o.id: o
                for o in await conn.execute(
                    select(
                        w,
                        s.c.name.label("station_name"),
                        s.c.address.label("station_address"),
                        s.c.phone.label("station_phone"),
                    )
                    .join(s, s.c.code == w.c.station_code)
                    .where(w.c.id.in_({r.work_order_id for r in rows if r.work_order_id}))
                )
            }
            # A complaint's notice (bot/complaints/escalation.py) has the complaint instead.
            orders |= {
                o.id: o
                for o in await conn.execute(
                    select(
                        c.c.id, c.c.conversation_id, c.c.channel, c.c.contact.label("phone")
                    ).where(c.c.id.in_({r.complaint_id for r in rows if r.complaint_id}))
                )
            }
        return token, [(r, orders[r.work_order_id or r.complaint_id]) for r in rows]

    async def _unclaim(self, token: str) -> None:
        n = tables.notifications
        async with self.db.write() as conn:
            await conn.execute(
                n.update()
                .where(n.c.claimed_by == token, n.c.status == "pending")
                .values(claimed_by=None, lease_until=None, attempts=n.c.attempts - 1)
            )

    def _hold_until(self, row: Row, order: Row, clock: Clock) -> datetime | str | None:
        """When a claimed row may go out instead of now, or why it never will ("skip: …")."""
        cfg, now = self.settings, clock.now()
        since = clock.from_db(row.created_at)
        if row.event in ("csat", "csat_reminder", "followup"):
            if order.status != "closed":
                return "skip: reopened"
            if row.event != "followup" and order.rating is not None:
                return "skip: rated"
            if row.event != "followup" and now >= since + timedelta(days=cfg.csat_expiry_days):
                return "skip: expired"
        wait = {
            "csat": timedelta(minutes=cfg.csat_delay_minutes),
            "followup": timedelta(days=cfg.followup_days),
        }.get(row.event)
        if wait is not None and now < since + wait:
            return since + wait
        if not row.urgent and in_quiet_hours(cfg.quiet_hours, now):
            return quiet_end(cfg.quiet_hours, now)
        if row.channel is None:
            return "skip: no channel"
        return None

    async def _handle(self, row: Row, order: Row, clock: Clock, token: str) -> int:
        hold = self._hold_until(row, order, clock)
        if isinstance(hold, datetime):
            await self._release(row.id, token, clock, due=hold, error=None, counted=False)
            return 0
        if isinstance(hold, str):
            await self._finish(row, token, clock, "skipped", hold)
            return 1
        if row.event == "csat" and await self._surveyed_lately(order, clock):
            await self._finish(row, token, clock, "skipped", "skip: surveyed lately")
            return 1
        assert row.channel is not None
        message = self.responses.render(row.response, **self._render_values(row, order, clock))
        delivery = Delivery(
            key=f"{order.id}:{row.event}:{row.round}",
            channel=row.channel,
            conversation_id=order.conversation_id,
            phone=order.phone,
            message=message,
            stamp=row.stamp,
        )
        try:
            await self.senders.for_channel(row.channel).send(delivery)
        except SendFailed as exc:
            if row.attempts >= self.settings.max_attempts:
                await self._finish(row, token, clock, "failed", str(exc))
                return 1
            due = clock.now() + backoff(row.attempts)
            await self._release(row.id, token, clock, due=due, error=str(exc))
            return 0
        await self._finish(row, token, clock, "sent", None)
        return 1

    async def _surveyed_lately(self, order: Row, clock: Clock) -> bool:
        if self.settings.survey_gap_days <= 0:
            return False
        since = clock.to_db(clock.now() - timedelta(days=self.settings.survey_gap_days))
        async with self.db.read() as conn:
            return await surveyed_since(conn, order, since)

    def _render_values(self, row: Row, order: Row, clock: Clock) -> dict[str, Any]:
        if row.complaint_id:
            return dict(row.facts or {})
        values = values_of(self.responses, row, order)
        # The reminder's row carries the close's time too: the survey ends N days after it.
        until = clock.from_db(row.created_at) + timedelta(days=self.settings.csat_expiry_days)
        values["until"] = self.responses.label(
            "notice_date",
            month=until.month,
            day=until.day,
            weekday=self.responses.label(f"weekday_{until.weekday()}"),
        )
        return values

    async def _release(
        self,
        row_id: int,
        token: str,
        clock: Clock,
        *,
        due: datetime,
        error: str | None,
        counted: bool = True,
    ) -> None:
        n = tables.notifications
        values: dict[str, Any] = {
            "claimed_by": None,
            "lease_until": None,
            "due_at": clock.to_db(due),
        }
        if error is not None:
            values["last_error"] = error[:500]
        if not counted:
            values["attempts"] = n.c.attempts - 1
        async with self.db.write() as conn:
            await conn.execute(
                n.update().where(n.c.id == row_id, n.c.claimed_by == token).values(**values)
            )

    async def _finish(
        self, row: Row, token: str, clock: Clock, status: str, why: str | None
    ) -> None:
        """Mark the row done, and start what follows it (the reminder, the staff task)."""
        n, f = tables.notifications, tables.followups
        now = clock.to_db(clock.now())
        async with self.db.write() as conn:
            marked = await conn.execute(
                n.update()
                .where(n.c.id == row.id, n.c.claimed_by == token, n.c.status == "pending")
                .values(
                    status=status,
                    sent_at=now if status == "sent" else None,
                    last_error=why,
                    claimed_by=None,
                    lease_until=None,
                )
            )
            if marked.rowcount != 1:
                # Our lease ran out and another worker has the row: it finishes it.
                log.warning("outbox: lost the claim on notification %s", row.id)
                return
            if row.event == "csat" and status == "sent":
                reminder = now + timedelta(hours=self.settings.csat_reminder_hours)
                await conn.execute(
                    insert_once(conn, n).values(
                        work_order_id=row.work_order_id,
                        event="csat_reminder",
                        round=row.round,
                        response=RESPONSES["csat_reminder"],
                        facts={},
                        urgent=False,
                        status="pending",
                        due_at=reminder,
                        attempts=0,
                        channel=row.channel,
                        created_at=row.created_at,
                    )
                )
            if row.event == "followup" and why != "skip: reopened":
                # Asked: staff call if no answer comes in time. Not asked: staff call now.
                asked = status == "sent"
                due = now + timedelta(hours=self.settings.followup_answer_hours) if asked else now
                await conn.execute(
                    f.update()
                    .where(
                        f.c.work_order_id == row.work_order_id,
                        f.c.round == row.round,
                        f.c.status == "scheduled",
                    )
                    .values(asked_at=now if asked else None, due_at=due, updated_at=now)
                )


WORKER = web.AppKey("outbox_worker", Worker)


async def _loop(app: web.Application) -> None:
    worker = app[WORKER]
    while not await wait_unless_stopping(app, app[SETTINGS].outbox.poll_seconds):
        try:
            await worker.deliver_due(app[CLOCK], lambda: stopping(app))
        except (OperationalError, DBAPIError, OSError):
            log.warning("outbox: a round failed; retrying", exc_info=True)


async def running(app: web.Application) -> AsyncIterator[None]:
    """The worker of this process, from start-up until the app stops (after the desk's)."""
    settings = app[SETTINGS]
    responses = Responses.load(PROJECT_ROOT / "domain.yml")
    senders = Senders(rasa=RasaSender(app[RASA]), sms=SmsChannel(LoggingSms()))
    app[WORKER] = Worker(app[DB], settings.outbox, senders, responses)
    tasks = [start_loop("outbox", _loop, app)] if settings.outbox.worker else []
    yield
    if tasks:
        await stop_all(app, tasks)


def setup(app: web.Application) -> None:
    """After `bot.desk.routes.setup`: the worker uses the desk's Rasa client and stop signal."""
    app.cleanup_ctx.append(running)
