"""While a person is awaited: "还要等多久" and "有人吗" get the place in the queue, not silence.

A paused conversation is the desk's: Rasa answers nothing, and until an agent claims the
handoff nobody does. The reply guard asks here whether a message it saw go unanswered is a
question about the wait; if the customer's handoff is still waiting, the answer is their place
in the desk's queue (the order the desk works in: complaints first, then oldest first) and a
rough wait. Outside desk hours and after a long wait the desk itself offers a callback or a
booking (`bot/desk/waiting.py`), which resumes the conversation so that those buttons work.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

from bot.client import ServiceClient, ServiceError

log = logging.getLogger(__name__)

QUEUE_PLACE = "utter_desk_queue_place"
DEFAULT_MINUTES_PER_CUSTOMER = 3
_ASKS_ABOUT_WAIT = re.compile(
    r"久|多长时间|多長時間|几分钟|幾分鐘|有人吗|有人嗎|有人在|有没有人|有沒有人|人呢|在吗|在嗎|"
    r"还要等|還要等|等了|怎么还没|怎麼還沒|还没人|还在排|排到|轮到|輪到|how long|anyone|"
    r"hello\??$|喂|^[?？!！。.…\s]+$",
    re.I,
)


def asks_about_wait(text: str | None) -> bool:
    return bool(text) and bool(_ASKS_ABOUT_WAIT.search(str(text)))


def minutes_per_customer(env: Mapping[str, str] | None = None) -> int:
    """Minutes an agent takes per waiting customer on average (DESK_MINUTES_PER_CUSTOMER)."""
    raw = (os.environ if env is None else env).get("DESK_MINUTES_PER_CUSTOMER", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MINUTES_PER_CUSTOMER


async def queue_place(sender_id: str) -> int | None:
    """The customer's place among the waiting handoffs (1 = next), None if not waiting."""
    try:
        async with ServiceClient.from_env() as service:
            waiting = await service.handoffs(status="waiting")
    except ServiceError as exc:
        log.warning("queue place of %s unknown: %s", sender_id, exc)
        return None
    return next((n for n, h in enumerate(waiting, start=1) if h.conversation_id == sender_id), None)
