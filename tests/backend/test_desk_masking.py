"""The desk shows customers' phones masked to every role; the full number is an explicit,
audited reveal by the agent holding the conversation (or a supervisor), never a colleague's."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.contracts.masking import mask_package, mask_phones_in
from bot.db import Database
from bot.desk.accounts import Role, create_account
from bot.settings import Settings
from tests.support.database import API_HEADERS
from tests.support.desk import desk_headers
from tests.support.fake_rasa import FakeRasa

PASSWORD = "masking-test-password"
STAFF: dict[str, tuple[str, Role]] = {
    "zhang": ("张敏", "agent"),
    "li": ("李强", "agent"),
    "wang": ("王芳", "supervisor"),
}
# A mainland mobile number written out in full, with or without separators.
FULL_MOBILE = re.compile(r"1[3-9][0-9](?:[\s-]?[0-9]){8}")
CONTACT, CALLBACK, TYPED = "139-1234-5678", "13700001111", "13812345678"


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    db: Database,
    rasa: FakeRasa,
) -> TestClient:
    async with db.write() as conn:
        for username, (name, role) in STAFF.items():
            await create_account(conn, username, name, role, PASSWORD, Clock.to_db(clock.now()))
    app = create_app(replace(settings, rasa_url=rasa.url), clock)
    client: TestClient = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    return client


async def _login(backend: TestClient, username: str) -> dict[str, str]:
    return await desk_headers(backend, username, PASSWORD)


async def _as(backend: TestClient, who: dict[str, str], method: str, path: str) -> tuple[int, Any]:
    async with backend.request(method, path, headers=who) as reply:
        return reply.status, await reply.json()


async def _waiting_customer(backend: TestClient, rasa: FakeRasa) -> str:
    """A customer who gave a contact number, typed another and asked for a callback."""
    rasa.events["conv-m"] += [
        {"event": "user", "text": f"我的手机是 {TYPED}，请回电", "timestamp": 1.0},
        {"event": "pause"},
    ]
    handoff = {
        "conversation_id": "conv-m",
        "channel": "webchat",
        "reason": "requested",
        "package": {"contact": CONTACT, "fault": f"屏幕闪烁，打 {TYPED}"},
    }
    reply = await backend.post("/api/handoffs", json=handoff, headers=API_HEADERS)
    assert reply.status == 201, await reply.text()
    handoff_id = str((await reply.json())["id"])
    reply = await backend.post(
        f"/api/handoffs/{handoff_id}/callback", json={"phone": CALLBACK}, headers=API_HEADERS
    )
    assert reply.status == 200, await reply.text()
    return handoff_id


async def test_no_role_sees_a_full_phone_in_the_queue_or_a_conversation(
    backend: TestClient, rasa: FakeRasa
) -> None:
    handoff = await _waiting_customer(backend, rasa)
    zhang, wang = await _login(backend, "zhang"), await _login(backend, "wang")
    status, queue = await _as(backend, zhang, "GET", "/desk/api/handoffs")
    assert status == 200 and [i["id"] for i in queue] == [handoff]
    assert queue[0]["callback_phone"] == "137****1111"
    assert queue[0]["package"]["contact"] == "139****5678"
    assert await _as(backend, zhang, "POST", f"/desk/api/handoffs/{handoff}/claim") == (200, ANY)
    for who, path in [
        (zhang, "/desk/api/handoffs?scope=mine"),
        (zhang, f"/desk/api/handoffs/{handoff}"),
        (wang, "/desk/api/handoffs?scope=live"),
        (wang, f"/desk/api/handoffs/{handoff}"),
    ]:
        status, body = await _as(backend, who, "GET", path)
        text = json.dumps(body, ensure_ascii=False)
        assert status == 200 and FULL_MOBILE.findall(text) == [], path
        assert "138****5678" in text and "137****1111" in text, path


async def test_the_holder_reveals_the_number_audited_and_nobody_else(
    backend: TestClient, rasa: FakeRasa
) -> None:
    handoff = await _waiting_customer(backend, rasa)
    zhang, li, wang = [await _login(backend, name) for name in ("zhang", "li", "wang")]
    path = f"/desk/api/handoffs/{handoff}/reveal"
    # Waiting in the queue: claim it first.
    assert (await _as(backend, zhang, "POST", path))[1]["error"]["code"] == "not_holding"
    await _as(backend, zhang, "POST", f"/desk/api/handoffs/{handoff}/claim")
    assert (await _as(backend, li, "POST", path))[1]["error"]["code"] == "not_yours"
    no_csrf = {"Cookie": zhang["Cookie"]}
    assert await _as(backend, no_csrf, "POST", path) == (403, ANY)
    assert (await _as(backend, {}, "POST", path))[0] == 401

    status, revealed = await _as(backend, zhang, "POST", path)
    assert status == 200
    assert revealed == {"handoff_id": handoff, "callback_phone": CALLBACK, "contact": CONTACT}
    status, _ = await _as(backend, wang, "POST", path)
    assert status == 200, "a supervisor may reveal any handoff's number"
    _, lines = await _as(backend, wang, "GET", f"/desk/api/audit?handoff_id={handoff}")
    reveals = [
        (line["staff"], line["detail"]) for line in lines if line["action"] == "phone_revealed"
    ]
    fields = {"fields": ["callback_phone", "contact"]}
    assert reveals == [("王芳", fields), ("张敏", fields)]
    assert FULL_MOBILE.findall(json.dumps(lines)) == [], "the audit line never holds the number"


class _Any:
    def __eq__(self, other: object) -> bool:
        return True


ANY: Any = _Any()


def test_mobile_numbers_in_free_text_are_masked_and_public_landlines_kept() -> None:
    texts = {
        "我的手机 139 1234 5678，或 +86-13912345678": "我的手机 139****5678，或 139****5678",
        "全角１３９１２３４５６７８": "全角139****5678",
        "店里 010-6255 3160，单号 WO20261120-0001": "店里 010-6255 3160，单号 WO20261120-0001",
        "序列号 13912345678901": "序列号 13912345678901",
    }
    assert {t: mask_phones_in(t) for t in texts} == texts
    package = {"contact": "0755-8888 1234", "address": "深圳市南山区科技园路1号", "serial": "PF1"}
    assert mask_package(package) == {
        "contact": "075*****1234",
        "address": "深圳市南山区科技园路**",
        "serial": "PF1",
    }
