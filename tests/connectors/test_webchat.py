"""The web-chat channel in-process: token refusals on the socket and the history, retried
messages, the empty and too-long prompts and the guard's apology, with python-socketio's client
(long polling) against a stand-in agent (tests/connectors/conftest.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import jwt
import pytest
import socketio
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, ConversationPaused, UserUttered

from bot.contracts.chat_tokens import AUDIENCE, issue_token, new_session_id
from connectors.guard import APOLOGY, EMPTY, Guard
from connectors.limits import MAX_MESSAGE_CHARS, TOO_LONG
from connectors.webchat import WebchatInput, WebchatSettings
from tests.support.channels import Serve, StandInAgent, text_of

SECRET = "connector-test-secret-0123456789abcdef"
HISTORY = "/webhooks/webchat/history"


def token_for(session_id: str, *, secret: str = SECRET, now: float | None = None) -> str:
    return issue_token(secret, session_id, 3600, now=now)[0]


def channel(secret: str | None = SECRET, reply_timeout: float = 20.0) -> WebchatInput:
    return WebchatInput(WebchatSettings(secret, guard=Guard(reply_timeout=reply_timeout)))


class Customer:
    """One connected socket, its conversation and the bot messages it received."""

    def __init__(self, client: socketio.AsyncClient, session_id: str) -> None:
        self.client = client
        self.session_id = session_id
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def say(self, message: Any, **fields: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await self.client.call(
            "user_uttered", {"message": message, **fields}, timeout=5
        )
        return ack

    async def reply(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.received.get(), 5)


async def hang_up(client: socketio.AsyncClient) -> None:
    """Close at once: a polite disconnect waits out the open long poll."""
    engine = client.eio
    loops = [task for task in (engine.read_loop_task, engine.write_loop_task) if task]
    await engine.disconnect(abort=True)
    for task in loops:
        task.cancel()
    await asyncio.gather(*loops, return_exceptions=True)


@asynccontextmanager
async def customer(base: str, session_id: str | None = None) -> AsyncIterator[Customer]:
    session_id = session_id or new_session_id()
    client = socketio.AsyncClient(reconnection=False)
    person = Customer(client, session_id)
    client.on("bot_uttered", person.received.put_nowait)
    await client.connect(
        base, auth={"token": token_for(session_id)}, transports=["polling"], wait_timeout=5
    )
    try:
        yield person
    finally:
        await hang_up(client)


async def refusal(base: str, auth: Any) -> str:
    """Why the channel refused a socket with this `auth`."""
    client = socketio.AsyncClient(reconnection=False)
    outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def settle(data: Any = None) -> None:
        if not outcome.done():
            outcome.set_result(data)

    client.on("connect_error", settle)
    client.on("connect", settle)
    await client.connect(base, auth=auth, transports=["polling"], wait=False)
    try:
        data = await asyncio.wait_for(outcome, 5)
    finally:
        await hang_up(client)
    assert data is not None, "the channel accepted the socket"
    return str(data["message"])


async def history(base: str, authorization: str | None) -> tuple[int, Any]:
    headers = {"Authorization": authorization} if authorization else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + HISTORY, headers=headers) as reply,
    ):
        return reply.status, await reply.json()


# --- tokens --------------------------------------------------------------------------------


def _claims(**changes: Any) -> dict[str, Any]:
    return {"sub": new_session_id(), "aud": AUDIENCE, "iat": 1, "exp": 4_000_000_000} | changes


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "token_missing"),
        ({"token": 42}, "token_missing"),
        ({"token": "garbage"}, "token_invalid"),
        ({"token": jwt.encode(_claims(), "another-key-" + "0" * 32)}, "token_invalid"),
        ({"token": jwt.encode(_claims(aud="desk"), SECRET)}, "token_invalid"),
        ({"token": token_for(new_session_id(), now=time.time() - 7200)}, "token_expired"),
    ],
    ids=["none", "number", "garbage", "forged", "audience", "expired"],
)
async def test_a_socket_without_a_valid_token_is_refused(
    serve: Serve, auth: Any, code: str
) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    assert await refusal(base, auth) == code
    assert agent.messages == []


async def test_without_chat_secret_every_socket_and_history_is_refused(serve: Serve) -> None:
    base = await serve(channel(secret=None), StandInAgent())
    session_id = new_session_id()
    assert await refusal(base, {"token": token_for(session_id)}) == "chat_not_configured"
    status, answer = await history(base, f"Bearer {token_for(session_id)}")
    assert status == 503 and answer["error"]["code"] == "chat_not_configured"


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "token_missing"),
        ("Basic dXNlcjpwYXNz", "token_invalid"),
        ("Bearer ", "token_invalid"),
        ("Bearer garbage", "token_invalid"),
        (f"Bearer {token_for(new_session_id(), now=time.time() - 7200)}", "token_expired"),
    ],
    ids=["none", "basic", "empty", "garbage", "expired"],
)
async def test_the_history_needs_the_conversations_token(
    serve: Serve, authorization: str | None, code: str
) -> None:
    base = await serve(channel(), StandInAgent())
    status, answer = await history(base, authorization)
    assert status == 401 and answer["error"]["code"] == code


async def test_the_history_is_the_token_holders_conversation_only(serve: Serve) -> None:
    agent = StandInAgent()
    mine, theirs = new_session_id(), new_session_id()
    await agent.record(
        mine,
        UserUttered("/check_warranty", metadata={"display": "查保修"}),
        BotUttered("请告诉我序列号", metadata={"desk_agent": "王工"}),
        ConversationPaused(),
    )
    await agent.record(theirs, UserUttered("别人的消息"))
    base = await serve(channel(), agent)
    status, answer = await history(base, f"Bearer {token_for(mine)}")
    assert status == 200
    assert (answer["session_id"], answer["paused"]) == (mine, True)
    messages = [{k: v for k, v in m.items() if k != "ts"} for m in answer["messages"]]
    assert messages == [
        {"sender": "user", "text": "查保修"},
        {"sender": "bot", "text": "请告诉我序列号", "agent": "王工"},
    ]


# --- messages ------------------------------------------------------------------------------


async def test_a_message_is_answered_in_the_conversations_room(serve: Serve) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    async with customer(base) as person, customer(base, person.session_id) as other_tab:
        ack = await person.say("/greet", metadata={"display": "你好", "extra": "dropped"})
        assert ack == {"status": "accepted"}
        for tab in (person, other_tab):
            assert (await tab.reply())["text"] == "echo: /greet"
    (message,) = agent.messages
    assert (message.sender_id, message.input_channel) == (person.session_id, "webchat")
    assert message.metadata == {"display": "你好"}


async def test_a_retried_message_is_processed_once(serve: Serve) -> None:
    release = asyncio.Event()

    async def slow(message: UserMessage) -> list[str]:
        await release.wait()
        return ["好的"]

    agent = StandInAgent(slow)
    base = await serve(channel(), agent)
    async with customer(base) as person:
        assert await person.say("预约", message_id="m-1") == {"status": "accepted"}
        # The page resends until acknowledged; a repeat while the first runs is not a turn.
        assert await person.say("预约", message_id="m-1") == {"status": "duplicate"}
        release.set()
        assert (await person.reply())["text"] == "好的"
        # Nor is one after the first is stored in the conversation.
        assert await person.say("预约", message_id="m-1") == {"status": "duplicate"}
        assert await person.say("预约", message_id="m-2") == {"status": "accepted"}
        assert (await person.reply())["text"] == "好的"
    assert [m.message_id for m in agent.messages] == ["m-1", "m-2"]


async def test_empty_too_long_and_malformed_messages(serve: Serve) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    async with customer(base) as person:
        assert await person.say("  ") == {"status": "accepted"}
        assert (await person.reply())["text"] == text_of(EMPTY)
        too_long = "长" * (MAX_MESSAGE_CHARS + 1)
        assert await person.say(too_long) == {"status": "refused", "error": "too_long"}
        assert (await person.reply())["text"] == text_of(TOO_LONG)
        for bad in (42, None, ["你好"]):
            assert await person.say(bad) == {"status": "refused", "error": "bad_message"}
        ack = await person.say("你好", message_id="m" * 101)
        assert ack == {"status": "refused", "error": "bad_message_id"}
        ack = await person.say("你好", session_id=new_session_id())
        assert ack == {"status": "refused", "error": "session_mismatch"}
    assert agent.messages == []


async def test_a_turn_that_outlasts_the_timeout_gets_the_apology(serve: Serve) -> None:
    async def slow(message: UserMessage) -> list[str]:
        await asyncio.sleep(0.5)
        return ["迟到的回答"]

    base = await serve(channel(reply_timeout=0.1), StandInAgent(slow))
    async with customer(base) as person:
        assert await person.say("你好") == {"status": "accepted"}
        assert (await person.reply())["text"] == text_of(APOLOGY)
        # The turn goes on and its answer still reaches the page.
        assert (await person.reply())["text"] == "迟到的回答"


async def test_a_socket_cannot_ask_for_another_conversation(serve: Serve) -> None:
    base = await serve(channel(), StandInAgent())
    async with customer(base) as person:
        loop = asyncio.get_running_loop()
        refused, confirmed = loop.create_future(), loop.create_future()
        person.client.on("session_refused", refused.set_result)
        person.client.on("session_confirm", confirmed.set_result)
        await person.client.emit("session_request", {"session_id": new_session_id()})
        assert await asyncio.wait_for(refused, 5) == {"error": "session_mismatch"}
        await person.client.emit("session_request", {"session_id": person.session_id})
        assert await asyncio.wait_for(confirmed, 5) == person.session_id


def test_settings_are_read_once_when_the_channel_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAT_SECRET", SECRET)
    monkeypatch.setenv("CHANNEL_REPLY_TIMEOUT", "9")
    built = WebchatInput.from_credentials({"socketio_path": "/chat.io"})
    monkeypatch.delenv("CHAT_SECRET")
    assert isinstance(built, WebchatInput)
    assert built.settings == WebchatSettings(SECRET, "/chat.io", Guard(reply_timeout=9.0))
    assert WebchatSettings.read(None, {}) == WebchatSettings(None)
