"""The desk's logged-in staff for in-process backend tests: 张敏 and 李强 (agents) and 王芳
(supervisor), each a `Staffer` with its session cookie and CSRF header, and `hand_off`, what
the handoff action does. The `staff` fixture needs the test module's `backend` fixture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import COOKIE, CSRF_HEADER, Role, create_account
from tests.support.database import add_staff_user
from tests.support.fake_rasa import FakeRasa

PASSWORD = "desk-test-password"
STAFF: dict[str, tuple[str, Role]] = {
    "zhang": ("张敏", "agent"),
    "li": ("李强", "agent"),
    "wang": ("王芳", "supervisor"),
}


@dataclass
class Staffer:
    """One logged-in desk user, as the desk page is one: session cookie and CSRF header."""

    client: TestClient
    name: str
    id: int = 0
    cookie: str = ""
    csrf: str = ""
    me: dict[str, Any] = field(default_factory=dict)

    async def call(
        self, method: str, path: str, body: Any = None, *, csrf: bool = True, login: bool = True
    ) -> tuple[int, Any]:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if login else {}
        if csrf:
            headers[CSRF_HEADER] = self.csrf
        async with self.client.request(method, path, json=body, headers=headers) as reply:
            return reply.status, await reply.json()

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.call(method, path, body)
        assert status < 300, (method, path, status, answer)
        return answer

    async def refused(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        status, answer = await self.call(method, path, body)
        assert status >= 400, (method, path, status, answer)
        return status, answer["error"]["code"]

    async def socket(self) -> aiohttp.ClientWebSocketResponse:
        return await self.client.ws_connect(
            "/desk/ws", headers={"Cookie": f"{COOKIE}={self.cookie}"}
        )


@pytest.fixture
async def staff(backend: TestClient, db: Database, clock: Clock) -> dict[str, Staffer]:
    """张敏 and 李强 (agents) and 王芳 (supervisor), logged in; made as `python -m bot
    desk-user` makes them."""
    await add_staff_user(db)
    async with db.write() as conn:
        for username, (name, role) in STAFF.items():
            await create_account(conn, username, name, role, PASSWORD, Clock.to_db(clock.now()))
    users = {}
    for username, (name, _) in STAFF.items():
        reply = await backend.post(
            "/desk/api/login", json={"username": username, "password": PASSWORD}
        )
        assert reply.status == 200, await reply.text()
        me = await reply.json()
        users[username] = Staffer(
            backend, name, me["id"], reply.cookies[COOKIE].value, me["csrf_token"], me
        )
    return users


_conversations = iter(range(1, 1000))


async def hand_off(backend: TestClient, rasa: FakeRasa) -> tuple[str, str]:
    """What the handoff action does: the conversation is paused and handed to the desk;
    returns (conversation id, handoff id)."""
    conversation = f"conv-{next(_conversations)}"
    rasa.events[conversation].append({"event": "user", "text": "转人工", "timestamp": 1.0})
    rasa.events[conversation].append({"event": "pause"})
    reply = await backend.post(
        "/api/handoffs",
        json={"conversation_id": conversation, "channel": "rest", "reason": "requested"},
    )
    assert reply.status == 201, await reply.text()
    return conversation, (await reply.json())["id"]
