"""What desk staff see: the queue and their conversations, one conversation with its
transcript and notes, and the supervisors' audit log; and the one rule of who may see what,
which the live push (`bot.desk.feed`) applies too.

The rule: a supervisor sees every conversation; an agent sees the queue (waiting
conversations) and the conversations they hold, or held last once closed. Whoever sees one
sees the customer's phone numbers and address masked (139****5678); the full number is an
explicit, audited reveal (`bot.desk.reveal`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes, path_param
from bot.clock import Clock
from bot.contracts.base import Query
from bot.contracts.handoffs import OPEN
from bot.contracts.ids import HANDOFF_PREFIX, normalize_daily_id
from bot.contracts.masking import mask_contact, mask_package, mask_phones_in
from bot.desk.accounts import Staff, current
from bot.desk.rasa import RASA, transcript
from bot.desk.sla import Sla, facts_of, timer
from bot.errors import not_found
from bot.handoffs import holder_of
from bot.settings import RoutingSettings

routes = Routes("desk", audience="desk")


# --- the rule ----------------------------------------------------------------------------


def may_see(staff: Staff, status: str | None, holder: int | None) -> bool:
    """May `staff` see a conversation in this state, held (or last held) by `holder`?"""
    return staff.supervisor or status == "waiting" or (holder is not None and holder == staff.id)


def may_see_line(staff: Staff, kind: str, status: str | None, holder: int | None) -> bool:
    """The rule for one live line: a change of state goes to every page (its queue must
    refresh), a private note only to the holder and supervisors."""
    if kind == "state":
        return True
    if kind == "note":
        return staff.supervisor or (holder is not None and holder == staff.id)
    return may_see(staff, status, holder)


def require_visible(staff: Staff, item: Item) -> None:
    if not may_see(staff, item.status, item.holder_id):
        raise ApiError(403, "not_yours", "this conversation is held by a colleague")


async def holders_of(
    conn: AsyncConnection, handoff_ids: set[str]
) -> dict[str, tuple[int | None, str]]:
    """(holder, status) of each handoff, as `may_see` takes them."""
    h, a = tables.handoffs, tables.desk_assignments
    rows = await conn.execute(
        select(h.c.id, h.c.status, a.c.staff_id)
        .select_from(h.outerjoin(a, a.c.handoff_id == h.c.id))
        .where(h.c.id.in_(handoff_ids))
    )
    return {r.id: (holder_of(r.status, r.staff_id), r.status) for r in rows}


# --- the lists ---------------------------------------------------------------------------


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
    # Routing (bot.desk.assign) and the response timer (bot.desk.sla).
    team: str | None = None
    transfer_note: str | None = None
    transferred_by: str | None = None
    sla: Sla | None = None


async def _items(
    conn: AsyncConnection,
    clock: Clock,
    *conditions: Any,
    limit: int = 500,
    targets: RoutingSettings | None = None,
) -> list[Item]:
    h, a = tables.handoffs, tables.desk_assignments
    rows = await conn.execute(
        select(h, a.c.staff_id, a.c.callback_phone, a.c.notified_at, a.c.resolution, a.c.claimed_at)
        .select_from(h.outerjoin(a, a.c.handoff_id == h.c.id))
        .where(*conditions)
        .order_by(h.c.created_at, h.c.id)
        .limit(limit)
    )
    rows = list(rows)
    names = await staff_names(conn)
    facts = await facts_of(conn, clock, [r.id for r in rows])
    targets = targets or RoutingSettings()
    now = clock.now()
    items = []
    for r in rows:
        fact = facts[r.id]
        created = clock.from_db(r.created_at)
        until = clock.from_db(r.claimed_at) if r.claimed_at and r.status != "waiting" else now
        holder = holder_of(r.status, r.staff_id)
        items.append(
            Item(
                id=r.id,
                conversation_id=r.conversation_id,
                channel=r.channel,
                reason=r.reason,
                status=r.status,
                package=mask_package(r.package or {}),
                holder_id=holder,
                holder=names.get(holder) if holder else None,
                callback_phone=mask_contact(r.callback_phone),
                notified=r.notified_at is not None,
                resolution=r.resolution,
                created_at=created,
                waited_seconds=max(0, int((until - created).total_seconds())),
                team=fact.team,
                transfer_note=mask_phones_in(fact.transfer_note) if fact.transfer_note else None,
                transferred_by=names.get(fact.transferred_by) if fact.transferred_by else None,
                sla=timer(r.status, created, fact, now, targets),
            )
        )
    # Complaints first, then whoever has waited longest.
    return sorted(items, key=lambda i: (i.reason != "complaint", i.created_at))


async def load_item(
    conn: AsyncConnection, clock: Clock, handoff_id: str, targets: RoutingSettings | None = None
) -> Item:
    found = await _items(conn, clock, tables.handoffs.c.id == handoff_id, limit=1, targets=targets)
    if not found:
        raise not_found("handoff", handoff_id)
    return found[0]


async def load_items(conn: AsyncConnection, clock: Clock, handoff_ids: list[str]) -> list[Item]:
    """These handoffs as the desk lists them, in the order given (a page of search results)."""
    found = {i.id: i for i in await _items(conn, clock, tables.handoffs.c.id.in_(handoff_ids))}
    return [found[i] for i in handoff_ids if i in found]


def handoff_id_of(request: web.Request) -> str:
    return path_param(request, "id", lambda s: normalize_daily_id(s, HANDOFF_PREFIX), "handoff_id")


async def staff_names(conn: AsyncConnection) -> dict[int, str]:
    rows = await conn.execute(select(tables.staff.c.id, tables.staff.c.display_name))
    return {r.id: r.display_name for r in rows}


class ListQuery(Query):
    scope: Literal["queue", "mine", "live"] = "queue"


@routes.get(
    "/desk/api/handoffs",
    summary="The queue (waiting), my conversations, or every live one (supervisors)",
    query=ListQuery,
    response=list[Item],
    errors=(401, 403),
)
async def list_conversations(request: web.Request, query: ListQuery) -> list[Item]:
    staff = current(request)
    h, a = tables.handoffs, tables.desk_assignments
    if query.scope == "queue":
        where: tuple[Any, ...] = (h.c.status == "waiting",)
    elif query.scope == "mine":
        where = (h.c.status == "assigned", a.c.staff_id == staff.id)
    else:
        if not staff.supervisor:
            raise ApiError(403, "supervisors_only", "only supervisors see every conversation")
        where = (h.c.status.in_(OPEN),)
    async with request.config_dict[DB].read() as conn:
        return await _items(
            conn, request.config_dict[CLOCK], *where, targets=request.config_dict[SETTINGS].routing
        )


# --- one conversation --------------------------------------------------------------------


class Line(BaseModel):
    kind: str
    text: str
    agent: str | None = None
    buttons: list[str] = []
    sent_at: float | None = None
    attachment: dict[str, Any] | None = None


class Conversation(BaseModel):
    handoff: Item
    transcript: list[Line]
    notes: list[dict[str, Any]]
    transcript_complete: bool
    feed_position: int


def message_out(row: Any, clock: Clock, names: dict[int, str]) -> dict[str, Any]:
    """A `desk_messages` row as the page gets it, in a conversation or live."""
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "handoff_id": row.handoff_id,
        "kind": row.kind,
        "text": mask_phones_in(row.text or ""),
        "data": mask_package(row.data or {}),
        "staff": names.get(row.staff_id) if row.staff_id else None,
        "sent_at": row.sent_at,
        "created_at": clock.from_db(row.created_at).isoformat()
        if isinstance(row.created_at, datetime)
        else None,
    }


@routes.get(
    "/desk/api/handoffs/{id}",
    summary="A handoff with its package, the whole transcript and the private notes",
    response=Conversation,
    errors=(400, 401, 403, 404),
)
async def show_conversation(request: web.Request, _: None) -> Conversation:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    m = tables.desk_messages
    async with request.config_dict[DB].read() as conn:
        item = await load_item(conn, clock, handoff_id, request.config_dict[SETTINGS].routing)
        require_visible(staff, item)
        rows = list(
            await conn.execute(select(m).where(m.c.handoff_id == handoff_id).order_by(m.c.id))
        )
        position = int(await conn.scalar(select(m.c.id).order_by(m.c.id.desc())) or 0)
        names = await staff_names(conn)
    feed = [message_out(r, clock, names) for r in rows]
    complete = True
    try:
        lines = [
            Line(**(line | {"text": mask_phones_in(line["text"])}))
            for line in transcript(await request.app[RASA].tracker(item.conversation_id))
        ]
    except ApiError:
        # The assistant is down: show what the desk itself received, and say it is partial.
        complete = False
        lines = [
            Line(
                kind=f["kind"],
                text=f["text"],
                agent=f["staff"],
                sent_at=f["sent_at"],
                attachment=(f["data"] or {}).get("attachment"),
            )
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


# --- the audit log -----------------------------------------------------------------------


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
    audience="supervisor",
)
async def read_audit_log(request: web.Request, query: AuditQuery) -> list[AuditLine]:
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
