"""The station console: station accounts, what a station sees and may do, every life-cycle
step it takes, and the doors between the desk and the console."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import COOKIE, CSRF_HEADER, STATION_COOKIE, create_account
from bot.settings import Settings
from tests.support.api import call
from tests.support.database import API_HEADERS, add_staff_user
from tests.support.portals import PASSWORD, add_people, as_staff, session

SATURDAY = "2026-11-21"


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> TestClient:
    await add_staff_user(db)
    await add_people(db, clock)
    app = create_app(settings, clock)
    made: TestClient = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    return made


async def book(client: TestClient, **changes: Any) -> dict[str, Any]:
    body = {
        "kind": "drop_off",
        "model_code": "XB14",
        "fault": "开机无显示，电源灯不亮",
        "steps_tried": ["换了插座"],
        "station_code": "BJ01",
        "slot_date": SATURDAY,
        "slot_start": "09:00",
        "customer_name": "王先生",
        "phone": "13800138000",
    } | changes
    order: dict[str, Any] = await call(
        client, "POST", "/api/workorders", 201, json=body, headers=API_HEADERS
    )
    return order


async def step(
    client: TestClient, who: dict[str, str], order: str, expect: int = 200, **body: Any
) -> Any:
    return await as_staff(
        client, who, "POST", f"/station/api/orders/{order}/steps", expect, json=body
    )


async def test_a_station_account_is_bound_to_one_existing_station(
    db: Database, clock: Clock
) -> None:
    now = Clock.to_db(clock.now())
    async with db.write() as conn:
        for role, station, problem in (
            ("station", None, "needs --station"),
            ("agent", "BJ01", "needs --station"),
            ("station", "ZZ99", "no station"),
        ):
            with pytest.raises(ValueError, match=problem):
                await create_account(conn, "x", "x", role, PASSWORD, now, station)  # type: ignore[arg-type]
        await create_account(conn, "gz", "广州", "station", PASSWORD, now, "gz01")
        stored = await conn.scalar(
            select(tables.staff.c.station_code).where(tables.staff.c.username == "gz")
        )
    assert stored == "GZ01"


async def test_each_portal_lets_in_its_own_staff_only(client: TestClient) -> None:
    for portal, username in (("desk", "bj01"), ("station", "zhang"), ("station", "wang")):
        reply = await client.post(
            f"/{portal}/api/login", json={"username": username, "password": PASSWORD}
        )
        # Refused as a wrong password would be: the answer does not say the account exists.
        assert (reply.status, (await reply.json())["error"]["code"]) == (401, "bad_credentials")
    station, agent = await session(client, "bj01"), await session(client, "zhang")
    me = await as_staff(client, station, "GET", "/station/api/me", 200)
    assert (me["role"], me["station_code"]) == ("station", "BJ01")
    # A session of one portal sent under the other portal's cookie name.
    swapped = {
        "Cookie": station["Cookie"].replace(STATION_COOKIE, COOKIE),
        CSRF_HEADER: station[CSRF_HEADER],
    }
    body = await as_staff(client, swapped, "GET", "/desk/api/handoffs?scope=queue", 403)
    assert body["error"]["code"] == "desk_only"
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/desk/ws", headers={"Cookie": swapped["Cookie"]})
    swapped = {
        "Cookie": agent["Cookie"].replace(COOKIE, STATION_COOKIE),
        CSRF_HEADER: agent[CSRF_HEADER],
    }
    body = await as_staff(client, swapped, "GET", "/station/api/orders", 403)
    assert body["error"]["code"] == "station_only"
    # The agent's own cookie does not reach the console at all.
    assert (await as_staff(client, agent, "GET", "/station/api/orders", 401))["error"]
    # Station staff are no colleagues to transfer a conversation to.
    boss = await session(client, "wang")
    names = [c["display_name"] for c in await as_staff(client, boss, "GET", "/desk/api/staff", 200)]
    assert "中关村服务站" not in names and "张敏" in names


async def test_a_change_needs_the_csrf_token(client: TestClient) -> None:
    order = await book(client)
    station = await session(client, "bj01")
    body = await as_staff(
        client,
        {"Cookie": station["Cookie"]},
        "POST",
        f"/station/api/orders/{order['id']}/steps",
        403,
        json={"to": "accepted"},
    )
    assert body["error"]["code"] == "csrf"


async def test_a_station_sees_and_moves_only_its_own_orders(client: TestClient) -> None:
    ours = await book(client)
    theirs = await book(client, station_code="SH01")
    bj01, sh01 = await session(client, "bj01"), await session(client, "sh01")
    listed = await as_staff(client, bj01, "GET", "/station/api/orders", 200)
    ids = [o["id"] for o in listed]
    # At once: the booking is on its station's console as soon as it is made.
    assert ours["id"] in ids and theirs["id"] not in ids
    assert {o["status"] for o in listed} <= {"scheduled", "accepted"}
    body = await as_staff(client, bj01, "GET", f"/station/api/orders/{theirs['id']}", 404)
    assert body["error"]["code"] == "work_order_not_found"
    await step(client, bj01, theirs["id"], 404, to="accepted")
    shown = await as_staff(client, sh01, "GET", f"/station/api/orders/{theirs['id']}", 200)
    assert shown["order"]["status"] == "scheduled" and shown["next"] == [
        "accepted",
        "received",
        "cancelled",
    ]
    assert [o["id"] for o in await as_staff(client, sh01, "GET", "/station/api/orders", 200)] == [
        theirs["id"]
    ]


async def test_a_drop_off_repair_through_its_whole_life_cycle(
    client: TestClient, db: Database
) -> None:
    order = (await book(client, serial="PF2K7Q9A", model_code=None))["id"]
    bj01 = await session(client, "bj01")
    detail = await as_staff(client, bj01, "GET", f"/station/api/orders/{order}", 200)
    assert detail["verdict"]["remedy"] in ("return", "exchange", "free_repair", "paid_repair")
    assert detail["order"]["steps_tried"] == ["换了插座"] and detail["sla"] is None
    # Unhappy first: a step the life cycle does not allow, and parts that are not codes.
    assert (await step(client, bj01, order, 409, to="repaired"))["error"][
        "code"
    ] == "invalid_transition"
    await step(client, bj01, order, 422, to="accepted", parts=["主板"])
    # Naming an engineer without a step, before and after accepting.
    await step(client, bj01, order, 409, to="scheduled")
    detail = await step(client, bj01, order, to="accepted", engineer="李工")
    assert detail["order"]["engineer"] == "李工" and detail["order"]["accepted_at"]
    detail = await step(client, bj01, order, to="accepted", engineer="赵工")
    assert detail["order"]["engineer"] == "赵工"
    for to, parts in (
        ("received", []),
        ("diagnosing", []),
        ("waiting_parts", ["mainboard"]),
        ("repaired", ["mainboard", "thermal_paste"]),
        ("ready_for_pickup", []),
    ):
        detail = await step(client, bj01, order, to=to, note=f"-> {to}", parts=parts)
    # Closing needs the outcome, coded.
    await step(client, bj01, order, 422, to="closed")
    await step(client, bj01, order, 422, to="closed", outcome={"root_cause": "主板", "fix": "x"})
    outcome = {"root_cause": "gpu_solder_crack", "fix": "replace_mainboard"}
    detail = await step(client, bj01, order, to="closed", note="-> closed", outcome=outcome)
    timeline = detail["order"]["timeline"]
    assert [e["status"] for e in timeline] == [
        "created",
        "scheduled",
        "accepted",
        "accepted",
        "received",
        "diagnosing",
        "waiting_parts",
        "repaired",
        "ready_for_pickup",
        "closed",
    ]
    assert timeline[3]["note"] == "engineer: 赵工"
    assert timeline[7]["parts"] == ["mainboard", "thermal_paste"]
    assert {e["actor"] for e in timeline[2:]} == {"station:BJ01:bj01"}
    assert detail["next"] == []
    await step(client, bj01, order, 409, to="closed", outcome=outcome)
    # Reopening is the customer's (the 回访), not the station's.
    await step(client, bj01, order, 409, to="created")
    async with db.read() as conn:
        repair = (
            await conn.execute(
                select(tables.repairs).where(tables.repairs.c.work_order_id == order)
            )
        ).one()
    assert (repair.part, repair.serial) == ("mainboard", "PF2K7Q9A")
    # What the customer's side reads: the same timeline.
    seen = await call(client, "GET", f"/api/workorders/{order}", 200, headers=API_HEADERS)
    assert [e["status"] for e in seen["timeline"]] == [e["status"] for e in timeline]
    done = await as_staff(client, bj01, "GET", "/station/api/orders?scope=done", 200)
    assert done[0]["id"] == order
    assert order not in [
        o["id"] for o in await as_staff(client, bj01, "GET", "/station/api/orders", 200)
    ]
    assert await as_staff(client, bj01, "GET", "/station/api/engineers", 200) == {"names": ["赵工"]}


async def test_an_on_site_order_goes_on_the_way_and_meets_its_promise(client: TestClient) -> None:
    order = (await book(client, kind="on_site", address="北京市海淀区学院路30号"))["id"]
    bj01 = await session(client, "bj01")
    detail = await as_staff(client, bj01, "GET", f"/station/api/orders/{order}", 200)
    assert detail["sla"]["state"] == "green" and detail["sla"]["promised_hours"] == 24
    await step(client, bj01, order, to="accepted", engineer="李工")
    detail = await step(client, bj01, order, to="on_the_way", note="预计 30 分钟到")
    assert detail["sla"]["state"] == "met"
    for to in ("diagnosing", "repaired"):
        detail = await step(client, bj01, order, to=to)
    outcome = {"root_cause": "loose_cable", "fix": "reseat_cable"}
    detail = await step(client, bj01, order, to="closed", outcome=outcome)
    assert detail["order"]["status"] == "closed"


async def test_a_customer_may_still_cancel_or_move_an_accepted_booking(
    client: TestClient, db: Database
) -> None:
    bj01 = await session(client, "bj01")
    first, second = (await book(client))["id"], (await book(client, slot_start="10:30"))["id"]
    for order in (first, second):
        await step(client, bj01, order, to="accepted", engineer="李工")
    moved = await call(
        client,
        "POST",
        f"/api/workorders/{first}/reschedule",
        200,
        json={"slot_date": SATURDAY, "slot_start": "13:30"},
        headers=API_HEADERS,
    )
    # Back in the queue: the station accepts the new time afresh.
    assert moved["status"] == "scheduled" and moved["accepted_at"] is None
    cancelled = await call(
        client,
        "POST",
        f"/api/workorders/{second}/cancel",
        200,
        json={"reason": "不修了"},
        headers=API_HEADERS,
    )
    assert cancelled["status"] == "cancelled"
    async with db.read() as conn:
        booked = await conn.scalar(
            select(tables.slot_loads.c.booked).where(
                tables.slot_loads.c.station_code == "BJ01",
                tables.slot_loads.c.slot_start == "10:30",
            )
        )
    assert booked == 0
