"""Reports: the definitions on hand-made event sequences, conversation facts from Rasa's events,
rollups that equal the raw counts (refreshed, rebuilt, checked), the charts and the exports
(the XLSX opened with openpyxl), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import select, update

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import create_account
from bot.reports import rollups
from bot.reports.conversations import store_events
from bot.reports.definitions import fold
from bot.reports.synthetic import Plan, generate
from bot.settings import Settings
from tests.support.desk import desk_headers

PASSWORD = "reports-test-password"


def _events(*kinds: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"timestamp": 1_795_000_000.0 + i, **k} for i, k in enumerate(kinds)]


def _user(intent: str = "report_fault") -> dict[str, Any]:
    return {"event": "user", "input_channel": "webchat", "parse_data": {"intent": {"name": intent}}}


def _facts(events: list[dict[str, Any]]) -> Any:
    facts = None
    for event in events:
        facts = fold(facts, event)
    return facts


# --- definitions ------------------------------------------------------------------------


def test_a_conversation_without_customer_messages_is_not_counted() -> None:
    facts = _facts(_events({"event": "session_started"}, {"event": "action", "name": "x"}))
    assert not facts.counted


def test_a_conversation_handed_off_then_finished_by_the_bot_counts_once_as_handed_off() -> None:
    facts = _facts(
        _events(_user(), {"event": "pause"}, {"event": "resume"}, _user(), {"event": "bot"})
    )
    assert (facts.counted, facts.outcome, facts.user_turns) == (True, "handed_off", 2)


def test_fallback_turns_are_customer_messages_the_nlu_could_not_place() -> None:
    facts = _facts(_events(_user("nlu_fallback"), _user("nlu_fallback"), _user()))
    assert (facts.fallback_turns, facts.user_turns, facts.outcome) == (2, 3, "contained")


def test_the_diagnosis_is_the_last_case_on_the_last_model() -> None:
    facts = _facts(
        _events(
            _user(),
            {"event": "slot", "name": "model", "value": "LJ2605DN"},
            {"event": "slot", "name": "kb_case", "value": "KB001"},
            {"event": "slot", "name": "kb_case", "value": "KB007"},
            {"event": "slot", "name": "kb_case", "value": None},
        )
    )
    assert (facts.model_code, facts.fault_code) == ("LJ2605DN", "KB007")


# --- conversation facts and rollups -----------------------------------------------------


async def test_events_in_two_batches_make_one_conversation(db: Database, clock: Clock) -> None:
    events = _events(_user("nlu_fallback"), {"event": "pause"}, _user())
    await store_events(db, clock, [(1, "c1", events[0]), (2, "c2", {"event": "session_started"})])
    await store_events(db, clock, [(3, "c1", events[1]), (4, "c1", events[2])])
    r = tables.report_conversations
    async with db.read() as conn:
        rows = list(await conn.execute(select(r)))
        cursor = await conn.scalar(
            select(tables.desk_cursors.c.position).where(
                tables.desk_cursors.c.name == "report_events"
            )
        )
    assert [(x.conversation_id, x.user_turns, x.fallback_turns, x.handed_off) for x in rows] == [
        ("c1", 2, 1, True)
    ]
    assert cursor == 4


async def test_rollups_follow_changes_and_equal_the_raw_counts(db: Database, clock: Clock) -> None:
    made = await generate(db, clock, Plan(days=20, orders_per_day=15, conversations_per_day=10))
    assert made > 200
    assert await rollups.rebuild(db, clock) > 0
    assert await rollups.check(db, clock) == []
    # A raw change the rollups have not seen yet is found by the check...
    w = tables.work_orders
    async with db.write() as conn:
        order = await conn.scalar(select(w.c.id).where(w.c.status == "scheduled").limit(1))
        await conn.execute(
            update(w)
            .where(w.c.id == order)
            .values(status="cancelled", updated_at=Clock.to_db(clock.now()))
        )
    wrong = await rollups.check(db, clock)
    assert any("orders" in line and "cancelled" in line for line in wrong)
    # ... and the refresh puts right the day of that order, though it is not today.
    await rollups.refresh(db, clock, Clock.to_db(clock.now() - timedelta(seconds=5)))
    assert await rollups.check(db, clock) == []


# --- the HTTP side ----------------------------------------------------------------------


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> TestClient:
    async with db.write() as conn:
        await create_account(conn, "wang", "王芳", "supervisor", PASSWORD, Clock.to_db(clock.now()))
        await create_account(conn, "zhang", "张敏", "agent", PASSWORD, Clock.to_db(clock.now()))
    client: TestClient = await aiohttp_client(
        create_app(settings, clock), cookie_jar=aiohttp.DummyCookieJar()
    )
    return client


async def login(backend: TestClient, username: str) -> dict[str, str]:
    return await desk_headers(backend, username, PASSWORD)


async def test_reports_are_for_supervisors_and_check_their_filters(
    backend: TestClient, clock: Clock
) -> None:
    today = clock.today().isoformat()
    agent = await login(backend, "zhang")
    reply = await backend.get(
        f"/desk/api/reports/chart?chart=orders&from={today}&to={today}", headers=agent
    )
    assert (reply.status, (await reply.json())["error"]["code"]) == (403, "supervisors_only")
    boss = await login(backend, "wang")
    for query, code in (
        (f"chart=orders&from={today}&to=2020-01-01", 422),
        ("chart=orders&from=2025-01-01&to=2026-11-20", 422),
        (f"chart=nothing&from={today}&to={today}", 404),
        (f"chart=orders&from={today}", 422),
    ):
        assert (await backend.get(f"/desk/api/reports/chart?{query}", headers=boss)).status == code


async def test_charts_drill_down_and_exports(
    backend: TestClient, db: Database, clock: Clock
) -> None:
    await generate(db, clock, Plan(days=30, orders_per_day=12, conversations_per_day=8))
    await rollups.rebuild(db, clock)
    boss = await login(backend, "wang")
    period = (
        f"from={(clock.today() - timedelta(days=29)).isoformat()}&to={clock.today().isoformat()}"
    )
    charts = {}
    for chart in ("conversations", "handoffs", "orders", "faults", "sla", "alerts"):
        reply = await backend.get(f"/desk/api/reports/chart?chart={chart}&{period}", headers=boss)
        assert reply.status == 200, await reply.text()
        charts[chart] = await reply.json()
    conv = charts["conversations"]
    assert conv["total"] > 0
    assert conv["containment_rate"] + conv["handoff_rate"] == pytest.approx(1.0)
    assert 0 <= conv["fallback_rate"] <= 1
    total_orders = sum(charts["orders"]["statuses"].values())
    assert total_orders == charts["faults"]["total"]
    async with db.read() as conn:
        raw = await conn.scalar(
            select(tables.work_orders.c.id).order_by(tables.work_orders.c.id.desc())
        )
    assert raw is not None

    # The top fault's bar opens the orders behind it: as many as the bar says.
    top = charts["faults"]["top"][0]
    behind = f"{period}&model={top['model']}&fault={top['fault']}"
    rows = await (await backend.get(f"/desk/api/reports/orders?{behind}", headers=boss)).json()
    assert len(rows) == min(top["count"], 200)
    assert {(r["model_code"], r["error_code"]) for r in rows} == {(top["model"], top["fault"])}

    # A model filter narrows the charts to that model.
    narrowed = await (
        await backend.get(
            f"/desk/api/reports/chart?chart=faults&{period}&model={top['model']}", headers=boss
        )
    ).json()
    assert {t["model"] for t in narrowed["top"]} == {top["model"]}

    reply = await backend.get(f"/desk/api/reports/orders.csv?{behind}", headers=boss)
    assert reply.status == 200
    assert "attachment" in reply.headers["Content-Disposition"]
    body = await reply.read()
    assert body.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][0] == "工单号" and len(table) == top["count"] + 1

    reply = await backend.get(f"/desk/api/reports/orders.xlsx?{period}", headers=boss)
    assert reply.status == 200
    book = load_workbook(io.BytesIO(await reply.read()), read_only=True)
    sheet = book.active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0][:3] == ("工单号", "创建时间", "状态")
    assert len(lines) == total_orders + 1


async def test_a_cell_a_spreadsheet_would_run_is_kept_as_text(
    backend: TestClient, db: Database, clock: Clock
) -> None:
    await generate(db, clock, Plan(days=1, orders_per_day=3))
    w = tables.work_orders
    async with db.write() as conn:
        await conn.execute(update(w).values(fault='=HYPERLINK("http://x","y")'))
    boss = await login(backend, "wang")
    day = clock.today().isoformat()
    body = await (
        await backend.get(f"/desk/api/reports/orders.csv?from={day}&to={day}", headers=boss)
    ).read()
    faults = [row[6] for row in csv.reader(io.StringIO(body.decode("utf-8-sig")))][1:]
    assert faults and all(f.startswith("'=") for f in faults)
