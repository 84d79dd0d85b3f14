"""The Telegram channel through the whole system: updates into Rasa's webhook, replies out to a
fake Telegram Bot API server on loopback that python-telegram-bot really talks to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import yaml

from connectors.telegram import TelegramSettings
from connectors.telegram_ops import poll, poll_once
from connectors.telegram_output import MAX_TEXT_UNITS, callback_data, utf16_units
from tests.support.fake_telegram import Failure, FakeTelegram
from tests.support.rest import tracker
from tests.support.stack import ROOT, Stack, free_port
from tests.support.telegram_updates import (
    TIMEOUT,
    deliver,
    message,
    new_chat,
    press,
    text_update,
    update_id,
)

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def first_text(response: str) -> str:
    return str(RESPONSES[response][0]["text"])


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def events(session: aiohttp.ClientSession, stack: Stack, chat_id: int) -> list[Any]:
    return list((await tracker(session, stack.rasa_url, str(chat_id)))["events"])


def last_turn(all_events: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest user message's intent, and the actions, slots and bot texts that followed."""
    last = max(i for i, e in enumerate(all_events) if e["event"] == "user")
    after = all_events[last + 1 :]
    return {
        "user": all_events[last],
        "intent": all_events[last]["parse_data"]["intent"]["name"],
        "actions": [
            e["name"] for e in after if e["event"] == "action" and e["name"] != "action_listen"
        ],
        "slots": {e["name"]: e["value"] for e in after if e["event"] == "slot"},
        "texts": [e["text"] for e in after if e["event"] == "bot" and e.get("text")],
    }


async def test_a_whole_anti_counterfeit_journey(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    greet = text_update(chat, "/start")
    assert await deliver(session, stack, greet) == (200, {"ok": True})
    # The greeting with its buttons as an inline keyboard, one button per row.
    [hello] = fake_telegram.recorded("sendMessage", chat)
    assert hello.params["text"] == first_text("utter_greet")
    assert "parse_mode" not in hello.params
    rows = hello.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in rows][:4] == ["故障排查", "查保修", "预约维修", "防伪查询"]
    assert rows[3][0]["callback_data"] == "/verify_authenticity"
    # "typing…" is shown before the reply, never after it.
    assert [c.method for c in fake_telegram.recorded(chat_id=chat)] == [
        "sendChatAction",
        "sendMessage",
    ]

    # The customer taps "防伪查询": the query is answered, the payload is their message.
    tap = press(chat, rows[3][0]["callback_data"], hello.params["reply_markup"])
    assert (await deliver(session, stack, tap))[0] == 200
    answered = fake_telegram.recorded("answerCallbackQuery")
    assert [c.params["callback_query_id"] for c in answered][-1] == tap["callback_query"]["id"]
    assert fake_telegram.texts(chat)[-1] == first_text("utter_ask_security_code")

    code = text_update(chat, "8861 2203 5540 9172")
    assert (await deliver(session, stack, code))[0] == 200
    turn = last_turn(await events(session, stack, chat))
    assert "action_verify_code" in turn["actions"]
    assert turn["slots"]["last_code_checked"] == "8861220355409172"
    # What the customer saw is exactly what the conversation recorded.
    assert fake_telegram.texts(chat)[-len(turn["texts"]) :] == turn["texts"]
    assert "8861" in turn["texts"][0]

    user = turn["user"]
    assert user["input_channel"] == "telegram"
    assert user["message_id"] == f"tg{code['update_id']}"
    assert user["metadata"]["telegram"] | {"update_id": None} == {
        "update_id": None,
        "chat_id": chat,
        "user_id": chat,
        "username": "xiaowang",
        "first_name": "小王",
        "language_code": "zh-hans",
        "edited": False,
        "button": False,
    }


async def test_a_redelivered_update_is_processed_once(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    update = text_update(chat, "PF2K7Q9A 这台还在保修期内吗")
    # Telegram retries while the first delivery is still running, and again later.
    first, second = await asyncio.gather(
        deliver(session, stack, update), deliver(session, stack, update)
    )
    assert first[0] == second[0] == 200
    sent = len(fake_telegram.texts(chat))
    assert (await deliver(session, stack, update))[0] == 200
    assert len(fake_telegram.texts(chat)) == sent > 0
    all_events = await events(session, stack, chat)
    assert [e["message_id"] for e in all_events if e["event"] == "user"] == [
        f"tg{update['update_id']}"
    ]
    verdicts = [e for e in all_events if e.get("name") == "action_warranty_verdict"]
    assert len(verdicts) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "test-secret_012345678"])
async def test_an_update_without_the_right_secret_is_refused(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession, secret: str | None
) -> None:
    chat = new_chat()
    status, body = await deliver(session, stack, text_update(chat, "你好"), secret=secret)
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert not [e for e in await events(session, stack, chat) if e["event"] == "user"]
    assert fake_telegram.recorded(chat_id=chat) == []


