"""The desk's live feed: customer messages in from Rasa's event broker, changes out to browsers.

In: Rasa publishes every tracker event to its event broker: the SQL broker's `events` table
on the embedded default, a RabbitMQ queue in scale-out. The desk reads it from a cursor kept
in its own database (SQL) or acknowledges a message only once it is stored (RabbitMQ), so a
desk restart loses nothing; `desk_messages.dedupe_key` makes a redelivery harmless.

Out: every desk process tails `desk_messages` and pushes new rows to the websockets of the
staff allowed to see them, so a message reaches an agent whichever process received it.
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
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot import tables
from bot.api import CLOCK, DB, SETTINGS
from bot.clock import Clock
from bot.db import Database, async_url
from bot.desk.accounts import Staff

log = logging.getLogger(__name__)

OPEN = ("waiting", "assigned")
POLL_SECONDS = 0.15
BATCH = 500


# --- writing the feed ----------------------------------------------------------------------


async def open_handoff_of(conn: AsyncConnection, conversation: str) -> str | None:
    h = tables.handoffs
    found = await conn.scalar(
        select(h.c.id)
        .where(h.c.conversation_id == conversation, h.c.status.in_(OPEN))
        .order_by(h.c.created_at.desc())
    )
    return str(found) if found else None


async def post(
    conn: AsyncConnection,
    clock: Clock,
    *,
    conversation: str,
    handoff_id: str | None,
    kind: str,
    text_: str,
    staff_id: int | None = None,
    data: dict[str, Any] | None = None,
    sent_at: float | None = None,
    dedupe_key: str | None = None,
) -> None:
    if dedupe_key is not None:
        seen = await conn.scalar(
            select(tables.desk_messages.c.id).where(tables.desk_messages.c.dedupe_key == dedupe_key)
        )
        if seen is not None:
            return
    await conn.execute(
        tables.desk_messages.insert().values(
            conversation_id=conversation,
            handoff_id=handoff_id,
            kind=kind,
            staff_id=staff_id,
            text=text_,
            data=data,
            dedupe_key=dedupe_key,
            sent_at=sent_at if sent_at is not None else time.time(),
            created_at=clock.to_db(clock.now()),
        )
    )


async def set_assignment(conn: AsyncConnection, handoff_id: str, **values: Any) -> None:
    """Create or change the desk's record of a handoff (holder, callback, resolution)."""
    a = tables.desk_assignments
    exists = await conn.scalar(select(a.c.handoff_id).where(a.c.handoff_id == handoff_id))
    if exists is None:
        await conn.execute(a.insert().values(handoff_id=handoff_id, **values))
    else:
        await conn.execute(a.update().where(a.c.handoff_id == handoff_id).values(**values))


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
    words = str(event.get("text") or "")
    data: dict[str, Any] | None = None
    if kind == "user":
        kind = "customer"
    else:
        agent = (event.get("metadata") or {}).get("desk_agent")
        kind = "agent" if agent else "bot"
        buttons = (event.get("data") or {}).get("buttons") or []
        data = {"agent": agent, "buttons": [b.get("title") for b in buttons if isinstance(b, dict)]}
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
            await post(
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


CURSOR = "rasa_events"


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
                if await pause(app, 1):
                    break
            if read < BATCH and await pause(app, POLL_SECONDS):
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


STOP = web.AppKey("desk_stop", asyncio.Event)


async def pause(app: web.Application, seconds: float) -> bool:
    """Wait, unless the app stops meanwhile; True when it is stopping."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(app[STOP].wait(), timeout=seconds)
    return app[STOP].is_set()


async def keep_running(name: str, work: Any, app: web.Application) -> None:
    """Run a loop of the desk until the app stops, restarting it after a failure."""
    while not app[STOP].is_set():
        try:
            await work(app)
        except Exception:
            log.exception("desk: %s stopped; restarting in 2 s", name)
            await pause(app, 2)


async def stop_all(app: web.Application, tasks: list[asyncio.Task[None]]) -> None:
    """Let the loops finish their step (a database call cut off mid-way leaves an SQLite
    worker thread behind that keeps the process alive), then cancel what still runs."""
    app[STOP].set()
    _, late = await asyncio.wait(tasks, timeout=10)
    for task in late:
        task.cancel()
    for task in late:
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- reading the feed: websockets ----------------------------------------------------------


@dataclass(eq=False)
class Viewer:
    staff: Staff
    socket: web.WebSocketResponse


@dataclass
class Hub:
    viewers: set[Viewer] = field(default_factory=set)
    last_id: int = 0


HUB = web.AppKey("desk_hub", Hub)


def visible(staff: Staff, row: dict[str, Any], holder: int | None, status: str | None) -> bool:
    """Supervisors see everything; an agent sees the queue and the conversations they hold."""
    if staff.supervisor or row["kind"] == "state":
        return True
    if holder is not None:
        return holder == staff.id
    return status == "waiting"


async def _holders(
    conn: AsyncConnection, handoff_ids: set[str]
) -> dict[str, tuple[int | None, str]]:
    h, a = tables.handoffs, tables.desk_assignments
    rows = await conn.execute(
        select(h.c.id, h.c.status, a.c.staff_id)
        .select_from(h.outerjoin(a, a.c.handoff_id == h.c.id))
        .where(h.c.id.in_(handoff_ids))
    )
    return {r.id: (r.staff_id if r.status == "assigned" else None, r.status) for r in rows}


def message_out(row: Any, clock: Clock, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "handoff_id": row.handoff_id,
        "kind": row.kind,
        "text": row.text,
        "data": row.data or {},
        "staff": names.get(row.staff_id) if row.staff_id else None,
        "sent_at": row.sent_at,
        "created_at": clock.from_db(row.created_at).isoformat()
        if isinstance(row.created_at, datetime)
        else None,
    }


async def staff_names(conn: AsyncConnection) -> dict[int, str]:
    rows = await conn.execute(select(tables.staff.c.id, tables.staff.c.display_name))
    return {r.id: r.display_name for r in rows}


async def _push(app: web.Application) -> None:
    hub, db, clock = app[HUB], app[DB], app[CLOCK]
    m = tables.desk_messages
    async with db.read() as conn:
        hub.last_id = int(await conn.scalar(select(m.c.id).order_by(m.c.id.desc())) or 0)
    while not await pause(app, POLL_SECONDS):
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
                holders = await _holders(conn, {r.handoff_id for r in rows if r.handoff_id})
                names = await staff_names(conn)
        except (OperationalError, DBAPIError, OSError):
            log.warning("desk: feed unavailable; retrying", exc_info=True)
            continue
        for row in rows:
            out = message_out(row, clock, names)
            holder, status = holders.get(row.handoff_id, (None, None))
            for viewer in list(hub.viewers):
                if row.kind == "note" and not (
                    viewer.staff.supervisor or holder == viewer.staff.id
                ):
                    continue
                if visible(viewer.staff, out, holder, status):
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await viewer.socket.send_json(out)


async def feed_tasks(app: web.Application) -> AsyncIterator[None]:
    """Start the broker reader and the websocket pusher with the app; stop them with it."""
    app[HUB] = Hub()
    app[STOP] = asyncio.Event()
    reader = _consume_amqp if app[SETTINGS].desk_events_url.startswith("amqp") else _tail_sql
    tasks = [
        asyncio.create_task(keep_running("event reader", reader, app)),
        asyncio.create_task(keep_running("websocket push", _push, app)),
    ]
    yield
    await stop_all(app, tasks)
    for viewer in list(app[HUB].viewers):
        await viewer.socket.close()
