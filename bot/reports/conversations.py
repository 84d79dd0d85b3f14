"""The facts of every conversation (``report_conversations``), from Rasa's SQL event broker.

A loop of the backend tails the broker's ``events`` table from its own cursor (``desk_cursors``
row ``report_events``, apart from the desk's): each batch of events is folded into the facts of
its conversations (``bot.reports.definitions.fold``) and written in one transaction with the
new cursor position, so a restart neither skips nor counts an event twice.

With RabbitMQ as the broker (scale-out) the desk consumes the queue and this loop has nothing
to read: conversation figures then need a second queue bound to Rasa's exchange (not set up).
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from bot import tables
from bot.api import CLOCK, DB, SETTINGS
from bot.clock import Clock
from bot.db import Database, async_url
from bot.desk.broker import not_there_yet
from bot.desk.loops import stopping, wait_unless_stopping
from bot.reports.definitions import ConversationFacts, fold

log = logging.getLogger(__name__)

CURSOR = "report_events"
BATCH = 2000
POLL_SECONDS = 5.0


async def _load(conn: AsyncConnection, sender: str) -> ConversationFacts | None:
    r = tables.report_conversations
    row = (await conn.execute(select(r).where(r.c.conversation_id == sender))).one_or_none()
    if row is None:
        return None
    return ConversationFacts(
        first_at=row.first_at.replace(tzinfo=timezone.utc).timestamp(),
        channel=row.channel,
        user_turns=row.user_turns,
        fallback_turns=row.fallback_turns,
        handed_off=row.handed_off,
        model_code=row.model_code,
        fault_code=row.fault_code,
    )


async def store_events(
    db: Database, clock: Clock, events: list[tuple[int, str, dict[str, Any]]]
) -> None:
    """Fold a batch of (broker id, sender, event) into the stored facts, and move the cursor
    past it, in one transaction."""
    if not events:
        return
    r, c = tables.report_conversations, tables.desk_cursors
    async with db.write() as conn:
        folded: dict[str, ConversationFacts | None] = {}
        known: set[str] = set()
        for _, sender, event in events:
            if sender not in folded:
                folded[sender] = await _load(conn, sender)
                if folded[sender] is not None:
                    known.add(sender)
            folded[sender] = fold(folded[sender], event)
        for sender, facts in folded.items():
            if facts is None or not facts.counted:
                continue
            first = datetime.fromtimestamp(facts.first_at, tz=timezone.utc).replace(tzinfo=None)
            values = {
                "day": clock.from_db(first).date(),
                "channel": facts.channel,
                "user_turns": facts.user_turns,
                "fallback_turns": facts.fallback_turns,
                "handed_off": facts.handed_off,
                "model_code": facts.model_code,
                "fault_code": facts.fault_code,
                "first_at": first,
            }
            if sender in known:
                await conn.execute(r.update().where(r.c.conversation_id == sender).values(values))
            else:
                await conn.execute(r.insert().values(conversation_id=sender, **values))
        position = events[-1][0]
        moved = await conn.execute(c.update().where(c.c.name == CURSOR).values(position=position))
        if moved.rowcount == 0:
            await conn.execute(c.insert().values(name=CURSOR, position=position))


async def read_once(app: web.Application, events_url: str) -> int:
    db, clock = app[DB], app[CLOCK]
    async with db.read() as conn:
        position = await conn.scalar(
            select(tables.desk_cursors.c.position).where(tables.desk_cursors.c.name == CURSOR)
        )
    engine = create_async_engine(async_url(events_url), poolclass=NullPool)
    try:
        async with engine.connect() as source:
            rows = list(
                await source.execute(
                    text(
                        "SELECT id, sender_id, data FROM events WHERE id > :p ORDER BY id LIMIT :n"
                    ),
                    {"p": position or 0, "n": BATCH},
                )
            )
    finally:
        await engine.dispose()
    batch = []
    for row in rows:
        with contextlib.suppress(ValueError):
            batch.append((int(row.id), str(row.sender_id), json.loads(row.data)))
    await store_events(db, clock, batch)
    return len(rows)


async def follow(app: web.Application) -> None:
    """Keep the conversation facts up to date until the app stops (SQL broker only)."""
    url = app[SETTINGS].desk_events_url
    if url.startswith("amqp"):
        log.info("reports: the event broker is RabbitMQ; conversation figures are not kept")
        await wait_unless_stopping(app, 1e9)
        return
    while not stopping(app):
        read = 0
        try:
            if not not_there_yet(url):
                read = await read_once(app, url)
        except (OperationalError, DBAPIError, OSError) as exc:
            log.info("reports: cannot read Rasa's events yet (%s)", exc)
        if read < BATCH and await wait_unless_stopping(app, POLL_SECONDS):
            return
