"""Attachment rows: keeping one, finding a conversation's and a work order's, and answering a
file so that no browser runs or renders it as a page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError
from bot.attachments import files
from bot.clock import Clock

# Per conversation and hour: a customer sends a few photos, not a gallery.
UPLOADS_PER_HOUR = 20


class Attachment(BaseModel):
    """An attachment as pages and channels get it (also the `attachment` of a message's
    metadata)."""

    id: str
    name: str
    content_type: str
    size: int
    image: bool
    sender: str


class Listed(Attachment):
    created_at: str
    # The work orders of the conversation: the photo goes with each, booked before or after.
    work_order_ids: list[str]


def out(row: Any) -> Attachment:
    return Attachment(
        id=row.id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        image=files.is_image(row.content_type),
        sender=row.sender,
    )


async def keep(
    request: web.Request,
    *,
    conversation: str,
    channel: str,
    sender: str,
    name: str | None,
    staff_id: int | None = None,
) -> Attachment:
    """Read, check and store the request's file for `conversation`; the row is written only
    once the bytes are on disk."""
    config = request.config_dict
    settings, clock = config[SETTINGS], config[CLOCK]
    a = tables.attachments
    since = clock.to_db(clock.now() - timedelta(hours=1))
    async with config[DB].read() as conn:
        recent = await conn.scalar(
            select(func.count())
            .select_from(a)
            .where(a.c.conversation_id == conversation, a.c.created_at >= since)
        )
    if int(recent or 0) >= UPLOADS_PER_HOUR:
        raise ApiError(429, "too_many_files", "too many files in this conversation; try later")
    checked = await files.checked(await files.read_limited(request, settings.attachment_max_bytes))
    stored_as = await files.store(settings.attachments_dir, checked.data)
    row = {
        "id": files.new_id(),
        "conversation_id": conversation,
        "channel": channel,
        "sender": sender,
        "staff_id": staff_id,
        "name": files.clean_name(name, checked.content_type),
        "content_type": checked.content_type,
        "size": len(checked.data),
        "sha256": checked.sha256,
        "stored_as": stored_as,
        "created_at": clock.to_db(clock.now()),
    }
    async with config[DB].write() as conn:
        await conn.execute(a.insert().values(**row))
    return Attachment(
        id=row["id"],
        name=row["name"],
        content_type=checked.content_type,
        size=len(checked.data),
        image=files.is_image(checked.content_type),
        sender=sender,
    )


async def load(conn: AsyncConnection, attachment_id: str) -> Any:
    row = (
        await conn.execute(
            select(tables.attachments).where(tables.attachments.c.id == attachment_id)
        )
    ).one_or_none()
    if row is None:
        raise ApiError(404, "not_found", "no such attachment")
    return row


async def of_conversation(conn: AsyncConnection, clock: Clock, conversation: str) -> list[Listed]:
    a, w = tables.attachments, tables.work_orders
    orders = list(
        (
            await conn.execute(
                select(w.c.id).where(w.c.conversation_id == conversation).order_by(w.c.id)
            )
        ).scalars()
    )
    rows = await conn.execute(
        select(a).where(a.c.conversation_id == conversation).order_by(a.c.created_at, a.c.id)
    )
    return [
        Listed(
            **out(r).dict(),
            created_at=clock.from_db(r.created_at).isoformat(),
            work_order_ids=orders,
        )
        for r in rows
    ]


async def of_work_order(conn: AsyncConnection, clock: Clock, order_id: str) -> list[Listed]:
    """The photos and files of the conversation the order was booked in, whenever sent."""
    w = tables.work_orders
    conversation = await conn.scalar(select(w.c.conversation_id).where(w.c.id == order_id))
    exists = await conn.scalar(select(w.c.id).where(w.c.id == order_id))
    if exists is None:
        raise ApiError(404, "not_found", f"no work order {order_id}")
    return await of_conversation(conn, clock, conversation) if conversation else []


async def file_response(request: web.Request, row: Any) -> web.Response:
    """The bytes with their sniffed type, as an attachment unless a photo shown inline; never
    sniffed into HTML (nosniff), sandboxed if opened as a page, never cached by proxies."""
    data = await files.fetch(request.config_dict[SETTINGS].attachments_dir, row.stored_as)
    inline = files.is_image(row.content_type) and "download" not in request.query
    disposition = "inline" if inline else "attachment"
    return web.Response(
        body=data,
        content_type=row.content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Cache-Control": "private, no-store",
        },
    )
