"""Opening a handoff tells the bot which one thing to say: the place in the queue while the
desk is open, or that it is closed (and then the desk's waiting check stays silent, so the
customer is not told twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.settings import Settings
from tests.support.database import API_HEADERS


async def open_handoff(api: TestClient, conversation: str) -> tuple[int, dict[str, Any]]:
    reply = await api.post(
        "/api/handoffs",
        json={"conversation_id": conversation, "channel": "webchat", "reason": "requested"},
    )
    return reply.status, await reply.json()


async def notified_at(db: Database, handoff: str) -> Any:
    a = tables.desk_assignments
    async with db.read() as conn:
        return await conn.scalar(select(a.c.notified_at).where(a.c.handoff_id == handoff))


async def test_after_hours_the_answer_says_closed_and_the_desk_stays_silent(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> None:
    # The frozen clock says 10:00; this desk works evenings only.
    closed = replace(settings, desk_hours=("18:00", "22:00"))
    api: TestClient = await aiohttp_client(create_app(closed, clock), headers=API_HEADERS)
    status, handoff = await open_handoff(api, "late-1")
    assert status == 201
    assert (handoff["desk_open"], handoff["queue_position"]) == (False, None)
    # What the waiting check looks for before it sends utter_desk_after_hours.
    assert await notified_at(db, handoff["id"]) is not None


async def test_in_hours_the_answer_gives_the_place_in_the_queue(
    api: TestClient, db: Database
) -> None:
    _, first = await open_handoff(api, "early-1")
    _, second = await open_handoff(api, "early-2")
    assert (first["desk_open"], first["queue_position"]) == (True, 1)
    assert (second["desk_open"], second["queue_position"]) == (True, 2)
    # Asking again is the same place, not the end of the queue.
    status, again = await open_handoff(api, "early-1")
    assert (status, again["id"], again["queue_position"]) == (200, first["id"], 1)
    assert await notified_at(db, first["id"]) is None
