"""Customer messages in: what Rasa publishes to its event broker, kept for the desk.

Rasa publishes every tracker event to its event broker: the SQL broker's `events` table on
the embedded default, a RabbitMQ queue in scale-out. The desk reads it from a cursor kept in
its own database (SQL) or acknowledges a message only once it is stored (RabbitMQ), so a
desk restart loses nothing; `desk_messages.dedupe_key` makes a redelivery harmless. Only the
messages of conversations with an open handoff are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot import tables
from bot.api import CLOCK, DB, SETTINGS
from bot.clock import Clock
from bot.contracts.transcript import message_of
from bot.db import Database, async_url
from bot.desk.loops import STOP, keep_running, stop_all, wait_unless_stopping
from bot.handoffs import add_activity, open_handoff_of

log = logging.getLogger(__name__)

POLL_SECONDS = 0.15
BATCH = 500
CURSOR = "rasa_events"


def dedupe_key(conversation: str, kind: str, sent_at: float, words: str) -> str:
    raw = f"{conversation}|{kind}|{sent_at:.6f}|{words}"
    return hashlib.sha256(raw.encode()).hexdigest()


async def record_event(
    db: Database, clock: Clock, conversation: str, event: dict[str, Any]
) -> None:
    """Keep a customer's, the bot's or an agent's message if a person has the conversation."""
    kind = event.get("event")
    if kind not in ("user", "bot") or not conversation:
        return
    message = message_of(event)
    if message is None:
        return
    words = message.text
    data: dict[str, Any] | None = None
    if message.sender == "user":
        kind = "customer"
    else:
        kind = "agent" if message.agent else "bot"
        data = {"agent": message.agent, "buttons": message.button_titles}
    sent_at = float(event.get("timestamp") or time.time())
    # Most events belong to conversations no person holds: look before taking the write lock.
    async with db.read() as conn:
        if await open_handoff_of(conn, conversation) is None:
            return
    try:
        async with db.write() as conn:
            handoff_id = await open_handoff_of(conn, conversation)
            if handoff_id is None:
                return
            await add_activity(
                conn,
                clock,
                conversation=conversation,
                handoff_id=handoff_id,
                kind=kind,
                text_=words,
                data=data,
                sent_at=sent_at,
                dedupe_key=dedupe_key(conversation, kind, sent_at, words),
            )
    except IntegrityError:
        pass  # another desk process stored the same event a moment earlier


# --- Rasa's SQL event broker table ---------------------------------------------------------


async def read_events_once(app: web.Application, events: AsyncEngine) -> int:
    """Store what Rasa published since the cursor; returns how many events were read."""
    db, clock = app[DB], app[CLOCK]
    async with db.read() as conn:
        position = await conn.scalar(
            select(tables.desk_cursors.c.position).where(tables.desk_cursors.c.name == CURSOR)
        )
    async with events.connect() as source:
        rows = list(
            await source.execute(
                text("SELECT id, sender_id, data FROM events WHERE id > :p ORDER BY id LIMIT :n"),
                {"p": position or 0, "n": BATCH},
            )
        )
    for row in rows:
        with contextlib.suppress(ValueError):
            await record_event(db, clock, str(row.sender_id), json.loads(row.data))
    if rows:
        await _save_cursor(db, CURSOR, int(rows[-1].id), position is None)
    return len(rows)


def _not_there_yet(url: str) -> bool:
    """An SQLite event file Rasa has not written yet: connecting would create it empty."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and not Path(str(parsed.database)).exists()


async def _tail_sql(app: web.Application) -> None:
    """Follow Rasa's SQL event broker table until the app stops."""
    url = app[SETTINGS].desk_events_url
    events = create_async_engine(async_url(url), poolclass=NullPool)
    warned = False
    try:
        while not app[STOP].is_set():
            read = 0
            try:
                if not _not_there_yet(url):
                    read = await read_events_once(app, events)
                    warned = False
            except (OperationalError, DBAPIError, OSError) as exc:
                # Rasa has not created its table yet, or a database is restarting: retry.
                if not warned:
                    log.warning("desk: cannot read Rasa's events yet (%s); retrying", exc)
                    warned = True
                if await wait_unless_stopping(app, 1):
                    break
            if read < BATCH and await wait_unless_stopping(app, POLL_SECONDS):
                break
    finally:
        await events.dispose()


async def _save_cursor(db: Database, name: str, position: int, new: bool) -> None:
    c = tables.desk_cursors
    async with db.write() as conn:
        if new:
            try:
                await conn.execute(c.insert().values(name=name, position=position))
                return
            except IntegrityError:
                pass
        await conn.execute(c.update().where(c.c.name == name).values(position=position))


# --- Rasa's RabbitMQ queue (scale-out) -----------------------------------------------------


async def _consume_amqp(app: web.Application) -> None:
    """Consume Rasa's RabbitMQ queue; a message is acknowledged once stored."""
    import aio_pika  # installed with Rasa's pika broker; imported only in scale-out

    settings, db, clock = app[SETTINGS], app[DB], app[CLOCK]
    connection = await aio_pika.connect_robust(settings.desk_events_url, timeout=10)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue(settings.desk_events_queue, durable=True)

        async def consume() -> None:
            async with queue.iterator() as messages:
                async for message in messages:
                    try:
                        event = json.loads(message.body)
                    except ValueError:
                        await message.reject()
                        continue
                    await record_event(db, clock, str(event.get("sender_id") or ""), event)
                    await message.ack()

        # Waiting for a message is the only thing cancelled at shutdown; an unacknowledged
        # message goes back to the queue.
        consuming = asyncio.create_task(consume())
        stopping = asyncio.create_task(app[STOP].wait())
        await asyncio.wait((consuming, stopping), return_when=asyncio.FIRST_COMPLETED)
        for task in (consuming, stopping):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming  # raises what made consuming stop, if it stopped on its own
    finally:
        await connection.close()


async def reader(app: web.Application) -> AsyncIterator[None]:
    """Read Rasa's events from the app's start until it stops."""
    read = _consume_amqp if app[SETTINGS].desk_events_url.startswith("amqp") else _tail_sql
    task = asyncio.create_task(keep_running("event reader", read, app))
    yield
    await stop_all(app, [task])
