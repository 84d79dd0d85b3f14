"""The REST channel in-process: input checks, the empty-message prompt, retried deliveries and
the reply guard's apology, against a stand-in agent (tests/connectors/conftest.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import ConversationPaused, UserUttered

from connectors.guard import APOLOGY, EMPTY, Guard
from connectors.limits import MAX_MESSAGE_CHARS, Limits, Rate
from connectors.rest import GuardedRestInput, RestSettings
from tests.support.channels import Serve, StandInAgent, text_of

WEBHOOK = "/webhooks/rest/webhook"
TOKEN = "rest-channel-test-token"


def channel(guard: Guard | None = None, limits: Limits | None = None) -> GuardedRestInput:
    """The channel as `make run` configures it: with its token (and default limits)."""
    return GuardedRestInput(
        RestSettings(token=TOKEN, guard=guard or Guard(), limits=limits or Limits())
    )


async def post(base: str, body: Any, token: str | None = TOKEN) -> tuple[int, Any]:
    """POSTs `body` (a str is sent as it is, anything else as JSON); the status and JSON answer."""
    sent = {"data": body} if isinstance(body, str) else {"json": body}
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(base + WEBHOOK, headers=headers, **sent) as reply,
    ):
        return reply.status, await reply.json()


async def test_a_message_is_handed_to_rasa_and_the_replies_come_back(serve: Serve) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    body = {"sender": "c1", "message": "你好", "metadata": {"source": "app"}}
    assert await post(base, body) == (200, [{"recipient_id": "c1", "text": "echo: 你好"}])
    (message,) = agent.messages
    assert (message.sender_id, message.input_channel) == ("c1", "rest")
    assert message.metadata == {"source": "app"}
    async with aiohttp.ClientSession() as session, session.get(base + "/webhooks/rest/") as reply:
        assert await reply.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("{not json", "JSON object"),
        (["你好"], "JSON object"),
        ({"sender": 7, "message": "你好"}, "sender"),
        ({"sender": "  ", "message": "你好"}, "sender"),
        ({"sender": "s" * 201, "message": "你好"}, "sender"),
        ({"sender": "c1"}, "message must be a string"),
        ({"sender": "c1", "message": 42}, "message must be a string"),
        ({"sender": "c1", "message": "长" * (MAX_MESSAGE_CHARS + 1)}, "longer than"),
        ({"sender": "c1", "message": "你好", "message_id": ""}, "message_id"),
        ({"sender": "c1", "message": "你好", "message_id": 5}, "message_id"),
    ],
    ids=[
        "not-json",
        "array",
        "sender-number",
        "sender-blank",
        "sender-long",
        "no-message",
        "message-number",
        "message-long",
        "message-id-empty",
        "message-id-number",
    ],
)
async def test_a_malformed_request_gets_a_400_with_a_json_error(
    serve: Serve, body: Any, complaint: str
) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    status, answer = await post(base, body)
    assert status == 400
    assert answer["error"]["code"] == "bad_request"
    assert complaint in answer["error"]["message"]
    assert agent.messages == []


async def test_an_empty_message_gets_a_prompt_without_a_turn(serve: Serve) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    answer = await post(base, {"sender": "c1", "message": " \n "})
    assert answer == (200, [{"recipient_id": "c1", "text": text_of(EMPTY)}])
    assert agent.messages == []


async def test_a_retried_delivery_is_answered_as_the_first_without_a_second_turn(
    serve: Serve,
) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    body = {"sender": "c1", "message": "查保修", "message_id": "m-1"}
    first = await post(base, body)
    assert first == (200, [{"recipient_id": "c1", "text": "echo: 查保修"}])
    assert await post(base, body) == first
    assert len(agent.messages) == 1
    # The id belongs to its sender: another customer's message with the same id is new.
    assert (await post(base, body | {"sender": "c2"}))[1][0]["recipient_id"] == "c2"
    assert len(agent.messages) == 2


async def test_a_repeat_during_the_first_delivery_gets_no_reply_of_its_own(
    serve: Serve,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(message: UserMessage) -> list[str]:
        started.set()
        await release.wait()
        return ["好的"]

    agent = StandInAgent(slow)
    base = await serve(channel(), agent)
    body = {"sender": "c1", "message": "预约维修", "message_id": "m-1"}
    first = asyncio.ensure_future(post(base, body))
    await asyncio.wait_for(started.wait(), 5)
    # The first request carries the answer; the repeat must not start a second turn.
    assert await post(base, body) == (200, [])
    release.set()
    assert await first == (200, [{"recipient_id": "c1", "text": "好的"}])
    assert len(agent.messages) == 1


async def test_a_turn_that_outlasts_the_timeout_gets_the_apology_and_goes_on(
    serve: Serve,
) -> None:
    async def slow(message: UserMessage) -> list[str]:
        await asyncio.sleep(0.5)
        return ["迟到的回答"]

    agent = StandInAgent(slow)
    base = await serve(channel(Guard(reply_timeout=0.1)), agent)
    answer = await post(base, {"sender": "c1", "message": "你好"})
    assert answer == (200, [{"recipient_id": "c1", "text": text_of(APOLOGY)}])
    # Shielded, not cancelled: the turn finishes and its answer is in the conversation.
    await asyncio.sleep(0.7)
    assert await agent.bot_texts("c1") == ["迟到的回答"]


async def test_a_turn_that_fails_gets_the_apology(serve: Serve) -> None:
    async def failing(message: UserMessage) -> list[str]:
        raise RuntimeError("the action server is down")

    base = await serve(channel(), StandInAgent(failing))
    answer = await post(base, {"sender": "c1", "message": "你好"})
    assert answer == (200, [{"recipient_id": "c1", "text": text_of(APOLOGY)}])


async def test_no_apology_while_a_person_holds_the_conversation(serve: Serve) -> None:
    async def silent(message: UserMessage) -> list[str]:
        return []  # Rasa says nothing in a paused conversation

    agent = StandInAgent(silent)
    await agent.record("c1", ConversationPaused())
    base = await serve(channel(), agent)
    assert await post(base, {"sender": "c1", "message": "人呢？"}) == (200, [])
    assert len(agent.messages) == 1


def test_the_reply_timeout_is_read_once_when_the_channel_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHANNEL_REPLY_TIMEOUT", "7.5")
    channel = GuardedRestInput.from_credentials(None)
    monkeypatch.setenv("CHANNEL_REPLY_TIMEOUT", "1")
    assert isinstance(channel, GuardedRestInput)
    assert channel.guard.reply_timeout == 7.5


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 20.0), ("", 20.0), ("5", 5.0), (" 2.5 ", 2.5)]
)
def test_guard_settings(value: str | None, seconds: float) -> None:
    env = {} if value is None else {"CHANNEL_REPLY_TIMEOUT": value}
    assert Guard.from_env(env).reply_timeout == seconds


@pytest.mark.parametrize("value", ["abc", "0", "-3", "nan"])
def test_a_reply_timeout_that_is_not_a_positive_number_stops_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="CHANNEL_REPLY_TIMEOUT"):
        Guard.from_env({"CHANNEL_REPLY_TIMEOUT": value})


# --- who may use the channel, and how much ---------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x"])
async def test_without_the_channel_token_nothing_reaches_the_assistant(
    serve: Serve, token: str | None
) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    status, answer = await post(base, {"sender": "c1", "message": "你好"}, token=token)
    assert (status, answer["error"]["code"]) == (401, "unauthorized")
    assert agent.messages == []


async def test_a_channel_without_a_token_refuses_everything(serve: Serve) -> None:
    agent = StandInAgent()
    base = await serve(GuardedRestInput(RestSettings(token=None)), agent)
    status, answer = await post(base, {"sender": "c1", "message": "你好"})
    assert (status, answer["error"]["code"]) == (503, "rest_not_configured")
    assert agent.messages == []


async def test_a_huge_message_is_refused_before_the_assistant_and_others_go_on(
    serve: Serve,
) -> None:
    agent = StandInAgent()
    base = await serve(channel(), agent)
    status, answer = await post(base, {"sender": "c1", "message": "长" * 100_000})
    assert status == 400 and "longer than" in answer["error"]["message"]
    assert await post(base, {"sender": "c2", "message": "你好"}) == (
        200,
        [{"recipient_id": "c2", "text": "echo: 你好"}],
    )
    assert [m.sender_id for m in agent.messages] == ["c2"]


async def test_a_conversation_sending_too_fast_waits(serve: Serve) -> None:
    agent = StandInAgent()
    base = await serve(channel(limits=Limits(per_conversation=Rate(6, 2))), agent)
    for n in range(2):
        assert (await post(base, {"sender": "c1", "message": f"第{n}条"}))[0] == 200
    status, answer = await post(base, {"sender": "c1", "message": "第3条"})
    assert (status, answer["error"]["code"]) == (429, "rate_limited")
    # Another conversation is not held up by this one.
    assert (await post(base, {"sender": "c2", "message": "你好"}))[0] == 200
    assert len(agent.messages) == 3


async def test_one_client_driving_many_conversations_waits(serve: Serve) -> None:
    agent = StandInAgent()
    base = await serve(channel(limits=Limits(per_client=Rate(6, 2))), agent)
    for sender in ("c1", "c2"):
        assert (await post(base, {"sender": sender, "message": "你好"}))[0] == 200
    status, answer = await post(base, {"sender": "c3", "message": "你好"})
    assert (status, answer["error"]["code"]) == (429, "rate_limited")
    assert len(agent.messages) == 2


async def test_a_conversation_of_another_channel_cannot_be_driven_over_rest(
    serve: Serve,
) -> None:
    agent = StandInAgent()
    # A web-chat customer's conversation, whose id a stranger learnt.
    await agent.record("3f9c0a", UserUttered("我的订单", input_channel="webchat"))
    base = await serve(channel(), agent)
    status, answer = await post(base, {"sender": "3f9c0a", "message": "帮我取消订单"})
    assert (status, answer["error"]["code"]) == (403, "other_channel")
    assert agent.messages == []
