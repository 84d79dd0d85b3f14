"""Security codes: genuine once, then "already queried"; unknown codes, brute force, reports."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.demo import COPIED_CODE, GENUINE_CODE, UNKNOWN_CODE
from bot.settings import Settings
from tests.support.api import call, error_code
from tests.support.database import API_HEADERS


async def verify(api: TestClient, code: str, source: str = "test:1", expect: int = 200) -> Any:
    return await call(
        api, "POST", "/api/authenticity/verify", expect, json={"code": code, "source": source}
    )


async def test_a_genuine_code_is_genuine_only_the_first_time(api: TestClient) -> None:
    first = await verify(api, "8861 2203 5540 9172")
    assert first["result"] == "genuine"
    assert first["query_count"] == 1
    assert first["product"]["category"] in ("toner", "ink", "drum", "battery")
    assert first["first_queried_at"].startswith("2026-11-20T10:00:00")
    second = await verify(api, "8861-2203-5540-9172", source="test:2")
    assert second["result"] == "already_queried"
    assert second["query_count"] == 2
    assert second["first_queried_at"] == first["first_queried_at"]


async def test_a_copied_code_reports_how_often_it_was_queried(api: TestClient) -> None:
    body = await verify(api, COPIED_CODE)
    assert body["result"] == "already_queried"
    assert body["query_count"] == 38
    assert body["first_queried_at"] < "2026-11-20"


async def test_an_unknown_code(api: TestClient) -> None:
    body = await verify(api, UNKNOWN_CODE)
    assert body == {
        "code": UNKNOWN_CODE,
        "result": "unknown",
        "query_count": 0,
        "first_queried_at": None,
        "product": None,
    }


@pytest.mark.parametrize(
    "code", ["1234", "8861 2203 5540 917X", "88612203554091721", "", "８８６１"]
)
async def test_malformed_codes_are_refused(api: TestClient, code: str) -> None:
    expect = "invalid_body" if code == "" else "invalid_security_code"
    assert (
        await error_code(
            api, "POST", "/api/authenticity/verify", 422, json={"code": code, "source": "test:1"}
        )
        == expect
    )


async def test_full_width_digits_are_accepted(api: TestClient) -> None:
    body = await verify(api, "８８６１２２０３５５４０９１７２")
    assert body["code"] == GENUINE_CODE


async def test_concurrent_first_queries_see_exactly_one_genuine(api: TestClient) -> None:
    results = await asyncio.gather(
        *(verify(api, GENUINE_CODE, source=f"test:{i}") for i in range(8))
    )
    assert sorted(r["result"] for r in results).count("genuine") == 1
    assert sorted(r["query_count"] for r in results) == list(range(1, 9))


async def test_a_source_that_queries_too_fast_is_slowed_down(api: TestClient) -> None:
    for _ in range(10):
        await verify(api, GENUINE_CODE, source="telegram:99")
    body = await verify(api, GENUINE_CODE, source="telegram:99", expect=429)
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["retry_after"] == 60
    # Another customer is not affected.
    assert (await verify(api, GENUINE_CODE, source="telegram:100"))["result"] == "already_queried"


async def test_guessing_unknown_codes_is_blocked(
    aiohttp_client: Any, settings: Settings, clock: Clock
) -> None:
    # A slow guesser stays under the per-minute limit; the unknown-code limit stops it.
    api = await aiohttp_client(
        create_app(replace(settings, verify_per_minute=1000), clock), headers=API_HEADERS
    )
    for n in range(settings.verify_unknown_per_hour):
        await verify(api, f"{n:016d}", source="web:guesser")
    body = await verify(api, "0000000000009999", source="web:guesser", expect=429)
    assert 0 < body["error"]["retry_after"] <= 3600
    assert (await verify(api, GENUINE_CODE, source="web:someone-else"))["result"] == "genuine"


async def test_a_counterfeit_report_opens_a_case(api: TestClient) -> None:
    report = {
        "code": COPIED_CODE,
        "source": "web:abc",
        "where_bought": "某电商平台第三方店铺",
        "city": "深圳",
        "contact": "13800138000",
        "note": "包装印刷模糊",
        "model_code": "TN2405",
    }
    headers = {"Idempotency-Key": "conv-1-report"}
    body = await call(api, "POST", "/api/authenticity/reports", 201, json=report, headers=headers)
    assert body["id"] == "CF20261120-0001"
    assert body["status"] == "open"
    again = await call(api, "POST", "/api/authenticity/reports", 200, json=report, headers=headers)
    assert again["id"] == body["id"]
    shown = await call(api, "GET", "/api/authenticity/reports/cf20261120-0001", 200)
    assert shown["where_bought"] == "某电商平台第三方店铺"
    assert (
        await error_code(api, "GET", "/api/authenticity/reports/CF2026-1", 400) == "invalid_case_id"
    )
    assert (
        await error_code(api, "GET", "/api/authenticity/reports/CF20261120-0099", 404)
        == "case_not_found"
    )
    not_consumable = {**report, "model_code": "XB14"}
    assert (
        await error_code(api, "POST", "/api/authenticity/reports", 422, json=not_consumable)
        == "invalid_body"
    )
