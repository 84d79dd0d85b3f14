"""Finding a conversation again, closed ones included, and opening a closed one again.

`POST /desk/api/search` (a POST, so a phone number stays out of URLs and access logs) takes one
search text and filters (status, channel, reason, agent, dates) and answers a page of handoffs,
newest first, as the lists show them (phones masked). What the text is decides what it matches:
- a handoff id (HO…): that handoff; a work-order id (WO…): the conversations of that order;
- a phone number: the handoffs whose contact, callback number, work order or complaint has
  that whole number. Only a whole number matches (7 digits or more, compared digit for digit),
  since matching a part would let anyone spell out a masked number digit by digit; each phone
  search is audited with the number masked;
- a serial number: the conversations that named, booked or complained about that device;
- anything else: the words of the conversation as the desk received them, and the package,
  matched against the masked text (a digit the desk hides cannot be searched for).

Everyone finds only what they may see (`bot.desk.queue.may_see`): a supervisor every handoff,
an agent the queue and the conversations they hold or held last.

`POST /desk/api/handoffs/{id}/reopen` puts a closed conversation back in the queue, or hands it
to the agent at once (`bot.handoffs.reopen`).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import String, and_, cast, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import handoffs, tables
from bot.api import CLOCK, DB, ApiError, Routes
from bot.clock import Clock
from bot.contracts.base import Body
from bot.contracts.handoffs import Reason, Status
from bot.contracts.ids import (
    HANDOFF_PREFIX,
    normalize_daily_id,
    normalize_serial,
    normalize_work_order_id,
)
from bot.contracts.masking import mask_package, mask_phone, mask_phones_in, phone_digits
from bot.desk.accounts import Staff, audit, current
from bot.desk.queue import Item, handoff_id_of, load_item, load_items
from bot.desk.rasa import RASA

routes = Routes("desk", audience="desk")

# How many matching rows one search reads from each source before paging: a bound on the
# work of a search that matches half the history.
SCAN = 1000
_PHONE_LIKE = re.compile(r"[+\d\s\-()（）]+")
Kind = Literal["none", "handoff", "work_order", "phone", "serial", "text"]


class SearchIn(Body):
    q: str = Field("", max_length=100, description="phone, serial, HO/WO id, or words")
    status: Status | None = None
    channel: str | None = Field(None, max_length=20)
    reason: Reason | None = None
    agent: int | None = Field(None, description="staff id of the holder (or last holder)")
    since: date | None = Field(None, description="created on or after this day")
    until: date | None = Field(None, description="created on or before this day")
    limit: int = Field(20, ge=1, le=50)
    offset: int = Field(0, ge=0, le=10_000)


class Found(BaseModel):
    handoff: Item
    match: str | None = Field(None, description="what matched, masked like everything else")


class SearchOut(BaseModel):
    kind: Kind
    total: int
    offset: int
    limit: int
    results: list[Found]


def kind_of(q: str) -> Kind:
    if not q:
        return "none"
    if normalize_daily_id(q, HANDOFF_PREFIX):
        return "handoff"
    if normalize_work_order_id(q):
        return "work_order"
    if _PHONE_LIKE.fullmatch(q) and len(phone_digits(q)) >= 3:
        return "phone"
    if normalize_serial(q):
        return "serial"
    return "text"


def _like(text: str) -> str:
    """A LIKE pattern that matches `text` literally (escape character '!')."""
    return "%" + re.sub(r"([!%_])", r"!\1", text) + "%"


def _package_like(text: str) -> Any:
    # Packages are stored as JSON text with non-ASCII escaped (json.dumps' default), on SQLite
    # and PostgreSQL alike: search for the escaped form.
    escaped = json.dumps(text)[1:-1]
    return cast(tables.handoffs.c.package, String).like(_like(escaped), escape="!")


def _visible(staff: Staff) -> Any:
    h, a = tables.handoffs, tables.desk_assignments
    if staff.supervisor:
        return true()
    return or_(h.c.status == "waiting", and_(h.c.status != "waiting", a.c.staff_id == staff.id))


def _filters(query: SearchIn, clock: Clock) -> list[Any]:
    h, a = tables.handoffs, tables.desk_assignments
    where: list[Any] = []
    if query.status:
        where.append(h.c.status == query.status)
    if query.channel:
        where.append(h.c.channel == query.channel)
    if query.reason:
        where.append(h.c.reason == query.reason)
    if query.agent is not None:
        where += [a.c.staff_id == query.agent, h.c.status != "waiting"]
    if query.since:
        start = datetime.combine(query.since, time(), clock.tz)
        where.append(h.c.created_at >= clock.to_db(start))
    if query.until:
        end = datetime.combine(query.until + timedelta(days=1), time(), clock.tz)
        where.append(h.c.created_at < clock.to_db(end))
    return where


async def _by_phone(conn: AsyncConnection, digits: str) -> tuple[Any, dict[str, str]]:
    """Handoffs (or their conversations) with this whole number anywhere the desk keeps one."""
    h, a, w, c = tables.handoffs, tables.desk_assignments, tables.work_orders, tables.complaints
    tail = f"%{digits[-4:]}%"
    ids: set[str] = set()
    conversations: set[str] = set()
    for r in await conn.execute(
        select(a.c.handoff_id, a.c.callback_phone).where(a.c.callback_phone.like(tail)).limit(SCAN)
    ):
        if phone_digits(r.callback_phone or "") == digits:
            ids.add(r.handoff_id)
    for table, column in ((w, w.c.phone), (c, c.c.contact)):
        for r in await conn.execute(
            select(table.c.conversation_id, column.label("phone"))
            .where(column.like(tail))
            .limit(SCAN)
        ):
            if r.conversation_id and phone_digits(r.phone or "") == digits:
                conversations.add(r.conversation_id)
    for r in await conn.execute(
        select(h.c.id, h.c.package).where(_package_like(digits[-4:])).limit(SCAN)
    ):
        contact = str((r.package or {}).get("contact") or "")
        if phone_digits(contact) == digits:
            ids.add(r.id)
    label = f"电话 {mask_phone(digits)}"
    return or_(h.c.id.in_(ids), h.c.conversation_id.in_(conversations)), {}.fromkeys(ids, label)


def _excerpt(text: str, q: str) -> str | None:
    at = text.lower().find(q.lower())
    if at < 0:
        return None
    return text[max(0, at - 20) : at + len(q) + 20]


async def _by_text(conn: AsyncConnection, staff: Staff, q: str) -> tuple[Any, dict[str, str]]:
    """Handoffs whose messages or package contain `q` as the desk shows them (masked)."""
    h, m = tables.handoffs, tables.desk_messages
    kinds = ["customer", "bot", "agent"] + (["note"] if staff.supervisor else [])
    found: dict[str, str] = {}
    rows = await conn.execute(
        select(m.c.handoff_id, m.c.text)
        .where(
            m.c.handoff_id.is_not(None), m.c.kind.in_(kinds), m.c.text.like(_like(q), escape="!")
        )
        .order_by(m.c.id.desc())
        .limit(SCAN)
    )
    for r in rows:
        if r.handoff_id not in found and (hit := _excerpt(mask_phones_in(r.text or ""), q)):
            found[r.handoff_id] = hit
    for r in await conn.execute(select(h.c.id, h.c.package).where(_package_like(q)).limit(SCAN)):
        for value in mask_package(r.package or {}).values():
            texts = value if isinstance(value, list) else [value]
            hit = next((x for t in texts if (x := _excerpt(str(t or ""), q))), None)
            if hit and r.id not in found:
                found[r.id] = hit
    return h.c.id.in_(set(found)), found


async def _matching(
    conn: AsyncConnection, staff: Staff, kind: Kind, q: str
) -> tuple[Any, dict[str, str]]:
    h, w, c = tables.handoffs, tables.work_orders, tables.complaints
    if kind == "handoff":
        return h.c.id == normalize_daily_id(q, HANDOFF_PREFIX), {}
    if kind == "work_order":
        order = str(normalize_work_order_id(q))
        of_order = select(w.c.conversation_id).where(w.c.id == order)
        return or_(h.c.conversation_id.in_(of_order), _package_like(order)), {}
    if kind == "phone":
        digits = phone_digits(q)
        if len(digits) < 7:
            raise ApiError(422, "whole_phone", "give the whole phone number")
        return await _by_phone(conn, digits)
    if kind == "serial":
        serial = str(normalize_serial(q))
        named = or_(
            h.c.conversation_id.in_(select(w.c.conversation_id).where(w.c.serial == serial)),
            h.c.conversation_id.in_(select(c.c.conversation_id).where(c.c.serial == serial)),
            _package_like(serial),
        )
        # A word that merely looks like a serial is searched as words too.
        text, hits = await _by_text(conn, staff, q)
        return or_(named, text), hits
    return await _by_text(conn, staff, q)


@routes.post(
    "/desk/api/search",
    summary="Find conversations (closed ones too) by phone, serial, HO/WO id or words",
    body=SearchIn,
    response=SearchOut,
    errors=(400, 401, 403, 422),
)
async def search_conversations(request: web.Request, body: SearchIn) -> SearchOut:
    staff, clock = current(request), request.config_dict[CLOCK]
    h, a = tables.handoffs, tables.desk_assignments
    kind = kind_of(body.q)
    async with request.config_dict[DB].read() as conn:
        where = [_visible(staff), *_filters(body, clock)]
        hits: dict[str, str] = {}
        if kind != "none":
            matched, hits = await _matching(conn, staff, kind, body.q)
            where.append(matched)
        joined = h.outerjoin(a, a.c.handoff_id == h.c.id)
        total = int(await conn.scalar(select(func.count()).select_from(joined).where(*where)) or 0)
        page = [
            r.id
            for r in await conn.execute(
                select(h.c.id)
                .select_from(joined)
                .where(*where)
                .order_by(h.c.created_at.desc(), h.c.id.desc())
                .offset(body.offset)
                .limit(body.limit)
            )
        ]
        items = await load_items(conn, clock, page)
    if kind == "phone":
        # Who looked for which customer: the number masked, as everywhere in the audit log.
        async with request.config_dict[DB].write() as conn:
            detail = {"phone": mask_phone(body.q), "found": total}
            await audit(conn, clock.now(), staff.id, "phone_search", None, detail)
    return SearchOut(
        kind=kind,
        total=total,
        offset=body.offset,
        limit=body.limit,
        results=[Found(handoff=i, match=hits.get(i.id)) for i in items],
    )


class ReopenIn(Body):
    mode: Literal["queue", "hold"] = Field(
        "hold", description="back in the queue, or held by me at once (as a claim)"
    )


@routes.post(
    "/desk/api/handoffs/{id}/reopen",
    summary="Open a closed conversation again: back in the queue, or held by me",
    body=ReopenIn,
    response=Item,
    errors=(400, 401, 403, 404, 409, 502, 503),
)
async def reopen_conversation(request: web.Request, body: ReopenIn) -> Item:
    staff, handoff_id = current(request), handoff_id_of(request)
    config = request.config_dict
    await handoffs.reopen(
        config[DB], config[CLOCK], request.app[RASA], handoff_id, staff, hold=body.mode == "hold"
    )
    async with config[DB].read() as conn:
        return await load_item(conn, config[CLOCK], handoff_id)
