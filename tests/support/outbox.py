"""The outbox in-process: orders booked and moved through the API, a worker driven on a clock
the test moves, and stand-ins for the outside (a chat channel, an SMS gateway)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import COOKIE, CSRF_HEADER, create_account
from bot.notices import Delivery, Responses, Senders, SendFailed
from bot.outbox_worker import Worker
from bot.settings import PROJECT_ROOT, OutboxSettings
from tests.support.api import call
from tests.support.database import NOW, TZ

SATURDAY = "2026-11-21"
PASSWORD = "a-long-test-password"
# scheduled → … → closed, as a station moves a drop-off repair along.
TO_CLOSED = ("received", "diagnosing", "repaired", "closed")


def at(**delta: float) -> Clock:
    """The test clock moved from NOW (Friday 10:00 in Shanghai)."""
    return Clock(TZ, fixed=NOW + timedelta(**delta))


async def book(api: TestClient, **changes: Any) -> str:
    body: dict[str, Any] = {
        "kind": "drop_off",
        "model_code": "XB14",
        "fault": "开机无显示，电源灯不亮",
        "station_code": "BJ01",
        "slot_date": SATURDAY,
        "slot_start": "09:00",
        "customer_name": "王先生",
        "phone": "13800138000",
        "channel": "webchat",
        "conversation_id": "conv-outbox",
    } | changes
    order = await call(api, "POST", "/api/workorders", 201, json=body)
    return str(order["id"])


async def move(api: TestClient, order_id: str, *steps: str, actor: str = "station:BJ01") -> Any:
    order = None
    for step in steps:
        body = {"to": step, "actor": actor, "note": f"step {step}"}
        order = await call(api, "POST", f"/api/workorders/{order_id}/transitions", 200, json=body)
    return order


@dataclass
class Channel:
    """A customer's channel: records what reached it; can fail or be slow on purpose."""

    delivered: list[Delivery] = field(default_factory=list)
    failures: int = 0
    delay: float = 0.0

    async def send(self, delivery: Delivery) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise SendFailed("the channel is down")
        self.delivered.append(delivery)

    def sent_keys(self) -> list[str]:
        return [d.key for d in self.delivered]

    def texts(self) -> list[str]:
        return [d.message.text for d in self.delivered]


def worker(db: Database, channel: Channel, name: str = "w1", **policy: Any) -> Worker:
    settings = OutboxSettings(worker=False, **policy)
    responses = Responses.load(PROJECT_ROOT / "domain.yml")
    return Worker(db, settings, Senders(rasa=channel, sms=channel), responses, name)


async def rows(db: Database, order_id: str) -> list[tuple[str, int, str]]:
    """(event, round, status) of the order's notifications, oldest first."""
    n = tables.notifications
    async with db.read() as conn:
        found = await conn.execute(
            select(n.c.event, n.c.round, n.c.status)
            .where(n.c.work_order_id == order_id)
            .order_by(n.c.id)
        )
        return [(r.event, r.round, r.status) for r in found]


async def desk_headers(api: TestClient, db: Database, clock: Clock) -> dict[str, str]:
    """A desk agent (made on first use) logged in to `api`: the cookie and CSRF header."""
    staff = tables.staff
    async with db.write() as conn:
        if await conn.scalar(select(staff.c.id).where(staff.c.username == "zhao")) is None:
            await create_account(conn, "zhao", "赵静", "agent", PASSWORD, clock.to_db(clock.now()))
    reply = await api.post("/desk/api/login", json={"username": "zhao", "password": PASSWORD})
    assert reply.status == 200, await reply.text()
    me = await reply.json()
    return {"Cookie": f"{COOKIE}={reply.cookies[COOKIE].value}", CSRF_HEADER: me["csrf_token"]}
