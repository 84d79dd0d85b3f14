"""The support desk against the whole running system: a customer on the REST channel asks for a
person, agents and a supervisor work the conversation through the desk's API and websocket,
and Rasa's tracker shows what the customer got.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bot import tables
from bot.api import DB
from bot.app import create_app
from bot.clock import Clock
from bot.desk import feed, waiting
from bot.settings import Settings
from tests.support.database import API_TOKEN
from tests.support.desk import DeskUser, create_account, next_message
from tests.support.fake_telegram import FakeTelegram
from tests.support.rest import post, tracker
from tests.support.stack import FROZEN_AT, Stack
from tests.support.telegram_updates import deliver, new_chat, text_update


@pytest.fixture(scope="module")
def accounts(stack: Stack) -> dict[str, str]:
    create_account(stack, "zhang", "张敏")
    create_account(stack, "li", "李强")
    create_account(stack, "wang", "王芳", role="supervisor")
    return {"agent": "zhang", "other": "li", "supervisor": "wang"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
async def desk(stack: Stack, accounts: dict[str, str]) -> AsyncIterator[dict[str, DeskUser]]:
    users = {role: await DeskUser.login(stack.backend_url, name) for role, name in accounts.items()}
    yield users
    for user in users.values():
        await user.close()


async def hand_off(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> tuple[str, str]:
    """A new customer asks for a person; returns (conversation id, handoff id)."""
    sender = f"desk-{uuid.uuid4().hex[:8]}"
    status, _ = await post(
        session, stack.rasa_url, {"sender": sender, "message": "我的笔记本开不了机"}
    )
    assert status == 200
    await post(session, stack.rasa_url, {"sender": sender, "message": "转人工"})
    state = await tracker(session, stack.rasa_url, sender)
    assert state["paused"]
    queue = await desk["agent"].ok("GET", "/desk/api/handoffs?scope=queue")
    [item] = [i for i in queue if i["conversation_id"] == sender]
    return sender, item["id"]


def bot_texts(state: dict[str, Any]) -> list[str]:
    return [e.get("text") or "" for e in state["events"] if e["event"] == "bot"]


async def test_nobody_gets_in_without_logging_in(
    stack: Stack, session: aiohttp.ClientSession
) -> None:
    for method, path in [
        ("GET", "/desk/api/handoffs"),
        ("GET", "/desk/api/me"),
        ("POST", "/desk/api/handoffs/HO20261120-0001/claim"),
    ]:
        async with session.request(method, f"{stack.backend_url}{path}") as reply:
            assert reply.status == 401, path
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(f"{stack.backend_url}/desk/ws")
    assert refused.value.status == 401


async def test_a_wrong_password_is_refused(stack: Stack, accounts: dict[str, str]) -> None:
    with pytest.raises(RuntimeError, match="401"):
        await DeskUser.login(stack.backend_url, "zhang", "not-the-password")
    with pytest.raises(RuntimeError, match="401"):
        await DeskUser.login(stack.backend_url, "nobody", "whatever-password")


async def test_password_guessing_is_stopped(stack: Stack) -> None:
    create_account(stack, "target", "赵雷")
    for _ in range(5):
        with pytest.raises(RuntimeError, match="401"):
            await DeskUser.login(stack.backend_url, "target", "guess-guess-guess")
    # Now even the right password waits: the guesser cannot tell when they hit it.
    with pytest.raises(RuntimeError, match="429"):
        await DeskUser.login(stack.backend_url, "target")


async def test_a_change_without_the_csrf_token_is_refused(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> None:
    _, handoff = await hand_off(stack, session, desk)
    agent = desk["agent"]
    token, agent.csrf = agent.csrf, ""
    status, answer = await agent.call("POST", f"/desk/api/handoffs/{handoff}/claim")
    agent.csrf = token
    assert (status, answer["error"]["code"]) == (403, "csrf")
    # A page of another site cannot open the live feed with the agent's cookie.
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await agent.session.ws_connect(
            f"{stack.backend_url}/desk/ws", origin="https://evil.example"
        )


async def test_claim_reply_and_hand_back(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> None:
    sender, handoff = await hand_off(stack, session, desk)
    agent, other, boss = desk["agent"], desk["other"], desk["supervisor"]

    # The package and the whole transcript are there before anyone claims.
    opened = await agent.ok("GET", f"/desk/api/handoffs/{handoff}")
    assert opened["handoff"]["status"] == "waiting"
    assert [line["text"] for line in opened["transcript"] if line["kind"] == "customer"] == [
        "我的笔记本开不了机",
        "转人工",
    ]

    socket = await agent.socket()
    claimed = await agent.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    assert claimed["holder"] == "张敏"
    status, answer = await other.call("POST", f"/desk/api/handoffs/{handoff}/claim")
    assert (status, answer["error"]["code"]) == (409, "not_waiting")
    state = await tracker(session, stack.rasa_url, sender)
    assert state["paused"]
    assert any("张敏" in text for text in bot_texts(state)), "the customer is told who took over"

    # Another agent cannot read or speak in it; a supervisor can read it.
    status, _ = await other.call("GET", f"/desk/api/handoffs/{handoff}")
    assert status == 403
    status, answer = await other.call(
        "POST", f"/desk/api/handoffs/{handoff}/messages", {"text": "你好"}
    )
    assert (status, answer["error"]["code"]) == (409, "not_holding")
    assert (await boss.call("GET", f"/desk/api/handoffs/{handoff}"))[0] == 200
    live = await boss.ok("GET", "/desk/api/handoffs?scope=live")
    assert [i["holder"] for i in live if i["id"] == handoff] == ["张敏"]
    assert (await agent.call("GET", "/desk/api/handoffs?scope=live"))[0] == 403

    # The customer writes: the bot stays silent, the agent sees it live.
    status, replies = await post(
        session, stack.rasa_url, {"sender": sender, "message": "电源灯都不亮，充电也没反应"}
    )
    assert (status, replies) == (200, [])
    await next_message(socket, "customer", handoff_id=handoff, text="电源灯都不亮，充电也没反应")

    # The agent answers: it lands in the customer's conversation as the agent's message.
    await agent.ok(
        "POST", f"/desk/api/handoffs/{handoff}/messages", {"text": "您好，请长按电源键 15 秒试试"}
    )
    echoed = await next_message(socket, "agent", handoff_id=handoff)
    assert echoed["data"]["agent"] == "张敏"
    state = await tracker(session, stack.rasa_url, sender)
    [event] = [
        e for e in state["events"] if e["event"] == "bot" and "15 秒" in (e.get("text") or "")
    ]
    assert event["metadata"]["desk_agent"] == "张敏"

    # A private note reaches the holder, never the customer.
    await agent.ok("POST", f"/desk/api/handoffs/{handoff}/notes", {"text": "客户很着急，优先处理"})
    assert (await next_message(socket, "note", handoff_id=handoff))[
        "text"
    ] == "客户很着急，优先处理"
    state = await tracker(session, stack.rasa_url, sender)
    assert not any("着急" in text for text in bot_texts(state))

    # Canned replies come with this conversation's values.
    canned = await agent.ok("GET", f"/desk/api/handoffs/{handoff}/canned")
    assert any("张敏" in c["text"] for c in canned)

    # Hand back: the bot says so, and answers the next message again.
    await agent.ok("POST", f"/desk/api/handoffs/{handoff}/handback", {"resolution": "resolved"})
    state = await tracker(session, stack.rasa_url, sender)
    assert not state["paused"]
    assert "智能助手" in bot_texts(state)[-1]
    status, replies = await post(session, stack.rasa_url, {"sender": sender, "message": "谢谢"})
    assert status == 200 and replies, "the bot answers again after the hand-back"
    await socket.close()

    # Every step is in the audit log.
    audit = await boss.ok("GET", f"/desk/api/audit?handoff_id={handoff}")
    assert [(a["staff"], a["action"]) for a in reversed(audit)] == [
        ("张敏", "claimed"),
        ("张敏", "message"),
        ("张敏", "note"),
        ("张敏", "handed_back"),
    ]


async def test_transfer_and_close(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> None:
    sender, handoff = await hand_off(stack, session, desk)
    agent, other = desk["agent"], desk["other"]
    await agent.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    moved = await agent.ok("POST", f"/desk/api/handoffs/{handoff}/transfer", {"to": other.me["id"]})
    assert moved["holder"] == "李强"
    status, _ = await agent.call(
        "POST", f"/desk/api/handoffs/{handoff}/messages", {"text": "还在吗"}
    )
    assert status == 409, "after the transfer only the new holder speaks"
    mine = await other.ok("GET", "/desk/api/handoffs?scope=mine")
    assert handoff in [i["id"] for i in mine]
    closed = await other.ok(
        "POST", f"/desk/api/handoffs/{handoff}/close", {"resolution": "work_order"}
    )
    assert (closed["status"], closed["resolution"]) == ("closed", "work_order")
    state = await tracker(session, stack.rasa_url, sender)
    assert not state["paused"]
    status, _ = await other.call("POST", f"/desk/api/handoffs/{handoff}/close", {})
    assert status == 409


async def test_a_complaint_is_first_in_the_queue(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> None:
    await hand_off(stack, session, desk)
    sender = f"angry-{uuid.uuid4().hex[:8]}"
    await post(session, stack.rasa_url, {"sender": sender, "message": "我要投诉，修了三次还没修好"})
    queue = await desk["agent"].ok("GET", "/desk/api/handoffs?scope=queue")
    complaints = [i["reason"] == "complaint" for i in queue]
    assert complaints == sorted(complaints, reverse=True)
    assert any(i["conversation_id"] == sender for i in queue if i["reason"] == "complaint")


@asynccontextmanager
async def second_desk(
    stack: Stack, moment: datetime | None = None, **env: str
) -> AsyncIterator[web.Application]:
    """Another desk process on the stack's database, with its own clock and settings."""
    settings = Settings.from_env(stack.env | env)
    clock = Clock(settings.timezone, fixed=moment) if moment else None
    async with TestClient(TestServer(create_app(settings, clock))) as client:
        assert client.app is not None
        yield client.app


