"""Complaints and handoff requests: recorded, linked, idempotent, tracked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.db import Database, create_engine
from bot.settings import Settings
from tests.support.api import call, error_code
from tests.support.database import API_HEADERS, add_staff_user
from tests.support.fake_rasa import FakeRasa, ServerFactory


@pytest.fixture
async def api_and_rasa(
    aiohttp_client: Callable[..., Any],
    aiohttp_server: ServerFactory,
    settings: Settings,
    clock: Clock,
) -> TestClient:
    """The API with a stand-in for Rasa: closing a handoff resumes the conversation there."""
    rasa = await FakeRasa.start(aiohttp_server)
    database = Database(create_engine(settings.database_url))
    try:
        await add_staff_user(database)
    finally:
        await database.close()
    client: TestClient = await aiohttp_client(
        create_app(replace(settings, rasa_url=rasa.url), clock), headers=API_HEADERS
    )
    return client


async def test_record_and_track_a_complaint(api: TestClient) -> None:
    payload = {
        "text": "第三次修了还是黑屏，你们到底能不能修好！",
        "severity": "high",
        "conversation_id": "c-9",
        "channel": "telegram",
        "serial": "pf7d2v5l",
        "work_order_id": "wo20261110-0001",
    }
    created = await call(
        api, "POST", "/api/complaints", 201, json=payload, headers={"Idempotency-Key": "c-9:1"}
    )
    assert created["id"] == "CP20261120-0001"
    assert (created["status"], created["serial"], created["work_order_id"]) == (
        "open",
        "PF7D2V5L",
        "WO20261110-0001",
    )
    again = await call(
        api, "POST", "/api/complaints", 200, json=payload, headers={"Idempotency-Key": "c-9:1"}
    )
    assert again["id"] == created["id"]
    moved = await call(
        api,
        "PATCH",
        f"/api/complaints/{created['id']}",
        200,
        json={"status": "resolved", "resolution": "已为客户换机"},
    )
    assert moved["resolution"] == "已为客户换机"
    closed = await call(
        api, "PATCH", f"/api/complaints/{created['id']}", 200, json={"status": "closed"}
    )
    assert closed["resolution"] == "已为客户换机"
    assert (
        await error_code(
            api, "PATCH", f"/api/complaints/{created['id']}", 409, json={"status": "open"}
        )
        == "invalid_transition"
    )


async def test_complaints_are_listed_most_severe_first(api: TestClient) -> None:
    for severity in ("low", "critical", "medium"):
        await call(
            api,
            "POST",
            "/api/complaints",
            201,
            json={"text": f"{severity} 投诉", "severity": severity},
        )
    listed = await call(api, "GET", "/api/complaints", 200, params={"status": "open"})
    assert [c["severity"] for c in listed] == ["critical", "medium", "low"]


async def test_bad_complaints(api: TestClient) -> None:
    assert (
        await error_code(api, "POST", "/api/complaints", 422, json={"text": ""}) == "invalid_body"
    )
    assert (
        await error_code(
            api, "POST", "/api/complaints", 422, json={"text": "x", "severity": "apocalyptic"}
        )
        == "invalid_body"
    )
    assert (
        await error_code(api, "POST", "/api/complaints", 422, json={"text": "x", "serial": "??"})
        == "invalid_body"
    )
    long_text = "投诉" * 5000  # a 10,000-character message is kept whole
    created = await call(api, "POST", "/api/complaints", 201, json={"text": long_text})
    assert len(created["text"]) == 10_000
    assert await error_code(api, "GET", "/api/complaints/CP1", 400) == "invalid_complaint_id"


async def test_a_handoff_carries_its_package_and_is_opened_once(api_and_rasa: TestClient) -> None:
    api = api_and_rasa
    complaint = await call(
        api, "POST", "/api/complaints", 201, json={"text": "服务太差", "severity": "high"}
    )
    package = {
        "customer_name": "李女士",
        "serial": "PF7D2V5L",
        "model_code": "XG15",
        "warranty": "同一故障已修两次，可换货",
        "fault": "开机无显示",
        "steps_tried": ["长按电源键", "换电源适配器"],
        "last_message": "我要找人工",
    }
    body = {
        "conversation_id": "c-10",
        "channel": "web",
        "reason": "complaint",
        "package": package,
        "complaint_id": complaint["id"],
    }
    handoff = await call(api, "POST", "/api/handoffs", 201, json=body)
    assert handoff["id"] == "HO20261120-0001"
    assert handoff["status"] == "waiting"
    assert handoff["package"]["steps_tried"] == ["长按电源键", "换电源适配器"]
    # Asking again while waiting is the same handoff.
    again = await call(api, "POST", "/api/handoffs", 200, json={**body, "reason": "requested"})
    assert again["id"] == handoff["id"]
    other = await call(
        api,
        "POST",
        "/api/handoffs",
        201,
        json={"conversation_id": "c-11", "channel": "telegram", "reason": "requested"},
    )
    queue = await call(api, "GET", "/api/handoffs", 200, params={"status": "waiting"})
    assert [h["id"] for h in queue] == [handoff["id"], other["id"]]
    await call(api, "PATCH", f"/api/handoffs/{handoff['id']}", 200, json={"status": "closed"})
    assert (
        await error_code(
            api, "PATCH", f"/api/handoffs/{handoff['id']}", 409, json={"status": "waiting"}
        )
        == "closed"
    )
    # Once closed, a new request opens a new handoff.
    fresh = await call(api, "POST", "/api/handoffs", 201, json={**body, "complaint_id": None})
    assert fresh["id"] != handoff["id"]


async def test_bad_handoffs(api: TestClient) -> None:
    assert (
        await error_code(
            api,
            "POST",
            "/api/handoffs",
            422,
            json={"conversation_id": "c", "channel": "web", "reason": "bored"},
        )
        == "invalid_body"
    )
    assert (
        await error_code(
            api,
            "POST",
            "/api/handoffs",
            404,
            json={
                "conversation_id": "c",
                "channel": "web",
                "reason": "complaint",
                "complaint_id": "CP20261120-0042",
            },
        )
        == "complaint_not_found"
    )
