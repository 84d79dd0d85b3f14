"""The survey (CSAT) and the 回访 of a closed work order: once per order and round, the delay,
one reminder, expiry, a reopen that cancels and a close that starts round 2; the customer's
回访 answers and the staff's task list when nobody answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.settings import Settings
from tests.support.api import call, error_code
from tests.support.database import API_HEADERS
from tests.support.outbox import TO_CLOSED, Channel, at, book, desk_headers, move, rows, worker


async def closed_order(api: TestClient, **changes: Any) -> str:
    order_id = await book(api, **changes)
    await move(api, order_id, *TO_CLOSED)
    return order_id


def payloads(channel: Channel, key: str) -> list[str]:
    [delivery] = [d for d in channel.delivered if d.key == key]
    return [b["payload"] for b in delivery.message.buttons]


async def test_the_survey_waits_two_hours_then_offers_five_scores(
    api: TestClient, db: Database
) -> None:
    order_id = await closed_order(api)
    channel = Channel()
    w = worker(db, channel)
    await w.deliver_due(at(hours=1, minutes=59))
    assert f"{order_id}:csat:1" not in channel.sent_keys()
    await w.deliver_due(at(hours=2))
    scores = [
        json.loads(p.removeprefix("/rate_service"))["score"]
        for p in payloads(channel, f"{order_id}:csat:1")
    ]
    assert scores == ["5", "4", "3", "2", "1"]
    assert all(order_id in p for p in payloads(channel, f"{order_id}:csat:1"))
    # The rating lands on the order through the existing route.
    order = await call(api, "POST", f"/api/workorders/{order_id}/rating", 200, json={"score": 4})
    assert order["rating"] == 4


async def test_one_reminder_then_nothing_and_none_once_rated(api: TestClient, db: Database) -> None:
    # Two customers: one customer is surveyed about one order a week (test_one_survey_a_week).
    rated = await closed_order(api)
    silent = await closed_order(api, phone="13900139000", conversation_id="conv-other")
    channel = Channel()
    w = worker(db, channel)
    await w.deliver_due(at(hours=2))
    await call(api, "POST", f"/api/workorders/{rated}/rating", 200, json={"score": 5})
    await w.deliver_due(at(hours=49, minutes=59))
    assert f"{silent}:csat_reminder:1" not in channel.sent_keys()
    await w.deliver_due(at(hours=50))
    await w.deliver_due(at(days=10))
    reminders = [k for k in channel.sent_keys() if ":csat_reminder:" in k]
    assert reminders == [f"{silent}:csat_reminder:1"]
    assert ("csat_reminder", 1, "skipped") in await rows(db, rated)
    assert "12月4日" in channel.delivered[channel.sent_keys().index(reminders[0])].message.text


async def test_the_survey_expires_after_fourteen_days(
    api: TestClient, db: Database, api_at: Callable[..., Any]
) -> None:
    order_id = await closed_order(api)
    # The backend was down for two weeks: the survey is not sent late.
    await worker(db, Channel()).deliver_due(at(days=14, minutes=1))
    assert ("csat", 1, "skipped") in await rows(db, order_id)
    late = await api_at(at(days=14, minutes=1))
    assert (
        await error_code(late, "POST", f"/api/workorders/{order_id}/rating", 409, json={"score": 3})
        == "rating_expired"
    )


@pytest.fixture
def api_at(aiohttp_client: Callable[..., Any], settings: Settings) -> Callable[..., Any]:
    """The backend as it answers at another moment (a new app on the same database)."""

    async def make(clock: Clock) -> TestClient:
        client: TestClient = await aiohttp_client(create_app(settings, clock), headers=API_HEADERS)
        return client

    return make


async def test_a_reopen_cancels_the_survey_and_the_next_close_is_round_two(
    api: TestClient, db: Database
) -> None:
    order_id = await closed_order(api)
    await move(api, order_id, "created", actor="desk:qa")  # reopened before the survey went
    assert [r for r in await rows(db, order_id) if r[0] in ("csat", "followup")] == [
        ("csat", 1, "cancelled"),
        ("followup", 1, "cancelled"),
    ]
    await move(api, order_id, "scheduled", *TO_CLOSED)
    # A second close of the same order does not write round 1 again.
    events = [r for r in await rows(db, order_id) if r[0] in ("csat", "followup", "closed")]
    assert ("csat", 2, "pending") in events and ("closed", 2, "pending") in events
    channel = Channel()
    await worker(db, channel).deliver_due(at(hours=2))
    assert [k for k in channel.sent_keys() if ":csat:" in k] == [f"{order_id}:csat:2"]


async def test_the_followup_asks_after_three_days_and_solved_ends_it(
    api: TestClient, db: Database
) -> None:
    order_id = await closed_order(api)
    channel = Channel()
    w = worker(db, channel)
    await w.deliver_due(at(days=2, hours=23))
    assert f"{order_id}:followup:1" not in channel.sent_keys()
    await w.deliver_due(at(days=3))
    assert [
        p.split('"followup_outcome":')[1] for p in payloads(channel, f"{order_id}:followup:1")
    ] == ['"solved"}', '"recurred"}']
    task = await call(
        api, "POST", f"/api/workorders/{order_id}/followup", 200, json={"outcome": "solved"}
    )
    assert (task["status"], task["outcome"]) == ("answered", "solved")
    code = await error_code(
        api, "POST", f"/api/workorders/{order_id}/followup", 409, json={"outcome": "solved"}
    )
    assert code == "followup_closed"
    order = await call(api, "GET", f"/api/workorders/{order_id}", 200)
    assert order["status"] == "closed"
    assert order["timeline"][-1]["note"] == "followup solved"


async def test_not_solved_reopens_the_order_and_opens_a_complaint(
    api: TestClient, db: Database
) -> None:
    order_id = await closed_order(api)
    channel = Channel()
    await worker(db, channel).deliver_due(at(days=3))
    task = await call(
        api, "POST", f"/api/workorders/{order_id}/followup", 200, json={"outcome": "recurred"}
    )
    assert task["status"] == "answered"
    order = await call(api, "GET", f"/api/workorders/{order_id}", 200)
    assert order["status"] == "created"
    assert order["timeline"][-1]["actor"] == "customer:followup"
    # The pending reminder of the survey goes with the close it belonged to.
    assert ("csat_reminder", 1, "cancelled") in await rows(db, order_id)
    async with db.read() as conn:
        complaint = (
            await conn.execute(
                select(tables.complaints).where(tables.complaints.c.work_order_id == order_id)
            )
        ).one()
    assert complaint.status == "open" and complaint.conversation_id == "conv-outbox"


async def test_no_answer_in_a_day_makes_a_task_for_staff(
    api: TestClient, db: Database, api_at: Callable[..., Any]
) -> None:
    order_id = await closed_order(api)
    channel = Channel()
    w = worker(db, channel)
    await w.deliver_due(at(days=3))
    desk = await api_at(at(days=3, hours=1))
    headers = await desk_headers(desk, db, at(days=3, hours=1))
    assert await call(desk, "GET", "/desk/api/followups", 200, headers=headers) == []
    desk = await api_at(at(days=4, hours=1))
    headers = await desk_headers(desk, db, at(days=4, hours=1))
    [task] = await call(desk, "GET", "/desk/api/followups", 200, headers=headers)
    assert (task["work_order_id"], task["overdue"], task["phone"]) == (
        order_id,
        False,
        "13800138000",
    )
    desk = await api_at(at(days=5, hours=1))
    headers = await desk_headers(desk, db, at(days=5, hours=1))
    [task] = await call(desk, "GET", "/desk/api/followups", 200, headers=headers)
    assert task["overdue"]
    path = f"/desk/api/followups/{task['id']}/outcome"
    retry = await call(
        desk,
        "POST",
        path,
        200,
        headers=headers,
        json={"outcome": "unreachable", "note": "无人接听"},
    )
    assert (retry["status"], retry["attempts"]) == ("scheduled", 1)
    assert await call(desk, "GET", "/desk/api/followups", 200, headers=headers) == []
    desk = await api_at(at(days=6, hours=1))
    headers = await desk_headers(desk, db, at(days=6, hours=1))
    done = await call(desk, "POST", path, 200, headers=headers, json={"outcome": "satisfied"})
    assert (done["status"], done["outcome"], done["attempts"]) == ("done", "satisfied", 2)
    order = await call(desk, "GET", f"/api/workorders/{order_id}", 200)
    notes = [(e["note"], e["actor"]) for e in order["timeline"][-2:]]
    assert notes == [
        ("followup unreachable: 无人接听", "staff:zhao"),
        ("followup satisfied", "staff:zhao"),
    ]


async def test_a_customer_without_any_channel_is_called_by_staff(
    api: TestClient, db: Database
) -> None:
    order_id = await book(api, conversation_id=None, channel=None, phone=None)
    await move(api, order_id, *TO_CLOSED)
    await worker(db, Channel()).deliver_due(at(days=3))
    assert ("followup", 1, "skipped") in await rows(db, order_id)
    f = tables.followups
    async with db.read() as conn:
        task = (await conn.execute(select(f).where(f.c.work_order_id == order_id))).one()
    assert task.due_at is not None and task.asked_at is None
