"""The agent console's API: queue, conversation, claim, reply, notes, transfer, work orders,
close and hand-back, the supervisor's view, and the websocket that keeps the page live.

Rules: an agent sees the queue and the conversations they hold; a supervisor sees all. Only
the holder speaks in a conversation. Every action is written to `desk_audit`.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from aiohttp import WSMsgType, web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import (
    CLOCK,
    DB,
    SETTINGS,
    ApiError,
    Body,
    Query,
    Reply,
    Routes,
    fetch_one,
    path_param,
)
from bot.clock import Clock
from bot.desk.accounts import Staff, audit, current, session_staff
from bot.desk.feed import HUB, Viewer, message_out, post, set_assignment, staff_names
from bot.desk.rasa import RASA, transcript
from bot.ids import HANDOFF_PREFIX, normalize_daily_id
from bot.workorders import (
    CreateIn,
    Status,
    TransitionIn,
    WorkOrder,
    advance,
    book,
    booking_lead,
    load,
)

log = logging.getLogger(__name__)
routes = Routes("desk", audience="desk")
CANNED = Path(__file__).with_name("canned.yml")
CANNED_KEY = web.AppKey("desk_canned", list[dict[str, str]])

Resolution = Literal["resolved", "work_order", "callback", "no_reply", "duplicate", "other"]


class Item(BaseModel):
    """A handoff as the desk lists it."""

    id: str
    conversation_id: str
    channel: str
    reason: str
    status: str
    package: dict[str, Any]
    holder_id: int | None
    holder: str | None
    callback_phone: str | None
    notified: bool
    resolution: str | None
    created_at: datetime
    waited_seconds: int


async def _items(
    conn: AsyncConnection, clock: Clock, *conditions: Any, limit: int = 500
) -> list[Item]:
    h, a = tables.handoffs, tables.desk_assignments
    rows = await conn.execute(
        select(h, a.c.staff_id, a.c.callback_phone, a.c.notified_at, a.c.resolution, a.c.claimed_at)
        .select_from(h.outerjoin(a, a.c.handoff_id == h.c.id))
        .where(*conditions)
        .order_by(h.c.created_at, h.c.id)
        .limit(limit)
    )
    names = await staff_names(conn)
    now = clock.now()
    items = []
    for r in rows:
        created = clock.from_db(r.created_at)
        until = clock.from_db(r.claimed_at) if r.claimed_at and r.status != "waiting" else now
        holder = r.staff_id if r.status != "waiting" else None
        items.append(
            Item(
                id=r.id,
                conversation_id=r.conversation_id,
                channel=r.channel,
                reason=r.reason,
                status=r.status,
                package=r.package or {},
                holder_id=holder,
                holder=names.get(holder) if holder else None,
                callback_phone=r.callback_phone,
                notified=r.notified_at is not None,
                resolution=r.resolution,
                created_at=created,
                waited_seconds=max(0, int((until - created).total_seconds())),
            )
        )
    # Complaints first, then whoever has waited longest.
    return sorted(items, key=lambda i: (i.reason != "complaint", i.created_at))


class ListQuery(Query):
    scope: Literal["queue", "mine", "live"] = "queue"


@routes.get(
    "/desk/api/handoffs",
    summary="The queue (waiting), my conversations, or every live one (supervisors)",
    query=ListQuery,
    response=list[Item],
    errors=(401, 403),
)
async def list_handoffs(request: web.Request, query: ListQuery) -> list[Item]:
    staff = current(request)
    h, a = tables.handoffs, tables.desk_assignments
    if query.scope == "queue":
        where: tuple[Any, ...] = (h.c.status == "waiting",)
    elif query.scope == "mine":
        where = (h.c.status == "assigned", a.c.staff_id == staff.id)
    else:
        if not staff.supervisor:
            raise ApiError(403, "supervisors_only", "only supervisors see every conversation")
        where = (h.c.status.in_(("waiting", "assigned")),)
    async with request.config_dict[DB].read() as conn:
        return await _items(conn, request.config_dict[CLOCK], *where)


def _id(request: web.Request) -> str:
    return path_param(request, "id", lambda s: normalize_daily_id(s, HANDOFF_PREFIX), "handoff_id")


async def _one(conn: AsyncConnection, clock: Clock, handoff_id: str) -> Item:
    found = await _items(conn, clock, tables.handoffs.c.id == handoff_id, limit=1)
    if not found:
        raise ApiError(404, "handoff_not_found", f"no handoff {handoff_id!r}")
    return found[0]


def _may_read(staff: Staff, item: Item) -> None:
    if staff.supervisor or item.status == "waiting" or item.holder_id == staff.id:
        return
    raise ApiError(403, "not_yours", "this conversation is held by a colleague")


def _must_hold(staff: Staff, item: Item) -> None:
    if item.status != "assigned" or item.holder_id != staff.id:
        raise ApiError(409, "not_holding", "claim the conversation first")


class Line(BaseModel):
    kind: str
    text: str
    agent: str | None = None
    buttons: list[str] = []
    sent_at: float | None = None


class Conversation(BaseModel):
    handoff: Item
    transcript: list[Line]
    notes: list[dict[str, Any]]
    transcript_complete: bool
    feed_position: int


@routes.get(
    "/desk/api/handoffs/{id}",
    summary="A handoff with its package, the whole transcript and the private notes",
    response=Conversation,
    errors=(400, 401, 403, 404),
)
async def show(request: web.Request, _: None) -> Conversation:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    m = tables.desk_messages
    async with request.config_dict[DB].read() as conn:
        item = await _one(conn, clock, handoff_id)
        _may_read(staff, item)
        rows = list(
            await conn.execute(select(m).where(m.c.handoff_id == handoff_id).order_by(m.c.id))
        )
        position = int(await conn.scalar(select(m.c.id).order_by(m.c.id.desc())) or 0)
        names = await staff_names(conn)
    feed = [message_out(r, clock, names) for r in rows]
    complete = True
    try:
        lines = [
            Line(**line)
            for line in transcript(await request.app[RASA].tracker(item.conversation_id))
        ]
    except ApiError:
        # The assistant is down: show what the desk itself received, and say it is partial.
        complete = False
        lines = [
            Line(kind=f["kind"], text=f["text"], agent=f["staff"], sent_at=f["sent_at"])
            for f in feed
            if f["kind"] in ("customer", "bot", "agent")
        ]
    return Conversation(
        handoff=item,
        transcript=lines,
        notes=[f for f in feed if f["kind"] in ("note", "state")],
        transcript_complete=complete,
        feed_position=position,
    )


async def _tell(request: web.Request, item: Item, response: str) -> None:
    """The bot's sentence about a change that has already happened: if Rasa is unreachable
    now, the change stands and the agent is not told it failed."""
    try:
        await request.app[RASA].utter(item.conversation_id, response)
    except ApiError:
        log.warning("desk: could not say %s in %s", response, item.conversation_id)


async def _state(
    conn: AsyncConnection, clock: Clock, item: Item, staff: Staff | None, what: str, **detail: Any
) -> None:
    """Audit an action and tell every desk page that the handoff changed."""
    await audit(conn, clock.now(), staff.id if staff else None, what, item.id, detail)
    await post(
        conn,
        clock,
        conversation=item.conversation_id,
        handoff_id=item.id,
        kind="state",
        text_=what,
        staff_id=staff.id if staff else None,
        data=detail,
    )


@routes.post(
    "/desk/api/handoffs/{id}/claim",
    summary="Take a waiting conversation: the bot stays silent while you hold it",
    response=Item,
    errors=(400, 401, 403, 404, 409, 503),
)
async def claim(request: web.Request, _: None) -> Item:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    h = tables.handoffs
    async with request.config_dict[DB].write() as conn:
        done = await conn.execute(
            h.update()
            .where(h.c.id == handoff_id, h.c.status == "waiting")
            .values(status="assigned", updated_at=clock.to_db(clock.now()))
        )
        if done.rowcount != 1:
            item = await _one(conn, clock, handoff_id)
            raise ApiError(409, "not_waiting", f"this conversation is {item.status} already")
        await set_assignment(
            conn, handoff_id, staff_id=staff.id, claimed_at=clock.to_db(clock.now())
        )
        item = await _one(conn, clock, handoff_id)
        # Pause again: the customer may have been handed back to the bot after waiting long.
        await request.app[RASA].pause(item.conversation_id, staff.display_name)
        await _state(conn, clock, item, staff, "claimed")
    await _tell(request, item, "utter_desk_agent_joined")
    return item


class MessageIn(Body):
    text: str = Field(min_length=1, max_length=4000)


@routes.post(
    "/desk/api/handoffs/{id}/messages",
    summary="Say something to the customer, on the channel they wrote from",
    body=MessageIn,
    response=Item,
    status=201,
    errors=(400, 401, 403, 404, 409, 503),
)
async def send(request: web.Request, body: MessageIn) -> Item:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    async with request.config_dict[DB].read() as conn:
        item = await _one(conn, clock, handoff_id)
    _must_hold(staff, item)
    sent_at = time.time()
    await request.app[RASA].say(item.conversation_id, body.text, staff.display_name, sent_at)
    async with request.config_dict[DB].write() as conn:
        await audit(conn, clock.now(), staff.id, "message", handoff_id, {"chars": len(body.text)})
    return item


@routes.post(
    "/desk/api/handoffs/{id}/notes",
    summary="A private note: staff see it, the customer never does",
    body=MessageIn,
    response=Item,
    status=201,
    errors=(400, 401, 403, 404),
)
async def note(request: web.Request, body: MessageIn) -> Item:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    async with request.config_dict[DB].write() as conn:
        item = await _one(conn, clock, handoff_id)
        _may_read(staff, item)
        await post(
            conn,
            clock,
            conversation=item.conversation_id,
            handoff_id=handoff_id,
            kind="note",
            text_=body.text,
            staff_id=staff.id,
        )
        await audit(conn, clock.now(), staff.id, "note", handoff_id, {})
    return item


class TransferIn(Body):
    to: int = Field(description="staff id of the colleague")


@routes.post(
    "/desk/api/handoffs/{id}/transfer",
    summary="Give a conversation to a colleague (its holder, or a supervisor)",
    body=TransferIn,
    response=Item,
    errors=(400, 401, 403, 404, 409, 503),
)
async def transfer(request: web.Request, body: TransferIn) -> Item:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    st = tables.staff
    async with request.config_dict[DB].write() as conn:
        item = await _one(conn, clock, handoff_id)
        if not staff.supervisor:
            _must_hold(staff, item)
        elif item.status == "closed":
            raise ApiError(409, "closed", "this conversation is closed")
        target = (
            await conn.execute(select(st).where(st.c.id == body.to, st.c.active.is_(True)))
        ).first()
        if target is None:
            raise ApiError(404, "staff_not_found", f"no active colleague {body.to}")
        await conn.execute(
            tables.handoffs.update()
            .where(tables.handoffs.c.id == handoff_id)
            .values(status="assigned", updated_at=clock.to_db(clock.now()))
        )
        await set_assignment(
            conn, handoff_id, staff_id=target.id, claimed_at=clock.to_db(clock.now())
        )
        await request.app[RASA].pause(item.conversation_id, target.display_name)
        await _state(conn, clock, item, staff, "transferred", to=target.display_name)
        item = await _one(conn, clock, handoff_id)
    await _tell(request, item, "utter_desk_agent_joined")
    return item


class CloseIn(Body):
    resolution: Resolution = "resolved"
    note: str = Field("", max_length=2000)


async def _finish(request: web.Request, body: CloseIn, what: str, response: str) -> Item:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    async with request.config_dict[DB].read() as conn:
        item = await _one(conn, clock, handoff_id)
    if not staff.supervisor:
        _must_hold(staff, item)
    if item.status == "closed":
        raise ApiError(409, "closed", "this conversation is closed already")
    # Resume first: if the assistant is unreachable nothing changes and the agent can retry.
    rasa = request.app[RASA]
    await rasa.resume(item.conversation_id)
    async with request.config_dict[DB].write() as conn:
        await conn.execute(
            tables.handoffs.update()
            .where(tables.handoffs.c.id == handoff_id)
            .values(status="closed", updated_at=clock.to_db(clock.now()))
        )
        await set_assignment(
            conn, handoff_id, resolution=body.resolution, closed_at=clock.to_db(clock.now())
        )
        await _state(conn, clock, item, staff, what, resolution=body.resolution, note=body.note)
        item = await _one(conn, clock, handoff_id)
    await _tell(request, item, response)
    return item


@routes.post(
    "/desk/api/handoffs/{id}/handback",
    summary="Hand the conversation back to the bot, which says so to the customer",
    body=CloseIn,
    response=Item,
    errors=(400, 401, 403, 404, 409, 503),
)
async def handback(request: web.Request, body: CloseIn) -> Item:
    return await _finish(request, body, "handed_back", "utter_desk_handback")


@routes.post(
    "/desk/api/handoffs/{id}/close",
    summary="Close with a resolution code; the bot takes over again with a closing sentence",
    body=CloseIn,
    response=Item,
    errors=(400, 401, 403, 404, 409, 503),
)
async def close(request: web.Request, body: CloseIn) -> Item:
    return await _finish(request, body, "closed", "utter_desk_closed")


class WorkOrderIn(CreateIn):
    """A booking made by the agent for the customer; conversation and channel come from the
    handoff."""


@routes.post(
    "/desk/api/handoffs/{id}/workorders",
    summary="Book a repair for the customer of this conversation",
    body=WorkOrderIn,
    response=WorkOrder,
    status=201,
    errors=(400, 401, 403, 404, 409, 422),
)
async def create_work_order(request: web.Request, body: WorkOrderIn) -> Reply:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[DB].write() as conn:
        item = await _one(conn, clock, handoff_id)
        _must_hold(staff, item)
        body = body.copy(update={"conversation_id": item.conversation_id, "channel": item.channel})
        order_id, _ = await book(conn, clock, settings, body, None)
        package = dict(item.package) | {"work_order_id": order_id}
        await conn.execute(
            tables.handoffs.update()
            .where(tables.handoffs.c.id == handoff_id)
            .values(package=package)
        )
        await _state(conn, clock, item, staff, "work_order_created", work_order_id=order_id)
        return Reply(await load(conn, clock, order_id, booking_lead(request)), 201)


class StepIn(Body):
    to: Status
    note: str = Field("", max_length=2000)


@routes.post(
    "/desk/api/handoffs/{id}/workorders/{order}/transitions",
    summary="Move the customer's work order along its life cycle, signed by the agent",
    body=StepIn,
    response=WorkOrder,
    errors=(400, 401, 403, 404, 409),
)
async def update_work_order(request: web.Request, body: StepIn) -> WorkOrder:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    order_id = request.match_info["order"].upper()
    async with request.config_dict[DB].write() as conn:
        item = await _one(conn, clock, handoff_id)
        _must_hold(staff, item)
        step = TransitionIn(to=body.to, note=body.note, actor=f"desk:{staff.username}")
        await fetch_one(conn, tables.work_orders.c.id, order_id, "work_order")
        await advance(conn, clock, order_id, step)
        await _state(
            conn, clock, item, staff, "work_order_updated", work_order_id=order_id, to=body.to
        )
        return await load(conn, clock, order_id, booking_lead(request))


class Canned(BaseModel):
    title: str
    text: str


def load_canned(path: Path = CANNED) -> list[dict[str, str]]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [{"title": str(e["title"]), "text": str(e["text"])} for e in entries]


_VARIABLE = re.compile(r"\{(\w+)\}")


def fill(template: str, values: dict[str, str | None]) -> str:
    """Fill {customer_name}, {work_order_id}, …; an unknown value stays visible as {name} so
    the agent sees what to complete before sending."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1)) or m.group(0), template)


