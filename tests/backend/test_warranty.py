"""Warranty over HTTP: device registry, verdicts for the demo devices, extended warranty."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support.api import call, error_code


async def verdict(api: TestClient, serial: str, **fault: object) -> Any:
    return await call(
        api, "POST", "/api/warranty/verdict", 200, json={"serial": serial, "fault": fault}
    )


@pytest.mark.parametrize(
    ("serial", "fault", "remedy", "basis"),
    [
        ("PF2K7Q9A", {}, "return", "return_window"),
        ("PF8M3X6T", {}, "exchange", "exchange_window"),
        ("MJ5R8W2K", {}, "free_repair", "whole_machine"),
        ("PF4N9C2H", {"part": "mainboard"}, "free_repair", "main_parts"),
        ("PF4N9C2H", {"part": "battery"}, "paid_repair", "expired"),
        ("CN0H4T2M11", {}, "paid_repair", "expired"),
        ("PF7D2V5L", {"part": "mainboard"}, "exchange", "repeat_repair"),
        ("MN3K8P1Z", {"part": "stand"}, "free_repair", "extended_warranty"),
        ("PF1Q6H8S", {}, "paid_repair", "exclusion"),
        ("MJ5R8W2K", {"exclusions": ["man_made_damage"]}, "paid_repair", "exclusion"),
    ],
)
async def test_verdicts_of_the_demo_devices(
    api: TestClient, serial: str, fault: dict[str, Any], remedy: str, basis: str
) -> None:
    body = await verdict(api, serial, **fault)
    assert (body["remedy"], body["basis"]) == (remedy, basis)
    assert body["reasons"][0]["text"]
    assert body["options"][0]["remedy"] == remedy


async def test_verdict_explains_the_regulation_and_dates(api: TestClient) -> None:
    body = await verdict(api, "PF2K7Q9A")
    assert body["legal"] is True
    assert "微型计算机" in body["source"]
    assert body["days_since_invoice"] == 3
    assert body["on_date"] == "2026-11-20"
    assert body["until"] == "2026-11-24"
    assert body["reasons"][0]["article"] == "第十一条"
    assert [c["key"] for c in body["coverage"]] == [
        "return_window",
        "exchange_window",
        "whole_machine",
        "main_parts",
    ]


@pytest.mark.parametrize(
    "written", ["sn:pf2k7q9a", "ＰＦ２Ｋ７Ｑ９Ａ", " PF2K 7Q9A ", "S/N：PF2K7Q9A"]
)
async def test_serials_are_accepted_the_way_customers_type_them(
    api: TestClient, written: str
) -> None:
    assert (await verdict(api, written))["serial"] == "PF2K7Q9A"


async def test_a_verdict_on_a_given_day(api: TestClient) -> None:
    body = await call(
        api,
        "POST",
        "/api/warranty/verdict",
        200,
        json={"serial": "PF2K7Q9A", "on_date": "2026-12-03"},
    )
    assert body["remedy"] == "free_repair"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"serial": "123"}, 422, "invalid_serial"),
        ({"serial": "P😀F2K7Q9A"}, 422, "invalid_serial"),
        ({"serial": "ZZ00000000"}, 404, "device_not_found"),
        ({"serial": "PF2K7Q9A", "on_date": "2020-01-01"}, 422, "impossible_date"),
        ({"serial": "PF2K7Q9A", "on_date": "2026-02-30"}, 422, "invalid_body"),
        ({"serial": "PF2K7Q9A", "fault": {"part": "flux_capacitor"}}, 422, "invalid_body"),
        ({"serial": "PF2K7Q9A", "fault": {"exclusions": ["bad_luck"]}}, 422, "invalid_body"),
        ({"serial": "PF2K7Q9A", "fault": {"performance_fault": "yes"}}, 422, "invalid_body"),
        ({"serial": 12345678}, 422, "invalid_serial"),
        ({"serial": ["PF2K7Q9A"]}, 422, "invalid_body"),
        ({"serial": "PF2K7Q9A", "colour": "red"}, 422, "invalid_body"),
        ({}, 422, "invalid_body"),
    ],
)
async def test_bad_verdict_requests_are_explained(
    api: TestClient, payload: dict[str, Any], status: int, code: str
) -> None:
    assert await error_code(api, "POST", "/api/warranty/verdict", status, json=payload) == code


async def test_an_exclusion_the_policy_does_not_know_is_refused(api: TestClient) -> None:
    # Consumables have no force-majeure clause: the answer names the clauses it does have.
    serial = await _device_of_category(api, "battery")
    body = await call(
        api,
        "POST",
        "/api/warranty/verdict",
        422,
        json={"serial": serial, "fault": {"exclusions": ["invoice_mismatch"]}},
    )
    assert "man_made_damage" in body["error"]["message"]


async def _device_of_category(api: TestClient, category: str) -> str:
    from sqlalchemy import select

    from bot import tables
    from bot.api import DB

    assert api.app is not None
    db = api.app[DB]
    async with db.read() as conn:
        serial = await conn.scalar(
            select(tables.devices.c.serial)
            .join(tables.models, tables.models.c.code == tables.devices.c.model_code)
            .where(tables.models.c.category == category, tables.devices.c.invoice_date.isnot(None))
            .limit(1)
        )
    assert serial
    return str(serial)


async def test_device_with_repair_history(api: TestClient) -> None:
    body = await call(api, "GET", "/api/warranty/devices/pf7d2v5l", 200)
    assert body["model_code"] == "XG15"
    assert body["category"] == "laptop"
    assert [r["part"] for r in body["repairs"]] == ["mainboard", "mainboard"]
    assert body["repairs"][0]["part_name"] == "主板"
    assert await error_code(api, "GET", "/api/warranty/devices/SN:12-34", 400) == "invalid_serial"


async def test_register_a_device(api: TestClient) -> None:
    device = {
        "serial": "PFAB123456",
        "model_code": "XB14",
        "invoice_date": "2026-11-01",
        "seller": "京东",
    }
    body = await call(api, "POST", "/api/warranty/devices", 201, json=device)
    assert body["category"] == "laptop"
    assert (
        await error_code(api, "POST", "/api/warranty/devices", 409, json=device) == "device_exists"
    )
    future = {**device, "serial": "PFAB123457", "invoice_date": "2027-01-01"}
    assert (
        await error_code(api, "POST", "/api/warranty/devices", 422, json=future)
        == "impossible_date"
    )
    unknown = {**device, "serial": "PFAB123458", "model_code": "ZZ9000"}
    assert (
        await error_code(api, "POST", "/api/warranty/devices", 422, json=unknown) == "unknown_model"
    )


async def test_policies_are_served_with_their_articles(api: TestClient) -> None:
    body = await call(api, "GET", "/api/warranty/policies?category=laptop", 200)
    assert len(body) == 1
    assert body[0]["code"] == "pc_sanbao"
    assert {w["key"]: w["article"] for w in body[0]["windows"]}["return_window"] == "第十一条"
    assert len(await call(api, "GET", "/api/warranty/policies", 200)) == 5


async def test_buy_an_extension(api: TestClient) -> None:
    plans = await call(api, "GET", "/api/warranty/plans?serial=MJ5R8W2K", 200)
    assert {p["code"] for p in plans} == {"EW-PC-1Y", "EW-PC-2Y"}
    headers = {"Idempotency-Key": "ext-1"}
    body = await call(
        api,
        "POST",
        "/api/warranty/extensions",
        201,
        headers=headers,
        json={"serial": "MJ5R8W2K", "plan_code": "EW-PC-2Y"},
    )
    assert body["id"].startswith("EW20261120-")
    invoice = "2026-05-04"  # 200 days before 2026-11-20
    assert body["starts_on"] == "2027-05-05" and body["ends_on"] == "2029-05-04", invoice
    again = await call(
        api,
        "POST",
        "/api/warranty/extensions",
        200,
        headers=headers,
        json={"serial": "MJ5R8W2K", "plan_code": "EW-PC-2Y"},
    )
    assert again["id"] == body["id"]
    assert (
        await error_code(
            api,
            "POST",
            "/api/warranty/extensions",
            409,
            json={"serial": "MJ5R8W2K", "plan_code": "EW-PC-1Y"},
        )
        == "already_extended"
    )
    device = await call(api, "GET", "/api/warranty/devices/MJ5R8W2K", 200)
    assert device["extended_until"] == "2029-05-04"


@pytest.mark.parametrize(
    ("serial", "plan", "code"),
    [
        ("CN0H4T2M11", "EW-PRT-1Y", "coverage_expired"),
        ("MJ5R8W2K", "EW-MON-2Y", "plan_not_applicable"),
        ("PF1Q6H8S", "EW-PC-1Y", "no_invoice"),
    ],
)
async def test_extensions_that_cannot_be_sold(
    api: TestClient, serial: str, plan: str, code: str
) -> None:
    assert (
        await error_code(
            api, "POST", "/api/warranty/extensions", 409, json={"serial": serial, "plan_code": plan}
        )
        == code
    )
    assert (
        await error_code(
            api,
            "POST",
            "/api/warranty/extensions",
            404,
            json={"serial": serial, "plan_code": "NOPE"},
        )
        == "plan_not_found"
    )
    if code != "plan_not_applicable":
        # Offering plans to such a device would only lead to this refusal: say it up front.
        assert await error_code(api, "GET", f"/api/warranty/plans?serial={serial}", 409) == code
