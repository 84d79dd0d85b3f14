"""The fault-case base learns from repairs: outcomes recorded at close, past cases of the same
model and error code shown with an order, a recurring fix drafted into a fault case that a
supervisor approves (then the bot finds it) or rejects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.settings import Settings
from tests.support.api import call
from tests.support.database import API_HEADERS, add_staff_user
from tests.support.portals import add_people, as_staff, session

FIX = {"root_cause": "hinge_cable_worn", "fix": "replace_lcd_cable"}


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> TestClient:
    await add_staff_user(db)
    await add_people(db, clock)
    made: TestClient = await aiohttp_client(
        create_app(settings, clock), cookie_jar=aiohttp.DummyCookieJar()
    )
    return made


async def repaired(
    client: TestClient, who: dict[str, str], station: str, error_code: str, start: str
) -> str:
    body = {
        "kind": "drop_off",
        "model_code": "XB14",
        "fault": f"屏幕开合时闪烁 {start}",
        "error_code": error_code,
        "station_code": station,
        "slot_date": "2026-11-21",
        "slot_start": start,
        "phone": "13800138000",
    }
    order = (await call(client, "POST", "/api/workorders", 201, json=body, headers=API_HEADERS))[
        "id"
    ]
    for to, parts in (
        ("accepted", []),
        ("received", []),
        ("diagnosing", []),
        ("repaired", ["lcd_cable"]),
    ):
        await as_staff(
            client,
            who,
            "POST",
            f"/station/api/orders/{order}/steps",
            200,
            json={"to": to, "parts": parts},
        )
    return str(order)


async def close(
    client: TestClient, who: dict[str, str], order: str, outcome: dict[str, str] = FIX
) -> Any:
    return await as_staff(
        client,
        who,
        "POST",
        f"/station/api/orders/{order}/steps",
        200,
        json={"to": "closed", "note": "更换屏线后开合测试正常", "outcome": outcome},
    )


async def bot_finds(client: TestClient, code: str) -> list[str]:
    hits = await call(
        client,
        "POST",
        "/api/knowledge/search",
        200,
        json={"q": f"笔记本屏幕闪烁 报错 {code}", "model": "XB14"},
        headers=API_HEADERS,
    )
    return [h["case"]["code"] for h in hits]


async def drafts(client: TestClient, boss: dict[str, str], status: str = "draft") -> Any:
    return await as_staff(client, boss, "GET", f"/desk/api/case-drafts?status={status}", 200)


async def test_a_recurring_fix_becomes_a_fault_case_once_a_supervisor_approves(
    client: TestClient,
) -> None:
    bj01, sh01 = await session(client, "bj01"), await session(client, "sh01")
    boss, agent = await session(client, "wang"), await session(client, "zhang")
    first = await repaired(client, bj01, "BJ01", "P-088", "09:00")
    await close(client, bj01, first)
    # Another fix, and another error code, do not count with it.
    other = await repaired(client, bj01, "BJ01", "P-088", "10:30")
    await close(client, bj01, other, {"root_cause": "driver_bug", "fix": "update_driver"})
    unrelated = await repaired(client, bj01, "BJ01", "P-099", "13:30")
    await close(client, bj01, unrelated)
    # The same code written differently is the same code.
    second = await repaired(client, sh01, "SH01", "p088", "09:00")
    detail = await as_staff(client, sh01, "GET", f"/station/api/orders/{second}", 200)
    past = {p["work_order_id"]: p for p in detail["similar"]}
    assert set(past) == {first, other}
    assert past[first]["parts"] == ["lcd_cable"] and past[first]["station_code"] == "BJ01"
    assert "phone" not in past[first]
    await close(client, sh01, second)
    assert await drafts(client, boss) == []
    before = await bot_finds(client, "P-088")

    third = await repaired(client, bj01, "BJ01", "P-088", "13:30")
    await close(client, bj01, third)
    [draft] = await drafts(client, boss)
    assert (draft["model_code"], draft["error_code"], draft["occurrences"]) == ("XB14", "p088", 3)
    assert draft["parts"] == ["lcd_cable"] and draft["steps"] == ["更换屏线后开合测试正常"]
    # The customers' words, each once.
    assert draft["symptoms"] == ["屏幕开合时闪烁 09:00", "屏幕开合时闪烁 13:30"]
    # Not used by the bot until reviewed, and reviewed by supervisors only.
    assert await bot_finds(client, "P-088") == before
    body = await as_staff(client, agent, "GET", "/desk/api/case-drafts", 403)
    assert body["error"]["code"] == "supervisors_only"
    review = f"/desk/api/case-drafts/{draft['id']}/review"
    await as_staff(client, boss, "POST", review, 422, json={"decision": "approve"})
    approved = await as_staff(
        client,
        boss,
        "POST",
        review,
        200,
        json={
            "decision": "approve",
            "title": "XB14 屏幕开合闪烁（P-088）",
            "steps": ["保存数据后关机", "轻轻开合屏幕，观察是否在某个角度闪烁"],
            "stop_when": "某个角度必现闪烁时停止自查，预约更换屏线",
        },
    )
    case = approved["case"]
    assert (
        approved["draft"]["status"] == "approved" and approved["draft"]["case_code"] == case["code"]
    )
    assert case["code"] == "KB061" and case["error_codes"] == ["p088"]
    assert case["suspect_part"] == "lcd_cable" and case["category"] == "laptop"
    assert case["code"] in await bot_finds(client, "P-088")
    body = await as_staff(client, boss, "POST", review, 409, json={"decision": "reject"})
    assert body["error"]["code"] == "already_reviewed"
    # A fourth time updates the count of the reviewed draft; no new draft.
    fourth = await repaired(client, sh01, "SH01", "P-088", "10:30")
    await close(client, sh01, fourth)
    assert await drafts(client, boss) == []
    assert (await drafts(client, boss, "approved"))[0]["occurrences"] == 4


async def test_a_rejected_draft_never_reaches_the_bot(client: TestClient) -> None:
    bj01, boss = await session(client, "bj01"), await session(client, "wang")
    for start in ("09:00", "10:30", "13:30"):
        await close(client, bj01, await repaired(client, bj01, "BJ01", "P-077", start))
    [draft] = await drafts(client, boss)
    before = await bot_finds(client, "P-077")
    rejected = await as_staff(
        client,
        boss,
        "POST",
        f"/desk/api/case-drafts/{draft['id']}/review",
        200,
        json={"decision": "reject"},
    )
    assert rejected["draft"]["status"] == "rejected" and rejected["case"] is None
    assert await bot_finds(client, "P-077") == before
    await as_staff(
        client, boss, "POST", "/desk/api/case-drafts/999/review", 404, json={"decision": "reject"}
    )
