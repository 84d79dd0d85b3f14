"""The desk page, its files, and the websocket that keeps a logged-in page live."""

from __future__ import annotations

from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, web

from bot.desk.accounts import CONVERSATION_ROLES, session_staff
from bot.desk.feed import CLOSE_SECONDS, GOING_AWAY, HUB, Viewer
from bot.desk.loops import stopping

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
    # A station account's token under the desk's cookie name opens no desk feed, nor does an
    # operator's (the feed carries conversations).
    if found is None or found[0].role not in CONVERSATION_ROLES:
        raise web.HTTPUnauthorized(text="log in first")
    ws = web.WebSocketResponse(heartbeat=20, timeout=CLOSE_SECONDS)
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
    if stopping(request.app):
        # Closed by `feed.close_sockets`: say why (here, before aiohttp closes it with 1000).
        await ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY)
    return ws


def add_page(app: web.Application) -> None:
    app.router.add_get("/desk/", page)
    app.router.add_get("/desk", to_page)
    app.router.add_get("/desk/ws", socket)
    app.router.add_static("/desk/static/", STATIC)
