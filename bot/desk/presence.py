"""Typing indicators both ways, best effort and throttled: nothing is stored.

- The customer types in the web chat: the page says so (`POST /api/chat/typing`, its chat
  token) at most every few seconds; the desk pushes `{"kind": "typing"}` to the pages of the
  staff who may see the conversation, over the desk's websocket. The push reaches the pages
  connected to this backend process (typing is not worth a database row per keystroke).
- The holder types at the desk (`POST /desk/api/handoffs/{id}/typing`): the backend asks the
  web-chat channel in the Rasa process (`POST /webhooks/webchat/typing`, Rasa's token) to tell
  the customer's page, which shows "客服正在输入…".
"""

from __future__ import annotations

import contextlib
import logging
import time
from urllib.parse import quote

import aiohttp
from aiohttp import web
from pydantic import BaseModel

from bot import handoffs
from bot.api import CLOCK, DB, SETTINGS, Routes
from bot.attachments.routes import customer_session
from bot.desk.accounts import current
from bot.desk.feed import HUB
from bot.desk.queue import handoff_id_of, holders_of, load_item, may_see_line
from bot.desk.rasa import RASA

log = logging.getLogger(__name__)

chat_routes = Routes("presence", audience="public")
desk_routes = Routes("presence", audience="desk")

# One signal per conversation and direction in this long at most; the pages show the
# indicator for a few seconds after each signal, so a steady typist keeps it lit.
EVERY_SECONDS = 2.0
TIMEOUT = aiohttp.ClientTimeout(total=3)
LAST_SIGNAL = web.AppKey("presence_last_signal", dict[str, float])
# Channels whose page can show an agent typing (the Rasa web-chat channel's names).
WEB_CHANNELS = ("webchat", "socketio")


class Signalled(BaseModel):
    delivered: bool


def _due(app: web.Application, key: str) -> bool:
    """Whether a signal for `key` goes out now (throttled per process)."""
    last = app[LAST_SIGNAL]
    now = time.monotonic()
    if now - last.get(key, 0.0) < EVERY_SECONDS:
        return False
    if len(last) > 10_000:
        last.clear()  # forgotten keys only make one extra signal go out
    last[key] = now
    return True


def setup(app: web.Application) -> None:
    app[LAST_SIGNAL] = {}


@chat_routes.post(
    "/api/chat/typing",
    summary="The customer is typing (the chat token): shown to the agent of the conversation",
    response=Signalled,
    status=202,
    errors=(401, 503),
)
async def customer_typing(request: web.Request, _: None) -> Signalled:
    conversation = customer_session(request)
    if not _due(request.app, f"customer:{conversation}"):
        return Signalled(delivered=False)
    async with request.config_dict[DB].read() as conn:
        handoff_id = await handoffs.open_handoff_of(conn, conversation)
        if handoff_id is None:
            return Signalled(delivered=False)
        holder, status = (await holders_of(conn, {handoff_id}))[handoff_id]
    signal = {"kind": "typing", "who": "customer", "handoff_id": handoff_id}
    sent = False
    for viewer in list(request.app[HUB].viewers):
        if may_see_line(viewer.staff, "customer", status, holder):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await viewer.socket.send_json(signal)
                sent = True
    return Signalled(delivered=sent)


@desk_routes.post(
    "/desk/api/handoffs/{id}/typing",
    summary="You are typing a reply (the holder): the customer's web chat shows it",
    response=Signalled,
    status=202,
    errors=(400, 401, 403, 404, 409),
)
async def agent_typing(request: web.Request, _: None) -> Signalled:
    staff, handoff_id = current(request), handoff_id_of(request)
    async with request.config_dict[DB].read() as conn:
        item = await load_item(conn, request.config_dict[CLOCK], handoff_id)
    handoffs.require_holder(staff, item.status, item.holder_id)
    if item.channel not in WEB_CHANNELS or not _due(request.app, f"agent:{handoff_id}"):
        return Signalled(delivered=False)
    settings, rasa = request.config_dict[SETTINGS], request.app[RASA]
    url = f"{settings.rasa_url}/webhooks/webchat/typing"
    headers = {"Authorization": f"Bearer {settings.rasa_token}"} if settings.rasa_token else {}
    body = {"conversation_id": item.conversation_id, "agent": staff.display_name}
    try:
        async with rasa.session.post(url, json=body, headers=headers, timeout=TIMEOUT) as reply:
            delivered = reply.status == 202
    except (aiohttp.ClientError, TimeoutError):
        log.info("desk: typing signal for %s not delivered", quote(item.conversation_id))
        delivered = False
    return Signalled(delivered=delivered)
