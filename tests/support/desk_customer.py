"""A desk customer with a history, for the tests of the context panel and of search: staff
accounts, handoffs, work orders (one booked, one proven by phone), a complaint."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import Role, create_account
from bot.settings import Settings
from tests.support.api import call
from tests.support.database import API_HEADERS
from tests.support.fake_rasa import FakeRasa

PASSWORD = "context-test-password"
STAFF: dict[str, tuple[str, Role]] = {
    "zhang": ("张敏", "agent"),
    "li": ("李强", "agent"),
    "wang": ("王芳", "supervisor"),
}
FULL_MOBILE = re.compile(r"1[3-9][0-9](?:[\s-]?[0-9]){8}")
CONVERSATION = "conv-ctx"
CONTACT, OWN_PHONE, PROVEN_PHONE = "13912345678", "13800138000", "13611112222"
# Demo devices (bot.demo): 400 days old, and a monitor with a bought extension.
NAMED_SERIAL, BOOKED_SERIAL, PROVEN_SERIAL = "PF4N9C2H", "MJ5R8W2K", "MN3K8P1Z"


async def make_backend(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    db: Database,
    rasa: FakeRasa,
) -> TestClient:
    async with db.write() as conn:
        for username, (name, role) in STAFF.items():
            await create_account(conn, username, name, role, PASSWORD, Clock.to_db(clock.now()))
        await create_account(
            conn, "bj01", "北京站", "station", PASSWORD, Clock.to_db(clock.now()), "BJ01"
        )
    app = create_app(replace(settings, rasa_url=rasa.url), clock)
    client: TestClient = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    return client


async def as_staff(
    backend: TestClient, who: dict[str, str], method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with backend.request(method, path, headers=who, json=body) as reply:
        return reply.status, await reply.json()


def booking(**changes: Any) -> dict[str, Any]:
    return {
        "kind": "drop_off",
        "fault": "开机无显示",
        "station_code": "BJ01",
        "slot_date": "2026-11-21",
        "slot_start": "09:00",
        "channel": "webchat",
        **changes,
    }


async def handoff(backend: TestClient, conversation: str = CONVERSATION, **package: Any) -> str:
    body = {
        "conversation_id": conversation,
        "channel": "webchat",
        "reason": "requested",
        "package": {"contact": CONTACT, "serial": NAMED_SERIAL, "fault": "屏幕闪烁"} | package,
    }
    created = await call(backend, "POST", "/api/handoffs", 201, json=body, headers=API_HEADERS)
    return str(created["id"])


@dataclass
class Customer:
    first: str
    second: str
    own_order: str
    proven_order: str
    complaint: str


async def customer(backend: TestClient, zhang: dict[str, str]) -> Customer:
    """A customer who talked to zhang once (closed), booked a repair, proved the phone of an
    order booked elsewhere, complained, and is now back in the queue."""
    first = await handoff(backend)
    assert (await as_staff(backend, zhang, "POST", f"/desk/api/handoffs/{first}/claim"))[0] == 200
    own = await call(
        backend,
        "POST",
        "/api/workorders",
        201,
        headers=API_HEADERS,
        json=booking(serial=BOOKED_SERIAL, phone=OWN_PHONE, conversation_id=CONVERSATION),
    )
    other = await call(
        backend,
        "POST",
        "/api/workorders",
        201,
        headers=API_HEADERS,
        json=booking(serial=PROVEN_SERIAL, phone=PROVEN_PHONE, conversation_id="conv-shop"),
    )
    check = {"digits": PROVEN_PHONE, "conversation_id": CONVERSATION}
    path = f"/api/workorders/{other['id']}/verify-phone"
    assert (await call(backend, "POST", path, 200, json=check, headers=API_HEADERS))["matched"]
    complaint = await call(
        backend,
        "POST",
        "/api/complaints",
        201,
        headers=API_HEADERS,
        json={
            "text": f"修了两次还没好，打我 {CONTACT}",
            "conversation_id": CONVERSATION,
            "work_order_id": own["id"],
        },
    )
    closed = await as_staff(backend, zhang, "POST", f"/desk/api/handoffs/{first}/close", {})
    assert closed[0] == 200, closed
    second = await handoff(backend)
    return Customer(first, second, own["id"], other["id"], complaint["id"])
