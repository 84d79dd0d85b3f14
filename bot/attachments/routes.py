"""Who may send and open photos and files, by route:

- the web-chat customer (their chat token): send into their own conversation, open its files;
- desk staff (their session): open the files of conversations they may see (`bot.desk.queue`'s
  rule), list them with the conversation's work orders; the holder sends one to the customer;
- the internal API (its token): a channel's file (a Telegram photo), a work order's files.
"""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from bot import handoffs, tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Reply, Routes, path_param
from bot.attachments import records
from bot.attachments.files import ALLOWED_TYPES
from bot.attachments.records import Attachment, Listed
from bot.contracts.base import Query
from bot.contracts.chat_tokens import (
    ChatNotConfigured,
    TokenRejected,
    bearer,
    check_secret,
    read_token,
)
from bot.desk.accounts import audit, current
from bot.desk.queue import handoff_id_of, holders_of, load_item, may_see, require_visible
from bot.desk.rasa import RASA

chat_routes = Routes("attachments", audience="public")
desk_routes = Routes("attachments", audience="desk")
internal_routes = Routes("attachments")

ERRORS = (400, 401, 403, 404, 413, 415, 422, 429)


class NameQuery(Query):
    name: str | None = Field(None, max_length=200, description="the file's name on the device")


def customer_session(request: web.Request) -> str:
    """The conversation of the chat token in `Authorization: Bearer`, or 401 (503 when the
    chat has no key)."""
    try:
        secret = check_secret(request.config_dict[SETTINGS].chat_secret)
    except ChatNotConfigured as exc:
        raise ApiError(503, "chat_not_configured", str(exc)) from exc
    try:
        token = bearer(request.headers.get("Authorization"))
        if not token:
            raise TokenRejected("token_missing", "send the chat token as Authorization: Bearer")
        return read_token(secret, token).session_id
    except TokenRejected as exc:
        raise ApiError(401, exc.code, str(exc)) from exc


def _attachment_id(request: web.Request) -> str:
    return path_param(request, "attachment", _valid_id, "attachment_id")


def _valid_id(raw: str) -> str | None:
    ok = 10 <= len(raw) <= 32 and all(c.isascii() and (c.isalnum() or c in "-_") for c in raw)
    return raw if ok else None


# --- the customer --------------------------------------------------------------------------


@chat_routes.post(
    "/api/chat/attachments",
    summary="Send a photo or a PDF into your chat (the bytes as the body, the chat token)",
    query=NameQuery,
    response=Attachment,
    status=201,
    errors=(*ERRORS, 503),
)
async def send_chat_attachment(request: web.Request, query: NameQuery) -> Reply:
    conversation = customer_session(request)
    kept = await records.keep(
        request, conversation=conversation, channel="webchat", sender="customer", name=query.name
    )
    return Reply(kept, 201)


@chat_routes.get(
    "/api/chat/attachments/{attachment}",
    summary="A photo or file of your own chat (the chat token)",
    response=ALLOWED_TYPES,
    errors=(400, 401, 403, 404, 503),
)
async def open_chat_attachment(request: web.Request, _: None) -> web.StreamResponse:
    conversation = customer_session(request)
    attachment_id = _attachment_id(request)
    async with request.config_dict[DB].read() as conn:
        row = await records.load(conn, attachment_id)
    if row.conversation_id != conversation:
        raise ApiError(403, "not_yours", "this file belongs to another conversation")
    return await records.file_response(request, row)


# --- desk staff ---------------------------------------------------------------------------


@desk_routes.get(
    "/desk/api/attachments/{attachment}",
    summary="A photo or file of a conversation you may see",
    response=ALLOWED_TYPES,
    errors=(400, 401, 403, 404),
)
async def open_desk_attachment(request: web.Request, _: None) -> web.StreamResponse:
    staff, attachment_id = current(request), _attachment_id(request)
    h = tables.handoffs
    async with request.config_dict[DB].read() as conn:
        row = await records.load(conn, attachment_id)
        ids = set(
            (
                await conn.execute(select(h.c.id).where(h.c.conversation_id == row.conversation_id))
            ).scalars()
        )
        states = await holders_of(conn, ids) if ids else {}
    if not any(may_see(staff, status, holder) for holder, status in states.values()):
        raise ApiError(403, "not_yours", "this conversation is not one you may see")
    return await records.file_response(request, row)


@desk_routes.get(
    "/desk/api/handoffs/{id}/attachments",
    summary="The photos and files of this conversation, with its work orders",
    response=list[Listed],
    errors=(400, 401, 403, 404),
)
async def list_desk_attachments(request: web.Request, _: None) -> list[Listed]:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    async with request.config_dict[DB].read() as conn:
        item = await load_item(conn, clock, handoff_id)
        require_visible(staff, item)
        return await records.of_conversation(conn, clock, item.conversation_id)


@desk_routes.post(
    "/desk/api/handoffs/{id}/attachments",
    summary="Send the customer a photo or a PDF (the bytes as the body; the holder only)",
    query=NameQuery,
    response=Attachment,
    status=201,
    errors=(*ERRORS, 409, 502, 503),
)
async def send_desk_attachment(request: web.Request, query: NameQuery) -> Reply:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    async with request.config_dict[DB].read() as conn:
        item = await load_item(conn, clock, handoff_id)
    handoffs.require_holder(staff, item.status, item.holder_id)
    kept = await records.keep(
        request,
        conversation=item.conversation_id,
        channel=item.channel,
        sender="agent",
        name=query.name,
        staff_id=staff.id,
    )
    # The file's name is the message's text: what a channel that cannot show the file shows.
    await request.app[RASA].say(
        item.conversation_id,
        kept.name,
        staff.display_name,
        time.time(),
        data={"custom": {"attachment": kept.dict()}},
    )
    async with request.config_dict[DB].write() as conn:
        await audit(conn, clock.now(), staff.id, "attachment", handoff_id, {"id": kept.id})
    return Reply(kept, 201)


# --- the internal API ------------------------------------------------------------------


class ChannelFileQuery(NameQuery):
    conversation_id: str = Field(min_length=1, max_length=100)
    channel: str = Field("telegram", regex=r"^[a-z_]{2,20}$")


@internal_routes.post(
    "/api/attachments",
    summary="Keep a customer's file that arrived on a channel (a Telegram photo)",
    query=ChannelFileQuery,
    response=Attachment,
    status=201,
    errors=ERRORS,
)
async def keep_channel_attachment(request: web.Request, query: ChannelFileQuery) -> Reply:
    kept = await records.keep(
        request,
        conversation=query.conversation_id,
        channel=query.channel,
        sender="customer",
        name=query.name,
    )
    return Reply(kept, 201)


@internal_routes.get(
    "/api/attachments/{attachment}",
    summary="A photo or file, for a channel to deliver it (an agent's photo to Telegram)",
    response=ALLOWED_TYPES,
    errors=(400, 401, 404),
)
async def open_channel_attachment(request: web.Request, _: None) -> web.StreamResponse:
    async with request.config_dict[DB].read() as conn:
        row = await records.load(conn, _attachment_id(request))
    return await records.file_response(request, row)


@internal_routes.get(
    "/api/workorders/{id}/attachments",
    summary="The photos and files sent in the conversation a work order was booked in",
    response=list[Listed],
    errors=(401, 404),
)
async def list_work_order_attachments(request: web.Request, _: None) -> list[Listed]:
    order_id = request.match_info["id"].upper()
    async with request.config_dict[DB].read() as conn:
        return await records.of_work_order(conn, request.config_dict[CLOCK], order_id)
