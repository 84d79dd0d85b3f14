"""Booking, the work-order life cycle, reschedule, cancel, rating, and no double booking."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.settings import Settings
from tests.support.api import call, error_code
from tests.support.database import API_HEADERS

SATURDAY = "2026-11-21"


def booking(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "drop_off",
        "model_code": "XB14",
        "fault": "开机无显示，电源灯不亮",
        "steps_tried": ["换了插座", "长按电源键30秒"],
        "station_code": "BJ01",
        "slot_date": SATURDAY,
        "slot_start": "09:00",
        "customer_name": "王先生",
        "phone": "13800138000",
        "channel": "web",
        "conversation_id": "conv-1",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


async def book(
    api: TestClient, expect: int = 201, headers: dict[str, str] | None = None, **changes: Any
) -> Any:
    return await call(
        api, "POST", "/api/workorders", expect, json=booking(**changes), headers=headers
    )


async def test_book_a_repair(api: TestClient) -> None:
    order = await book(api, serial="pf2k7q9a", model_code=None)
    assert order["id"] == "WO20261120-0002"  # the demo data booked 0001 today
    assert order["status"] == "scheduled"
    assert order["model_code"] == "XB14" and order["serial"] == "PF2K7Q9A"
    assert (order["slot_date"], order["slot_start"], order["slot_end"]) == (
        SATURDAY,
        "09:00",
        "10:30",
    )
    assert order["station"]["name"].startswith("星辰科技授权服务中心")
    assert order["steps_tried"] == ["换了插座", "长按电源键30秒"]
    assert [e["status"] for e in order["timeline"]] == ["created", "scheduled"]
    assert order["can_cancel"] and order["can_reschedule"]
    slots = await call(
        api, "GET", "/api/stations/BJ01/slots", 200, params={"from": SATURDAY, "days": 1}
    )
    assert slots[0]["booked"] == 1


async def test_a_retried_booking_creates_one_work_order(api: TestClient) -> None:
    headers = {"Idempotency-Key": "conv-1:book:3"}
    first = await book(api, headers=headers)
    second = await book(api, expect=200, headers=headers)
    assert first["id"] == second["id"]
    slots = await call(
        api, "GET", "/api/stations/BJ01/slots", 200, params={"from": SATURDAY, "days": 1}
    )
    assert slots[0]["booked"] == 1


async def test_twenty_concurrent_bookings_for_the_last_place_give_one_work_order(
    api: TestClient,
) -> None:
    slot = (
        await call(
            api, "GET", "/api/stations/BJ01/slots", 200, params={"from": SATURDAY, "days": 1}
        )
    )[0]
    for _ in range(slot["capacity"] - 1):
        await book(api)
    responses = await asyncio.gather(
        *(api.post("/api/workorders", json=booking(phone=f"1380013{n:04d}")) for n in range(20))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 19
    codes = {(await r.json())["error"]["code"] for r in responses if r.status == 409}
    assert codes == {"slot_full"}
    slots = await call(
        api, "GET", "/api/stations/BJ01/slots", 200, params={"from": SATURDAY, "days": 1}
    )
    assert slots[0]["booked"] == slots[0]["capacity"]
    assert slots[0]["free"] == 0


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"slot_date": "2026-11-22"}, 409, "slot_unavailable"),  # Sunday: closed
        ({"slot_date": "2026-11-20", "slot_start": "09:00"}, 409, "slot_unavailable"),  # passed
        ({"slot_date": "2026-12-30"}, 409, "slot_unavailable"),  # beyond the horizon
        ({"slot_start": "12:15"}, 409, "slot_unavailable"),
        ({"model_code": "LJ2206"}, 409, "category_not_served"),
        ({"kind": "on_site", "address": None}, 422, "invalid_body"),
        ({"serial": "PFZZZZZZZZ", "model_code": None}, 404, "device_not_found"),
        ({"serial": "12-34", "model_code": None}, 422, "invalid_serial"),
        ({"station_code": "XX99"}, 404, "station_not_found"),
        ({"slot_date": "2026-13-01"}, 422, "invalid_body"),
        ({"fault": ""}, 422, "invalid_body"),
        ({"fault": "很长" * 1001}, 422, "invalid_body"),
        ({"phone": "call me"}, 422, "invalid_body"),
        ({"kind": "teleport"}, 422, "invalid_body"),
    ],
)
async def test_bookings_that_cannot_be_made(
    api: TestClient, changes: dict[str, Any], status: int, code: str
) -> None:
    assert await error_code(api, "POST", "/api/workorders", status, json=booking(**changes)) == code


async def test_a_refused_booking_writes_nothing(api: TestClient) -> None:
    await error_code(api, "POST", "/api/workorders", 409, json=booking(model_code="LJ2206"))
    order = await book(api)
    assert order["id"] == "WO20261120-0002"
    assert await call(api, "GET", "/api/workorders", 200, params={"conversation_id": "conv-1"}) == [
        order
    ]


async def test_status_by_id_and_by_serial(api: TestClient) -> None:
    order = await book(api, serial="MJ5R8W2K", model_code=None)
    assert (await call(api, "GET", f"/api/workorders/{order['id'].lower()}", 200))["id"] == order[
        "id"
    ]
    compact = order["id"].replace("-", "")
    assert (await call(api, "GET", f"/api/workorders/{compact}", 200))["id"] == order["id"]
    by_serial = await call(api, "GET", "/api/workorders", 200, params={"serial": "mj5r8w2k"})
    assert by_serial[0]["id"] == order["id"]
    assert len(by_serial) == 2  # and the one the demo data booked
    assert await error_code(api, "GET", "/api/workorders/WO2026-7", 400) == "invalid_work_order_id"
    assert (
        await error_code(api, "GET", "/api/workorders/WO20261340-0001", 400)
        == "invalid_work_order_id"
    )
    assert (
        await error_code(api, "GET", "/api/workorders/WO20261120-9999", 404)
        == "work_order_not_found"
    )
    assert await error_code(api, "GET", "/api/workorders", 422) == "invalid_query"


async def test_reschedule_moves_the_place(api: TestClient) -> None:
    order = await book(api)
    moved = await call(
        api,
        "POST",
        f"/api/workorders/{order['id']}/reschedule",
        200,
        json={"slot_date": "2026-11-23", "slot_start": "13:30"},
    )
    assert (moved["slot_date"], moved["slot_start"], moved["reschedule_count"]) == (
        "2026-11-23",
        "13:30",
        1,
    )
    assert moved["timeline"][-1]["note"].startswith("rescheduled to 2026-11-23 13:30")
    old = await call(
        api, "GET", "/api/stations/BJ01/slots", 200, params={"from": SATURDAY, "days": 1}
    )
    assert old[0]["booked"] == 0
    assert (
        await error_code(
            api,
            "POST",
            f"/api/workorders/{order['id']}/reschedule",
            409,
            json={"slot_date": "2026-11-23", "slot_start": "13:30"},
        )
        == "same_slot"
    )
    for start in ("09:00", "10:30"):
        await call(
            api,
            "POST",
            f"/api/workorders/{order['id']}/reschedule",
            200,
            json={"slot_date": "2026-11-24", "slot_start": start},
        )
    assert (
        await error_code(
            api,
            "POST",
            f"/api/workorders/{order['id']}/reschedule",
            409,
            json={"slot_date": "2026-11-25", "slot_start": "09:00"},
        )
        == "too_many_reschedules"
    )


async def test_a_booking_cannot_be_moved_or_cancelled_once_received(api: TestClient) -> None:
    order = await book(api)
    path = f"/api/workorders/{order['id']}"
    await call(
        api, "POST", f"{path}/transitions", 200, json={"to": "received", "actor": "station:BJ01"}
    )
    assert (
        await error_code(api, "POST", f"{path}/cancel", 409, json={"reason": "不修了"})
        == "not_changeable"
    )
    assert (
        await error_code(
            api,
            "POST",
            f"{path}/reschedule",
            409,
            json={"slot_date": "2026-11-24", "slot_start": "09:00"},
        )
        == "not_changeable"
    )


async def test_a_booking_starting_within_the_hour_cannot_be_moved(
    aiohttp_client: Any, settings: Settings, api: TestClient
) -> None:
    order = await book(api, slot_date="2026-11-20", slot_start="13:30")
    from datetime import datetime

    from tests.support.database import TZ

    later = await aiohttp_client(
        create_app(settings, Clock(TZ, fixed=datetime(2026, 11, 20, 13, 0, tzinfo=TZ))),
        headers=API_HEADERS,
    )
    body = await call(later, "GET", f"/api/workorders/{order['id']}", 200)
    assert body["can_reschedule"] is False and body["can_cancel"] is True
    assert (
        await error_code(
            later,
            "POST",
            f"/api/workorders/{order['id']}/reschedule",
            409,
            json={"slot_date": "2026-11-24", "slot_start": "09:00"},
        )
        == "too_late"
    )


async def test_cancel_frees_the_slot_and_is_idempotent(api: TestClient) -> None:
    order = await book(api)
    path = f"/api/workorders/{order['id']}/cancel"
    cancelled = await call(api, "POST", path, 200, json={"reason": "问题自己解决了"})
    assert cancelled["status"] == "cancelled" and not cancelled["can_cancel"]
    assert (await call(api, "POST", path, 200, json={"reason": "再点一次"}))[
        "status"
    ] == "cancelled"
    slots = await call(
        api, "GET", "/api/stations/BJ01/slots", 200, params={"from": SATURDAY, "days": 1}
    )
    assert slots[0]["booked"] == 0
    assert await error_code(api, "POST", path, 422, json={}) == "invalid_body"


async def test_life_cycle_repair_history_and_rating(api: TestClient) -> None:
    order = await book(api, serial="PF2K7Q9A", model_code=None)
    path = f"/api/workorders/{order['id']}"
    assert (
        await error_code(
            api, "POST", f"{path}/transitions", 409, json={"to": "closed", "actor": "x"}
        )
        == "invalid_transition"
    )
    assert await error_code(api, "POST", f"{path}/rating", 409, json={"score": 5}) == "not_closed"
    for to, part in (
        ("received", None),
        ("diagnosing", None),
        ("waiting_parts", None),
        ("repaired", "mainboard"),
        ("closed", None),
    ):
        body = {"to": to, "actor": "engineer:li", "note": f"-> {to}"} | (
            {"part": part} if part else {}
        )
        order = await call(api, "POST", f"{path}/transitions", 200, json=body)
    assert [e["status"] for e in order["timeline"]] == [
        "created",
        "scheduled",
        "received",
        "diagnosing",
        "waiting_parts",
        "repaired",
        "closed",
    ]
    device = await call(api, "GET", "/api/warranty/devices/PF2K7Q9A", 200)
    assert device["repairs"][-1]["work_order_id"] == order["id"]
    assert device["repairs"][-1]["part"] == "mainboard"
    for bad in ({"score": 6}, {"score": 0}, {"score": "5"}, {"score": 4.5}, {"score": True}):
        assert await error_code(api, "POST", f"{path}/rating", 422, json=bad) == "invalid_body"
    rated = await call(
        api, "POST", f"{path}/rating", 200, json={"score": 4, "comment": "师傅很专业"}
    )
    assert (rated["rating"], rated["rating_comment"]) == (4, "师傅很专业")
    assert (
        await error_code(api, "POST", f"{path}/rating", 409, json={"score": 5}) == "already_rated"
    )


async def test_a_restart_loses_nothing_acknowledged(
    aiohttp_client: Any, settings: Settings, clock: Clock
) -> None:
    first = await aiohttp_client(create_app(settings, clock), headers=API_HEADERS)
    order = await call(first, "POST", "/api/workorders", 201, json=booking())
    await first.close()
    second = await aiohttp_client(create_app(settings, clock), headers=API_HEADERS)
    assert (await call(second, "GET", f"/api/workorders/{order['id']}", 200))["timeline"] == order[
        "timeline"
    ]


# --- proving an order is yours: the phone check ------------------------------------------


def _check(digits: str, conversation: str = "conv-2") -> dict[str, Any]:
    return {"json": {"digits": digits, "conversation_id": conversation}}


async def test_the_phone_check_answers_match_or_not_and_never_the_phone(api: TestClient) -> None:
    order = await book(api, phone="+86 138-0013-8000")
    path = f"/api/workorders/{order['id']}/verify-phone"
    assert await call(api, "POST", path, 200, **_check("8000")) == {
        "matched": True,
        "tries_left": 3,
    }
    assert await call(api, "POST", path, 200, **_check("13800138000")) == {
        "matched": True,
        "tries_left": 3,
    }
    wrong = await call(api, "POST", path, 200, **_check("8001"))
    assert wrong == {"matched": False, "tries_left": 2}
    for malformed in ("800", "80000", "尾号8000", "13800x38000"):
        assert await error_code(api, "POST", path, 422, **_check(malformed)) == "invalid_body"
    assert (
        await error_code(api, "POST", "/api/workorders/WO20261120-0999/verify-phone", 404,
                         **_check("8000"))
        == "work_order_not_found"
    )  # fmt: skip
    without = await book(api, kind="remote", phone=None)
    assert (
        await error_code(api, "POST", f"/api/workorders/{without['id']}/verify-phone", 409,
                         **_check("8000"))
        == "no_phone_on_record"
    )  # fmt: skip


async def test_a_conversation_has_three_tries_on_an_order(api: TestClient) -> None:
    order = await book(api)
    path = f"/api/workorders/{order['id']}/verify-phone"
    left = [
        (await call(api, "POST", path, 200, **_check(d)))["tries_left"]
        for d in ("1111", "2222", "3333")
    ]
    assert left == [2, 1, 0]
    # Even the right digits: this conversation is done with this order.
    assert await error_code(api, "POST", path, 409, **_check("8000")) == "phone_tries_used"
    # Another conversation still may (the owner, coming back).
    assert (await call(api, "POST", path, 200, **_check("8000", "conv-3")))["matched"]


async def test_ten_failures_from_many_conversations_lock_the_order_for_an_hour(
    api: TestClient, aiohttp_client: Any, settings: Settings, clock: Clock
) -> None:
    order = await book(api)
    path = f"/api/workorders/{order['id']}/verify-phone"
    for n in range(10):  # a stranger, one guess per conversation
        reply = await call(api, "POST", path, 200, **_check(f"{n:04d}", f"stranger-{n}"))
        assert reply["matched"] is False
    resp = await api.post(path, **_check("8000", "owner"))
    body = await resp.json()
    assert (resp.status, body["error"]["code"]) == (409, "phone_check_locked")
    assert 3500 < body["error"]["retry_after"] <= 3601
    # Refused guesses are not counted: hammering the lock does not extend it.
    for n in range(5):
        await api.post(path, **_check(f"{n:04d}", f"stranger-x{n}"))
    later = Clock(clock.tz, fixed=clock.now() + timedelta(minutes=61))
    after = await aiohttp_client(create_app(settings, later), headers=API_HEADERS)
    assert (await call(after, "POST", path, 200, **_check("8000", "owner")))["matched"]


async def test_orders_by_phone_for_the_whole_number_only(api: TestClient) -> None:
    mine = await book(api, phone="139 1234 5678")
    await book(api, phone="13800138000")
    found = await call(
        api, "POST", "/api/workorders/by-phone", 200, json={"phone": "+86 139-1234-5678"}
    )
    assert [o["id"] for o in found] == [mine["id"]]
    assert (
        await call(api, "POST", "/api/workorders/by-phone", 200, json={"phone": "13912340000"})
        == []
    )
    assert (
        await error_code(api, "POST", "/api/workorders/by-phone", 422, json={"phone": "5678"})
        == "invalid_body"
    )


async def test_digits_of_other_scripts_are_no_match_not_a_server_error(api: TestClient) -> None:
    # Found by fuzzing: "٨٠٠٠" (Arabic-Indic) passes as digits, and comparing it in constant
    # time raised on non-ASCII text (a 500).
    order = await book(api, phone="+86 138-0013-8000")
    path = f"/api/workorders/{order['id']}/verify-phone"
    answer = await call(api, "POST", path, 200, **_check("٨٠٠٠"))
    assert answer["matched"] is False
