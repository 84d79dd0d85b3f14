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

from aiohttp import WSCloseCode, web
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from bot import tables
from bot.api import CLOCK, DB
from bot.desk.accounts import Staff

# Re-exported for tests/conversations/test_desk.py until it imports bot.desk.broker.
from bot.desk.broker import read_events_once as read_events_once
from bot.desk.loops import begin_stop, start_loop, stop_all, wait_unless_stopping
from bot.desk.queue import holders_of, may_see_line, message_out, staff_names

log = logging.getLogger(__name__)

POLL_SECONDS = 0.15
BATCH = 500
# How long closing the staff's websockets may take when the backend stops.
CLOSE_SECONDS = 2.0
GOING_AWAY = b"server restarting"


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


async def close_sockets(app: web.Application) -> None:
    """Close every staff websocket with 1001 (going away): the page reconnects, to another
    backend process or to this one's successor, and reloads its lists."""
    viewers = list(app[HUB].viewers)
    if not viewers:
        return
    closing = [
        asyncio.create_task(v.socket.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY))
        for v in viewers
    ]
    _, late = await asyncio.wait(closing, timeout=CLOSE_SECONDS)
    for task in late:
        task.cancel()
    log.info("desk: closed %d websocket(s)", len(viewers) - len(late))


async def going_away(app: web.Application) -> None:
    """When the backend begins to stop (`bot.serving`): the loops stop at their next safe
    point while the staff's websockets close and the requests in flight drain."""
    begin_stop(app)
    await close_sockets(app)


async def pusher(app: web.Application) -> AsyncIterator[None]:
    """Push to the websockets from the app's start until it stops; then close them."""
    app[HUB] = Hub()
    task = start_loop("websocket push", _push, app)
    yield
    await stop_all(app, [task])
    await close_sockets(app)
