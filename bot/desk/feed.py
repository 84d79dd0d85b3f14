"""The desk's live feed out: every desk process tails `desk_messages` and pushes new rows to
the websockets of the staff allowed to see them (`bot.desk.queue`'s rule), so a message
reaches an agent whichever process received it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from bot import tables
from bot.api import CLOCK, DB
from bot.desk.accounts import Staff

# Re-exported for tests/conversations/test_desk.py until it imports bot.desk.broker.
from bot.desk.broker import read_events_once as read_events_once
from bot.desk.loops import keep_running, stop_all, wait_unless_stopping
from bot.desk.queue import holders_of, may_see_line, message_out, staff_names

log = logging.getLogger(__name__)

POLL_SECONDS = 0.15
BATCH = 500


@dataclass(eq=False)
class Viewer:
    staff: Staff
    socket: web.WebSocketResponse


@dataclass
class Hub:
    viewers: set[Viewer] = field(default_factory=set)
    last_id: int = 0


HUB = web.AppKey("desk_hub", Hub)


async def _push(app: web.Application) -> None:
    hub, db, clock = app[HUB], app[DB], app[CLOCK]
    m = tables.desk_messages
    async with db.read() as conn:
        hub.last_id = int(await conn.scalar(select(m.c.id).order_by(m.c.id.desc())) or 0)
    while not await wait_unless_stopping(app, POLL_SECONDS):
        try:
            async with db.read() as conn:
                rows = list(
                    await conn.execute(
                        select(m).where(m.c.id > hub.last_id).order_by(m.c.id).limit(BATCH)
                    )
                )
                if not rows:
                    continue
                hub.last_id = rows[-1].id
                if not hub.viewers:
                    continue
                holders = await holders_of(conn, {r.handoff_id for r in rows if r.handoff_id})
                names = await staff_names(conn)
        except (OperationalError, DBAPIError, OSError):
            log.warning("desk: feed unavailable; retrying", exc_info=True)
            continue
        for row in rows:
            out = message_out(row, clock, names)
            holder, status = holders.get(row.handoff_id, (None, None))
            for viewer in list(hub.viewers):
                if may_see_line(viewer.staff, row.kind, status, holder):
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await viewer.socket.send_json(out)


async def pusher(app: web.Application) -> AsyncIterator[None]:
    """Push to the websockets from the app's start until it stops; then close them."""
    app[HUB] = Hub()
    task = asyncio.create_task(keep_running("websocket push", _push, app))
    yield
    await stop_all(app, [task])
    for viewer in list(app[HUB].viewers):
        await viewer.socket.close()
