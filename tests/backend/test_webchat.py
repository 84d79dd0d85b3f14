"""The web chat's backend half: session tokens, the page and its files, the settings."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.contracts.chat_tokens import (
    AUDIENCE,
    TokenRejected,
    issue_token,
    new_session_id,
    read_token,
)
from bot.settings import Settings
from tests.support.api import call, error_code
from tests.support.database import API_HEADERS

SECRET = "backend-test-secret-" + "0123456789" * 3
SESSIONS = "/api/chat/sessions"


@pytest.fixture
async def chat(aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock) -> TestClient:
    client: TestClient = await aiohttp_client(
        create_app(replace(settings, chat_secret=SECRET), clock)
    )
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_new_session_is_a_fresh_random_id_signed_into_a_token(chat: TestClient) -> None:
    before = time.time()
    first = await call(chat, "POST", SESSIONS, 201)
    second = await call(chat, "POST", SESSIONS, 201)
    assert first["session_id"] != second["session_id"]
    assert first["renewed"] is False and first["socket_url"] is None
    claims = read_token(SECRET, first["token"])
    assert claims.session_id == first["session_id"]
    assert len(claims.session_id) == 32 and int(claims.session_id, 16) >= 0
    # Seven days by default, in wall-clock time (the fixture's business clock is 2026-11-20).
    expires = datetime.fromisoformat(first["expires_at"]).timestamp()
    assert expires == claims.expires_at
    assert before + 7 * 86400 - 5 <= expires <= time.time() + 7 * 86400 + 5


async def test_a_valid_token_is_renewed_for_the_same_session(chat: TestClient) -> None:
    old = issue_token(SECRET, new_session_id(), 60, now=time.time() - 30)
    renewed = await call(chat, "POST", SESSIONS, 200, headers=bearer(old[0]))
    assert renewed["renewed"] is True
    assert renewed["session_id"] == read_token(SECRET, old[0]).session_id
    new = read_token(SECRET, renewed["token"])
    assert new.session_id == renewed["session_id"]
    assert new.expires_at > old[1]


def _forged(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, "another-secret-of-forty-characters-000000", algorithm="HS256")


def _unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    # Valid for a day: the suite may reach these cases long after collecting them.
    return {"sub": new_session_id(), "aud": AUDIENCE, "iat": now, "exp": now + 86_400} | changes


def _signed(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


BAD_TOKENS = {
    "forged": ("Bearer " + _forged(_claims()), "token_invalid"),
    "alg-none": ("Bearer " + _unsigned(_claims()), "token_invalid"),
    "other-audience": ("Bearer " + _signed(_claims(aud="desk")), "token_invalid"),
    "bad-subject": ("Bearer " + _signed(_claims(sub="../other")), "token_invalid"),
    "no-expiry": ("Bearer " + _signed({"sub": new_session_id()}), "token_invalid"),
    "expired": (
        "Bearer " + issue_token(SECRET, new_session_id(), 60, now=time.time() - 61)[0],
        "token_expired",
    ),
    "garbage": ("Bearer not.a.token", "token_invalid"),
    "basic-auth": ("Basic dXNlcjpwYXNz", "token_invalid"),
    "empty": ("Bearer ", "token_invalid"),
}


@pytest.mark.parametrize(("header", "code"), BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_token_is_refused_and_never_renewed(
    chat: TestClient, header: str, code: str
) -> None:
    assert await error_code(chat, "POST", SESSIONS, 401, headers={"Authorization": header}) == code


@pytest.mark.parametrize("secret", [None, "too-short"])
async def test_without_a_usable_secret_the_chat_is_off_and_says_why(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, secret: str | None
) -> None:
    client: TestClient = await aiohttp_client(
        create_app(replace(settings, chat_secret=secret), clock)
    )
    body = await call(client, "POST", SESSIONS, 503)
    assert body["error"]["code"] == "chat_not_configured"
    assert "CHAT_SECRET" in body["error"]["message"]
    # The rest of the backend runs as before.
    await call(client, "GET", "/api/health", 200)


async def test_the_socket_url_setting_reaches_the_page(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock
) -> None:
    configured = replace(settings, chat_secret=SECRET, chat_socket_url="https://chat.example.cn")
    client: TestClient = await aiohttp_client(create_app(configured, clock))
    assert (await call(client, "POST", SESSIONS, 201))["socket_url"] == "https://chat.example.cn"


def test_chat_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"CHAT_SECRET": SECRET, "CHAT_TOKEN_TTL": "600", "CHAT_SOCKET_URL": "http://10.0.0.5:5005/"}
    )
    assert (settings.chat_secret, settings.chat_token_ttl) == (SECRET, 600)
    assert settings.chat_socket_url == "http://10.0.0.5:5005"
    assert SECRET not in repr(settings)
    defaults = Settings.from_env({})
    assert (defaults.chat_secret, defaults.chat_socket_url) == (None, None)
    with pytest.raises(ValueError, match="CHAT_SOCKET_URL"):
        Settings.from_env({"CHAT_SOCKET_URL": "chat.example.cn:5005"})


def test_a_token_stops_working_when_it_expires() -> None:
    token, expires = issue_token(SECRET, new_session_id(), 600, now=1_000_000)
    assert read_token(SECRET, token, now=expires - 1).expires_at == expires
    with pytest.raises(TokenRejected) as rejected:
        read_token(SECRET, token, now=expires)
    assert rejected.value.code == "token_expired"
    # A tampered payload (another session id) breaks the signature.
    head, _, signature = token.split(".")
    other = base64.urlsafe_b64encode(json.dumps(_claims(sub=new_session_id())).encode()).rstrip(
        b"="
    )
    with pytest.raises(TokenRejected):
        read_token(SECRET, f"{head}.{other.decode()}.{signature}", now=expires - 1)


async def test_the_page_and_its_files_are_served(chat: TestClient) -> None:
    page = await chat.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert 'name="viewport"' in html and "chat/chat.js" in html
    assert "chat/vendor/socket.io.min.js" in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors *" in policy
    for path, kind in [
        ("/chat/widget.js", "javascript"),
        ("/chat/chat.js", "javascript"),
        ("/chat/chat.css", "text/css"),
        ("/chat/vendor/socket.io.min.js", "javascript"),
    ]:
        reply = await chat.get(path)
        assert reply.status == 200, path
        assert kind in reply.content_type, (path, reply.content_type)
    assert "Socket.IO v4." in await (await chat.get("/chat/vendor/socket.io.min.js")).text()
    assert (await chat.get("/chat/../webchat.py")).status in (403, 404)
    assert (await chat.get("/chat/%2e%2e/webchat.py")).status in (403, 404)


async def test_the_session_route_is_in_the_openapi_document(chat: TestClient) -> None:
    document = await call(chat, "GET", "/api/openapi.json", 200, headers=API_HEADERS)
    operation = document["paths"][SESSIONS]["post"]
    assert {"201", "401", "503"} <= set(operation["responses"])


async def test_one_address_cannot_mint_sessions_without_end(chat: TestClient) -> None:
    tokens = [(await call(chat, "POST", SESSIONS, 201))["token"] for _ in range(30)]
    assert await error_code(chat, "POST", SESSIONS, 429) == "rate_limited"
    # Customers who have a session keep it: renewing is not a new session.
    await call(chat, "POST", SESSIONS, 200, headers=bearer(tokens[0]))


async def test_a_session_has_an_absolute_lifetime_however_often_it_is_renewed(
    chat: TestClient,
) -> None:
    session = new_session_id()
    month_ago = int(time.time()) - 31 * 24 * 3600
    old, _ = issue_token(SECRET, session, 3600, started_at=month_ago)
    assert await error_code(chat, "POST", SESSIONS, 401, headers=bearer(old)) == "session_too_old"
    started = int(time.time()) - 3600
    recent, _ = issue_token(SECRET, session, 3600, started_at=started)
    renewed = await call(chat, "POST", SESSIONS, 200, headers=bearer(recent))
    # The renewed token keeps the session's start, so the lifetime cannot be reset.
    claims = read_token(SECRET, renewed["token"])
    assert (claims.session_id, claims.started_at) == (session, started)
