"""Web-chat session tokens: the contract between the backend that issues them and the channel
that checks them.

The backend (`bot/webchat.py`, `POST /api/chat/sessions`) signs a random session id into a JWT
(HS256 with `CHAT_SECRET`, audience `webchat`); the Rasa channel (`connectors/webchat.py`)
accepts a socket or a history request only with a valid one and uses its subject as the
conversation id. Both processes import these functions, so there is one definition of a valid
token, and neither imports the other's web framework.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
# Tokens carry this audience so a token signed with the same secret for another purpose is
# never taken for a chat session.
AUDIENCE = "webchat"
# HS256 is only as strong as its key; `make run` generates 64 hex characters.
MIN_SECRET_CHARS = 32
SESSION_ID = re.compile(r"[0-9a-f]{32}")


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
    # When the conversation's first token was issued; renewals keep it, so a session has an
    # absolute lifetime however often its page renews the token.
    started_at: int


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
    secret: str,
    session_id: str,
    ttl_seconds: int,
    now: float | None = None,
    started_at: int | None = None,
) -> tuple[str, int]:
    """A signed token for `session_id` and its expiry (Unix seconds).

    Token times are wall-clock time, never the service's business clock: BOT_CLOCK may freeze
    that clock in a demo, and the Rasa process checking the token does not share it.
    """
    if not SESSION_ID.fullmatch(session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    issued = int(time.time() if now is None else now)
    expires = issued + ttl_seconds
    started = issued if started_at is None else started_at
    claims = {"sub": session_id, "aud": AUDIENCE, "iat": issued, "exp": expires, "sst": started}
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
    # Tokens issued before sessions carried their start count from their own issue time.
    started = payload.get("sst", payload["iat"])
    return Claims(session_id=session_id, expires_at=int(payload["exp"]), started_at=int(started))


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, None when there is no header."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("token_invalid", "Authorization must be 'Bearer <token>'")
    return token.strip()
