"""The customer beside a conversation (GET /desk/api/handoffs/{id}/context): who may see it,
what it gathers (previous conversations, devices with the engine's warranty verdict, orders,
complaints) and that every phone in it stays masked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.clock import Clock
from bot.db import Database
from bot.settings import Settings
from tests.support.api import call
from tests.support.database import API_HEADERS
from tests.support.desk import desk_headers
from tests.support.desk_customer import (
    BOOKED_SERIAL,
    CONVERSATION,
    FULL_MOBILE,
    NAMED_SERIAL,
    OWN_PHONE,
    PASSWORD,
    PROVEN_PHONE,
    PROVEN_SERIAL,
    booking,
    customer,
    handoff,
    make_backend,
)
from tests.support.desk_customer import as_staff as _as
from tests.support.fake_rasa import FakeRasa

# Demo devices (bot.demo): a laptop without invoice, and a stranger's laptop.
LINKED_SERIAL, STRANGER_SERIAL = "PF1Q6H8S", "PF8M3X6T"


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    db: Database,
    rasa: FakeRasa,
) -> TestClient:
    return await make_backend(aiohttp_client, settings, clock, db, rasa)


async def test_only_who_may_call_the_customer_sees_them(
    backend: TestClient, rasa: FakeRasa
) -> None:
    zhang, li, wang = [await desk_headers(backend, n, PASSWORD) for n in ("zhang", "li", "wang")]
    c = await customer(backend, zhang)
    path = f"/desk/api/handoffs/{c.second}/context"
    # Waiting: an agent claims first (as for the reveal); a supervisor sees it.
    status, body = await _as(backend, zhang, "GET", path)
    assert (status, body["error"]["code"]) == (409, "not_holding")
    assert (await _as(backend, wang, "GET", path))[0] == 200
    assert (await _as(backend, zhang, "POST", f"/desk/api/handoffs/{c.second}/claim"))[0] == 200
    assert (await _as(backend, zhang, "GET", path))[0] == 200
    # A colleague's conversation, even the closed one zhang held: 403.
    for handoff_id in (c.second, c.first):
        status, body = await _as(backend, li, "GET", f"/desk/api/handoffs/{handoff_id}/context")
        assert (status, body["error"]["code"]) == (403, "not_yours")
    assert (await _as(backend, zhang, "GET", f"/desk/api/handoffs/{c.first}/context"))[0] == 200
    # No desk session, or a station account: not the desk's audience.
    assert (await _as(backend, {}, "GET", path))[0] == 401
    reply = await backend.post("/desk/api/login", json={"username": "bj01", "password": PASSWORD})
    assert reply.status in (401, 403)
    # The internal API's token is no desk session either.
    assert (await _as(backend, API_HEADERS, "GET", path))[0] == 401


async def test_the_panel_gathers_the_customer_and_masks_every_phone(
    backend: TestClient, rasa: FakeRasa
) -> None:
    zhang = await desk_headers(backend, "zhang", PASSWORD)
    c = await customer(backend, zhang)
    # The proven phone's owner booked once more from Telegram, and talked to a person in the
    # conversation where the proven order was booked; a stranger booked with the phone this
    # customer merely typed (unproven: not theirs).
    by_phone = await _order(
        backend, serial=LINKED_SERIAL, phone=PROVEN_PHONE, conversation_id="tg-7"
    )
    stranger = await _order(backend, serial=STRANGER_SERIAL, phone=OWN_PHONE, conversation_id="x-1")
    shop = await handoff(backend, "conv-shop")
    await _as(backend, zhang, "POST", f"/desk/api/handoffs/{c.second}/claim")
    status, ctx = await _as(backend, zhang, "GET", f"/desk/api/handoffs/{c.second}/context")
    assert status == 200, ctx
    assert FULL_MOBILE.findall(json.dumps(ctx, ensure_ascii=False)) == []
    assert (ctx["identity"], ctx["channel"]) == (CONVERSATION, "webchat")
    assert {(p["masked"], p["source"]) for p in ctx["phones"]} == {
        ("139****5678", "contact"),
        ("136****2222", "proven"),
    }
    conversations = {x["id"]: x for x in ctx["conversations"]}
    assert list(conversations) == [shop, c.second, c.first], "newest first"
    assert conversations[c.second]["current"] and not conversations[c.first]["current"]
    assert conversations[c.first]["holder"] == "张敏" and conversations[c.first]["openable"]
    assert {o["id"]: o["phone"] for o in ctx["work_orders"]} == {
        c.own_order: "138****8000",
        c.proven_order: "136****2222",
        by_phone: "136****2222",
    }
    assert stranger not in json.dumps(ctx)
    complaints = [(x["id"], x["work_order_id"]) for x in ctx["complaints"]]
    assert complaints == [(c.complaint, c.own_order)]
    assert "139****5678" in ctx["complaints"][0]["text"]
    devices = {d["serial"]: d for d in ctx["devices"]}
    assert set(devices) == {NAMED_SERIAL, BOOKED_SERIAL, PROVEN_SERIAL, LINKED_SERIAL}
    for serial, device in devices.items():
        verdict = await call(
            backend,
            "POST",
            "/api/warranty/verdict",
            200,
            json={"serial": serial, "fault": {}},
            headers=API_HEADERS,
        )
        warranty = device["warranty"]
        assert (warranty["remedy"], warranty["until"]) == (verdict["remedy"], verdict["until"])
        assert warranty["coverage"] == verdict["coverage"]
    assert [e["plan_code"] for e in devices[PROVEN_SERIAL]["extensions"]] == ["EW-MON-2Y"]
    assert devices[PROVEN_SERIAL]["extended_until"]


async def _order(backend: TestClient, **changes: Any) -> str:
    created = await call(
        backend, "POST", "/api/workorders", 201, headers=API_HEADERS, json=booking(**changes)
    )
    return str(created["id"])


async def test_an_unknown_serial_is_listed_without_a_verdict(
    backend: TestClient, rasa: FakeRasa
) -> None:
    wang = await desk_headers(backend, "wang", PASSWORD)
    waiting = await handoff(backend, "conv-unknown", serial="ZZ99999999", contact=None)
    status, ctx = await _as(backend, wang, "GET", f"/desk/api/handoffs/{waiting}/context")
    assert status == 200, ctx
    assert ctx["devices"] == [
        {
            "serial": "ZZ99999999",
            "known": False,
            "model_code": None,
            "model_name": None,
            "invoice_date": None,
            "extended_until": None,
            "warranty": None,
            "extensions": [],
            "repairs": [],
        }
    ]
    assert ctx["phones"] == [] and ctx["work_orders"] == [] and ctx["complaints"] == []
