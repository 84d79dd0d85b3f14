"""Updates as Telegram sends them, delivered to the running stack's Telegram webhook.

Shared by the Telegram and desk conversation tests (tests/conversations/). Update, message and
chat ids come from counters of this module, so every update of a session is new to the channel.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import aiohttp

from tests.support.stack import Stack

TIMEOUT = aiohttp.ClientTimeout(total=60)
_update_ids = itertools.count(5000)
_message_ids = itertools.count(1)
_chats = itertools.count(700_000_001)


def update_id() -> int:
    """A new update id."""
    return next(_update_ids)


def new_chat() -> int:
    return next(_chats)


def message(chat_id: int, **content: Any) -> dict[str, Any]:
    return {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "小王"},
        "from": {
            "id": chat_id,
            "is_bot": False,
            "first_name": "小王",
            "username": "xiaowang",
            "language_code": "zh-hans",
        },
        **content,
    }


def text_update(chat_id: int, text: str) -> dict[str, Any]:
    return {"update_id": update_id(), "message": message(chat_id, text=text)}


def press(chat_id: int, data: str, keyboard: dict[str, Any] | None = None) -> dict[str, Any]:
    """The update Telegram sends when the customer taps an inline button."""
    shown = message(chat_id, text="…", reply_markup=keyboard) if keyboard else message(chat_id)
    shown["from"] = {"id": 1, "is_bot": True, "first_name": "bot"}
    return {
        "update_id": update_id(),
        "callback_query": {
            "id": f"cq{update_id()}",
            "from": message(chat_id)["from"],
            "chat_instance": "ci",
            "message": shown,
            "data": data,
        },
    }


async def deliver(
    session: aiohttp.ClientSession,
    stack: Stack,
    update: dict[str, Any] | str,
    secret: str | None = "from-env",
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if secret == "from-env":
        secret = stack.env["TELEGRAM_SECRET_TOKEN"]
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = update if isinstance(update, str) else json.dumps(update, ensure_ascii=False)
    async with session.post(
        f"{stack.rasa_url}/webhooks/telegram/webhook",
        data=body.encode("utf-8"),
        headers=headers,
        timeout=TIMEOUT,
    ) as reply:
        return reply.status, await reply.json(content_type=None)
