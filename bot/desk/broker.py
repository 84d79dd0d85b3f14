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
from dataclasses import dataclass, field
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
from bot.desk.loops import STOP, start_loop, stop_all, stopping, wait_unless_stopping
from bot.handoffs import add_activity, held_among, open_handoff_of

log = logging.getLogger(__name__)

POLL_SECONDS = 0.15
BATCH = 500
CURSOR = "rasa_events"


@dataclass
class ReaderState:
    """What the health report says about the event reader (`bot.health`)."""

    source: str
    """"sql" (Rasa's SQL broker table) or "amqp" (RabbitMQ)."""
    task: asyncio.Task[None] | None = None
    started_at: float = field(default_factory=time.monotonic)
    read_at: float | None = None
    """time.monotonic() of the last successful read (SQL) or stored message (AMQP)."""
    error: str | None = None
    """The last failure, until a read succeeds again."""
    read: int = 0
    """Events read since the process started."""
    events: AsyncEngine | None = None
    """SQL: the broker's database, to measure how far behind the reader is."""
    connection: Any = None
    """AMQP: the reader's connection, to count the messages waiting in the queue."""

    def failed(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}"[:300]


READER = web.AppKey("desk_reader", ReaderState)


def dedupe_key(conversation: str, kind: str, sent_at: float, words: str) -> str:
    raw = f"{conversation}|{kind}|{sent_at:.6f}|{words}"
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Line:
    """A message of a conversation as the desk keeps it."""

    kind: str
    """customer, bot or agent"""
    words: str
    data: dict[str, Any] | None
    sent_at: float
    key: str


def line_of(conversation: str, event: dict[str, Any]) -> Line | None:
    """The desk's line for one of Rasa's events; None for events that are not messages."""
    kind = event.get("event")
    if kind not in ("user", "bot") or not conversation:
        return None
    message = message_of(event)
    if message is None:
        return None
    data: dict[str, Any] | None = None
    if message.sender == "user":
        kind = "customer"
    else:
        kind = "agent" if message.agent else "bot"
        data = {"agent": message.agent, "buttons": message.button_titles}
    if message.attachment is not None:
        data = (data or {}) | {"attachment": dict(message.attachment)}
    sent_at = float(event.get("timestamp") or time.time())
    # What the customer saw: a button's title, not its payload (/affirm).
    words = message.shown
    return Line(kind, words, data, sent_at, dedupe_key(conversation, kind, sent_at, words))


async def record_event(
    db: Database, clock: Clock, conversation: str, event: dict[str, Any]
) -> None:
    """Keep a customer's, the bot's or an agent's message if a person has the conversation."""
    line = line_of(conversation, event)
    if line is None:
        return
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
                kind=line.kind,
                text_=line.words,
                data=line.data,
                sent_at=line.sent_at,
                dedupe_key=line.key,
            )
    except IntegrityError:
        pass  # another desk process stored the same event a moment earlier


# --- Rasa's SQL event broker table ---------------------------------------------------------


async def cursor_position(db: Database) -> int | None:
    async with db.read() as conn:
        position = await conn.scalar(
            select(tables.desk_cursors.c.position).where(tables.desk_cursors.c.name == CURSOR)
        )
    return None if position is None else int(position)


async def read_events_once(app: web.Application, events: AsyncEngine) -> int:
    """Store what Rasa published since the cursor; returns how many events were read.

    When the app begins to stop, the batch ends after the event being stored (the safe
    point) and the cursor is saved there: nothing is read twice or skipped on restart.
    """
    db, clock = app[DB], app[CLOCK]
    position = await cursor_position(db)
    async with events.connect() as source:
        rows = list(
            await source.execute(
                text("SELECT id, sender_id, data FROM events WHERE id > :p ORDER BY id LIMIT :n"),
                {"p": position or 0, "n": BATCH},
            )
        )
    # Most events belong to conversations no person holds: one read finds the others, and
    # only their events are decoded (record_event looks again under the write lock).
    async with db.read() as conn:
        held = await held_among(conn, {str(row.sender_id) for row in rows})
    done = 0
    for row in rows:
        if str(row.sender_id) in held:
            with contextlib.suppress(ValueError):
                await record_event(db, clock, str(row.sender_id), json.loads(row.data))
        done += 1
        if stopping(app):
            break
    if done:
        await _save_cursor(db, CURSOR, int(rows[done - 1].id), position is None)
    return done


