"""Finding conversations again (POST /desk/api/search): what each kind of search text matches,
the filters and pages, that nobody finds what they may not see nor a digit the desk hides; and
reopening a closed conversation (POST /desk/api/handoffs/{id}/reopen)."""

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
    CONTACT,
    CONVERSATION,
    FULL_MOBILE,
    NAMED_SERIAL,
    OWN_PHONE,
    PASSWORD,
    Customer,
    customer,
    make_backend,
)
from tests.support.desk_customer import as_staff as _as
from tests.support.fake_rasa import FakeRasa

OTHER_PHONE = "13700001111"


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    db: Database,
    rasa: FakeRasa,
) -> TestClient:
    return await make_backend(aiohttp_client, settings, clock, db, rasa)


async def _world(backend: TestClient) -> tuple[Customer, str, dict[str, dict[str, str]]]:
    """The customer of `customer()` (one closed conversation with zhang, one waiting) and a
    Telegram complaint li holds."""
    staff = {n: await desk_headers(backend, n, PASSWORD) for n in ("zhang", "li", "wang")}
    c = await customer(backend, staff["zhang"])
    body = {
        "conversation_id": "tg-42",
        "channel": "telegram",
        "reason": "complaint",
        "package": {"contact": OTHER_PHONE, "fault": f"卡纸，回电{OTHER_PHONE}"},
    }
    other = str(
        (await call(backend, "POST", "/api/handoffs", 201, json=body, headers=API_HEADERS))["id"]
    )
    assert (await _as(backend, staff["li"], "POST", f"/desk/api/handoffs/{other}/claim"))[0] == 200
    return c, other, staff


async def _find(backend: TestClient, who: dict[str, str], **query: Any) -> tuple[int, Any]:
    return await _as(backend, who, "POST", "/desk/api/search", query)


async def _ids(backend: TestClient, who: dict[str, str], **query: Any) -> list[str]:
    status, body = await _find(backend, who, **query)
    assert status == 200, body
    assert FULL_MOBILE.findall(json.dumps(body, ensure_ascii=False)) == [], query
    return [r["handoff"]["id"] for r in body["results"]]


async def test_each_kind_of_search_text_finds_the_customer(
    backend: TestClient, rasa: FakeRasa
) -> None:
    c, other, staff = await _world(backend)
    wang = staff["wang"]
    both = [c.second, c.first]  # newest first
    for q in (
        OWN_PHONE,
        "139-1234-5678",
        "+86 139 1234 5678",
        BOOKED_SERIAL,
        NAMED_SERIAL,
        c.own_order,
        c.own_order.lower(),
        "屏幕闪烁",
    ):
        assert await _ids(backend, wang, q=q) == both, q
    assert await _ids(backend, wang, q=c.first) == [c.first]
    assert await _ids(backend, wang, q="137 0000 1111") == [other]
    assert await _ids(backend, wang, q="卡纸") == [other]
    _, body = await _find(backend, wang, q=OWN_PHONE)
    assert body["kind"] == "phone" and body["results"][0]["handoff"]["package"]["contact"] == (
        "139****5678"
    )


async def test_no_search_spells_out_a_masked_number(backend: TestClient, rasa: FakeRasa) -> None:
    c, other, staff = await _world(backend)
    wang = staff["wang"]
    assert await _ids(backend, wang, q=CONTACT) == [c.second, c.first]
    status, body = await _find(backend, wang, q="5678")
    assert (status, body["error"]["code"]) == (422, "whole_phone")
    # Part of a number, even 7 digits of it, is no whole number.
    assert await _ids(backend, wang, q="1391234") == []
    assert await _ids(backend, wang, q=CONTACT[:-1]) == []
    # Words are matched as the desk shows them: the hidden digits are not there.
    assert await _ids(backend, wang, q="回电1370") == []
    status, body = await _find(backend, wang, q="回电137")
    assert [r["handoff"]["id"] for r in body["results"]] == [other]
    assert "回电137****1111" in body["results"][0]["match"]
    # Every phone search is audited, the number masked.
    status, lines = await _as(backend, wang, "GET", "/desk/api/audit")
    searches = [line["detail"] for line in lines if line["action"] == "phone_search"]
    assert {"phone": "139****5678", "found": 2} in searches
    assert FULL_MOBILE.findall(json.dumps(lines)) == []


async def test_agents_find_only_what_they_may_see(backend: TestClient, rasa: FakeRasa) -> None:
    c, other, staff = await _world(backend)
    zhang, li = staff["zhang"], staff["li"]
    # zhang held the closed one last; li never did. The waiting one is everyone's queue.
    assert await _ids(backend, zhang, status="closed") == [c.first]
    assert await _ids(backend, li, status="closed") == []
    assert await _ids(backend, li, q=OWN_PHONE) == [c.second]
    assert await _ids(backend, zhang, q="卡纸") == []
    assert await _ids(backend, li, q="卡纸") == [other]


