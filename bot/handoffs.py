"""Handoffs: a conversation the bot hands to a person, with everything the agent needs to know.

The package travels with the request so the agent never asks the customer again for the
serial number, the warranty verdict or the steps already tried.

This module is the only writer of a handoff's state. Each transition (create, claim,
transfer, close or hand back, callback request) is one function here that changes the handoff
and the desk's record of it (`desk_assignments`), writes an activity row to `desk_messages`
(which every desk page follows live) and, for what staff do, an audit line. The desk's routes
and this module's own HTTP routes call them; nothing else updates `tables.handoffs`.

Rasa is never called inside a write transaction: an SQLite write transaction locks the whole
database, and Rasa may take seconds to answer. Each function says what happens when Rasa fails
between its call and the write. Functions that call Rasa take the `Database` and open their own
short transactions; the others take a connection, so they join the caller's transaction.

Over 350 lines on purpose: the single owner of handoff state, every transition in one place
(see below).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import (
    CLOCK,
    DB,
    SETTINGS,
    ApiError,
    Reply,
    Routes,
    fetch_one,
    from_row,
    idempotency_key,
    path_param,
)
from bot.clock import Clock
from bot.contracts.errors import INVALID_BODY
from bot.contracts.handoffs import (
    OPEN,
    CallbackIn,
    Handoff,
    HandoffIn,
    HandoffQuery,
    HandoffUpdate,
    Resolution,
)
from bot.contracts.ids import COMPLAINT_PREFIX, HANDOFF_PREFIX, normalize_daily_id
from bot.db import Database, replayed
from bot.desk.accounts import Staff, audit
from bot.desk.rasa import RASA, Rasa
from bot.desk.teams import route_new
from bot.errors import canonical, not_found
from bot.sequences import next_id

log = logging.getLogger(__name__)
routes = Routes("handoffs")


def _out(row: Any, clock: Clock) -> Handoff:
    return from_row(Handoff, row, clock, "created_at", "updated_at")


# --- who holds a handoff -----------------------------------------------------------------


def holder_of(status: str, staff_id: int | None) -> int | None:
    """The staff member who holds the conversation, or held it last once it is closed."""
    return staff_id if status != "waiting" else None


def require_holder(staff: Staff, status: str, holder: int | None) -> None:
    if status != "assigned" or holder != staff.id:
        raise ApiError(409, "not_holding", "claim the conversation first")


async def _load(
    conn: AsyncConnection, handoff_id: str, *, lock: bool = False
) -> tuple[Row, int | None]:
    """The handoff and who holds it. With `lock`, the row stays locked until the transaction
    ends on PostgreSQL; on SQLite `BEGIN IMMEDIATE` has locked the whole database already."""
    h, a = tables.handoffs, tables.desk_assignments
    stmt = select(h).where(h.c.id == handoff_id)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).one_or_none()
    if row is None:
        raise not_found("handoff", handoff_id)
    staff_id = await conn.scalar(select(a.c.staff_id).where(a.c.handoff_id == handoff_id))
    return row, holder_of(row.status, staff_id)


# --- the activity rows every desk page follows ---------------------------------------------


class Ref(Protocol):
    """A handoff row, or the desk's item of it: what an activity row points to."""

    @property
    def id(self) -> str: ...

    @property
    def conversation_id(self) -> str: ...


async def open_handoff_of(conn: AsyncConnection, conversation: str) -> str | None:
    h = tables.handoffs
    found = await conn.scalar(
        select(h.c.id)
        .where(h.c.conversation_id == conversation, h.c.status.in_(OPEN))
        .order_by(h.c.created_at.desc())
    )
    return str(found) if found else None


async def held_among(conn: AsyncConnection, conversations: set[str]) -> set[str]:
    """Which of these conversations have an open handoff: one read for a batch of events."""
    if not conversations:
        return set()
    h = tables.handoffs
    rows = await conn.execute(
        select(h.c.conversation_id)
        .where(h.c.conversation_id.in_(sorted(conversations)), h.c.status.in_(OPEN))
        .distinct()
    )
    return {str(row.conversation_id) for row in rows}


