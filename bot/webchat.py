"""The website chat: the page at `/`, the embed script, and the tokens its socket connects with.

The conversation itself runs on Rasa's side (`connectors/webchat.py`, a socket.io channel). The
backend hands out the session: `POST /api/chat/sessions` signs a fresh random session id into a
token (HS256 with `CHAT_SECRET`), and the channel accepts a socket only with a valid token and
uses the token's subject as the conversation id. A customer can therefore never pick, guess or
copy their way into another customer's conversation: the id is random and only the holder of
the signed token can use it. Called with a valid token, the same route renews it for the same
session, which is how a reloaded page keeps its conversation.

The token functions are a contract shared with the Rasa process (`bot.contracts.chat_tokens`),
so the channel checks tokens without importing this module and its web framework.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, Field

from bot.api import SETTINGS, ApiError, Reply, Routes
from bot.contracts.chat_tokens import (
    ChatNotConfigured,
    TokenRejected,
    bearer,
    check_secret,
    issue_token,
    new_session_id,
    read_token,
)
from bot.throttle import Backoff, Counters, Gate, client_address, open_counters

log = logging.getLogger(__name__)

routes = Routes("webchat", audience="public")

STATIC = Path(__file__).resolve().parent / "static" / "chat"
# Who may frame the page: anyone (manufacturers embed it). What the page may load: its own
# files, bot images from anywhere on http(s), photos of the chat fetched with its token (blob:),
# and the socket on another port or host.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob: http: https:; connect-src 'self' http: https: ws: wss:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors *"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class ChatSession(BaseModel):
    token: str = Field(description="send as `auth: {token}` when connecting the socket")
    session_id: str
    expires_at: datetime
    socket_url: str | None = Field(
        None, description="where the socket.io server listens; null: the page's host, port 5005"
    )
    renewed: bool = Field(description="true when an existing session's token was renewed")


@routes.post(
    "/api/chat/sessions",
    summary="Start a web-chat session, or renew the token of one (Authorization: Bearer)",
    response=ChatSession,
    status=201,
    errors=(401, 429, 503),
)
async def start_session(request: web.Request, _: None) -> Reply:
    settings = request.config_dict[SETTINGS]
    try:
        secret = check_secret(settings.chat_secret)
    except ChatNotConfigured as exc:
        raise ApiError(503, "chat_not_configured", str(exc)) from exc
    try:
        token = bearer(request.headers.get("Authorization"))
        claims = read_token(secret, token) if token else None
    except TokenRejected as exc:
        raise ApiError(401, exc.code, str(exc)) from exc
    if claims is None:
        await _limit_new_sessions(request)
        session_id, started = new_session_id(), None
    else:
        if time.time() - claims.started_at > settings.chat_session_max_age:
            # The page then starts a new conversation, as for an expired token.
            raise ApiError(401, "session_too_old", "the chat session is too old to renew")
        session_id, started = claims.session_id, claims.started_at
    signed, expires = issue_token(secret, session_id, settings.chat_token_ttl, started_at=started)
    session = ChatSession(
        token=signed,
        session_id=session_id,
        expires_at=datetime.fromtimestamp(expires, tz=timezone.utc),
        socket_url=settings.chat_socket_url,
        renewed=token is not None,
    )
    return Reply(session, status=200 if token else 201)


SESSION_COUNTERS = web.AppKey("chat_session_counters", Counters)
# New sessions per client address: a page load needs one; a script minting thousands does not.
NEW_SESSIONS = Backoff(free=30, first=10.0, longest=3600.0, forget=3600.0)


async def _limit_new_sessions(request: web.Request) -> None:
    settings = request.config_dict[SETTINGS]
    client = client_address(request, settings.trusted_proxies)
    gate = Gate(f"chat-session:{client}", NEW_SESSIONS)
    verdict = await request.config_dict[SESSION_COUNTERS].attempt([gate], [], time.time())
    if verdict.retry_after > 0:
        raise ApiError(
            429,
            "rate_limited",
            "too many new chat sessions from this address; retry later",
            extra={"retry_after": math.ceil(verdict.retry_after)},
        )


async def _session_counters(app: web.Application) -> AsyncIterator[None]:
    counters = open_counters(app[SETTINGS].redis_url)
    app[SESSION_COUNTERS] = counters
    yield
    await counters.close()


async def page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


def setup(app: web.Application) -> None:
    """The page at `/` and its files under `/chat/` (the embed script is `/chat/widget.js`)."""
    try:
        check_secret(app[SETTINGS].chat_secret)
    except ChatNotConfigured as exc:
        log.warning("%s", exc)
    app.cleanup_ctx.append(_session_counters)
    app.router.add_get("/", page)
    app.router.add_static("/chat/", STATIC)