@pytest.mark.parametrize(
    "body",
    ["{not json", "[]", '{"message": {}}', '{"update_id": "7"}', '{"update_id": 7, "message": 5}'],
)
async def test_a_malformed_update_gets_a_400(
    stack: Stack, session: aiohttp.ClientSession, body: str
) -> None:
    status, reply = await deliver(session, stack, body)
    assert status == 400 and reply["error"]["code"] == "bad_request"


async def test_a_shared_location_gets_the_nearest_stations(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    # People's Square, Shanghai.
    update = {
        "update_id": update_id(),
        "message": message(chat, location={"latitude": 31.2304, "longitude": 121.4737}),
    }
    assert (await deliver(session, stack, update))[0] == 200
    turn = last_turn(await events(session, stack, chat))
    assert turn["intent"] == "share_location"
    assert turn["actions"] == ["action_stations_nearby"]
    assert turn["slots"]["location"] == "31.23040,121.47370"
    texts = fake_telegram.texts(chat)
    assert texts[0] == first_text("utter_stations_nearby").format(kind="授权维修服务站")
    assert len(texts) == 4 and all("距您约" in t for t in texts[1:])
    # Nearest first: the two in Shanghai, then Suzhou.
    assert ["上海" in t for t in texts[1:]] == [True, True, False]
    distances = [float(t.split("距您约 ")[1].split(" ")[0]) for t in texts[1:]]
    assert distances == sorted(distances) and distances[0] < 10


async def test_words_about_a_location_without_one_get_instructions(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    assert (await deliver(session, stack, text_update(chat, "发个定位给你")))[0] == 200
    assert fake_telegram.texts(chat) == [first_text("utter_ask_location")]


async def test_an_edited_message_is_read_as_a_new_message(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    original = text_update(chat, "你好")
    assert (await deliver(session, stack, original))[0] == 200
    edited = {
        "update_id": update_id(),
        "edited_message": original["message"]
        | {"text": "打印机老是卡纸怎么办", "edit_date": int(time.time())},
    }
    assert (await deliver(session, stack, edited))[0] == 200
    turn = last_turn(await events(session, stack, chat))
    assert turn["intent"] == "report_fault"
    assert turn["user"]["message_id"] == f"tg{edited['update_id']}"
    assert turn["user"]["metadata"]["telegram"]["edited"] is True
    assert fake_telegram.texts(chat)[-len(turn["texts"]) :] == turn["texts"]

    # A live location moving arrives as edits: they are not answered one by one.
    before = len(fake_telegram.recorded(chat_id=chat))
    moving = {
        "update_id": update_id(),
        "edited_message": message(chat, location={"latitude": 31.2, "longitude": 121.4})
        | {"edit_date": int(time.time())},
    }
    assert (await deliver(session, stack, moving))[0] == 200
    assert len(fake_telegram.recorded(chat_id=chat)) == before


async def test_stickers_voice_and_photos_get_an_answer(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    photo = [{"file_id": "f", "file_unique_id": "u", "width": 90, "height": 90}]
    media: list[dict[str, Any]] = [
        {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "s",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
        {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3}},
        {"photo": photo},
    ]
    for content in media:
        update = {"update_id": update_id(), "message": message(chat, **content)}
        assert (await deliver(session, stack, update))[0] == 200
    assert fake_telegram.texts(chat) == [first_text("utter_text_only")] * 3
    # A photo with a caption: the caption is the customer's message.
    captioned = {
        "update_id": update_id(),
        "message": message(chat, photo=photo, caption="打印机老是卡纸怎么办"),
    }
    assert (await deliver(session, stack, captioned))[0] == 200
    assert last_turn(await events(session, stack, chat))["intent"] == "report_fault"


async def test_a_group_chat_is_not_answered(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = -new_chat()
    update = text_update(chat, "你好")
    update["message"]["chat"] = {"id": chat, "type": "group", "title": "售后群"}
    assert (await deliver(session, stack, update))[0] == 200
    assert fake_telegram.recorded(chat_id=chat) == []


async def post_bot_event(
    session: aiohttp.ClientSession, stack: Stack, chat: int, event: dict[str, Any]
) -> None:
    """What the support desk does: a bot message sent to the customer's latest channel."""
    async with session.post(
        f"{stack.rasa_url}/conversations/{quote(str(chat))}/tracker/events",
        params={"output_channel": "latest", "execute_side_effects": "true"},
        json=event,
        timeout=TIMEOUT,
    ) as reply:
        assert reply.status == 200, await reply.text()


async def test_a_long_reply_is_split_and_reaches_telegram_through_latest(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    assert (await deliver(session, stack, text_update(chat, "你好")))[0] == 200
    before = len(fake_telegram.texts(chat))
    paragraph = (
        "您好，工程师已经看过您的问题😀。"
        + "检查结果如下：主板供电正常，内存接触不良，已重新插拔并清洁金手指。" * 8
    )
    long_text = "\n\n".join([paragraph] * 30)
    assert utf16_units(long_text) > 2 * MAX_TEXT_UNITS
    await post_bot_event(session, stack, chat, {"event": "bot", "text": long_text})
    pieces = fake_telegram.texts(chat)[before:]
    assert len(pieces) == 3
    assert all(utf16_units(p) <= MAX_TEXT_UNITS for p in pieces)
    # Cut between paragraphs; Telegram drops the blank lines at a message's edges.
    assert "\n\n".join(p.strip("\n") for p in pieces) == long_text


async def test_a_button_with_a_long_payload_works_across_processes(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    assert (await deliver(session, stack, text_update(chat, "你好")))[0] == 200
    payload = '/check_warranty{"serial_number": "PF4N9C2H", "fault": "屏幕不亮，开机没有任何反应"}'
    assert len(payload.encode("utf-8")) > 64
    await post_bot_event(
        session,
        stack,
        chat,
        {
            "event": "bot",
            "text": "要查这台吗？",
            "data": {
                "buttons": [
                    {"title": "查 PF4N9C2H", "payload": payload},
                    {"title": "不用了", "payload": "/deny"},
                ]
            },
        },
    )
    sent = fake_telegram.recorded("sendMessage", chat)[-1]
    rows = sent.params["reply_markup"]["inline_keyboard"]
    key = rows[0][0]["callback_data"]
    assert key == callback_data(payload) and len(key.encode("utf-8")) <= 64
    assert rows[1][0]["callback_data"] == "/deny"
    # Resolved from the conversation, not from this process's memory.
    assert (await deliver(session, stack, press(chat, key)))[0] == 200
    turn = last_turn(await events(session, stack, chat))
    assert turn["user"]["text"] == payload
    assert turn["intent"] == "check_warranty"
    assert turn["user"]["metadata"]["telegram"]["button"] is True

    # A button whose message is no longer in the conversation: its title is the message ...
    keyboard = {"inline_keyboard": [[{"text": "查保修", "callback_data": "#unknown-digest"}]]}
    assert (await deliver(session, stack, press(chat, "#unknown-digest", keyboard)))[0] == 200
    assert last_turn(await events(session, stack, chat))["user"]["text"] == "查保修"
    # ... and without one the customer is told the button expired.
    assert (await deliver(session, stack, press(chat, "#unknown-digest")))[0] == 200
    assert fake_telegram.texts(chat)[-1] == first_text("utter_button_expired")


async def test_a_telegram_error_does_not_lose_the_turn(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    chat = new_chat()
    fake_telegram.fail("sendMessage", Failure(403, "Forbidden: bot was blocked by the user"))
    update = text_update(chat, "PF2K7Q9A 这台还在保修期内吗")
    assert (await deliver(session, stack, update))[0] == 200
    turn = last_turn(await events(session, stack, chat))
    assert "action_warranty_verdict" in turn["actions"]
    # The first message failed, the ones after it were still sent.
    [failed] = [c for c in fake_telegram.recorded("sendMessage", chat) if c.failed]
    assert failed.params["text"] == turn["texts"][0]
    assert fake_telegram.texts(chat) == turn["texts"][1:]


async def test_polling_forwards_updates_to_the_webhook(
    stack: Stack, fake_telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    settings = TelegramSettings.from_env(fake_telegram.env)
    secret = fake_telegram.env["TELEGRAM_SECRET_TOKEN"]
    webhook = f"{stack.rasa_url}/webhooks/telegram/webhook"
    chat = new_chat()
    first, second = text_update(chat, "你好"), text_update(chat, "发个定位给你")
    fake_telegram.queue_update(first)
    fake_telegram.queue_update(second)

    async with settings.bot() as bot:
        # Rasa unreachable: nothing is confirmed, the update stays with Telegram.
        dead = f"http://127.0.0.1:{free_port()}/webhooks/telegram/webhook"
        offset, delivered = await poll_once(bot, session, dead, secret, None, seconds=0)
        assert (offset, delivered) == (first["update_id"], False)
        assert fake_telegram.pending_updates() == [first["update_id"], second["update_id"]]

        offset, delivered = await poll_once(bot, session, webhook, secret, offset, seconds=0)
        assert (offset, delivered) == (second["update_id"] + 1, True)
        assert fake_telegram.texts(chat) == [
            first_text("utter_greet"),
            first_text("utter_ask_location"),
        ]
        # Asking for the next offset confirms both; they are not fetched again.
        await poll_once(bot, session, webhook, secret, offset, seconds=0)
        assert fake_telegram.pending_updates() == []

    # The long-running loop: deletes the webhook first, stops on request.
    later = new_chat()
    fake_telegram.queue_update(text_update(later, "你好"))
    stop = asyncio.Event()
    running = asyncio.ensure_future(poll(settings, webhook, stop=stop, seconds=1))
    for _ in range(200):
        if fake_telegram.texts(later):
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(running, timeout=20)
    assert fake_telegram.texts(later) == [first_text("utter_greet")]
    assert fake_telegram.recorded("deleteWebhook")
    assert fake_telegram.pending_updates() == []
