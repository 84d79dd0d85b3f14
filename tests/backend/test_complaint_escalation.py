"""Complaints escalate until closed (issue 14): due times by severity, the climb agent →
supervisor → manager on a frozen clock (once, with two scanners at once), closing with a
resolution, the review of serious ones, the desk's panel and badge by role, and what the
customer is told through the outbox, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.complaints.escalation import escalate_due
from bot.db import Database, create_engine
from bot.desk.accounts import COOKIE, CSRF_HEADER, STATION_COOKIE, Role, create_account
from bot.settings import ComplaintSettings, Settings
from tests.support.api import call, error_code
from tests.support.database import API_HEADERS, NOW, add_staff_user
from tests.support.outbox import TO_CLOSED, Channel, at, book, move, worker
from tests.support.portals import as_staff as as_

PASSWORD = "a-complaint-test-password"
# username: (display name, role, station)
PEOPLE: dict[str, tuple[str, Role, str | None]] = {
    "zhao": ("赵静", "agent", None),
    "wang": ("王芳", "supervisor", None),
    "chen": ("陈立", "supervisor", None),
    "li": ("李总", "manager", None),
    "bj01": ("中关村服务站", "station", "BJ01"),
}
POLICY = ComplaintSettings()


async def client_at(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock
) -> TestClient:
    """The backend at `clock`; sessions travel in headers by hand (no cookie jar), so that one
    client acts as several people."""
    app = create_app(settings, clock)
    made: TestClient = await aiohttp_client(
        app, headers=API_HEADERS, cookie_jar=aiohttp.DummyCookieJar()
    )
    return made


@pytest.fixture
async def api(aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock) -> TestClient:
    database = Database(create_engine(settings.database_url))
    try:
        await add_staff_user(database)
    finally:
        await database.close()
    return await client_at(aiohttp_client, settings, clock)


async def people(db: Database) -> None:
    async with db.write() as conn:
        for username, (name, role, station) in PEOPLE.items():
            await create_account(
                conn,
                username,
                name,
                role,
                PASSWORD,
                Clock.to_db(NOW),
                station,
            )


async def login(api: TestClient, username: str) -> dict[str, str]:
    station = PEOPLE[username][1] == "station"
    portal, cookie = ("station", STATION_COOKIE) if station else ("desk", COOKIE)
    reply = await api.post(
        f"/{portal}/api/login", json={"username": username, "password": PASSWORD}
    )
    assert reply.status == 200, await reply.text()
    return {
        "Cookie": f"{cookie}={reply.cookies[cookie].value}",
        CSRF_HEADER: (await reply.json())["csrf_token"],
    }


async def complain(api: TestClient, text: str = "客服态度太差", **fields: Any) -> dict[str, Any]:
    body = {"text": text, "conversation_id": "conv-cp", "channel": "webchat"} | fields
    created: dict[str, Any] = await call(api, "POST", "/api/complaints", 201, json=body)
    return created


async def steps(db: Database, complaint_id: str) -> list[tuple[str, str]]:
    e = tables.complaint_events
    async with db.read() as conn:
        found = await conn.execute(
            select(e.c.kind, e.c.level).where(e.c.complaint_id == complaint_id).order_by(e.c.id)
        )
        return [(r.kind, r.level) for r in found]


async def test_due_times_follow_the_severity(api: TestClient) -> None:
    normal = await complain(api)
    serious = await complain(api, "第三次修了还是坏", severity="high")
    unsafe = await complain(api, "充电的时候冒烟了")
    assert (normal["severity"], normal["level"], normal["status"]) == ("medium", "agent", "open")
    assert normal["due_at"].startswith("2026-11-21T10:00")  # 24 h
    assert serious["due_at"].startswith("2026-11-20T14:00")  # 4 h
    assert (unsafe["severity"], unsafe["due_at"][:16]) == ("critical", "2026-11-20T14:00")


async def test_a_second_complaint_about_an_order_is_serious(api: TestClient) -> None:
    order_id = await book(api)
    first = await complain(api, "rating 2/5: 等太久", work_order_id=order_id)
    again = await complain(api, "rating 1/5: 又坏了", work_order_id=order_id)
    assert (first["severity"], again["severity"]) == ("medium", "high")


async def test_an_unhandled_complaint_climbs_agent_supervisor_manager(
    api: TestClient, db: Database
) -> None:
    cp = (await complain(api))["id"]
    assert await escalate_due(db, at(hours=23, minutes=59), POLICY) == 0
    assert await escalate_due(db, at(hours=24), POLICY) == 1
    assert await escalate_due(db, at(hours=24, minutes=30), POLICY) == 0
    row = await call(api, "GET", f"/api/complaints/{cp}", 200)
    assert (row["level"], row["due_at"][:16]) == ("supervisor", "2026-11-21T14:00")
    assert await escalate_due(db, at(hours=28), POLICY) == 1
    # The manager is the last level: it stays there, overdue, with no further step.
    assert await escalate_due(db, at(days=10), POLICY) == 0
    assert await steps(db, cp) == [
        ("opened", "agent"),
        ("escalated", "supervisor"),
        ("escalated", "manager"),
    ]


async def test_a_backend_down_through_two_steps_records_both(api: TestClient, db: Database) -> None:
    cp = (await complain(api))["id"]
    assert await escalate_due(db, at(hours=30), POLICY) == 2
    assert [k for k in await steps(db, cp)][-2:] == [
        ("escalated", "supervisor"),
        ("escalated", "manager"),
    ]


async def test_two_scanners_at_once_record_each_step_once(
    api: TestClient, db: Database, settings: Settings
) -> None:
    ids = [(await complain(api, f"投诉 {i}"))["id"] for i in range(6)]
    other = Database(create_engine(settings.database_url))
    try:
        done = await asyncio.gather(
            escalate_due(db, at(hours=24), POLICY), escalate_due(other, at(hours=24), POLICY)
        )
    finally:
        await other.close()
    assert sum(done) == 6
    for cp in ids:
        assert await steps(db, cp) == [("opened", "agent"), ("escalated", "supervisor")]


async def test_a_resolved_complaint_stops_climbing(api: TestClient, db: Database) -> None:
    await people(db)
    cp = (await complain(api))["id"]
    zhao = await login(api, "zhao")
    taken = await as_(api, zhao, "POST", f"/desk/api/complaints/{cp}/take", 200)
    assert (taken["owner"], taken["status"]) == ("zhao", "in_progress")
    await as_(
        api,
        zhao,
        "POST",
        f"/desk/api/complaints/{cp}/resolve",
        200,
        json={"resolution": "已道歉并补偿"},
    )
    assert await escalate_due(db, at(days=3), POLICY) == 0


async def test_closing_needs_a_resolution_and_tells_the_customer_once(
    api: TestClient, db: Database
) -> None:
    await people(db)
    cp = (await complain(api))["id"]
    zhao = await login(api, "zhao")
    path = f"/desk/api/complaints/{cp}/resolve"
    assert (await api.post(path, headers=zhao, json={"resolution": ""})).status == 422
    assert (
        await error_code(api, "PATCH", f"/api/complaints/{cp}", 409, json={"status": "closed"})
        == "resolution_needed"
    )
    closed = await as_(api, zhao, "POST", path, 200, json={"resolution": "已为客户换新机"})
    assert (closed["status"], closed["resolution"]) == ("closed", "已为客户换新机")
    assert [s["kind"] for s in closed["steps"]] == ["opened", "closed"]
    await as_(api, zhao, "POST", path, 409, json={"resolution": "再关一次"})
    channel = Channel()
    w = worker(db, channel)
    await w.deliver_due(at(minutes=1))
    await w.deliver_due(at(minutes=2))
    assert channel.sent_keys() == [f"{cp}:complaint_closed:1"]
    [delivery] = channel.delivered
    assert delivery.conversation_id == "conv-cp"
    assert cp in delivery.message.text and "已为客户换新机" in delivery.message.text


async def test_a_serious_complaint_needs_another_supervisors_review(
    api: TestClient, db: Database
) -> None:
    await people(db)
    cp = (await complain(api, "第二次坏了，要求退款", severity="high"))["id"]
    agent, wang, chen_h = [await login(api, u) for u in ("zhao", "wang", "chen")]
    review = f"/desk/api/complaints/{cp}/review"
    resolved = await as_(
        api,
        wang,
        "POST",
        f"/desk/api/complaints/{cp}/resolve",
        200,
        json={"resolution": "退款 500 元"},
    )
    assert resolved["status"] == "resolved"
    # Not closed yet: nothing for the customer.
    channel = Channel()
    await worker(db, channel).deliver_due(at(minutes=1))
    assert channel.delivered == []
    assert (await as_(api, agent, "POST", review, 403, json={"approve": True}))["error"]
    # wang resolved it: wang may not approve it.
    wang_again = wang
    body = await as_(api, wang_again, "POST", review, 409, json={"approve": True})
    assert body["error"]["code"] == "own_resolution"
    back = await as_(
        api, chen_h, "POST", review, 200, json={"approve": False, "note": "金额再核实"}
    )
    assert back["status"] == "in_progress"
    await as_(
        api,
        wang_again,
        "POST",
        f"/desk/api/complaints/{cp}/resolve",
        200,
        json={"resolution": "退款 800 元"},
    )
    done = await as_(api, chen_h, "POST", review, 200, json={"approve": True})
    assert (done["status"], done["reviewed_by"], done["resolution"]) == (
        "closed",
        "chen",
        "退款 800 元",
    )
    assert [s["kind"] for s in done["steps"]] == [
        "opened",
        "resolved",
        "returned",
        "resolved",
        "approved",
    ]
    w = worker(db, channel)
    await w.deliver_due(at(minutes=2))
    await w.deliver_due(at(minutes=3))
    assert channel.sent_keys() == [f"{cp}:complaint_closed:1"]
    assert "退款 800 元" in channel.texts()[0]


async def test_the_internal_api_refuses_to_close_a_serious_one_unreviewed(api: TestClient) -> None:
    cp = (await complain(api, "要求赔偿", severity="critical"))["id"]
    path = f"/api/complaints/{cp}"
    body = {"status": "closed", "resolution": "已赔偿"}
    assert await error_code(api, "PATCH", path, 409, json=body) == "review_needed"
    await call(api, "PATCH", path, 200, json={"status": "resolved", "resolution": "已赔偿"})
    closed = await call(api, "PATCH", path, 200, json={"status": "closed"})
    assert (closed["status"], closed["reviewed_by"]) == ("closed", API_HEADERS["X-Staff-User"])


async def test_the_badge_counts_what_waits_for_each_level(
    aiohttp_client: Callable[..., Any], api: TestClient, db: Database, settings: Settings
) -> None:
    await people(db)
    await complain(api)
    await complain(api, "要求退款", severity="high")
    await escalate_due(db, at(hours=5), POLICY)  # the serious one is the supervisors' now
    later = await client_at(aiohttp_client, settings, at(hours=5))
    counts = {}
    for username in ("zhao", "wang", "li"):
        who = await login(later, username)
        counts[username] = await as_(later, who, "GET", "/desk/api/complaints/summary", 200)
    assert counts["zhao"] == {"waiting": 1, "overdue": 0, "review": 0}
    assert counts["wang"] == {"waiting": 1, "overdue": 0, "review": 0}
    assert counts["li"] == {"waiting": 0, "overdue": 0, "review": 0}
    wang = await login(later, "wang")
    listed = await as_(later, wang, "GET", "/desk/api/complaints", 200)
    assert [(c["severity"], c["level"], c["serious"]) for c in listed] == [
        ("high", "supervisor", True),
        ("medium", "agent", False),
    ]
    assert listed[0]["steps"][-1]["kind"] == "escalated"
    # Past the supervisor's four hours too: the manager's, and overdue for nobody yet.
    await escalate_due(db, at(hours=8, minutes=1), POLICY)
    latest = await client_at(aiohttp_client, settings, at(hours=30))
    li = await login(latest, "li")
    assert await as_(latest, li, "GET", "/desk/api/complaints/summary", 200) == {
        "waiting": 1,
        "overdue": 1,
        "review": 0,
    }


async def test_a_recurred_followup_tells_the_customer_the_number_and_due_time(
    api: TestClient, db: Database
) -> None:
    order_id = await book(api)
    await move(api, order_id, *TO_CLOSED)
    channel = Channel()
    w = worker(db, channel)
    await w.deliver_due(at(days=3))  # the 回访 question goes out
    answer = {"outcome": "recurred"}
    await call(api, "POST", f"/api/workorders/{order_id}/followup", 200, json=answer)
    [cp] = [
        c for c in await call(api, "GET", "/api/complaints", 200) if c["work_order_id"] == order_id
    ]
    # The fault came back after the repair: a recurrence is serious (due in 4 h).
    assert cp["severity"] == "high"
    await w.deliver_due(at(days=3, minutes=1))
    await w.deliver_due(at(days=3, minutes=2))
    opened = [d for d in channel.delivered if d.key == f"{cp['id']}:complaint_opened:1"]
    assert len(opened) == 1
    assert cp["id"] in opened[0].message.text and "11月20日 14:00" in opened[0].message.text


async def test_wrong_roles_and_no_session_are_refused(api: TestClient, db: Database) -> None:
    await people(db)
    cp = (await complain(api))["id"]
    for method, path in (
        ("GET", "/desk/api/complaints"),
        ("GET", "/desk/api/complaints/summary"),
        ("POST", f"/desk/api/complaints/{cp}/take"),
        ("POST", f"/desk/api/complaints/{cp}/resolve"),
        ("POST", f"/desk/api/complaints/{cp}/review"),
        ("GET", "/desk/api/followups"),
    ):
        assert (await api.request(method, path, headers={"Cookie": ""})).status == 401, path
        station = await login(api, "bj01")
        # A station's session does not open the desk's door (its cookie is another's).
        assert (await api.request(method, path, headers=station)).status in (401, 403), path
    zhao = await login(api, "zhao")
    body = await as_(
        api, zhao, "POST", f"/desk/api/complaints/{cp}/review", 403, json={"approve": True}
    )
    assert body["error"]["code"] == "supervisors_only"


async def test_a_manager_account_uses_the_desk_as_a_supervisor(
    api: TestClient, db: Database
) -> None:
    await people(db)
    li = await login(api, "li")
    me = await as_(api, li, "GET", "/desk/api/me", 200)
    assert me["role"] == "manager"
    assert isinstance(await as_(api, li, "GET", "/desk/api/followups", 200), list)


def test_due_hours_come_from_the_environment() -> None:
    env = {"BOT_DATABASE_URL": "sqlite://", "BOT_COMPLAINT_DUE_HOURS": "48"}
    env |= {"BOT_COMPLAINT_SERIOUS_DUE_HOURS": "2", "BOT_COMPLAINT_ESCALATE_HOURS": "6"}
    policy = Settings.from_env(env).complaints
    assert (policy.due_hours, policy.serious_due_hours, policy.escalate_hours) == (48, 2, 6)
    assert timedelta(hours=policy.due_hours) == timedelta(days=2)


async def test_two_outbox_workers_send_the_outcome_once(
    api: TestClient, db: Database, settings: Settings
) -> None:
    await people(db)
    cp = (await complain(api))["id"]
    zhao = await login(api, "zhao")
    path = f"/desk/api/complaints/{cp}/resolve"
    await as_(api, zhao, "POST", path, 200, json={"resolution": "已补发配件"})
    channel = Channel()
    other = Database(create_engine(settings.database_url))
    try:
        await asyncio.gather(
            worker(db, channel, "w1").deliver_due(at(minutes=1)),
            worker(other, channel, "w2").deliver_due(at(minutes=1)),
        )
    finally:
        await other.close()
    assert channel.sent_keys() == [f"{cp}:complaint_closed:1"]