async def add_activity(
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
    """A row of `desk_messages`: a message of the conversation, a note or a change of state."""
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


async def record_action(
    conn: AsyncConnection,
    clock: Clock,
    handoff: Ref,
    staff: Staff | None,
    what: str,
    **detail: Any,
) -> None:
    """Audit an action on a handoff and tell every desk page that the handoff changed."""
    staff_id = staff.id if staff else None
    await audit(conn, clock.now(), staff_id, what, handoff.id, detail)
    await add_activity(
        conn,
        clock,
        conversation=handoff.conversation_id,
        handoff_id=handoff.id,
        kind="state",
        text_=what,
        staff_id=staff_id,
        data=detail,
    )


async def tell(rasa: Rasa, conversation: str, response: str) -> None:
    """The bot's sentence about a change that has already happened: if Rasa is unreachable
    now, the change stands and the agent is not told it failed."""
    try:
        await rasa.utter(conversation, response)
    except ApiError:
        log.warning("handoffs: could not say %s in %s", response, conversation)


# --- transitions ---------------------------------------------------------------------------


async def create(
    conn: AsyncConnection, clock: Clock, body: HandoffIn, key: str | None
) -> tuple[Row, bool]:
    """Open a handoff (the bot has paused the conversation); True when it is new. A customer
    who asks twice is still one customer waiting: the open handoff is the answer."""
    h = tables.handoffs
    if (row := await replayed(conn, h, key)) is not None:
        return row, False
    row = (
        await conn.execute(
            select(h).where(h.c.conversation_id == body.conversation_id, h.c.status.in_(OPEN))
        )
    ).first()
    if row is not None:
        return row, False
    complaint = None
    if body.complaint_id:
        complaint = canonical(
            body.complaint_id,
            lambda s: normalize_daily_id(s, COMPLAINT_PREFIX),
            "complaint_id",
            INVALID_BODY,
            "a complaint id",
        )
        found = await conn.scalar(
            select(tables.complaints.c.id).where(tables.complaints.c.id == complaint)
        )
        if found is None:
            raise not_found("complaint", complaint)
    now = clock.to_db(clock.now())
    values = {
        **body.dict(exclude={"package"}),
        "complaint_id": complaint,
        "package": body.package.dict(),
        "id": await next_id(conn, HANDOFF_PREFIX, clock.today()),
        "status": "waiting",
        "idempotency_key": key,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(h.insert().values(**values))
    # The desk's queues update live from this row.
    await add_activity(
        conn,
        clock,
        conversation=body.conversation_id,
        handoff_id=values["id"],
        kind="state",
        text_="waiting",
        data={"reason": body.reason},
    )
    return await fetch_one(conn, h.c.id, values["id"], "handoff"), True


async def claim(db: Database, clock: Clock, rasa: Rasa, handoff_id: str, staff: Staff) -> None:
    """Take a waiting conversation. Of two agents claiming at once, one wins; the other gets
    409 and never reaches Rasa, so the customer is greeted with the winner's name."""

    def check(row: Row, _: int | None) -> None:
        if row.status != "waiting":
            raise ApiError(409, "not_waiting", f"this conversation is {row.status} already")

    await _assign(db, clock, rasa, handoff_id, staff, staff, "claimed", check)


async def transfer(
    db: Database, clock: Clock, rasa: Rasa, handoff_id: str, by: Staff, to: int
) -> None:
    """Give a conversation to an active colleague: its holder may, and a supervisor may
    give any open one, waiting or held."""

    def check(row: Row, holder: int | None) -> None:
        if not by.supervisor:
            require_holder(by, row.status, holder)
        elif row.status == "closed":
            raise ApiError(409, "closed", "this conversation is closed")

    st = tables.staff
    async with db.read() as conn:
        check(*await _load(conn, handoff_id))
        target = (
            await conn.execute(select(st).where(st.c.id == to, st.c.active.is_(True)))
        ).first()
    if target is None:
        raise ApiError(404, "staff_not_found", f"no active colleague {to}")
    new = Staff(target.id, target.username, target.display_name, target.role)
    # The check runs again under the write lock: the conversation may have moved meanwhile.
    await _assign(
        db, clock, rasa, handoff_id, new, by, "transferred", check, {"to": new.display_name}
    )


async def auto_assign(
    db: Database, clock: Clock, rasa: Rasa, handoff_id: str, agent: Staff
) -> None:
    """The desk gives a waiting conversation to `agent` (bot.desk.assign picks who); 409 when
    someone claimed it meanwhile."""

    def check(row: Row, _: int | None) -> None:
        if row.status != "waiting":
            raise ApiError(409, "not_waiting", f"this conversation is {row.status} already")

    detail = {"to": agent.display_name}
    await _assign(db, clock, rasa, handoff_id, agent, None, "auto_assigned", check, detail)


async def requeue(
    conn: AsyncConnection, clock: Clock, handoff_id: str, by: Staff, team: str
) -> Row:
    """Give a conversation to a team rather than a person: it waits in the queue again (still
    paused in Rasa, so the bot stays silent) for the team's next free agent."""
    row, holder = await _load(conn, handoff_id, lock=True)
    if not by.supervisor:
        require_holder(by, row.status, holder)
    elif row.status == "closed":
        raise ApiError(409, "closed", "this conversation is closed")
    await _set_status(conn, clock, row.id, "waiting")
    # Marked as told: the waiting check counts from the handoff's creation, and would at once
    # tell a customer who was just being served that nobody is free, and wake the bot.
    now = clock.to_db(clock.now())
    await set_assignment(conn, row.id, staff_id=None, claimed_at=None, notified_at=now)
    await record_action(conn, clock, row, by, "transferred", team=team)
    return row


async def _assign(
    db: Database,
    clock: Clock,
    rasa: Rasa,
    handoff_id: str,
    holder: Staff,
    by: Staff | None,
    what: str,
    check: Callable[[Row, int | None], None],
    detail: dict[str, Any] | None = None,
) -> None:
    """Make `holder` the holder, then pause the conversation in Rasa with their name."""
    a = tables.desk_assignments
    now = clock.to_db(clock.now())
    async with db.write() as conn:
        row, held_by = await _load(conn, handoff_id, lock=True)
        check(row, held_by)
        before = (
            await conn.execute(select(a.c.staff_id, a.c.claimed_at).where(a.c.handoff_id == row.id))
        ).first()
        await _set_status(conn, clock, row.id, "assigned")
        await set_assignment(conn, row.id, staff_id=holder.id, claimed_at=now)
        await record_action(conn, clock, row, by, what, **(detail or {}))
    # Rasa only after the write, so that the database alone decides who wins a race (the
    # loser never reaches Rasa). Pause again: the customer may have been handed back to the
    # bot after waiting long; the slot names the agent in the greeting. If Rasa fails here,
    # the assignment is undone, audited, and the agent sees the error and tries again. If
    # this process dies right here, the assignment stands without the pause: harmless when
    # the conversation was still paused from the handoff, and otherwise the bot keeps
    # answering the customer too until the agent closes or hands back.
    try:
        await rasa.pause(row.conversation_id, holder.display_name)
    except ApiError:
        await _undo_assign(db, clock, row, holder, by, what, before)
        raise
    await tell(rasa, row.conversation_id, "action_desk_agent_joined")


async def _undo_assign(
    db: Database,
    clock: Clock,
    row: Row,
    holder: Staff,
    by: Staff | None,
    what: str,
    before: Row | None,
) -> None:
    """Put back the holder and status `row` had before `_assign`, unless it has moved on."""
    undo = {
        "claimed": "claim_undone",
        "transferred": "transfer_undone",
        "auto_assigned": "auto_assign_undone",
        "reopened": "reopen_undone",
    }[what]
    async with db.write() as conn:
        current, held_by = await _load(conn, row.id, lock=True)
        if current.status != "assigned" or held_by != holder.id:
            return  # moved on meanwhile: the newer change stands
        await _set_status(conn, clock, row.id, row.status)
        await set_assignment(
            conn,
            row.id,
            staff_id=before.staff_id if before else None,
            claimed_at=before.claimed_at if before else None,
        )
        await record_action(conn, clock, row, by, undo, reason="assistant_unreachable")


async def close(
    db: Database,
    clock: Clock,
    rasa: Rasa,
    handoff_id: str,
    by: Staff | None,
    *,
    resolution: Resolution = "resolved",
    note: str = "",
    hand_back: bool = False,
) -> None:
    """End the person's part: the bot takes the conversation back and says so, closing
    (`utter_desk_closed`) or carrying on (`utter_desk_handback`). Its holder may, a
    supervisor may, and so may the internal API (`by` is None)."""
    what, response = "closed", "utter_desk_closed"
    if hand_back:
        what, response = "handed_back", "utter_desk_handback"
    async with db.read() as conn:
        row, holder = await _load(conn, handoff_id)
    if by is not None and not by.supervisor:
        require_holder(by, row.status, holder)
    if row.status == "closed":
        raise ApiError(409, "closed", "this conversation is closed already")
    # Resume first: if the assistant is unreachable nothing changes and the agent can retry.
    # If the write below fails after the resume, the bot has the conversation back while the
    # desk still shows it open; closing again resumes (harmlessly) and writes.
    await rasa.resume(row.conversation_id)
    async with db.write() as conn:
        row, _ = await _load(conn, handoff_id, lock=True)
        if row.status == "closed":
            raise ApiError(409, "closed", "this conversation is closed already")
        await _set_status(conn, clock, row.id, "closed")
        await set_assignment(
            conn, row.id, resolution=resolution, closed_at=clock.to_db(clock.now())
        )
        await record_action(conn, clock, row, by, what, resolution=resolution, note=note)
    await tell(rasa, row.conversation_id, response)


async def reopen(
    db: Database, clock: Clock, rasa: Rasa, handoff_id: str, by: Staff, *, hold: bool
) -> None:
    """Open a closed conversation again: back in the queue, or held by `by` at once (then as
    a claim: the bot is paused and the customer told that an agent joined). A supervisor may
    reopen any; an agent the one they held last. Not while the customer has another open
    handoff: one open handoff per conversation."""

    def check(row: Row, holder: int | None) -> None:
        if row.status != "closed":
            raise ApiError(409, "not_closed", f"this conversation is {row.status}")
        if not by.supervisor and holder != by.id:
            raise ApiError(403, "not_yours", "this conversation was held by a colleague")

    async def no_other_open(conn: AsyncConnection, row: Row) -> None:
        other = await open_handoff_of(conn, row.conversation_id)
        if other is not None and other != row.id:
            raise ApiError(409, "already_open", f"the customer has an open handoff: {other}")

    async with db.read() as conn:
        row, holder = await _load(conn, handoff_id)
        check(row, holder)
        await no_other_open(conn, row)
    reopened = {"resolution": None, "closed_at": None}
    if hold:
        await _assign(db, clock, rasa, handoff_id, by, by, "reopened", check, {"mode": "hold"})
        async with db.write() as conn:
            await set_assignment(conn, handoff_id, **reopened)
        return
    async with db.write() as conn:
        row, holder = await _load(conn, handoff_id, lock=True)
        check(row, holder)
        await no_other_open(conn, row)
        await _set_status(conn, clock, row.id, "waiting")
        # Marked as told: the waiting check must not send the customer, who did not ask,
        # a notice that nobody is free.
        now = clock.to_db(clock.now())
        await set_assignment(
            conn, row.id, staff_id=None, claimed_at=None, notified_at=now, **reopened
        )
        await record_action(conn, clock, row, by, "reopened", mode="queue")


async def request_callback(conn: AsyncConnection, clock: Clock, handoff_id: str, phone: str) -> Row:
    """The customer would rather be called back: the number shows in the queue."""
    row, _ = await _load(conn, handoff_id, lock=True)
    if row.status == "closed":
        raise ApiError(409, "closed", "this handoff is closed; create a new one")
    await set_assignment(conn, handoff_id, callback_phone=phone)
    await audit(conn, clock.now(), None, "callback_requested", handoff_id, {})
    await add_activity(
        conn,
        clock,
        conversation=row.conversation_id,
        handoff_id=handoff_id,
        kind="state",
        text_="callback_requested",
        data={"phone": phone},
    )
    return row


async def add_note(
    conn: AsyncConnection, clock: Clock, handoff: Ref, staff: Staff, text: str
) -> None:
    """A private note: staff see it, the customer never does."""
    await add_activity(
        conn,
        clock,
        conversation=handoff.conversation_id,
        handoff_id=handoff.id,
        kind="note",
        text_=text,
        staff_id=staff.id,
    )
    await audit(conn, clock.now(), staff.id, "note", handoff.id, {})


async def attach_work_order(
    conn: AsyncConnection, clock: Clock, handoff_id: str, staff: Staff, order_id: str
) -> None:
    """The agent booked a repair for this customer: the package names it from now on."""
    row, _ = await _load(conn, handoff_id, lock=True)
    await conn.execute(
        tables.handoffs.update()
        .where(tables.handoffs.c.id == handoff_id)
        .values(package=dict(row.package or {}) | {"work_order_id": order_id})
    )
    await record_action(conn, clock, row, staff, "work_order_created", work_order_id=order_id)


async def _set_status(conn: AsyncConnection, clock: Clock, handoff_id: str, status: str) -> None:
    await conn.execute(
        tables.handoffs.update()
        .where(tables.handoffs.c.id == handoff_id)
        .values(status=status, updated_at=clock.to_db(clock.now()))
    )


# --- HTTP: the internal API the action server calls --------------------------------------


@routes.post(
    "/api/handoffs",
    summary="Hand a conversation to the support desk (one open handoff per conversation)",
    body=HandoffIn,
    response=Handoff,
    status=201,
    errors=(404,),
)
async def create_handoff(request: web.Request, body: HandoffIn) -> Handoff | Reply:
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    desk_open = settings.desk_open(clock.now())
    async with request.config_dict[DB].write() as conn:
        row, new = await create(conn, clock, body, idempotency_key(request))
        if new:
            await route_new(conn, settings.routing, row)
        if new and not desk_open:
            # The bot tells the customer about the hours in this same turn; the waiting
            # check (bot.desk.waiting) must not say it again.
            await set_assignment(conn, row.id, notified_at=clock.to_db(clock.now()))
        place = await queue_position(conn, row) if desk_open else None
    out = _out(row, clock).copy(update={"desk_open": desk_open, "queue_position": place})
    return out if new else Reply(out, 200)


async def queue_position(conn: AsyncConnection, row: Row) -> int | None:
    """The handoff's place among the customers waiting (1 = next), None once claimed."""
    if row.status != "waiting":
        return None
    h = tables.handoffs
    ahead = await conn.scalar(
        select(func.count())
        .select_from(h)
        .where(
            h.c.status == "waiting",
            (h.c.created_at < row.created_at)
            | ((h.c.created_at == row.created_at) & (h.c.id < row.id)),
        )
    )
    return int(ahead or 0) + 1


def _id(request: web.Request) -> str:
    return path_param(request, "id", lambda s: normalize_daily_id(s, HANDOFF_PREFIX), "handoff_id")


@routes.get(
    "/api/handoffs/{id}",
    summary="One handoff with its package",
    response=Handoff,
    errors=(400, 404),
)
async def show_handoff(request: web.Request, _: None) -> Handoff:
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
async def search_handoffs(request: web.Request, query: HandoffQuery) -> list[Handoff]:
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
    summary="Close a handoff: the bot takes the conversation back, as after the desk's close",
    body=HandoffUpdate,
    response=Handoff,
    errors=(400, 404, 409, 502, 503),
    audience="staff",
)
async def update_handoff(request: web.Request, body: HandoffUpdate) -> Handoff:
    handoff_id, clock, db = _id(request), request.config_dict[CLOCK], request.config_dict[DB]
    async with db.read() as conn:
        row = await fetch_one(conn, tables.handoffs.c.id, handoff_id, "handoff")
    if row.status == "closed":
        if body.status != "closed":
            raise ApiError(409, "closed", "a closed handoff cannot be reopened; create a new one")
        return _out(row, clock)
    if body.status != "closed":
        raise ApiError(
            409, "desk_only", "only the support desk claims and transfers; this route closes"
        )
    rasa = request.config_dict[RASA]
    await close(db, clock, rasa, handoff_id, None, resolution=body.resolution, note=body.note)
    async with db.read() as conn:
        return _out(await fetch_one(conn, tables.handoffs.c.id, handoff_id, "handoff"), clock)


@routes.post(
    "/api/handoffs/{id}/callback",
    summary="The customer would rather be called back: the desk sees the number in the queue",
    body=CallbackIn,
    response=Handoff,
    errors=(400, 404, 409, 422),
)
async def request_handoff_callback(request: web.Request, body: CallbackIn) -> Handoff:
    handoff_id, clock = _id(request), request.config_dict[CLOCK]
    async with request.config_dict[DB].write() as conn:
        row = await request_callback(conn, clock, handoff_id, body.phone)
    return _out(row, clock)
