"""The REST channel with awkward input: every message gets an answer and nothing is lost."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.support.rest import post, say, tracker
from tests.support.stack import ROOT, Stack, free_port

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def first_text(response: str) -> str:
    return str(RESPONSES[response][0]["text"])


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
async def test_an_empty_message_gets_a_prompt(
    stack: Stack, session: aiohttp.ClientSession, message: str
) -> None:
    status, replies = await post(session, stack.rasa_url, {"sender": "empty", "message": message})
    assert status == 200
    assert [r["text"] for r in replies] == [first_text("utter_empty_message")]


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '{"sender": "x"}',
        '{"sender": "x", "message": 42}',
        '{"sender": "", "message": "你好"}',
        '{"sender": "x", "message": "' + "长" * 100_001 + '"}',
    ],
    ids=["malformed", "not-an-object", "no-message", "number", "no-sender", "too-long"],
)
async def test_a_malformed_request_gets_a_json_error(
    stack: Stack, session: aiohttp.ClientSession, body: str
) -> None:
    status, reply = await post(session, stack.rasa_url, body)
    assert status == 400
    assert reply["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    "message",
    [
        "打印机卡纸了，" * 285,  # just under the 2,000-character limit
        "👍👍👍",
        "🙂",
        "？？？",
        "asdfghjkl",
        "<script>alert(1)</script>",
    ],
    ids=["2k-characters", "emoji", "one-emoji", "question-marks", "keyboard", "markup"],
)
async def test_odd_messages_get_an_answer(
    stack: Stack, session: aiohttp.ClientSession, message: str
) -> None:
    turn = await say(session, stack.rasa_url, f"odd-{abs(hash(message))}", message)
    assert turn.replies and all(r.get("text") for r in turn.replies)


async def test_traditional_characters_and_full_width_serials_are_understood(
    stack: Stack, session: aiohttp.ClientSession
) -> None:
    turn = await say(
        session, stack.rasa_url, "traditional", "ＰＦ２Ｋ７Ｑ９Ａ 這台電腦還在保固期內嗎"
    )
    assert turn.intent == "check_warranty"
    assert ("serial_number", "PF2K7Q9A") in turn.slots
    assert "action_warranty_verdict" in turn.actions


async def test_a_conversation_handed_to_a_person_keeps_every_message(
    stack: Stack, session: aiohttp.ClientSession
) -> None:
    turn = await say(session, stack.rasa_url, "handed-over", "我要转人工客服")
    assert turn.actions == ["action_handoff"] and turn.paused
    # The bot is silent while a person has the conversation (no apology either) ...
    status, replies = await post(
        session, stack.rasa_url, {"sender": "handed-over", "message": "我的电脑修好了吗"}
    )
    assert status == 200 and replies == []
    # ... and the message waits in the conversation for the agent.
    events = (await tracker(session, stack.rasa_url, "handed-over"))["events"]
    assert [e["text"] for e in events if e["event"] == "user"][-1] == "我的电脑修好了吗"


async def test_a_customer_waiting_for_a_person_who_asks_how_long_gets_the_queue_place(
    stack: Stack, session: aiohttp.ClientSession
) -> None:
    turn = await say(session, stack.rasa_url, "waiting-long", "找个真人客服")
    assert turn.paused
    for question in ("还要等多久", "喂 有人嗎？", "？？？"):
        status, replies = await post(
            session, stack.rasa_url, {"sender": "waiting-long", "message": question}
        )
        assert status == 200 and len(replies) == 1, question
        assert re.search(r"排在第 \d+ 位，预计大约 \d+ 分钟", replies[0]["text"]), replies
    # Still the desk's conversation: the question is kept for the agent, the bot did not resume.
    assert (await say(session, stack.rasa_url, "waiting-long", "我的打印机卡纸")).paused


@pytest.fixture(scope="module")
def without_actions(stack: Stack) -> Iterator[str]:
    """A second Rasa server whose action server is down."""
    endpoints = stack.workdir / "endpoints-down.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{free_port()}/webhook"\n', encoding="utf-8"
    )
    port = free_port()
    started = len(stack.processes)
    stack.start_rasa(Path(endpoints), port)
    yield f"http://127.0.0.1:{port}"
    for process in stack.processes[started:]:
        process.terminate()
        process.wait(timeout=20)
    del stack.processes[started:]


async def test_the_customer_gets_an_apology_when_the_action_server_is_down(
    without_actions: str, session: aiohttp.ClientSession
) -> None:
    turn = await say(session, without_actions, "no-actions", "我的打印机卡纸了怎么办")
    assert [r["text"] for r in turn.replies] == [first_text("utter_service_unavailable")]
    # What the customer said is kept for when the service is back (or for an agent).
    events = (await tracker(session, without_actions, "no-actions"))["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["我的打印机卡纸了怎么办"]


async def test_not_understood_twice_ends_with_the_offer_of_a_person(
    stack: Stack, session: aiohttp.ClientSession
) -> None:
    url, sender = stack.rasa_url, "not-understood"
    first = await say(session, url, sender, "啊啊啊啊")
    # Readable choices, the last one "none of these".
    assert first.intent == "nlu_fallback"
    assert first.replies[-1]["buttons"][-1] == {"title": "都不是", "payload": "/out_of_scope"}
    rephrase = await say(session, url, sender, "/out_of_scope")
    assert [r["text"] for r in rephrase.replies] == [first_text("utter_ask_rephrase")]
    again = await say(session, url, sender, "哦哦哦哦哦")
    assert again.replies[-1]["buttons"][-1]["payload"] == "/out_of_scope"
    last = await say(session, url, sender, "/out_of_scope")
    assert [r["text"] for r in last.replies] == [first_text("utter_default")]
    assert {"title": "转人工客服", "payload": "/request_human"} in last.replies[0]["buttons"]


async def test_a_retried_delivery_is_answered_once_and_processed_once(
    stack: Stack, session: aiohttp.ClientSession
) -> None:
    url, sender = stack.rasa_url, "retried"
    body = {"sender": sender, "message": "PF2K7Q9A 这台还在保修期内吗", "message_id": "m-1"}
    status, first = await post(session, url, body)
    assert status == 200 and first
    status, again = await post(session, url, body)
    assert status == 200 and again == first
    events = (await tracker(session, url, sender))["events"]
    assert [e.get("message_id") for e in events if e["event"] == "user"] == ["m-1"]
    verdicts = [
        e for e in events if e["event"] == "action" and e["name"] == "action_warranty_verdict"
    ]
    assert len(verdicts) == 1
    # Another id is another message.
    status, _ = await post(session, url, body | {"message_id": "m-2"})
    events = (await tracker(session, url, sender))["events"]
    assert [e.get("message_id") for e in events if e["event"] == "user"] == ["m-1", "m-2"]
    status, reply = await post(session, url, body | {"message_id": 7})
    assert status == 400 and reply["error"]["code"] == "bad_request"
