"""The support desk's API in-process, on a fresh database, against a fake Rasa: who may see and
do what, claim races, transfer, close and hand-back, and that no write transaction waits for
Rasa. (tests/conversations/test_desk.py runs the same desk against the whole system.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk.broker import record_event
from bot.settings import Settings
from tests.support.database import API_HEADERS
from tests.support.desk_staff import Staffer, hand_off
from tests.support.fake_rasa import Call, FakeRasa, ServerFactory


@pytest.fixture
async def rasa(aiohttp_server: ServerFactory) -> FakeRasa:
    return await FakeRasa.start(aiohttp_server)


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, rasa: FakeRasa
) -> TestClient:
    """The backend with the desk, talking to the fake Rasa; cookies are sent by hand, so
    several staff members can use one client."""
    app = create_app(replace(settings, rasa_url=rasa.url), clock)
    # The internal token opens the internal API (the handoff action's calls), never the desk.
    client: TestClient = await aiohttp_client(
        app, cookie_jar=aiohttp.DummyCookieJar(), headers=API_HEADERS
    )
    return client


async def audit_of(boss: Staffer, handoff: str) -> list[tuple[str | None, str]]:
    lines = await boss.ok("GET", f"/desk/api/audit?handoff_id={handoff}")
    return [(line["staff"], line["action"]) for line in reversed(lines)]


async def status_of(db: Database, handoff: str) -> str:
    async with db.read() as conn:
        h = tables.handoffs
        return str(await conn.scalar(select(h.c.status).where(h.c.id == handoff)))


# --- logging in ------------------------------------------------------------------------------


async def test_nothing_without_a_login_and_no_change_without_the_csrf_token(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    _, handoff = await hand_off(backend, rasa)
    zhang = staff["zhang"]
    for method, path in [
        ("GET", "/desk/api/handoffs"),
        ("GET", f"/desk/api/handoffs/{handoff}"),
        ("POST", f"/desk/api/handoffs/{handoff}/claim"),
    ]:
        status, answer = await zhang.call(method, path, login=False, csrf=False)
        assert (status, answer["error"]["code"]) == (401, "unauthorized"), path
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await backend.ws_connect("/desk/ws")
    assert refused.value.status == 401

    status, answer = await zhang.call("POST", f"/desk/api/handoffs/{handoff}/claim", csrf=False)
    assert (status, answer["error"]["code"]) == (403, "csrf")
    zhang.csrf, token = "forged", zhang.csrf
    assert await zhang.refused("POST", f"/desk/api/handoffs/{handoff}/claim") == (403, "csrf")
    zhang.csrf = token
    # Reading needs the session only.
    status, _ = await zhang.call("GET", "/desk/api/handoffs", csrf=False)
    assert status == 200
    assert rasa.calls == [], "nothing reached the assistant"

    status, answer = await zhang.call(
        "POST", "/desk/api/login", {"username": "zhang", "password": "wrong-password"}
    )
    assert (status, answer["error"]["code"]) == (401, "bad_credentials")


# --- who sees what ---------------------------------------------------------------------------


async def test_an_agent_cannot_read_or_act_on_a_colleagues_conversation(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    conversation, handoff = await hand_off(backend, rasa)
    zhang, li, wang = staff["zhang"], staff["li"], staff["wang"]
    # Waiting: every agent may look at it.
    assert (await li.ok("GET", f"/desk/api/handoffs/{handoff}"))["handoff"]["status"] == "waiting"
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    before = list(rasa.calls)

    base = f"/desk/api/handoffs/{handoff}"
    assert await li.refused("GET", base) == (403, "not_yours")
    assert await li.refused("GET", f"{base}/canned") == (403, "not_yours")
    assert await li.refused("POST", f"{base}/notes", {"text": "偷看"}) == (403, "not_yours")
    assert await li.refused("POST", f"{base}/messages", {"text": "你好"}) == (409, "not_holding")
    assert await li.refused("POST", f"{base}/transfer", {"to": li.id}) == (409, "not_holding")
    assert await li.refused("POST", f"{base}/close", {}) == (409, "not_holding")
    assert await li.refused("POST", f"{base}/handback", {}) == (409, "not_holding")
    booking = {"kind": "drop_off", "fault": "开机无显示", "station_code": "BJ01"}
    booking |= {"slot_date": "2026-11-25", "slot_start": "09:00"}
    assert await li.refused("POST", f"{base}/workorders", booking) == (409, "not_holding")
    step = {"to": "received"}
    assert await li.refused("POST", f"{base}/workorders/WO20261110-0001/transitions", step) == (
        409,
        "not_holding",
    )
    assert rasa.calls == before, "a colleague's attempts never reach the customer"

    assert handoff not in [i["id"] for i in await li.ok("GET", "/desk/api/handoffs?scope=mine")]
    assert handoff not in [i["id"] for i in await li.ok("GET", "/desk/api/handoffs?scope=queue")]
    assert await li.refused("GET", "/desk/api/handoffs?scope=live") == (403, "supervisors_only")
    assert await li.refused("GET", "/desk/api/audit") == (403, "supervisors_only")
    # The holder and a supervisor see it.
    assert (await zhang.ok("GET", base))["handoff"]["holder"] == "张敏"
    assert (await wang.ok("GET", base))["transcript"][0]["text"] == "转人工"
    live = await wang.ok("GET", "/desk/api/handoffs?scope=live")
    assert [i["holder"] for i in live if i["id"] == handoff] == ["张敏"]
    assert conversation in rasa.events


async def test_the_live_feed_follows_the_same_rule(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer], db: Database, clock: Clock
) -> None:
    zhang = staff["zhang"]
    sockets = {name: await staff[name].socket() for name in ("zhang", "li", "wang")}
    conversation, handoff = await hand_off(backend, rasa)
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    await record_event(
        db, clock, conversation, {"event": "user", "text": "电源灯不亮", "timestamp": 2.0}
    )
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/notes", {"text": "客户很着急"})
    # A new handoff is a change every page hears of: it marks the end of what to expect.
    _, marker = await hand_off(backend, rasa)

    async def until_marker(name: str) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        while True:
            message = await sockets[name].receive_json(timeout=10)
            if message["handoff_id"] == marker:
                return seen
            if message["handoff_id"] == handoff:
                seen.append((message["kind"], message["text"]))

    got = {name: await until_marker(name) for name in sockets}
    for socket in sockets.values():
        await socket.close()
    private = [("customer", "电源灯不亮"), ("note", "客户很着急")]
    assert [m for m in got["zhang"] if m[0] != "state"] == private
    assert [m for m in got["wang"] if m[0] != "state"] == private
    assert [m for m in got["li"] if m[0] != "state"] == [], "a colleague's conversation"
    assert ("state", "claimed") in got["li"], "but li's queue must refresh"


# --- claim, transfer, close, hand back -----------------------------------------------------


async def test_of_two_agents_claiming_at_once_one_wins(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    conversation, handoff = await hand_off(backend, rasa)
    zhang, li = staff["zhang"], staff["li"]
    path = f"/desk/api/handoffs/{handoff}/claim"
    answers = await asyncio.gather(zhang.call("POST", path), li.call("POST", path))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 409]
    [winner] = [answer for status, answer in answers if status == 200]
    [loser] = [answer for status, answer in answers if status == 409]
    assert loser["error"]["code"] == "not_waiting"
    assert winner["holder"] in ("张敏", "李强") and winner["status"] == "assigned"
    # Only the winner told Rasa anything: the customer is greeted by the right name.
    assert rasa.kinds(conversation) == ["slot+pause", "execute:action_desk_agent_joined", "action"]
    assert rasa.slot(conversation, "desk_agent") == winner["holder"]
    assert await audit_of(staff["wang"], handoff) == [(winner["holder"], "claimed")]


async def test_transfer_to_a_colleague(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    conversation, handoff = await hand_off(backend, rasa)
    zhang, li, wang = staff["zhang"], staff["li"], staff["wang"]
    base = f"/desk/api/handoffs/{handoff}"
    assert await zhang.refused("POST", f"{base}/transfer", {"to": li.id}) == (409, "not_holding")
    await zhang.ok("POST", f"{base}/claim")
    assert await zhang.refused("POST", f"{base}/transfer", {"to": 999}) == (404, "staff_not_found")
    moved = await zhang.ok("POST", f"{base}/transfer", {"to": li.id})
    assert (moved["holder"], moved["status"]) == ("李强", "assigned")
    assert rasa.paused(conversation) and rasa.slot(conversation, "desk_agent") == "李强"
    assert rasa.said(conversation) == ["action_desk_agent_joined"] * 2
    assert await zhang.refused("POST", f"{base}/messages", {"text": "还在吗"}) == (
        409,
        "not_holding",
    )
    await li.ok("POST", f"{base}/messages", {"text": "您好，我来跟进"})
    assert rasa.events[conversation][-1]["metadata"] == {"desk_agent": "李强"}
    # A supervisor may move a conversation nobody holds yet.
    other_conversation, waiting = await hand_off(backend, rasa)
    given = await wang.ok("POST", f"/desk/api/handoffs/{waiting}/transfer", {"to": zhang.id})
    assert given["holder"] == "张敏"
    assert rasa.slot(other_conversation, "desk_agent") == "张敏"
    assert await audit_of(wang, handoff) == [
        ("张敏", "claimed"),
        ("张敏", "transferred"),
        ("李强", "message"),
    ]


@pytest.mark.parametrize(
    ("route", "action", "response"),
    [("handback", "handed_back", "utter_desk_handback"), ("close", "closed", "utter_desk_closed")],
)
async def test_closing_resumes_rasa_first_and_is_audited(
    backend: TestClient,
    rasa: FakeRasa,
    staff: dict[str, Staffer],
    db: Database,
    route: str,
    action: str,
    response: str,
) -> None:
    conversation, handoff = await hand_off(backend, rasa)
    zhang, wang = staff["zhang"], staff["wang"]
    base = f"/desk/api/handoffs/{handoff}"
    await zhang.ok("POST", f"{base}/claim")

    # The assistant is down: nothing changes, the agent can try again.
    rasa.failing = 503
    assert await zhang.refused("POST", f"{base}/{route}", {}) == (502, "rasa_error")
    assert await status_of(db, handoff) == "assigned"
    rasa.failing = None

    status_at_resume: list[str] = []

    async def look(call: Call) -> None:
        if call.what == "resume":
            status_at_resume.append(await status_of(db, handoff))

    rasa.on_call = look
    done = await zhang.ok("POST", f"{base}/{route}", {"resolution": "work_order", "note": "已约"})
    assert (done["status"], done["resolution"]) == ("closed", "work_order")
    assert status_at_resume == ["assigned"], "resumed before the handoff was written closed"
    assert not rasa.paused(conversation)
    assert rasa.said(conversation)[-1] == response
    assert await zhang.refused("POST", f"{base}/{route}", {}) == (409, "not_holding")
    assert await wang.refused("POST", f"{base}/{route}", {}) == (409, "closed")
    lines = await wang.ok("GET", f"/desk/api/audit?handoff_id={handoff}")
    assert [(a["staff"], a["action"]) for a in reversed(lines)] == [
        ("张敏", "claimed"),
        ("张敏", action),
    ]
    assert lines[0]["detail"] == {"resolution": "work_order", "note": "已约"}
    # The last holder may still read the conversation they closed.
    assert (await zhang.ok("GET", base))["handoff"]["status"] == "closed"


async def test_a_claim_the_assistant_did_not_take_is_undone(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer], db: Database
) -> None:
    conversation, handoff = await hand_off(backend, rasa)
    zhang, li = staff["zhang"], staff["li"]
    path = f"/desk/api/handoffs/{handoff}/claim"
    rasa.failing = 500
    assert await zhang.refused("POST", path) == (502, "rasa_error")
    assert await status_of(db, handoff) == "waiting"
    queue = await li.ok("GET", "/desk/api/handoffs?scope=queue")
    assert [(i["holder"], i["status"]) for i in queue if i["id"] == handoff] == [(None, "waiting")]
    rasa.failing = None
    assert (await li.ok("POST", path))["holder"] == "李强"
    assert rasa.slot(conversation, "desk_agent") == "李强"
    assert await audit_of(staff["wang"], handoff) == [
        ("张敏", "claimed"),
        ("张敏", "claim_undone"),
        ("李强", "claimed"),
    ]


@pytest.mark.parametrize("step", ["claim", "transfer", "close"])
async def test_no_write_waits_for_the_assistant(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer], step: str
) -> None:
    """While Rasa takes its time answering, other writes of the backend go through."""
    _, handoff = await hand_off(backend, rasa)
    zhang, li = staff["zhang"], staff["li"]
    base = f"/desk/api/handoffs/{handoff}"
    if step != "claim":
        await zhang.ok("POST", f"{base}/claim")
    body = {"to": li.id} if step == "transfer" else {}
    rasa.hold()
    slow = asyncio.create_task(zhang.call("POST", f"{base}/{step}", body))
    try:
        await rasa.held()
        other = backend.post("/api/complaints", json={"text": "等了很久", "severity": "low"})
        reply = await asyncio.wait_for(other, timeout=5)
        assert reply.status == 201
    finally:
        rasa.release()
    status, answer = await slow
    assert status == 200, answer


# --- the internal API's PATCH ----------------------------------------------------------------


async def test_patch_closes_a_handoff_the_way_the_desk_does(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer], db: Database
) -> None:
    conversation, handoff = await hand_off(backend, rasa)
    path = f"/api/handoffs/{handoff}"

    reply = await backend.patch(path, json={"status": "assigned"})
    assert (reply.status, (await reply.json())["error"]["code"]) == (409, "desk_only")
    rasa.failing = 503
    reply = await backend.patch(path, json={"status": "closed"})
    assert reply.status == 502
    assert await status_of(db, handoff) == "waiting"
    rasa.failing = None

    reply = await backend.patch(path, json={"status": "closed"})
    assert reply.status == 200, await reply.text()
    assert (await reply.json())["status"] == "closed"
    assert not rasa.paused(conversation)
    assert rasa.said(conversation) == ["utter_desk_closed"]
    assert await audit_of(staff["wang"], handoff) == [(None, "closed")]
    again = await backend.patch(path, json={"status": "closed"})
    assert again.status == 200, "closing twice is harmless"
    reopen = await backend.patch(path, json={"status": "waiting"})
    assert (reopen.status, (await reopen.json())["error"]["code"]) == (409, "closed")
    assert await audit_of(staff["wang"], handoff) == [(None, "closed")]


async def test_holding_a_conversation_opens_its_customers_orders_only(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer], db: Database
) -> None:
    _, handoff = await hand_off(backend, rasa)
    zhang = staff["zhang"]
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    async with db.read() as conn:
        w = tables.work_orders
        order, status = (await conn.execute(select(w.c.id, w.c.status).limit(1))).one()
    path = f"/desk/api/handoffs/{handoff}/workorders/{order}/transitions"
    assert await zhang.refused("POST", path, {"to": "received"}) == (403, "not_this_customer")
    async with db.read() as conn:
        assert await conn.scalar(select(w.c.status).where(w.c.id == order)) == status
