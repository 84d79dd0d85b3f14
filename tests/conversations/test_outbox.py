"""A Telegram customer hears from the station without asking: the order booked in their chat is
moved along by staff through the API, each step reaches the chat (the fake Bot API server),
then the survey's buttons, and a tap on a score rates the order.

The stack's clock is frozen, so its survey goes out at once (BOT_CSAT_DELAY_MINUTES=0 in the
stack fixture)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import yaml

from tests.support.database import API_HEADERS, STAFF_USER
from tests.support.desk import create_account
from tests.support.fake_telegram import FakeTelegram
from tests.support.stack import ROOT, Stack
from tests.support.telegram_updates import TIMEOUT, deliver, new_chat, press, text_update

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


async def backend(
    session: aiohttp.ClientSession, stack: Stack, method: str, path: str, body: Any = None
) -> Any:
    async with session.request(
        method, f"{stack.backend_url}{path}", json=body, headers=API_HEADERS, timeout=TIMEOUT
    ) as reply:
        answer = await reply.json()
        assert reply.status < 300, (path, reply.status, answer)
        return answer


async def wait_for_text(fake: FakeTelegram, chat: int, part: str, seconds: float = 30) -> None:
    await asyncio.to_thread(
        fake.wait_for,
        lambda: any(part in t for t in fake.texts(chat)),
        seconds,
        f"a message with {part!r}",
    )


async def test_a_telegram_customer_is_told_each_step_then_rates(
    stack: Stack, fake_telegram: FakeTelegram
) -> None:
    chat = new_chat()
    # The station's staff member the API calls name (X-Staff-User).
    create_account(stack, STAFF_USER, "网点主管", "supervisor")
    async with aiohttp.ClientSession() as session:
        assert (await deliver(session, stack, text_update(chat, "你好")))[0] == 200
        slots = await backend(
            session, stack, "GET", "/api/stations/BJ01/slots?from=2026-11-21&days=7"
        )
        slot = next(s for s in slots if s["free"] > 0)
        # What the booking action sends for a customer of this chat.
        order = await backend(
            session,
            stack,
            "POST",
            "/api/workorders",
            {
                "kind": "drop_off",
                "model_code": "XB14",
                "fault": "开机无显示",
                "station_code": "BJ01",
                "slot_date": slot["date"],
                "slot_start": slot["start"],
                "phone": "13800138000",
                "conversation_id": str(chat),
                "channel": "telegram",
            },
        )
        order_id = order["id"]
        path = f"/api/workorders/{order_id}/transitions"
        for step in ("received", "diagnosing", "repaired"):
            await backend(session, stack, "POST", path, {"to": step, "actor": "station:BJ01"})
        await wait_for_text(fake_telegram, chat, "的设备已修好")
        await backend(session, stack, "POST", path, {"to": "closed", "actor": "station:BJ01"})
        await wait_for_text(fake_telegram, chat, "请为这次服务打个分")
        survey = next(
            c
            for c in fake_telegram.recorded("sendMessage", chat)
            if "请为这次服务打个分" in str(c.params["text"])
        )
        buttons = [row[0] for row in survey.params["reply_markup"]["inline_keyboard"]]
        assert len(buttons) == 5 and order_id in buttons[1]["callback_data"]
        texts = fake_telegram.texts(chat)
        # Each step once, in order, in the customer's chat.
        received = [i for i, t in enumerate(texts) if "已收到您的设备" in t]
        repaired = [i for i, t in enumerate(texts) if "的设备已修好" in t]
        assert len(received) == len(repaired) == 1 and received[0] < repaired[0]
        # The customer taps "4分", then has nothing to add.
        keyboard = survey.params["reply_markup"]
        assert (await deliver(session, stack, press(chat, buttons[1]["callback_data"], keyboard)))[
            0
        ] == 200
        await wait_for_text(
            fake_telegram, chat, RESPONSES["utter_ask_rating_comment"][0]["text"][:8]
        )
        assert (await deliver(session, stack, text_update(chat, "没有")))[0] == 200
        await wait_for_text(fake_telegram, chat, "感谢您的评价")
        rated = await backend(session, stack, "GET", f"/api/workorders/{order_id}")
        assert rated["rating"] == 4