async def test_filters_and_pages(backend: TestClient, rasa: FakeRasa) -> None:
    c, other, staff = await _world(backend)
    wang = staff["wang"]
    status, me = await _as(backend, staff["zhang"], "GET", "/desk/api/me")
    assert await _ids(backend, wang, status="closed") == [c.first]
    assert await _ids(backend, wang, status="waiting") == [c.second]
    assert await _ids(backend, wang, channel="telegram") == [other]
    assert await _ids(backend, wang, reason="complaint") == [other]
    assert await _ids(backend, wang, agent=me["id"]) == [c.first]
    assert await _ids(backend, wang, q=OWN_PHONE, status="closed") == [c.first]
    assert set(await _ids(backend, wang, since="2026-11-20", until="2026-11-20")) == {
        c.first,
        c.second,
        other,
    }
    assert await _ids(backend, wang, until="2026-11-19") == []
    assert await _ids(backend, wang, since="2026-11-21") == []
    pages = []
    for offset in range(3):
        status, body = await _find(backend, wang, limit=1, offset=offset)
        assert (body["total"], len(body["results"])) == (3, 1)
        pages.append(body["results"][0]["handoff"]["id"])
    assert sorted(pages) == sorted([c.first, c.second, other])
    status, body = await _find(backend, wang, limit=51)
    assert status == 422


async def test_reopen_held_or_back_in_the_queue(backend: TestClient, rasa: FakeRasa) -> None:
    c, _, staff = await _world(backend)
    zhang, li, wang = staff["zhang"], staff["li"], staff["wang"]

    def reopen(who: dict[str, str], handoff_id: str, mode: str) -> Any:
        path = f"/desk/api/handoffs/{handoff_id}/reopen"
        return _as(backend, who, "POST", path, {"mode": mode})

    status, body = await reopen(li, c.first, "hold")
    assert (status, body["error"]["code"]) == (403, "not_yours")
    status, body = await reopen(zhang, c.second, "hold")
    assert (status, body["error"]["code"]) == (409, "not_closed")
    # The customer is waiting in another handoff of the same conversation: that one is open.
    status, body = await reopen(zhang, c.first, "hold")
    assert (status, body["error"]["code"]) == (409, "already_open")
    assert (await _as(backend, wang, "POST", f"/desk/api/handoffs/{c.second}/close", {}))[0] == 200

    status, item = await reopen(zhang, c.first, "hold")
    assert status == 200, item
    assert (item["status"], item["holder"], item["resolution"]) == ("assigned", "张敏", None)
    assert rasa.paused(CONVERSATION), "held: the bot is silent again"
    status, mine = await _as(backend, zhang, "GET", "/desk/api/handoffs?scope=mine")
    assert c.first in [i["id"] for i in mine]

    assert (await _as(backend, zhang, "POST", f"/desk/api/handoffs/{c.first}/close", {}))[0] == 200
    status, item = await reopen(wang, c.first, "queue")
    assert status == 200, item
    assert (item["status"], item["holder"]) == ("waiting", None)
    status, queue = await _as(backend, li, "GET", "/desk/api/handoffs")
    assert [i["id"] for i in queue] == [c.first]
    status, lines = await _as(backend, wang, "GET", f"/desk/api/audit?handoff_id={c.first}")
    reopened = [(line["staff"], line["detail"]) for line in lines if line["action"] == "reopened"]
    assert reopened == [("王芳", {"mode": "queue"}), ("张敏", {"mode": "hold"})]


async def test_a_reopen_the_assistant_missed_is_undone(backend: TestClient, rasa: FakeRasa) -> None:
    c, _, staff = await _world(backend)
    zhang, wang = staff["zhang"], staff["wang"]
    assert (await _as(backend, wang, "POST", f"/desk/api/handoffs/{c.second}/close", {}))[0] == 200
    rasa.failing = 503
    status, _ = await _as(backend, zhang, "POST", f"/desk/api/handoffs/{c.first}/reopen", {})
    assert status in (502, 503)
    rasa.failing = None
    status, conversation = await _as(backend, zhang, "GET", f"/desk/api/handoffs/{c.first}")
    assert (conversation["handoff"]["status"], conversation["handoff"]["holder"]) == (
        "closed",
        "张敏",
    )
    assert conversation["handoff"]["resolution"] == "resolved", "the close stands, untouched"
    status, lines = await _as(backend, wang, "GET", f"/desk/api/audit?handoff_id={c.first}")
    assert [line["action"] for line in lines][:2] == ["reopen_undone", "reopened"]
    # The assistant back, the same reopen works.
    status, item = await _as(backend, zhang, "POST", f"/desk/api/handoffs/{c.first}/reopen", {})
    assert (status, item["status"]) == (200, "assigned")
