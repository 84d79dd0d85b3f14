"""The after-sales loop's report figures on hand-made sequences driven through the API (CSAT and
response rate, 回访 by latest round, on-site SLA by city tier, station load), the filters by
category, region and channel, and who may read them (operators yes, agents no)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import Role, create_account
from bot.reports import rollups
from bot.reports.definitions import csat_key, followup_key, onsite_state
from bot.settings import Settings
from tests.support.api import call
from tests.support.database import API_HEADERS, NOW, TZ, add_staff_user
from tests.support.desk import desk_headers
from tests.support.outbox import TO_CLOSED, Channel, worker

PASSWORD = "report-loop-test-password"
SATURDAY = "2026-11-21"
ClientAt = Callable[[Clock], Any]


def at(hours: float) -> Clock:
    return Clock(TZ, fixed=NOW + timedelta(hours=hours))


@pytest.fixture
async def client_at(
    aiohttp_client: Callable[..., Any], settings: Settings, db: Database, clock: Clock
) -> ClientAt:
    await add_staff_user(db)
    async with db.write() as conn:
        people: tuple[tuple[str, Role], ...] = (
            ("wang", "supervisor"),
            ("zhang", "agent"),
            ("zhao", "operator"),
        )
        for username, role in people:
            await create_account(conn, username, username, role, PASSWORD, Clock.to_db(clock.now()))

    async def make(moment: Clock) -> TestClient:
        client: TestClient = await aiohttp_client(
            create_app(settings, moment), cookie_jar=aiohttp.DummyCookieJar()
        )
        return client

    return make


async def book(client: TestClient, n: int, **changes: Any) -> str:
    body = {
        "kind": "drop_off",
        "model_code": "XB14",
        "fault": "开机无显示",
        "station_code": "BJ01",
        "slot_date": SATURDAY,
        "slot_start": "09:00",
        # A customer of their own each: a customer is surveyed once a week at most.
        "phone": f"138001380{n:02d}",
        "channel": "webchat",
        "conversation_id": f"conv-loop-{n}",
    } | changes
    order = await call(client, "POST", "/api/workorders", 201, json=body, headers=API_HEADERS)
    return str(order["id"])


async def move(client: TestClient, order_id: str, *steps: str) -> None:
    for step in steps:
        await call(
            client,
            "POST",
            f"/api/workorders/{order_id}/transitions",
            200,
            json={"to": step, "actor": "station:BJ01", "note": step},
            headers=API_HEADERS,
        )


async def chart(client: TestClient, headers: dict[str, str], name: str, **extra: str) -> Any:
    query = {"chart": name, "from": "2026-11-20", "to": "2026-11-22"} | extra
    reply = await client.get("/desk/api/reports/chart", params=query, headers=headers)
    assert reply.status == 200, await reply.text()
    return await reply.json()


# --- the definitions, one order at a time ------------------------------------------------


def test_one_outcome_per_order_for_each_after_sales_metric() -> None:
    assert [csat_key(5, True), csat_key(2, False), csat_key(None, True)] == ["5", "2", "no_answer"]
    assert csat_key(None, False) is None  # never surveyed: not in the response rate
    assert followup_key("answered", "solved") == "solved"
    assert followup_key("scheduled", "unreachable") == "unreachable"
    assert followup_key("scheduled", None) == "pending"
    assert followup_key("cancelled", None) == "cancelled"
    assert onsite_state("closed", True, True) == "met"
    assert onsite_state("closed", True, False) == "missed"
    assert onsite_state("cancelled", False, False) == "cancelled"
    assert onsite_state("accepted", False, False) == "open"


# --- a hand-made week through the API -----------------------------------------------------


async def test_csat_followups_and_on_site_sla_of_a_hand_made_week(
    client_at: ClientAt, db: Database, settings: Settings
) -> None:
    start = await client_at(at(0))
    solved, recurred, silent, open_ = [await book(start, n) for n in range(4)]
    for order in (solved, recurred, silent):
        await move(start, order, *TO_CLOSED)
    # The surveys go out two hours after the close; one customer rates, two do not.
    await worker(db, Channel()).deliver_due(at(2))
    later = await client_at(at(3))
    await call(
        later,
        "POST",
        f"/api/workorders/{solved}/rating",
        200,
        json={"score": 5},
        headers=API_HEADERS,
    )
    for order, outcome in ((solved, "solved"), (recurred, "recurred")):
        await call(
            later,
            "POST",
            f"/api/workorders/{order}/followup",
            200,
            json={"outcome": outcome},
            headers=API_HEADERS,
        )
    # On-site in 北京 (tier 1, 24 h, or the end of the chosen slot if later).
    met = await book(start, 10, kind="on_site", address="北京市海淀区学院路30号")
    missed = await book(
        start, 11, kind="on_site", address="北京市海淀区学院路30号", slot_start="10:30"
    )
    gone = await book(
        start, 12, kind="on_site", address="北京市海淀区学院路30号", slot_start="13:30"
    )
    await book(start, 13, kind="on_site", address="北京市海淀区学院路30号", slot_date="2026-11-23")
    await move(await client_at(at(12)), met, "accepted", "on_the_way")
    await move(await client_at(at(30)), missed, "accepted", "on_the_way")
    await move(start, gone, "cancelled")

    now = at(40)
    await rollups.rebuild(db, now, settings)
    assert await rollups.check(db, now, settings) == []
    # The coarser grains are sums of the finest, and the check says when one is not.
    d = tables.report_daily
    async with db.write() as conn:
        await conn.execute(
            update(d).where(d.c.metric == "csat", d.c.grain == "").values(value=d.c.value + 1)
        )
    assert any(line.startswith("grain -:") for line in await rollups.check(db, now, settings))
    await rollups.rebuild(db, now, settings)
    client = await client_at(now)
    boss = await desk_headers(client, "wang", PASSWORD)

    csat = await chart(client, boss, "csat")
    assert csat["counts"] == {"5": 1, "4": 0, "3": 0, "2": 0, "1": 0, "no_answer": 2}
    assert (csat["surveyed"], csat["rated"]) == (3, 1)
    assert csat["response_rate"] == pytest.approx(1 / 3)
    assert csat["csat"] == 1.0
    follow = await chart(client, boss, "followups")
    assert {k: v for k, v in follow["counts"].items() if v} == {
        "solved": 1,
        "recurred": 1,
        "pending": 1,
    }
    assert follow["total"] == 3 and follow["solved_rate"] == pytest.approx(1 / 3)
    onsite = await chart(client, boss, "onsite")
    tier1 = onsite["tiers"][0]
    assert tier1["counts"] == {"met": 1, "missed": 1, "open": 1, "cancelled": 1}
    assert tier1["on_time_rate"] == 0.5 and onsite["tiers"][1]["on_time_rate"] is None
    load = await chart(client, boss, "load")
    bj01 = next(s for s in load["stations"] if s["code"] == "BJ01")
    # Ours and the seeded demo bookings of BJ01, against 3 days of its 24 a day.
    assert bj01["orders"] >= 8 and bj01["on_time_rate"] == 0.5
    assert bj01["load"] == pytest.approx(bj01["orders"] / (24 * 3))

    # The reopened order is closed again: its 回访 counts once, by the new round.
    await move(client, recurred, "scheduled", *TO_CLOSED)
    await rollups.refresh(db, at(41), Clock.to_db(now.now() - timedelta(minutes=1)), settings)
    assert await rollups.check(db, at(41), settings) == []
    follow = await chart(client, boss, "followups")
    assert {k: v for k, v in follow["counts"].items() if v} == {"solved": 1, "pending": 2}

    # Filters: the region, the product category and the channel narrow every chart.
    assert (await chart(client, boss, "csat", region="上海"))["surveyed"] == 0
    assert (await chart(client, boss, "csat", region="北京"))["surveyed"] == 3
    assert (await chart(client, boss, "csat", channel="telegram"))["surveyed"] == 0
    assert (await chart(client, boss, "csat", category="laptop"))["surveyed"] == 3
    assert (await chart(client, boss, "csat", category="printer"))["surveyed"] == 0
    # A bar opens the orders behind it: the rated order, the tier's on-site orders.
    period = {"from": "2026-11-20", "to": "2026-11-22"}
    rows = await (
        await client.get("/desk/api/reports/orders", params=period | {"rating": "5"}, headers=boss)
    ).json()
    assert [r["id"] for r in rows] == [solved]
    rows = await (
        await client.get(
            "/desk/api/reports/orders",
            params=period | {"kind": "on_site", "tier": "1"},
            headers=boss,
        )
    ).json()
    assert len(rows) == 4
    assert open_ not in {r["id"] for r in rows}


async def test_operators_read_reports_and_alerts_but_no_conversation(client_at: ClientAt) -> None:
    client = await client_at(at(0))
    operator = await desk_headers(client, "zhao", PASSWORD)
    agent = await desk_headers(client, "zhang", PASSWORD)
    await chart(client, operator, "csat")
    assert (await client.get("/desk/api/insight/alerts", headers=operator)).status == 200
    for path in ("/desk/api/handoffs", "/desk/api/staff", "/desk/api/audit"):
        reply = await client.get(path, headers=operator)
        assert (reply.status, (await reply.json())["error"]["code"]) == (403, "reports_only")
    assert (await client.get("/desk/ws", headers=operator)).status == 401
    me = await (await client.get("/desk/api/me", headers=operator)).json()
    assert me["role"] == "operator"
    reply = await client.get(
        "/desk/api/reports/chart",
        params={"chart": "csat", "from": "2026-11-20", "to": "2026-11-20"},
        headers=agent,
    )
    assert (reply.status, (await reply.json())["error"]["code"]) == (403, "supervisors_only")
    assert (await client.get("/desk/api/insight/alerts", headers=agent)).status == 403
    # An operator is nobody an agent can hand a conversation to.
    staff = await (await client.get("/desk/api/staff", headers=agent)).json()
    assert "zhao" not in {s["display_name"] for s in staff}
