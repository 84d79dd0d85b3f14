"""The Telegram channel's parts without the rest of the system: splitting, buttons, the output
channel and the scripts against a fake Bot API server, and the channel switched off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import regex  # type: ignore[import-untyped]
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from connectors.telegram import TelegramInput, TelegramSettings
from connectors.telegram_ops import set_webhook
from connectors.telegram_output import (
    MAX_CALLBACK_BYTES,
    MAX_TEXT_UNITS,
    TelegramOutput,
    callback_data,
    split_text,
    utf16_units,
)
from tests.support.fake_telegram import Failure, FakeTelegram
from tests.support.stack import free_port

CHAT = 424242


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(fake: FakeTelegram) -> TelegramSettings:
    return TelegramSettings.from_env(fake.env | {"TELEGRAM_API_TIMEOUT": "1"})


@pytest.fixture
async def output(settings: TelegramSettings) -> AsyncIterator[TelegramOutput]:
    bot = settings.bot()
    yield TelegramOutput(bot)
    await bot.request.shutdown()


def graphemes_intact(text: str, pieces: list[str]) -> bool:
    """Every cut between pieces falls on a grapheme boundary of the whole text."""
    boundaries = {m.end() for m in regex.finditer(r"\X", text)}
    position, cuts = 0, []
    for piece in pieces[:-1]:
        position += len(piece)
        cuts.append(position)
    return all(cut in boundaries for cut in cuts)


# --- splitting ---------------------------------------------------------------------------------


def test_a_short_text_is_one_message() -> None:
    assert split_text("您好！请问有什么可以帮您？") == ["您好！请问有什么可以帮您？"]


def test_a_long_text_is_cut_after_a_sentence() -> None:
    sentence = "请先关机，拔掉电源线，按住电源键十秒钟释放残余电量。"
    text = sentence * 400  # about 10,800 characters, no line breaks
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert len(pieces) == 3
    assert all(utf16_units(p) <= MAX_TEXT_UNITS for p in pieces)
    assert all(p.endswith("。") for p in pieces)


def test_lines_are_preferred_to_sentences() -> None:
    line = "第一步：检查电源。第二步：检查数据线。\n"
    text = line * 300
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(p.endswith("\n") for p in pieces)


@pytest.mark.parametrize(
    "unit",
    [
        "👨‍👩‍👧‍👦",  # a family: four emoji joined by zero-width joiners
        "🇨🇳",  # a flag: two regional indicators
        "👍🏽",  # an emoji with a skin tone
        "e\u0301",  # e + combining acute accent
        "𠀀",  # a CJK character outside the BMP (a surrogate pair in UTF-16)
    ],
    ids=["zwj-family", "flag", "skin-tone", "combining", "astral-cjk"],
)
def test_a_cut_never_falls_inside_a_character(unit: str) -> None:
    # No breaks at all, so the cut must come at the limit, which falls inside these units.
    text = "好" + unit * 3000
    pieces = split_text(text)
    assert "".join(pieces) == text and len(pieces) > 1
    assert all(utf16_units(p) <= MAX_TEXT_UNITS for p in pieces)
    assert graphemes_intact(text, pieces)


def test_emoji_count_double_towards_the_limit() -> None:
    text = "😀" * 3000  # 3,000 characters but 6,000 UTF-16 units
    pieces = split_text(text)
    assert [utf16_units(p) for p in pieces] == [4096, 6000 - 4096]


def test_one_grapheme_longer_than_a_message_is_still_sent() -> None:
    text = "a" + "\u0301" * 5000  # one "character" with 5,000 accents
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(0 < utf16_units(p) <= MAX_TEXT_UNITS for p in pieces)


# --- buttons -----------------------------------------------------------------------------------


def test_a_short_payload_rides_along_a_long_one_becomes_a_digest() -> None:
    assert callback_data("/verify_authenticity") == "/verify_authenticity"
    booking = '/inform{"booking_slot": "2026-11-21T14:00"}'
    assert callback_data(booking) == booking
    long = '/inform{"serial_number": "PF4N9C2H", "fault": "开机后屏幕不亮，风扇一直转"}'
    assert len(long.encode("utf-8")) > MAX_CALLBACK_BYTES
    key = callback_data(long)
    assert key.startswith("#") and len(key.encode("utf-8")) <= MAX_CALLBACK_BYTES
    assert callback_data(long) == key  # stable across processes and restarts
    assert callback_data(long + " ") != key
    # A payload that looks like a digest is itself digested, never taken for one.
    assert callback_data("#abc") != "#abc"


async def test_buttons_become_an_inline_keyboard(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    long = '/inform{"serial_number": "PF4N9C2H", "fault": "开机后屏幕不亮，风扇一直转"}'
    await output.send_response(
        str(CHAT),
        {
            "text": "请选择：",
            "buttons": [
                {"title": "查保修", "payload": "/check_warranty"},
                {"title": "就是这台", "payload": long},
                {"title": "官网", "type": "web_url", "url": "https://example.com/"},
            ],
        },
    )
    call = fake.recorded("sendMessage", CHAT)[-1]
    assert call.params["text"] == "请选择："
    assert call.params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "查保修", "callback_data": "/check_warranty"}],
            [{"text": "就是这台", "callback_data": callback_data(long)}],
            [{"text": "官网", "url": "https://example.com/"}],
        ]
    }


async def test_text_is_sent_plain_so_markdown_characters_arrive_as_written(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    text = "型号 *XB14*_v2 [驱动](1.2.3) `E-202` ~50% > 100! #1 +-=|{}."
    await output.send_text_message(str(CHAT), text)
    call = fake.recorded("sendMessage", CHAT)[-1]
    assert call.params["text"] == text
    assert "parse_mode" not in call.params


async def test_quick_replies_and_images(fake: FakeTelegram, output: TelegramOutput) -> None:
    await output.send_response(
        str(CHAT),
        {
            "text": "满意吗？",
            "quick_replies": [{"title": "满意", "payload": "/affirm"}],
            "image": "https://example.com/station.jpg",
        },
    )
    message, photo = fake.recorded(chat_id=CHAT)[-2:]
    assert message.params["reply_markup"]["inline_keyboard"] == [
        [{"text": "满意", "callback_data": "/affirm"}]
    ]
    assert (photo.method, photo.params["photo"]) == ("sendPhoto", "https://example.com/station.jpg")


async def test_a_custom_payload_is_not_shown_as_json(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    before = len(fake.recorded(chat_id=CHAT))
    await output.send_response(str(CHAT), {"custom": {"webchat": {"carousel": []}}})
    assert len(fake.recorded(chat_id=CHAT)) == before


# --- failures of the Bot API ---------------------------------------------------------------


async def test_an_api_error_is_logged_not_raised(
    fake: FakeTelegram, output: TelegramOutput, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("sendMessage", Failure(400, "Bad Request: chat not found"))
    with caplog.at_level(logging.WARNING, logger="connectors.telegram"):
        await output.send_text_message("999", "您好")
    assert "chat not found" in caplog.text.lower()


async def test_flood_control_is_waited_out_once(fake: FakeTelegram, output: TelegramOutput) -> None:
    fake.fail("sendMessage", Failure(429, "Too Many Requests: retry after 1", retry_after=1))
    started = time.monotonic()
    await output.send_text_message(str(CHAT), "第二次才发出去")
    assert time.monotonic() - started >= 1
    last_two = fake.recorded("sendMessage", CHAT)[-2:]
    assert [c.failed for c in last_two] == [True, False]
    assert fake.texts(CHAT)[-1] == "第二次才发出去"


async def test_a_long_flood_wait_gives_up_instead_of_holding_the_turn(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    fake.fail("sendMessage", Failure(429, "Too Many Requests: retry after 60", retry_after=60))
    started = time.monotonic()
    await output.send_text_message(str(CHAT), "不会重发")
    assert time.monotonic() - started < 5
    assert "不会重发" not in fake.texts(CHAT)


async def test_a_hanging_api_times_out(fake: FakeTelegram, output: TelegramOutput) -> None:
    fake.delay("sendMessage", 5)
    try:
        started = time.monotonic()
        await output.send_text_message(str(CHAT), "超时")
        assert time.monotonic() - started < 4  # TELEGRAM_API_TIMEOUT=1 here
    finally:
        fake.delay("sendMessage", 0)


# --- switched on and off -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "TELEGRAM_TOKEN is not set"),
        ({"TELEGRAM_TOKEN": "1:a"}, "TELEGRAM_SECRET_TOKEN is not set"),
        ({"TELEGRAM_TOKEN": "1:a", "TELEGRAM_SECRET_TOKEN": "no spaces!"}, "must be 1-256"),
    ],
    ids=["no-token", "no-secret", "bad-secret"],
)
def test_without_credentials_the_channel_is_off(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    problem: str,
) -> None:
    for name in ("TELEGRAM_TOKEN", "TELEGRAM_SECRET_TOKEN", "TELEGRAM_API_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.INFO, logger="connectors.telegram"):
        channel = TelegramInput.from_credentials(None)
    assert channel.get_output_channel() is None
    assert "Telegram channel is off" in caplog.text and problem in caplog.text


def test_with_credentials_the_channel_is_on(
    monkeypatch: pytest.MonkeyPatch, fake: FakeTelegram
) -> None:
    for name, value in fake.env.items():
        monkeypatch.setenv(name, value)
    channel = TelegramInput.from_credentials(None)
    output = channel.get_output_channel()
    assert isinstance(output, TelegramOutput)
    assert output.bot.base_url == f"{fake.api_url}{fake.token}"


async def test_an_off_channel_answers_503_and_processes_nothing() -> None:
    channel = TelegramInput(TelegramSettings.from_env({}))
    processed: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        processed.append(message)

    app = Sanic(f"telegram_off_{free_port()}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/telegram")
    port = free_port()
    server: Any = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/webhooks/telegram"
            update: dict[str, Any] = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 1, "type": "private"},
                    "text": "你好",
                },
            }
            async with session.post(f"{url}/webhook", json=update) as reply:
                assert reply.status == 503
                assert (await reply.json())["error"]["code"] == "telegram_off"
            async with session.get(f"{url}/") as reply:
                assert await reply.json() == {"status": "off"}
    finally:
        server.close()
        await server.wait_closed()
    assert processed == []


# --- make set-webhook ----------------------------------------------------------------------


async def test_set_webhook_registers_the_url_the_secret_and_the_update_types(
    fake: FakeTelegram,
) -> None:
    url = "https://chat.example.com/webhooks/telegram/webhook"
    settings = TelegramSettings.from_env(fake.env | {"TELEGRAM_WEBHOOK_URL": url})
    said = await set_webhook(settings)
    assert said.startswith(f"webhook set: {url}")
    assert fake.webhook == {
        "url": url,
        "secret_token": fake.env["TELEGRAM_SECRET_TOKEN"],
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }


@pytest.mark.parametrize("url", [None, "http://chat.example.com/webhooks/telegram/webhook"])
async def test_set_webhook_needs_a_public_https_url(fake: FakeTelegram, url: str | None) -> None:
    env = fake.env | ({"TELEGRAM_WEBHOOK_URL": url} if url else {})
    with pytest.raises(SystemExit, match="https://"):
        await set_webhook(TelegramSettings.from_env(env))