@routes.get(
    "/desk/api/handoffs/{id}/canned",
    summary="Canned replies with this conversation's values filled in",
    response=list[Canned],
    errors=(400, 401, 403, 404),
)
async def canned(request: web.Request, _: None) -> list[Canned]:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], _id(request)
    async with request.config_dict[DB].read() as conn:
        item = await _one(conn, clock, handoff_id)
    _may_read(staff, item)
    p = item.package
    values = {
        "customer_name": p.get("customer_name"),
        "work_order_id": p.get("work_order_id"),
        "serial": p.get("serial"),
        "agent_name": staff.display_name,
    }
    return [Canned(title=c["title"], text=fill(c["text"], values)) for c in request.app[CANNED_KEY]]


class AuditLine(BaseModel):
    staff: str | None
    action: str
    handoff_id: str | None
    detail: dict[str, Any]
    at: datetime


class AuditQuery(Query):
    handoff_id: str | None = Field(None, max_length=20)


@routes.get(
    "/desk/api/audit",
    summary="Who did what, when (supervisors)",
    query=AuditQuery,
    response=list[AuditLine],
    errors=(401, 403),
)
async def audit_log(request: web.Request, query: AuditQuery) -> list[AuditLine]:
    if not current(request).supervisor:
        raise ApiError(403, "supervisors_only", "only supervisors read the audit log")
    d = tables.desk_audit
    stmt = select(d).order_by(d.c.id.desc()).limit(500)
    if query.handoff_id:
        stmt = stmt.where(d.c.handoff_id == query.handoff_id)
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].read() as conn:
        names = await staff_names(conn)
        rows = list(await conn.execute(stmt))
    return [
        AuditLine(
            staff=names.get(r.staff_id) if r.staff_id else None,
            action=r.action,
            handoff_id=r.handoff_id,
            detail=r.detail or {},
            at=clock.from_db(r.at),
        )
        for r in rows
    ]


# --- the page and its websocket --------------------------------------------------------------

STATIC = Path(__file__).resolve().parent.parent / "static" / "desk"


async def page(_: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def to_page(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/desk/")


async def socket(request: web.Request) -> web.StreamResponse:
    """Live updates for a logged-in page. The Origin must be this server: a page of another
    site cannot open it with the agent's cookie."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-site websocket refused")
    found = await session_staff(request)
    if found is None:
        raise web.HTTPUnauthorized(text="log in first")
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    viewer = Viewer(found[0], ws)
    hub = request.app[HUB]
    hub.viewers.add(viewer)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT and message.data == "ping":
                await ws.send_str("pong")
    finally:
        hub.viewers.discard(viewer)
    return ws


def add_page(app: web.Application) -> None:
    app.router.add_get("/desk/", page)
    app.router.add_get("/desk", to_page)
    app.router.add_get("/desk/ws", socket)
    app.router.add_static("/desk/static/", STATIC)