def not_there_yet(url: str) -> bool:
    """An SQLite file Rasa has not written yet (its event table, its tracker store):
    connecting would create it empty."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and not Path(str(parsed.database)).exists()


async def _tail_sql(app: web.Application) -> None:
    """Follow Rasa's SQL event broker table until the app stops."""
    url = app[SETTINGS].desk_events_url
    state = app[READER]
    events = create_async_engine(async_url(url), poolclass=NullPool)
    state.events = events
    warned = False
    try:
        while not app[STOP].is_set():
            read = 0
            try:
                if not not_there_yet(url):
                    read = await read_events_once(app, events)
                    warned = False
                state.read_at, state.error = time.monotonic(), None
                state.read += read
            except (OperationalError, DBAPIError, OSError) as exc:
                # Rasa has not created its table yet, or a database is restarting: retry.
                state.failed(exc)
                if not warned:
                    log.warning("desk: cannot read Rasa's events yet (%s); retrying", exc)
                    warned = True
                if await wait_unless_stopping(app, 1):
                    break
            if read < BATCH and await wait_unless_stopping(app, POLL_SECONDS):
                break
    finally:
        state.events = None
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

    settings, db, clock, state = app[SETTINGS], app[DB], app[CLOCK], app[READER]
    try:
        connection = await aio_pika.connect_robust(settings.desk_events_url, timeout=10)
    except Exception as exc:
        state.failed(exc)
        raise
    # Held while a message is being stored: stopping waits for it, so only the wait for the
    # next message is ever cancelled (the safe point).
    storing = asyncio.Lock()
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue(settings.desk_events_queue, durable=True)
        state.connection, state.read_at, state.error = connection, time.monotonic(), None

        async def consume() -> None:
            async with queue.iterator() as messages:
                async for message in messages:
                    async with storing:
                        if app[STOP].is_set():
                            return  # not acknowledged: back to the queue
                        try:
                            event = json.loads(message.body)
                        except ValueError:
                            await message.reject()
                            continue
                        await record_event(db, clock, str(event.get("sender_id") or ""), event)
                        await message.ack()
                        state.read_at, state.error = time.monotonic(), None
                        state.read += 1

        consuming = asyncio.create_task(consume())
        stop = asyncio.create_task(app[STOP].wait())
        await asyncio.wait((consuming, stop), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        async with storing:
            consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming  # raises what made consuming stop, if it stopped on its own
    except Exception as exc:
        state.failed(exc)
        raise
    finally:
        state.connection = None
        await connection.close()


async def reader(app: web.Application) -> AsyncIterator[None]:
    """Read Rasa's events from the app's start until it stops."""
    amqp = app[SETTINGS].desk_events_url.startswith("amqp")
    app[READER] = state = ReaderState("amqp" if amqp else "sql")
    state.task = start_loop("event reader", _consume_amqp if amqp else _tail_sql, app)
    yield
    await stop_all(app, [state.task])


# --- how far behind (bot.health) -----------------------------------------------------------


async def backlog(app: web.Application) -> int:
    """The events Rasa has published that the reader has not read yet: rows after the cursor
    (SQL), or messages ready in the queue (AMQP). Raises when the broker does not answer."""
    state = app[READER]
    if state.source == "amqp":
        if state.connection is None:
            raise ConnectionError("the event reader is not connected to RabbitMQ")
        channel = await state.connection.channel()
        try:
            queue = await channel.declare_queue(app[SETTINGS].desk_events_queue, passive=True)
            return int(queue.declaration_result.message_count or 0)
        finally:
            await channel.close()
    url = app[SETTINGS].desk_events_url
    if not_there_yet(url):
        return 0  # Rasa has published nothing yet
    events = state.events
    if events is None:
        raise ConnectionError("the event reader is not running")
    async with events.connect() as source:
        last = await source.scalar(text("SELECT max(id) FROM events"))
    return max(0, int(last or 0) - (await cursor_position(app[DB]) or 0))
