"""Nobody waits forever: when no agent claims a handoff in time, or the desk is closed, the
customer is told and offered a callback or a work order. The handoff stays in the queue.

The notice is the bot's (`utter_desk_no_agent` / `utter_desk_after_hours` in domain.yml): the
conversation is resumed first so the customer's answer (a button) reaches the bot; a later
claim pauses it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError
from bot.clock import Clock
from bot.desk.loops import start_loop, stop_all, stopping, wait_unless_stopping
from bot.desk.rasa import RASA
from bot.handoffs import add_activity
from bot.settings import Settings

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


def notice_for(settings: Settings, clock: Clock, created: datetime) -> str | None:
    """Which notice this waiting customer is due, if any, now."""
    if not settings.desk_open(clock.now()):
        return "utter_desk_after_hours"
    if clock.now() - created >= timedelta(seconds=settings.desk_wait_seconds):
        return "utter_desk_no_agent"
    return None


async def _claim_notice(app: web.Application, handoff_id: str) -> bool:
    """Mark the notice as sent, once, even with several desk processes."""
    a, clock = tables.desk_assignments, app[CLOCK]
    now = clock.to_db(clock.now())
    async with app[DB].write() as conn:
        row = (await conn.execute(select(a).where(a.c.handoff_id == handoff_id))).first()
        if row is None:
            try:
                await conn.execute(a.insert().values(handoff_id=handoff_id, notified_at=now))
            except IntegrityError:
                return False
            return True
        done = await conn.execute(
            a.update()
            .where(a.c.handoff_id == handoff_id, a.c.notified_at.is_(None))
            .values(notified_at=now)
        )
        return bool(done.rowcount == 1)


async def _release_notice(app: web.Application, handoff_id: str) -> None:
    a = tables.desk_assignments
    async with app[DB].write() as conn:
        await conn.execute(a.update().where(a.c.handoff_id == handoff_id).values(notified_at=None))


async def check_once(app: web.Application) -> int:
    """Send every notice that is due; returns how many were sent."""
    settings, clock = app[SETTINGS], app[CLOCK]
    h, a = tables.handoffs, tables.desk_assignments
    async with app[DB].read() as conn:
        rows = list(
            await conn.execute(
                select(h.c.id, h.c.conversation_id, h.c.created_at)
                .select_from(h.outerjoin(a, a.c.handoff_id == h.c.id))
                .where(h.c.status == "waiting", a.c.notified_at.is_(None))
            )
        )
    sent = 0
    for row in rows:
        # Between two customers is the safe point to stop: each notice is claimed, sent and
        # recorded whole.
        if stopping(app):
            break
        notice = notice_for(settings, clock, clock.from_db(row.created_at))
        if notice is None or not await _claim_notice(app, row.id):
            continue
        try:
            await app[RASA].resume(row.conversation_id)
            await app[RASA].utter(row.conversation_id, notice)
        except ApiError:
            # Try again on the next round rather than leave the customer uninformed.
            await _release_notice(app, row.id)
            log.warning("desk: could not tell %s that nobody is free", row.conversation_id)
            continue
        except asyncio.CancelledError:
            # Stopping could not wait for Rasa any longer: the next process tells the customer
            # (at worst twice, if Rasa had already sent it) rather than nobody ever.
            await asyncio.shield(_release_notice(app, row.id))
            raise
        async with app[DB].write() as conn:
            await add_activity(
                conn,
                clock,
                conversation=row.conversation_id,
                handoff_id=row.id,
                kind="state",
                text_="customer_notified",
                data={"notice": notice},
            )
        sent += 1
    return sent


async def _watch(app: web.Application) -> None:
    while not await wait_unless_stopping(app, CHECK_SECONDS):
        try:
            await check_once(app)
        except (OperationalError, DBAPIError, OSError):
            log.warning("desk: waiting check failed; retrying", exc_info=True)


async def watcher(app: web.Application) -> AsyncIterator[None]:
    task = start_loop("waiting check", _watch, app)
    yield
    await stop_all(app, [task])
