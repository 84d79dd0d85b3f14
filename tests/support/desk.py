"""A support-desk user as a browser would be one: login cookie, CSRF header, websocket."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.desk.accounts import COOKIE, CSRF_HEADER
from tests.support.stack import BIN, ROOT, Stack

TIMEOUT = aiohttp.ClientTimeout(total=30)
PASSWORD = "desk-test-password"


def create_account(stack: Stack, username: str, name: str, role: str = "agent") -> None:
    """Through the admin command, as an operator would."""
    done = subprocess.run(
        [str(BIN / "python"), "-m", "bot", "desk-user", username, "--name", name, "--role", role],
        cwd=ROOT,
        env=stack.env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 and "exists already" not in done.stderr:
        raise RuntimeError(done.stderr)


@dataclass
class DeskUser:
    url: str
    session: aiohttp.ClientSession
    csrf: str = ""
    me: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def login(cls, url: str, username: str, password: str = PASSWORD) -> DeskUser:
        session = aiohttp.ClientSession(timeout=TIMEOUT, cookie_jar=aiohttp.CookieJar(unsafe=True))
        user = cls(url, session)
        status, body = await user.call(
            "POST", "/desk/api/login", {"username": username, "password": password}
        )
        if status != 200:
            await session.close()
            raise RuntimeError(f"login of {username} failed: {status} {body}")
        user.me, user.csrf = body, body["csrf_token"]
        return user

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        async with self.session.request(
            method, f"{self.url}{path}", json=body, headers=headers
        ) as reply:
            return reply.status, await reply.json(content_type=None)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.call(method, path, body)
        assert status < 300, (method, path, status, answer)
        return answer

    async def socket(self) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(f"{self.url}/desk/ws", origin=self.url)

    async def close(self) -> None:
        await self.session.close()


async def next_message(
    socket: aiohttp.ClientWebSocketResponse, kind: str, seconds: float = 10, **match: Any
) -> dict[str, Any]:
    """The next feed message of this kind (and these field values) on a desk websocket."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await socket.receive_json(timeout=left)
        except asyncio.TimeoutError:
            break
        if message["kind"] == kind and all(message.get(k) == v for k, v in match.items()):
            return dict(message)
    raise AssertionError(f"no {kind} message {match} within {seconds} s")


async def desk_headers(client: Any, username: str, password: str) -> dict[str, str]:
    """Log in through an in-process test client; the headers a logged-in desk page sends
    (its session cookie and CSRF token)."""
    reply = await client.post("/desk/api/login", json={"username": username, "password": password})
    assert reply.status == 200, await reply.text()
    return {
        "Cookie": f"{COOKIE}={reply.cookies[COOKIE].value}",
        CSRF_HEADER: (await reply.json())["csrf_token"],
    }
