"""What the web-chat tests share: the stack's chat secret and tokens made with it."""

from __future__ import annotations

import time

from bot.contracts.chat_tokens import issue_token, new_session_id

# Set on every process of the test stack (the `stack` fixture in tests/conftest.py);
# 40 characters, above the channel's minimum.
CHAT_SECRET = "webchat-test-secret-0123456789abcdefghij"
WEBCHAT_ENV = {"CHAT_SECRET": CHAT_SECRET}


def token_for(session_id: str | None = None, *, ttl: int = 3600, secret: str = CHAT_SECRET) -> str:
    """A token as the backend issues it (a new session unless one is given)."""
    return issue_token(secret, session_id or new_session_id(), ttl)[0]


def expired_token(session_id: str | None = None) -> str:
    """Validly signed, but it expired a minute ago."""
    issued = time.time() - 3600
    return issue_token(CHAT_SECRET, session_id or new_session_id(), 3540, now=issued)[0]
