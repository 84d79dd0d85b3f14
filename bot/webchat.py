"""The website chat: the page at `/`, the embed script, and the tokens its socket connects with.

The conversation itself runs on Rasa's side (`connectors/webchat.py`, a socket.io channel). The
backend hands out the session: `POST /api/chat/sessions` signs a fresh random session id into a
token (HS256 with `CHAT_SECRET`), and the channel accepts a socket only with a valid token and
uses the token's subject as the conversation id. A customer can therefore never pick, guess or
copy their way into another customer's conversation: the id is random and only the holder of
the signed token can use it. Called with a valid token, the same route renews it for the same
session, which is how a reloaded page keeps its conversation.

The token functions live here (not in the connector) so the Rasa process and the backend share
one definition without the backend importing Rasa.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jwt
from aiohttp import web
from pydantic import BaseModel, Field

from bot.api import SETTINGS, ApiError, Reply, Routes

log = logging.getLogger(__name__)

routes = Routes("webchat", audience="public")

ALGORITHM = "HS256"
# Tokens carry this audience so a token signed with the same secret for another purpose is
# never taken for a chat session.
AUDIENCE = "webchat"
# HS256 is only as strong as its key; `make run` generates 64 hex characters.
MIN_SECRET_CHARS = 32
SESSION_ID = re.compile(r"[0-9a-f]{32}")
STATIC = Path(__file__).resolve().parent / "static" / "chat"
# Who may frame the page: anyone (manufacturers embed it). What the page may load: its own
# files, bot images from anywhere on http(s), and the socket on another port or host.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: http: https:; connect-src 'self' http: https: ws: wss:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors *"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class ChatNotConfigured(Exception):
    """CHAT_SECRET is missing or too weak: the web chat is off."""


class TokenRejected(Exception):
    """A token that is missing, forged, malformed, for another audience or expired."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Claims:
    session_id: str
    expires_at: int


def check_secret(secret: str | None) -> str:
    """The secret itself, or ChatNotConfigured saying what is wrong with it."""
    if not secret:
        raise ChatNotConfigured(
            "CHAT_SECRET is not set: the web chat is off (make run generates one in "
            "var/secrets.env; set it in the environment of the backend and of Rasa)"
        )
    if len(secret) < MIN_SECRET_CHARS:
        raise ChatNotConfigured(f"CHAT_SECRET must be at least {MIN_SECRET_CHARS} characters")
    return secret


def new_session_id() -> str:
    return secrets.token_hex(16)


def issue_token(
    secret: str, session_id: str, ttl_seconds: int, now: float | None = None
) -> tuple[str, int]:
    """A signed token for `session_id` and its expiry (Unix seconds).

    Token times are wall-clock time, never the service's business clock: BOT_CLOCK may freeze
    that clock in a demo, and the Rasa process checking the token does not share it.
    """
    if not SESSION_ID.fullmatch(session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    issued = int(time.time() if now is None else now)
    expires = issued + ttl_seconds
    claims = {"sub": session_id, "aud": AUDIENCE, "iat": issued, "exp": expires}
    return jwt.encode(claims, check_secret(secret), algorithm=ALGORITHM), expires


def read_token(secret: str, token: str, now: float | None = None) -> Claims:
    """The claims of a valid token; TokenRejected (with a code) for anything else."""
    # Expiry is checked below against `now`, so tests can check it at a chosen moment.
    try:
        payload = jwt.decode(
            token,
            check_secret(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={
                "require": ["sub", "aud", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
        if int(payload["exp"]) <= (time.time() if now is None else now):
            raise jwt.ExpiredSignatureError("Signature has expired")
    except jwt.ExpiredSignatureError as exc:
        raise TokenRejected("token_expired", "the chat token has expired") from exc
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenRejected("token_invalid", f"the chat token is not valid: {exc}") from exc
    session_id = payload.get("sub")
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise TokenRejected("token_invalid", "the chat token names no session")
    return Claims(session_id=session_id, expires_at=int(payload["exp"]))


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, None when there is no header."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("token_invalid", "Authorization must be 'Bearer <token>'")
    return token.strip()


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
    errors=(401, 503),
)
async def start_session(request: web.Request, _: None) -> Reply:
    settings = request.config_dict[SETTINGS]
    try:
        secret = check_secret(settings.chat_secret)
    except ChatNotConfigured as exc:
        raise ApiError(503, "chat_not_configured", str(exc)) from exc
    try:
        token = bearer(request.headers.get("Authorization"))
        session_id = read_token(secret, token).session_id if token else new_session_id()
    except TokenRejected as exc:
        raise ApiError(401, exc.code, str(exc)) from exc
    signed, expires = issue_token(secret, session_id, settings.chat_token_ttl)
    session = ChatSession(
        token=signed,
        session_id=session_id,
        expires_at=datetime.fromtimestamp(expires, tz=timezone.utc),
        socket_url=settings.chat_socket_url,
        renewed=token is not None,
    )
    return Reply(session, status=200 if token else 201)


async def page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


def setup(app: web.Application) -> None:
    """The page at `/` and its files under `/chat/` (the embed script is `/chat/widget.js`)."""
    try:
        check_secret(app[SETTINGS].chat_secret)
    except ChatNotConfigured as exc:
        log.warning("%s", exc)
    app.router.add_get("/", page)
    app.router.add_static("/chat/", STATIC)
