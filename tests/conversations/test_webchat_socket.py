"""The web chat channel's security and input checks, with a real socket.io client.

python-socketio's client against the running Rasa (tests/support/stack.py). Its
WebSocket transport needs a newer aiohttp than Rasa allows, so it talks long polling; the
browser tests (tests/browser/test_page.py) use WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
import pytest
import socketio

from bot.contracts.chat_tokens import AUDIENCE, new_session_id
from tests.support.chat import CHAT_SECRET, expired_token, token_for
from tests.support.stack import Stack

GREETING = "小星"
QUIET = 2.0  # seconds a socket must stay silent to count as having received nothing


class Customer:
    """One connected socket and the bot messages it received."""

    def __init__(self, client: socketio.AsyncClient, session_id: str, token: str) -> None:
        self.client = client
        self.session_id = session_id
        self.token = token
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def say(self, message: Any, **fields: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await self.client.call(
            "user_uttered", {"message": message, **fields}, timeout=10
        )
        return ack

    async def reply(self, seconds: float = 30) -> dict[str, Any]:
        return await asyncio.wait_for(self.received.get(), seconds)

    async def nothing_more(self) -> bool:
        await asyncio.sleep(QUIET)
        return self.received.empty()


async def hang_up(client: socketio.AsyncClient) -> None:
    """Close at once: a polite disconnect waits out the open long poll (the 25 s ping interval)."""
    engine = client.eio
    loops = [task for task in (engine.read_loop_task, engine.write_loop_task) if task]
    await engine.disconnect(abort=True)
    for task in loops:
        task.cancel()
    await asyncio.gather(*loops, return_exceptions=True)


@asynccontextmanager
async def customer(stack: Stack, session_id: str | None = None) -> AsyncIterator[Customer]:
    session_id = session_id or new_session_id()
    token = token_for(session_id)
    client = socketio.AsyncClient(reconnection=False)
    person = Customer(client, session_id, token)
    client.on("bot_uttered", person.received.put_nowait)
    await client.connect(
        stack.rasa_url, auth={"token": token}, transports=["polling"], wait_timeout=10
    )
    try:
        yield person
    finally:
        await hang_up(client)


async def refusal(stack: Stack, auth: Any) -> str:
    """Why the server refused a socket with this `auth`."""
    client = socketio.AsyncClient(reconnection=False)
    outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def settle(data: Any = None) -> None:
        if not outcome.done():
            outcome.set_result(data)

    client.on("connect_error", settle)
    client.on("connect", settle)
    await client.connect(stack.rasa_url, auth=auth, transports=["polling"], wait=False)
    try:
        data = await asyncio.wait_for(outcome, 10)
    finally:
        await hang_up(client)
    assert data is not None, "the server accepted the socket"
    return str(data["message"])


def history(stack: Stack, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{stack.rasa_url}/webhooks/webchat/history", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as failed:
        return failed.code, json.loads(failed.read())


def _other_key(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, "not-the-chat-secret-but-long-enough-000000", algorithm="HS256")


def _claims(**changes: Any) -> dict[str, Any]:
    return {"sub": new_session_id(), "aud": AUDIENCE, "iat": 1, "exp": 4_000_000_000} | changes


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "token_missing"),
        ({}, "token_missing"),
        ({"token": 42}, "token_missing"),
        ({"token": "garbage"}, "token_invalid"),
        ({"token": _other_key(_claims())}, "token_invalid"),
        ({"token": jwt.encode(_claims(aud="desk"), CHAT_SECRET)}, "token_invalid"),
        ({"token": jwt.encode(_claims(sub="victim-id"), CHAT_SECRET)}, "token_invalid"),
        ({"token": expired_token()}, "token_expired"),
    ],
    ids=["none", "empty", "number", "garbage", "forged", "audience", "bad-subject", "expired"],
)
async def test_a_socket_without_a_valid_token_is_refused(
    stack: Stack, auth: Any, code: str
) -> None:
    assert await refusal(stack, auth) == code


async def test_a_customer_cannot_reach_another_conversation(stack: Stack) -> None:
    async with customer(stack) as victim, customer(stack) as intruder:
        # Rasa's own channel would put the intruder into the victim's session here.
        refused = asyncio.get_running_loop().create_future()
        confirmed = asyncio.get_running_loop().create_future()
        intruder.client.on("session_refused", refused.set_result)
        intruder.client.on("session_confirm", confirmed.set_result)
        await intruder.client.emit("session_request", {"session_id": victim.session_id})
        assert (await asyncio.wait_for(refused, 10)) == {"error": "session_mismatch"}
        await intruder.client.emit("session_request", {})
        assert await asyncio.wait_for(confirmed, 10) == intruder.session_id

        ack = await intruder.say("你好", session_id=victim.session_id)
        assert ack == {"status": "refused", "error": "session_mismatch"}

        # The victim talks: only the victim hears the answer.
        assert (await victim.say("你好"))["status"] == "accepted"
        assert GREETING in (await victim.reply())["text"]
        assert await intruder.nothing_more()

        assert history(stack, None)[0] == 401
        assert history(stack, _other_key(_claims(sub=victim.session_id)))[0] == 401
        assert history(stack, expired_token(victim.session_id))[0] == 401
        status, mine = history(stack, intruder.token)
        assert status == 200 and mine["messages"] == []
        status, theirs = history(stack, victim.token)
        assert status == 200 and theirs["session_id"] == victim.session_id
        assert [m["sender"] for m in theirs["messages"]] == ["user", "bot"]
        assert theirs["messages"][0]["text"] == "你好"
        assert {b["payload"] for b in theirs["messages"][1]["buttons"]} >= {"/verify_authenticity"}


async def test_every_tab_of_a_session_gets_the_answers(stack: Stack) -> None:
    async with customer(stack) as first, customer(stack, first.session_id) as second:
        await first.say("你好")
        for tab in (first, second):
            answer = await tab.reply()
            assert GREETING in answer["text"] and isinstance(answer["ts"], float)


async def test_a_retried_message_is_processed_once(stack: Stack) -> None:
    async with customer(stack) as person:
        assert (await person.say("你好", message_id="m-1"))["status"] == "accepted"
        assert (await person.say("你好", message_id="m-1"))["status"] == "duplicate"
        await person.reply()
        assert await person.nothing_more()
        assert (await person.say("你好", message_id="m-1"))["status"] == "duplicate"
        senders = [m["sender"] for m in history(stack, person.token)[1]["messages"]]
        assert senders == ["user", "bot"]


async def test_empty_long_and_malformed_messages(stack: Stack) -> None:
    async with customer(stack) as person:
        assert (await person.say("   "))["status"] == "accepted"
        assert "空消息" in (await person.reply())["text"]

        assert await person.say("长" * 10_001) == {"status": "refused", "error": "too_long"}
        assert "太长" in (await person.reply())["text"]

        for bad in (42, None, ["你好"], {"text": "你好"}):
            assert await person.say(bad) == {"status": "refused", "error": "bad_message"}
        ack = await person.client.call("user_uttered", "你好", timeout=10)
        assert ack == {"status": "refused", "error": "bad_message"}
        assert await person.say("你好", message_id=7) == {
            "status": "refused",
            "error": "bad_message_id",
        }
        assert await person.nothing_more()

        # The longest message the page allows still gets an answer.
        assert (await person.say("打印机卡纸" * 400))["status"] == "accepted"
        assert (await person.reply())["text"]
        # None of the refused ones reached the conversation.
        texts = [m.get("text") for m in history(stack, person.token)[1]["messages"]]
        assert texts.count("你好") == 0
