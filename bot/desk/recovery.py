"""Customer messages the event broker never delivered, recovered from Rasa's tracker store.

Rasa saves a turn's events in its tracker store and only then publishes them to its event
broker. What it publishes while RabbitMQ is down waits in the Rasa process's memory until it
reconnects; a Rasa process killed meanwhile, or between saving and publishing (on either
broker), takes those events with it, and the desk would never see those customer messages.
The tracker store has them all: every `SWEEP_SECONDS` this loop reads the messages of the
conversations a person holds (since their handoff opened) and stores those the desk lacks.
The reader and the sweep name a message by the same `dedupe_key` (its own timestamp and
words), so each is stored once, whichever comes first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot import tables
from bot.api import CLOCK, DB, SETTINGS
from bot.contracts.handoffs import OPEN
from bot.db import async_url
from bot.desk.broker import line_of, not_there_yet, record_event
from bot.desk.loops import start_loop, stop_all, stopping, wait_unless_stopping

log = logging.getLogger(__name__)

SWEEP_SECONDS = 10.0
# The turn that asked for a person began before its handoff was stored.
LOOKBACK_SECONDS = 60.0


def _epoch(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()


async def sweep_once(app: web.Application, tracker: AsyncEngine) -> int:
    """Store the messages of open handoffs that are in the tracker store and not at the desk;
    returns how many were missing."""
    db, clock = app[DB], app[CLOCK]
    h, m = tables.handoffs, tables.desk_messages
    async with db.read() as conn:
        held = list(
            await conn.execute(
                select(h.c.conversation_id, h.c.created_at).where(h.c.status.in_(OPEN))
            )
        )
    missing = 0
    for conversation, created_at in held:
        async with tracker.connect() as source:
            rows = list(
                await source.execute(
                    text(
                        "SELECT data FROM events WHERE sender_id = :c AND timestamp >= :t"
                        " AND type_name IN ('user', 'bot') ORDER BY id"
                    ),
                    {"c": conversation, "t": _epoch(created_at) - LOOKBACK_SECONDS},
                )
            )
        async with db.read() as conn:
            known = set(
                (
                    await conn.scalars(
                        select(m.c.dedupe_key).where(
                            m.c.conversation_id == conversation, m.c.dedupe_key.is_not(None)
                        )
                    )
                ).all()
            )
        for (data,) in rows:
            try:
                event = json.loads(data)
            except ValueError:
                continue
            line = line_of(conversation, event)
            if line is None or line.key in known:
                continue
            await record_event(db, clock, conversation, event)
            missing += 1
            if stopping(app):
                return missing
    return missing


async def _sweep(app: web.Application) -> None:
    url = app[SETTINGS].tracker_db_url
    tracker = create_async_engine(async_url(url), poolclass=NullPool)
    warned = False
    try:
        while not await wait_unless_stopping(app, SWEEP_SECONDS):
            if not_there_yet(url):
                continue
            try:
                found = await sweep_once(app, tracker)
                warned = False
            except (OperationalError, DBAPIError, OSError) as exc:
                if not warned:
                    log.warning("desk: cannot read Rasa's tracker store (%s); retrying", exc)
                    warned = True
                continue
            if found:
                log.warning(
                    "desk: %d message(s) the event broker missed, taken from the tracker store",
                    found,
                )
    finally:
        await tracker.dispose()


async def sweeper(app: web.Application) -> AsyncIterator[None]:
    """Sweep the tracker store from the app's start until it stops."""
    task = start_loop("tracker sweep", _sweep, app)
    yield
    await stop_all(app, [task])
