"""The customer's one-tap rating of the agent (bot/desk/ratings.py), in-process on a fresh
database against a fake Rasa: the chat token's conversation rates the agent who ended its
latest handoff, a second tap changes the score, and only supervisors see the ratings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.contracts.chat_tokens import issue_token, new_session_id
from bot.db import Database
from bot.desk.accounts import COOKIE, CSRF_HEADER, Role, create_account
from bot.settings import Settings
from tests.support.database import API_HEADERS, add_staff_user
from tests.support.fake_rasa import FakeRasa, ServerFactory

SECRET = "rating-test-secret-" + "0123456789" * 3
PASSWORD = "desk-test-password"
RATE = "/api/chat/agent-rating"


@pytest.fixture
async def rasa(aiohttp_server: ServerFactory) -> FakeRasa:
    return await FakeRasa.start(aiohttp_server)


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    rasa: FakeRasa,
    db: Database,
) -> TestClient:
    await add_staff_user(db)
    async with db.write() as conn:
        staff: tuple[tuple[str, str, Role], ...] = (
            ("zhang", "张敏", "agent"),
            ("wang", "王芳", "supervisor"),
        )
        for username, name, role in staff:
            await create_account(conn, username, name, role, PASSWORD, Clock.to_db(clock.now()))
    app = create_app(replace(settings, rasa_url=rasa.url, chat_secret=SECRET), clock)
    client: TestClient = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    return client


async def login(backend: TestClient, username: str) -> dict[str, str]:
    reply = await backend.post("/desk/api/login", json={"username": username, "password": PASSWORD})
    assert reply.status == 200, await reply.text()
    return {
        "Cookie": f"{COOKIE}={reply.cookies[COOKIE].value}",
        CSRF_HEADER: (await reply.json())["csrf_token"],
    }


def chat(session_id: str) -> dict[str, str]:
    token, _ = issue_token(SECRET, session_id, 3600)
    return {"Authorization": f"Bearer {token}"}


async def handed_off(backend: TestClient, rasa: FakeRasa, conversation: str) -> str:
    rasa.events[conversation].append({"event": "user", "text": "转人工", "timestamp": 1.0})
    rasa.events[conversation].append({"event": "pause"})
    reply = await backend.post(
        "/api/handoffs",
        json={"conversation_id": conversation, "channel": "webchat", "reason": "requested"},
        headers=API_HEADERS,
    )
    assert reply.status == 201, await reply.text()
    return str((await reply.json())["id"])


async def test_the_customer_rates_the_agent_who_ended_the_handoff(
    backend: TestClient, rasa: FakeRasa, db: Database
) -> None:
    conversation = new_session_id()
    handoff = await handed_off(backend, rasa, conversation)
    zhang = await login(backend, "zhang")
    # Nothing to rate while the agent still holds the conversation.
    await backend.post(f"/desk/api/handoffs/{handoff}/claim", headers=zhang)
    reply = await backend.post(RATE, json={"score": 5}, headers=chat(conversation))
    assert (reply.status, (await reply.json())["error"]["code"]) == (404, "nothing_to_rate")

    closed = await backend.post(f"/desk/api/handoffs/{handoff}/close", json={}, headers=zhang)
    assert closed.status == 200, await closed.text()
    # The goodbye that carries the rating card was said.
    assert rasa.said(conversation)[-1] == "utter_desk_closed"
    reply = await backend.post(RATE, json={"score": 2}, headers=chat(conversation))
    assert reply.status == 200, await reply.text()
    assert (await reply.json())["handoff_id"] == handoff
    # A second tap changes the score; it is not a second rating.
    reply = await backend.post(RATE, json={"score": 4}, headers=chat(conversation))
    assert reply.status == 200
    async with db.read() as conn:
        r, s = tables.agent_ratings, tables.staff
        rows = (await conn.execute(select(r.c.handoff_id, r.c.score, s.c.username).join(s))).all()
    assert [tuple(row) for row in rows] == [(handoff, 4, "zhang")]


async def test_another_chat_cannot_rate_and_scores_are_one_to_five(
    backend: TestClient, rasa: FakeRasa
) -> None:
    conversation = new_session_id()
    handoff = await handed_off(backend, rasa, conversation)
    zhang = await login(backend, "zhang")
    await backend.post(f"/desk/api/handoffs/{handoff}/claim", headers=zhang)
    await backend.post(f"/desk/api/handoffs/{handoff}/handback", json={}, headers=zhang)
    assert rasa.said(conversation)[-1] == "utter_desk_handback"
    stranger = await backend.post(RATE, json={"score": 1}, headers=chat(new_session_id()))
    assert stranger.status == 404
    nobody = await backend.post(RATE, json={"score": 1})
    assert (nobody.status, (await nobody.json())["error"]["code"]) == (401, "token_missing")
    forged = await backend.post(RATE, json={"score": 1}, headers={"Authorization": "Bearer x"})
    assert forged.status == 401
    for score in (0, 6, "五"):
        reply = await backend.post(RATE, json={"score": score}, headers=chat(conversation))
        assert reply.status == 422, score


async def test_supervisors_see_the_ratings_agents_do_not(
    backend: TestClient, rasa: FakeRasa
) -> None:
    zhang, wang = await login(backend, "zhang"), await login(backend, "wang")
    for score in (5, 3):
        conversation = new_session_id()
        handoff = await handed_off(backend, rasa, conversation)
        await backend.post(f"/desk/api/handoffs/{handoff}/claim", headers=zhang)
        await backend.post(f"/desk/api/handoffs/{handoff}/close", json={}, headers=zhang)
        reply = await backend.post(RATE, json={"score": score}, headers=chat(conversation))
        assert reply.status == 200
    seen = await backend.get("/desk/api/agent-ratings", headers=wang)
    assert seen.status == 200, await seen.text()
    body = await seen.json()
    assert [(a["agent"], a["ratings"], a["average"]) for a in body["agents"]] == [("张敏", 2, 4.0)]
    assert sorted(x["score"] for x in body["recent"]) == [3, 5]
    refused = await backend.get("/desk/api/agent-ratings", headers=zhang)
    assert (refused.status, (await refused.json())["error"]["code"]) == (403, "supervisors_only")
