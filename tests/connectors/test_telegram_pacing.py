"""Outgoing Telegram messages keep to Telegram's limits: about one a second per chat (a short
burst allowed) and 30 a second overall; checked on the pacer's arithmetic and on the arrival
times of real Bot API calls at the fake server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from connectors.telegram import TelegramInput, TelegramSettings
from connectors.telegram_output import TelegramOutput
from connectors.telegram_pacing import Pace, Pacer
from tests.support.fake_telegram import FakeTelegram

# Timer and scheduling slack of a loaded two-core machine.
SLACK = 0.1


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def output(fake: FakeTelegram) -> AsyncIterator[TelegramOutput]:
    settings = TelegramSettings.from_env(fake.env)
    bot = settings.bot()
    yield TelegramOutput(bot, pacer=Pacer(settings.pace))
    await bot.request.shutdown()


class Time:
    """A clock that the pacer's sleeps move on: each `send` returns when the message goes."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pacer = Pacer(Pace(), clock=lambda: self.now, sleep=self.sleep)

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def send(self, chat: str) -> float:
        await self.pacer.wait(chat)
        return self.now - 100


async def test_a_chat_gets_a_burst_of_three_then_one_a_second() -> None:
    time = Time()
    sent = [await time.send("7") for _ in range(5)]
    # The burst only as fast as the whole bot goes (1/30 s apart).
    assert sent == pytest.approx([0, 1 / 30, 2 / 30, 1, 2])
    # Another chat only waits for the bot's spacing.
    assert await time.send("8") == pytest.approx(2 + 1 / 30)
    # Ten quiet seconds later the burst is back.
    time.now += 10
    back = time.now - 100
    burst = [await time.send("7") for _ in range(3)]
    assert burst == pytest.approx([back, back + 1 / 30, back + 2 / 30])


async def test_a_chat_waiting_its_turn_does_not_hold_up_the_others() -> None:
    time = Time()
    for _ in range(3):
        await time.send("7")
    # The fourth message to chat 7 must wait 1 s; it has not booked the bot's slots meanwhile.
    assert time.pacer.reserve_chat("7") == pytest.approx(1 - 2 / 30)
    assert await time.send("8") == pytest.approx(3 / 30)


async def test_the_whole_bot_sends_thirty_a_second() -> None:
    time = Time()
    sent = [await time.send(str(chat)) for chat in range(61)]
    # Evenly spaced, 1/30 s apart: the 61st message goes two seconds after the first.
    assert sent == pytest.approx([i / 30 for i in range(61)])


def test_the_pace_comes_from_the_environment() -> None:
    assert TelegramSettings.from_env({}).pace == Pace(1.0, 3, 30.0)
    env = {"TELEGRAM_PACE_PER_CHAT": "0.5", "TELEGRAM_PACE_OVERALL": "20"}
    assert Pace.from_env(env) == Pace(0.5, 3, 20.0)
    with pytest.raises(ValueError, match="TELEGRAM_PACE_OVERALL"):
        Pace.from_env({"TELEGRAM_PACE_OVERALL": "0"})


def test_replies_and_notices_share_the_channels_pacer(fake: FakeTelegram) -> None:
    channel = TelegramInput(TelegramSettings.from_env(fake.env))
    reply, notice = channel.get_output_channel(), channel.get_output_channel()
    assert isinstance(reply, TelegramOutput) and isinstance(notice, TelegramOutput)
    assert reply.pacer is notice.pacer is channel.pacer


async def test_one_chat_is_sent_one_message_a_second_after_a_burst(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    chat = 515151
    await output.send_text_message("515150", "先连上")  # the connection is set up before timing
    await asyncio.sleep(0.1)
    await asyncio.gather(*(output.send_text_message(str(chat), f"第{i}条") for i in range(6)))
    arrived = sorted(c.at for c in fake.recorded("sendMessage", chat))
    assert len(arrived) == 6
    # Message i (from 0) may go at (i - 2) s: three at once, then one a second.
    for i, at in enumerate(arrived[3:], start=3):
        assert at - arrived[0] >= (i - 2) - SLACK, [round(a - arrived[0], 2) for a in arrived]
    # In any one second at most the burst plus one.
    assert all(sum(1 for b in arrived if a <= b < a + 1 - SLACK) <= 4 for a in arrived)


async def test_many_chats_get_thirty_messages_a_second_overall(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    chats = range(610000, 610045)
    await output.send_text_message("609999", "先连上")
    await asyncio.sleep(0.1)
    await asyncio.gather(*(output.send_text_message(str(chat), "工单已完结") for chat in chats))
    arrived = sorted(c.at for chat in chats for c in fake.recorded("sendMessage", chat))
    assert len(arrived) == 45
    # 1/30 s apart: 44 intervals take at least 44/30 s, and no second holds more than 30.
    assert arrived[-1] - arrived[0] >= 44 / 30 - SLACK
    assert all(sum(1 for b in arrived if a <= b < a + 1 - SLACK) <= 30 for a in arrived)
