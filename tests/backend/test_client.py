"""The typed client against a real backend on a local port, and against a backend that is down."""

from __future__ import annotations

import asyncio
import socket
from datetime import date
from typing import Any

import pytest
from aiohttp import web

from bot.app import create_app
from bot.client import Conflict, Invalid, NotFound, RateLimited, ServiceClient, Unavailable
from bot.clock import Clock
from bot.settings import Settings
from tests.support.database import API_TOKEN


@pytest.fixture
async def client(aiohttp_server: Any, settings: Settings, clock: Clock) -> Any:
    server = await aiohttp_server(create_app(settings, clock))
    async with ServiceClient(str(server.make_url("/")), token=API_TOKEN, timeout=10) as service:
        yield service


async def test_typed_results(client: ServiceClient) -> None:
    verdict = await client.verdict("sn:pf2k7q9a")
    assert verdict.remedy == "return" and verdict.until == date(2026, 11, 24)
    model = await client.model("xb14")
    assert model.category == "laptop" and model.firmware
    stations = await client.stations(city="深圳", kind="service")
    assert stations and stations[0].city == "深圳"
    slots = await client.slots(stations[0].code, start=date(2026, 11, 21), days=2)
    order = await client.book(
        kind="drop_off",
        model_code="XB14",
        fault="键盘失灵",
        station_code=stations[0].code,
        slot_date=slots[0].date,
        slot_start=slots[0].start,
        key="k-1",
    )
    assert (await client.work_order(order.id)).status == "scheduled"
    assert (
        await client.book(
            kind="drop_off",
            model_code="XB14",
            fault="键盘失灵",
            station_code=stations[0].code,
            slot_date=slots[0].date,
            slot_start=slots[0].start,
            key="k-1",
        )
    ).id == order.id
    moved = await client.reschedule(order.id, slots[1].date, slots[1].start)
    assert moved.reschedule_count == 1
    assert (await client.cancel(order.id, "不需要了")).status == "cancelled"
    check = await client.verify_code("8861 2203 5540 9172", "test:client")
    assert check.result == "genuine"
    handoff = await client.hand_off(
        conversation_id="c-1",
        channel="rest",
        reason="requested",
        package={"fault": "卡纸", "steps_tried": ["取出卡纸"]},
    )
    assert handoff.status == "waiting" and handoff.package["steps_tried"] == ["取出卡纸"]
    assert [c.city for c in await client.cities()][:1]


async def test_errors_arrive_as_typed_exceptions(client: ServiceClient) -> None:
    with pytest.raises(NotFound) as missing:
        await client.device("ZZ12345678")
    assert missing.value.code == "device_not_found"
    with pytest.raises(Invalid) as invalid:
        await client.verdict("12-34")
    assert invalid.value.code == "invalid_serial"
    with pytest.raises(Invalid):  # refused on our side before any request
        await client.rate("WO20261120-0001", 9)
    with pytest.raises(Conflict) as conflict:
        await client.rate("WO20261120-0001", 5)
    assert conflict.value.code == "not_closed"
    for _ in range(10):
        await client.verify_code("4409118722650031", "test:fast")
    with pytest.raises(RateLimited) as limited:
        await client.verify_code("4409118722650031", "test:fast")
    assert limited.value.retry_after == 60


async def test_a_backend_that_is_down_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ServiceClient(f"http://127.0.0.1:{port}", timeout=1) as service:
        with pytest.raises(Unavailable) as down:
            await service.health()
    assert down.value.code == "unreachable"


async def test_a_backend_that_hangs_times_out(aiohttp_server: Any) -> None:
    async def hang(_: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/api/health", hang)
    server = await aiohttp_server(app)
    async with ServiceClient(
        str(server.make_url("/")), token=API_TOKEN, timeout=0.3, retries=1
    ) as service:
        with pytest.raises(Unavailable) as slow:
            await service.health()
    assert "TimeoutError" in slow.value.message
