"""Handoffs: a conversation the bot hands to a person, with everything the agent needs to know.

The package travels with the request so the agent never asks the customer again for the
serial number, the warranty verdict or the steps already tried.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from bot import tables
from bot.api import CLOCK, DB, ApiError, Reply, Routes, fetch_one, from_row, not_found, path_param
from bot.clock import Clock
from bot.contracts.base import Body, Query
from bot.contracts.ids import HANDOFF_PREFIX, normalize_daily_id
from bot.contracts.rules import PHONE
from bot.db import replayed
from bot.desk import feed
from bot.desk.accounts import audit
from bot.sequences import next_id

routes = Routes("handoffs")

Reason = Literal["requested", "fallback", "complaint", "angry", "safety", "backend_down", "other"]
Status = Literal["waiting", "assigned", "closed"]
OPEN = ("waiting", "assigned")


class Package(Body):
    customer_name: str | None = Field(None, max_length=40)
    contact: str | None = Field(None, max_length=60)
    model_code: str | None = Field(None, max_length=30)
    serial: str | None = Field(None, max_length=40)
    warranty: str | None = Field(
        None, max_length=2000, description="the verdict as the bot told it"
    )
    fault: str | None = Field(None, max_length=10_000)
    steps_tried: list[str] = Field([], max_items=50)
    work_order_id: str | None = Field(None, max_length=20)
    last_message: str | None = Field(None, max_length=10_000)
    note: str | None = Field(None, max_length=2000)


class HandoffIn(Body):
    conversation_id: str = Field(min_length=1, max_length=100)
    channel: str = Field(min_length=1, max_length=20)
    reason: Reason
    package: Package = Package()
    complaint_id: str | None = Field(None, max_length=20)


class HandoffUpdate(Body):
    status: Status


class Handoff(BaseModel):
    id: str
    conversation_id: str
    channel: str
    reason: Reason
    status: Status
    package: dict[str, Any]
    complaint_id: str | None
    created_at: datetime
    updated_at: datetime


class HandoffQuery(Query):
    status: Status | None = None
    conversation_id: str | None = Field(None, max_length=100)


def _out(row: Any, clock: Clock) -> Handoff:
    return from_row(Handoff, row, clock, "created_at", "updated_at")


@routes.post(
    "/api/handoffs",
    summary="Hand a conversation to the support desk (one open handoff per conversation)",
    body=HandoffIn,
    response=Handoff,
    status=201,
    errors=(404,),
)
async def create(request: web.Request, body: HandoffIn) -> Handoff | Reply:
    clock = request.config_dict[CLOCK]
    key = request.headers.get("Idempotency-Key")
    h = tables.handoffs
    async with request.config_dict[DB].write() as conn:
        if (row := await replayed(conn, h, key)) is not None:
            return Reply(_out(row, clock), 200)
        # A customer who asks twice is still one customer waiting: answer with the open handoff.
        row = (
            await conn.execute(
                select(h).where(h.c.conversation_id == body.conversation_id, h.c.status.in_(OPEN))
            )
        ).first()
        if row is not None:
            return Reply(_out(row, clock), 200)
        if body.complaint_id:
            found = await conn.scalar(
                select(tables.complaints.c.id).where(tables.complaints.c.id == body.complaint_id)
            )
            if found is None:
                raise not_found("complaint", body.complaint_id)
        now = clock.to_db(clock.now())
        values = {
            **body.dict(exclude={"package"}),
            "package": body.package.dict(),
            "id": await next_id(conn, HANDOFF_PREFIX, clock.today()),
            "status": "waiting",
            "idempotency_key": key,
            "created_at": now,
            "updated_at": now,
        }
        await conn.execute(h.insert().values(**values))
        # The desk's queues update live from this feed row.
        await feed.post(
            conn,
            clock,
            conversation=body.conversation_id,
            handoff_id=values["id"],
            kind="state",
            text_="waiting",
            data={"reason": body.reason},
        )
        return _out(await fetch_one(conn, h.c.id, values["id"], "handoff"), clock)


def _id(request: web.Request) -> str:
    return path_param(request, "id", lambda s: normalize_daily_id(s, HANDOFF_PREFIX), "handoff_id")


@routes.get(
    "/api/handoffs/{id}",
    summary="One handoff with its package",
    response=Handoff,
    errors=(400, 404),
)
async def show(request: web.Request, _: None) -> Handoff:
    handoff_id = _id(request)
    async with request.config_dict[DB].read() as conn:
        row = await fetch_one(conn, tables.handoffs.c.id, handoff_id, "handoff")
    return _out(row, request.config_dict[CLOCK])


@routes.get(
    "/api/handoffs",
    summary="Handoffs, complaints first, then oldest first",
    query=HandoffQuery,
    response=list[Handoff],
)
async def search(request: web.Request, query: HandoffQuery) -> list[Handoff]:
    h = tables.handoffs
    stmt = select(h).order_by(h.c.created_at, h.c.id).limit(500)
    if query.status:
        stmt = stmt.where(h.c.status == query.status)
    if query.conversation_id:
        stmt = stmt.where(h.c.conversation_id == query.conversation_id)
    async with request.config_dict[DB].read() as conn:
        rows = (await conn.execute(stmt)).all()
    clock = request.config_dict[CLOCK]
    return sorted((_out(r, clock) for r in rows), key=lambda x: x.reason != "complaint")


@routes.patch(
    "/api/handoffs/{id}",
    summary="Change a handoff's status",
    body=HandoffUpdate,
    response=Handoff,
    errors=(400, 404, 409),
)
async def update(request: web.Request, body: HandoffUpdate) -> Handoff:
    handoff_id = _id(request)
    clock = request.config_dict[CLOCK]
    h = tables.handoffs
    async with request.config_dict[DB].write() as conn:
        row = await fetch_one(conn, h.c.id, handoff_id, "handoff")
        if row.status == "closed" and body.status != "closed":
            raise ApiError(409, "closed", "a closed handoff cannot be reopened; create a new one")
        await conn.execute(
            h.update()
            .where(h.c.id == handoff_id)
            .values(status=body.status, updated_at=clock.to_db(clock.now()))
        )
        return _out(await fetch_one(conn, h.c.id, handoff_id, "handoff"), clock)


class CallbackIn(Body):
    phone: str = Field(regex=PHONE)


@routes.post(
    "/api/handoffs/{id}/callback",
    summary="The customer would rather be called back: the desk sees the number in the queue",
    body=CallbackIn,
    response=Handoff,
    errors=(400, 404, 409, 422),
)
async def callback(request: web.Request, body: CallbackIn) -> Handoff:
    handoff_id = _id(request)
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].write() as conn:
        row = await fetch_one(conn, tables.handoffs.c.id, handoff_id, "handoff")
        if row.status == "closed":
            raise ApiError(409, "closed", "this handoff is closed; create a new one")
        await feed.set_assignment(conn, handoff_id, callback_phone=body.phone)
        await audit(conn, clock.now(), None, "callback_requested", handoff_id, {})
        await feed.post(
            conn,
            clock,
            conversation=row.conversation_id,
            handoff_id=handoff_id,
            kind="state",
            text_="callback_requested",
            data={"phone": body.phone},
        )
        return _out(row, clock)
