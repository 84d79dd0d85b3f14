"""Early-warning alerts kept and acted on: a scan over the stored fault reports finds a burst
and stores it once, in Chinese; supervisors list, acknowledge, dismiss with a reason or
escalate, and every decision is kept with who and when (SQLite and PostgreSQL)."""

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
from bot.desk.accounts import Role, create_account
from bot.desk.loops import begin_stop
from bot.insight.alerts import scan
from bot.insight.sources import COMPLAINT, fault_reports
from bot.insight.worker import scan_in_child
from bot.reports.synthetic import Burst, Plan, generate
from bot.settings import Settings
from tests.support.desk import desk_headers

PASSWORD = "alerts-test-password"
STAFF: tuple[tuple[str, str, Role], ...] = (
    ("wang", "王芳", "supervisor"),
    ("zhao", "赵磊", "supervisor"),
    ("zhang", "张敏", "agent"),
)
BURST = Burst("XB14", "E777", from_day=185, factor=5.0, base_per_day=1.5)


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> TestClient:
    async with db.write() as conn:
        for username, name, role in STAFF:
            await create_account(conn, username, name, role, PASSWORD, Clock.to_db(clock.now()))
    client: TestClient = await aiohttp_client(
        create_app(settings, clock), cookie_jar=aiohttp.DummyCookieJar()
    )
    return client


async def test_no_reports_no_alerts(db: Database, clock: Clock) -> None:
    assert await scan(db, clock) == 0


async def test_complaints_and_the_bots_diagnoses_are_fault_reports(
    db: Database, clock: Clock
) -> None:
    now = Clock.to_db(clock.now())
    async with db.write() as conn:
        serial, model = (
            await conn.execute(
                select(tables.devices.c.serial, tables.devices.c.model_code).limit(1)
            )
        ).one()
        await conn.execute(
            tables.complaints.insert().values(
                id="CP20261120-9001",
                serial=serial,
                severity="high",
                text="又坏了",
                status="open",
                created_at=now,
                updated_at=now,
            )
        )
        for conversation in ("diag-1", "diag-2"):
            await conn.execute(
                tables.report_conversations.insert().values(
                    conversation_id=conversation,
                    day=clock.today(),
                    channel="webchat",
                    user_turns=3,
                    fallback_turns=0,
                    handed_off=False,
                    model_code="LJ2605DN",
                    fault_code="KB012",
                    first_at=now,
                )
            )
        # The second diagnosis booked a work order: that order is the same fault, counted once.
        order = await conn.scalar(select(tables.work_orders.c.id).limit(1))
        await conn.execute(
            tables.work_orders.update()
            .where(tables.work_orders.c.id == order)
            .values(conversation_id="diag-2", created_at=now)
        )
    async with db.read() as conn:
        reports = await fault_reports(conn, clock, clock.today(), clock.today())
    kinds = sorted(
        (r.model_code, r.fault_code) for r in reports if r.fault_code in (COMPLAINT, "KB012")
    )
    assert kinds == sorted([(model, COMPLAINT), ("LJ2605DN", "KB012")])


async def test_a_burst_is_raised_once_in_chinese_and_supervisors_decide(
    backend: TestClient, db: Database, clock: Clock
) -> None:
    await generate(db, clock, Plan(days=200, orders_per_day=20, bursts=[BURST]))
    assert await scan(db, clock) >= 1
    assert await scan(db, clock) == 0  # stored once
    a = tables.insight_alerts
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(a).where(
                    a.c.model_code == BURST.model_code, a.c.fault_code == BURST.error_code
                )
            )
        ).one()
    assert row.status == "new" and row.observed > row.expected * 2
    assert row.summary.startswith("【故障预警】XB14 · E777")
    assert "起" in row.summary and "应约" in row.summary and "偶然" in row.summary

    agent = await desk_headers(backend, "zhang", PASSWORD)
    wang = await desk_headers(backend, "wang", PASSWORD)
    zhao = await desk_headers(backend, "zhao", PASSWORD)
    path = f"/desk/api/insight/alerts/{row.id}/decisions"
    reply = await backend.post(path, json={"action": "acknowledge"}, headers=agent)
    assert (reply.status, (await reply.json())["error"]["code"]) == (403, "supervisors_only")
    assert (await backend.get("/desk/api/insight/alerts", headers=agent)).status == 403
    reply = await backend.post(path, json={"action": "dismiss", "reason": "  "}, headers=wang)
    assert (reply.status, (await reply.json())["error"]["code"]) == (422, "reason_required")
    reply = await backend.post(
        "/desk/api/insight/alerts/999999/decisions", json={"action": "acknowledge"}, headers=wang
    )
    assert reply.status == 404
    assert (
        await backend.post(
            "/desk/api/insight/alerts/x1/decisions", json={"action": "acknowledge"}, headers=wang
        )
    ).status == 400

    new = await (await backend.get("/desk/api/insight/alerts?status=new", headers=wang)).json()
    assert row.id in [x["id"] for x in new]
    assert (await backend.post(path, json={"action": "acknowledge"}, headers=wang)).status == 200
    reply = await backend.post(
        path, json={"action": "escalate", "reason": "反馈生产线"}, headers=zhao
    )
    assert reply.status == 200
    assert (await reply.json())["status"] == "escalated"
    reply = await backend.post(path, json={"action": "dismiss", "reason": "误报"}, headers=wang)
    assert (reply.status, (await reply.json())["error"]["code"]) == (409, "alert_closed")

    shown = await (
        await backend.get("/desk/api/insight/alerts?status=escalated", headers=wang)
    ).json()
    decisions = next(x for x in shown if x["id"] == row.id)["decisions"]
    assert [(d["staff"], d["action"], d["reason"]) for d in decisions] == [
        ("王芳", "acknowledge", ""),
        ("赵磊", "escalate", "反馈生产线"),
    ]
    assert all(d["at"] for d in decisions)
    async with db.read() as conn:
        audited = (
            (
                await conn.execute(
                    select(tables.desk_audit.c.action).where(
                        tables.desk_audit.c.action.like("alert_%")
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(audited) == ["alert_acknowledge", "alert_escalate"]


async def test_the_backend_scans_in_a_child_process_on_its_own_database(
    backend: TestClient,
) -> None:
    # The child reads the app's database (a fresh copy here, with no fault history), not the
    # environment's default one.
    app = backend.app
    assert app is not None
    assert await scan_in_child(app) == "0 new alert(s)"
    begin_stop(app)
    assert await scan_in_child(app) == "stopped"