async def test_nobody_claims_in_time_so_the_customer_is_offered_a_callback(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> None:
    sender, handoff = await hand_off(stack, session, desk)
    later = datetime.fromisoformat(FROZEN_AT) + timedelta(minutes=5)
    async with second_desk(stack, later, BOT_DESK_WAIT_SECONDS="180") as app:
        assert await waiting.check_once(app) >= 1
        assert await waiting.check_once(app) == 0, "told once, not every second"
    state = await tracker(session, stack.rasa_url, sender)
    assert not state["paused"], "the customer's choice must reach the bot"
    last = [e for e in state["events"] if e["event"] == "bot"][-1]
    assert "/request_callback" in [b["payload"] for b in last["data"]["buttons"]]

    # The customer asks for a call: the number reaches the handoff, which stays in the queue.
    await post(session, stack.rasa_url, {"sender": sender, "message": "/request_callback"})
    status, replies = await post(
        session, stack.rasa_url, {"sender": sender, "message": "13912345678"}
    )
    # The reply repeats the number masked, as every customer-facing line does.
    assert status == 200 and "139****5678" in replies[-1]["text"]
    queue = await desk["agent"].ok("GET", "/desk/api/handoffs?scope=queue")
    [item] = [i for i in queue if i["id"] == handoff]
    # The desk shows it masked too; the agent who claims it reveals it for the call.
    assert (item["callback_phone"], item["notified"]) == ("139****5678", True)

    # An agent can still claim it; the bot goes quiet again.
    await desk["agent"].ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    assert (await tracker(session, stack.rasa_url, sender))["paused"]
    revealed = await desk["agent"].ok("POST", f"/desk/api/handoffs/{handoff}/reveal")
    assert revealed["callback_phone"] == "13912345678"


async def test_outside_desk_hours_the_customer_is_told_at_once(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> None:
    # The stack's clock says 10:00; this desk process believes it is 22:00.
    moment = datetime.fromisoformat(FROZEN_AT).replace(hour=22)
    sender, _ = await hand_off(stack, session, desk)
    async with second_desk(stack, moment) as app:
        await waiting.check_once(app)
    state = await tracker(session, stack.rasa_url, sender)
    assert "不在人工客服的服务时间" in bot_texts(state)[-1]


async def test_a_message_is_stored_once_however_often_it_is_read(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> None:
    """A second desk process, and a desk that reads the event table again from the start (a
    restart that lost its place), store each customer message exactly once."""
    sender, handoff = await hand_off(stack, session, desk)
    for text in ("第一条", "第二条", "第三条"):
        await post(session, stack.rasa_url, {"sender": sender, "message": text})
    events = create_async_engine(f"sqlite+aiosqlite:///{stack.events_db}")
    m = tables.desk_messages
    try:
        async with second_desk(stack) as app:
            db = app[DB]
            while await feed.read_events_once(app, events):
                pass
            async with db.write() as conn:
                await conn.execute(tables.desk_cursors.delete())
            while await feed.read_events_once(app, events):
                pass
            async with db.read() as conn:
                stored = list(
                    await conn.scalars(
                        select(m.c.text).where(m.c.handoff_id == handoff, m.c.kind == "customer")
                    )
                )
    finally:
        await events.dispose()
    assert {"第一条", "第二条", "第三条"} <= set(stored)
    assert len(stored) == len(set(stored)), "every message once"


async def test_an_agent_answers_a_telegram_customer_in_telegram(
    stack: Stack,
    session: aiohttp.ClientSession,
    desk: dict[str, DeskUser],
    fake_telegram: FakeTelegram,
) -> None:
    chat = new_chat()
    for words in ("我的打印机卡纸了", "转人工"):
        status, _ = await deliver(session, stack, text_update(chat, words))
        assert status == 200
    agent = desk["agent"]
    queue = await agent.ok("GET", "/desk/api/handoffs?scope=queue")
    [item] = [i for i in queue if i["conversation_id"] == str(chat)]
    assert (item["channel"], item["package"]["customer_name"]) == ("telegram", "小王")
    await agent.ok("POST", f"/desk/api/handoffs/{item['id']}/claim")
    await agent.ok(
        "POST", f"/desk/api/handoffs/{item['id']}/messages", {"text": "小王您好，请打开前盖看看"}
    )
    await asyncio.to_thread(
        fake_telegram.wait_for,
        lambda: "小王您好，请打开前盖看看" in fake_telegram.texts(chat),
        10,
        "the agent's message",
    )
    assert any("张敏" in text for text in fake_telegram.texts(chat)), "told who took over"
    # A sticker while the agent holds the conversation: no bot answer, the agent sees it.
    answered = len(fake_telegram.texts(chat))
    sticker = {"file_id": "s", "file_unique_id": "s", "width": 512, "height": 512}
    sticker |= {"is_animated": False, "is_video": False, "type": "regular"}
    update = text_update(chat, "")
    del update["message"]["text"]
    update["message"]["sticker"] = sticker
    assert (await deliver(session, stack, update))[0] == 200
    opened = await agent.ok("GET", f"/desk/api/handoffs/{item['id']}")
    last = opened["transcript"][-1]
    assert (last["kind"], last["text"]) == ("customer", "[sticker]")
    assert len(fake_telegram.texts(chat)) == answered


async def test_an_agent_books_a_repair_and_moves_it_along(
    stack: Stack, session: aiohttp.ClientSession, desk: dict[str, DeskUser]
) -> None:
    _, handoff = await hand_off(stack, session, desk)
    # A desk process two days later: its work-order ids (WO20261122-…) cannot shift the ids
    # the conversation stories expect on the stack's own day.
    later = datetime.fromisoformat(FROZEN_AT) + timedelta(days=2)
    internal = {"Authorization": f"Bearer {API_TOKEN}"}
    async with session.get(
        f"{stack.backend_url}/api/stations?city=北京&service=drop_off", headers=internal
    ) as reply:
        station = (await reply.json())[0]["code"]
    async with session.get(
        f"{stack.backend_url}/api/stations/{station}/slots", headers=internal
    ) as reply:
        slot = next(s for s in await reply.json() if s["free"] > 0 and s["date"] >= "2026-11-25")
    booking = {
        "kind": "drop_off",
        "fault": "开机无显示",
        "station_code": station,
        "slot_date": slot["date"],
        "slot_start": slot["start"],
        "phone": "13912345678",
    }
    settings = Settings.from_env(stack.env)
    server = TestServer(create_app(settings, Clock(settings.timezone, fixed=later)))
    async with TestClient(server) as client:
        url = str(client.make_url("")).rstrip("/")
        agent, other = await DeskUser.login(url, "zhang"), await DeskUser.login(url, "li")
        try:
            path = f"/desk/api/handoffs/{handoff}/workorders"
            assert (await agent.call("POST", path, booking))[0] == 409, "claim first"
            await agent.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
            order = await agent.ok("POST", path, booking)
            opened = await agent.ok("GET", f"/desk/api/handoffs/{handoff}")
            assert opened["handoff"]["package"]["work_order_id"] == order["id"]
            step = f"{path}/{order['id']}/transitions"
            assert (await other.call("POST", step, {"to": "received"}))[0] == 409
            moved = await agent.ok("POST", step, {"to": "received", "note": "客户已送到网点"})
            assert moved["status"] == "received"
            assert moved["timeline"][-1]["actor"] == "desk:zhang"
            status, answer = await agent.call("POST", step, {"to": "closed"})
            assert (status, answer["error"]["code"]) == (409, "invalid_transition")
            canned = await agent.ok("GET", f"/desk/api/handoffs/{handoff}/canned")
            assert any(order["id"] in c["text"] for c in canned), "{work_order_id} is filled in"
        finally:
            await agent.close()
            await other.close()
