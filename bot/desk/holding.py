"""What an agent does with a conversation: claim it, reply, write notes, transfer it, close it
or hand it back, and book a repair for the customer and move it along.

Only the holder speaks in a conversation (a supervisor may also transfer and close). The
changes of a handoff's state are `bot.handoffs`' functions, which write the audit line and
call Rasa outside the write transaction; these routes check who asks and answer the item.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from pydantic import Field, root_validator

from bot import handoffs, tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Reply, Routes, fetch_one
from bot.contracts.base import Body
from bot.contracts.handoffs import Resolution
from bot.contracts.rules import Status
from bot.contracts.workorders import CreateIn, TransitionIn, WorkOrder
from bot.desk import assign, orders, sla
from bot.desk.accounts import Staff, audit, current
from bot.desk.queue import Item, handoff_id_of, load_item, require_visible
from bot.desk.rasa import RASA
from bot.workorders import advance, book, booking_lead, load

routes = Routes("desk", audience="desk")


def _require_holder(staff: Staff, item: Item) -> None:
    handoffs.require_holder(staff, item.status, item.holder_id)


async def _item(request: web.Request, handoff_id: str) -> Item:
    async with request.config_dict[DB].read() as conn:
        config = request.config_dict
        return await load_item(conn, config[CLOCK], handoff_id, config[SETTINGS].routing)


@routes.post(
    "/desk/api/handoffs/{id}/claim",
    summary="Take a waiting conversation: the bot stays silent while you hold it",
    response=Item,
    errors=(400, 401, 403, 404, 409, 502, 503),
)
async def claim_conversation(request: web.Request, _: None) -> Item:
    staff, handoff_id = current(request), handoff_id_of(request)
    config = request.config_dict
    await handoffs.claim(config[DB], config[CLOCK], request.app[RASA], handoff_id, staff)
    return await _item(request, handoff_id)


class MessageIn(Body):
    text: str = Field(min_length=1, max_length=4000)


@routes.post(
    "/desk/api/handoffs/{id}/messages",
    summary="Say something to the customer, on the channel they wrote from",
    body=MessageIn,
    response=Item,
    status=201,
    errors=(400, 401, 403, 404, 409, 502, 503),
)
async def send_message(request: web.Request, body: MessageIn) -> Item:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    item = await _item(request, handoff_id)
    _require_holder(staff, item)
    sent_at = time.time()
    await request.app[RASA].say(item.conversation_id, body.text, staff.display_name, sent_at)
    async with request.config_dict[DB].write() as conn:
        await audit(conn, clock.now(), staff.id, "message", handoff_id, {"chars": len(body.text)})
        await sla.answered(conn, clock, handoff_id)
    return await _item(request, handoff_id)


@routes.post(
    "/desk/api/handoffs/{id}/notes",
    summary="A private note: staff see it, the customer never does",
    body=MessageIn,
    response=Item,
    status=201,
    errors=(400, 401, 403, 404),
)
async def add_note(request: web.Request, body: MessageIn) -> Item:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    async with request.config_dict[DB].write() as conn:
        item = await load_item(conn, clock, handoff_id)
        require_visible(staff, item)
        await handoffs.add_note(conn, clock, item, staff, body.text)
    return item


class TransferIn(Body):
    to: int | None = Field(None, description="staff id of the colleague")
    team: str | None = Field(None, max_length=20, description="a team's code: back to its queue")
    note: str = Field("", max_length=2000, description="for whoever takes it over")


@routes.post(
    "/desk/api/handoffs/{id}/transfer",
    summary="Give a conversation to a colleague or a team, with a note (its holder, or a "
    "supervisor)",
    body=TransferIn,
    response=Item,
    errors=(400, 401, 403, 404, 409, 502, 503),
)
async def transfer_conversation(request: web.Request, body: TransferIn) -> Item:
    handoff_id = handoff_id_of(request)
    await assign.transfer(request, handoff_id, body.to, body.team, body.note)
    return await _item(request, handoff_id)


class CloseIn(Body):
    resolution: Resolution = "resolved"
    note: str = Field("", max_length=2000)


async def _finish(request: web.Request, body: CloseIn, *, hand_back: bool) -> Item:
    staff, handoff_id = current(request), handoff_id_of(request)
    config = request.config_dict
    await handoffs.close(
        config[DB],
        config[CLOCK],
        request.app[RASA],
        handoff_id,
        staff,
        resolution=body.resolution,
        note=body.note,
        hand_back=hand_back,
    )
    return await _item(request, handoff_id)


@routes.post(
    "/desk/api/handoffs/{id}/handback",
    summary="Hand the conversation back to the bot, which says so to the customer",
    body=CloseIn,
    response=Item,
    errors=(400, 401, 403, 404, 409, 502, 503),
)
async def hand_back_conversation(request: web.Request, body: CloseIn) -> Item:
    return await _finish(request, body, hand_back=True)


@routes.post(
    "/desk/api/handoffs/{id}/close",
    summary="Close with a resolution code; the bot takes over again with a closing sentence",
    body=CloseIn,
    response=Item,
    errors=(400, 401, 403, 404, 409, 502, 503),
)
async def close_conversation(request: web.Request, body: CloseIn) -> Item:
    return await _finish(request, body, hand_back=False)


# --- the customer's work orders, from the desk ---------------------------------------------


class WorkOrderIn(CreateIn):
    """A booking made by the agent for the customer; conversation and channel come from the
    handoff, and the phone and address may be the ones on file (the desk shows them masked)."""

    phone_on_file: bool = False
    address_on_file: bool = False

    @root_validator(skip_on_failure=True)
    def _on_site_needs_address(cls, values: dict[str, Any]) -> dict[str, Any]:
        # Checked once the numbers on file are filled in (see create_work_order).
        return values


@routes.post(
    "/desk/api/handoffs/{id}/workorders",
    summary="Book a repair for the customer of this conversation",
    body=WorkOrderIn,
    response=WorkOrder,
    status=201,
    errors=(400, 401, 403, 404, 409, 422),
)
async def create_work_order(request: web.Request, body: WorkOrderIn) -> Reply:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    settings = request.config_dict[SETTINGS]
    item = await _item(request, handoff_id)
    _require_holder(staff, item)
    # Rasa before the write transaction: the conversation's slots, for what is on file.
    filled = await orders.fill_on_file(request, item, body)
    async with request.config_dict[DB].write() as conn:
        item = await load_item(conn, clock, handoff_id)
        _require_holder(staff, item)
        filled = filled.copy(
            update={"conversation_id": item.conversation_id, "channel": item.channel}
        )
        order_id, _ = await book(conn, clock, settings, filled, None)
        await handoffs.attach_work_order(conn, clock, handoff_id, staff, order_id)
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
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    order_id = request.match_info["order"].upper()
    async with request.config_dict[DB].write() as conn:
        item = await load_item(conn, clock, handoff_id)
        _require_holder(staff, item)
        step = TransitionIn(to=body.to, note=body.note, actor=f"desk:{staff.username}")
        order = await fetch_one(conn, tables.work_orders.c.id, order_id, "work_order")
        if order.conversation_id != item.conversation_id:
            # Holding one conversation opens its customer's orders, not every customer's.
            raise ApiError(403, "not_this_customer", "the work order is not of this conversation")
        await advance(conn, clock, order_id, step)
        await handoffs.record_action(
            conn, clock, item, staff, "work_order_updated", work_order_id=order_id, to=body.to
        )
        return await load(conn, clock, order_id, booking_lead(request))
