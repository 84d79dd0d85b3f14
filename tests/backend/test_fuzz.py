"""A bounded fuzz run over every operation of the OpenAPI document, with the right credentials.

Requests are drawn from the document's own schemas (tests/support/fuzz.py): a fixed number per
operation, the same on every run. Each is sent as the operation's audience sends it (the
internal token, a named staff member, a supervisor's desk session). What must hold:
- no answer is a 5xx: a client's mistake is a 4xx, whatever it sends;
- every error is the stable JSON shape {"error": {"code": ..., "message": ...}};
- nothing another caller can see changed: every row of the demo data is as it was (the rows
  the fuzz's own requests made, such as its handoffs or the phone checks of its
  conversations, are its own business).
Path parameters are any text, or ids of the demo data for reads only: a write to a demo
customer's order with the internal token is the action server's right, not an attack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import CSRF_HEADER, STATION_COOKIE, create_account
from bot.settings import Settings
from tests.support.api import call, error_code
from tests.support.database import API_HEADERS, API_TOKEN, add_staff_user
from tests.support.desk import desk_headers
from tests.support.fake_rasa import FakeRasa
from tests.support.fuzz import Request, changed, requests_for, snapshot

EXAMPLES = 10
PASSWORD = "fuzz-supervisor-password"
SECRET = "fuzz-chat-secret-" + "0123456789" * 3
# Logging out would end the session the calls after it need.
LEFT_OUT = {("post", "/desk/api/logout"), ("post", "/station/api/logout")}
# Tables whose rows change by themselves or for the caller only: the desk sessions (the fuzz's
# own logins) and its audit trail, which only grows.
NOT_SHARED = frozenset({"staff_sessions", "desk_audit", "desk_cursors"})
# A demo id of each kind, for the reads: the first row of these columns.
DEMO_IDS = (
    tables.work_orders.c.id,
    tables.devices.c.serial,
    tables.stations.c.code,
    tables.models.c.code,
    tables.knowledge_cases.c.code,
)


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    db: Database,
    rasa: FakeRasa,
) -> TestClient:
    await add_staff_user(db)
    async with db.write() as conn:
        now = Clock.to_db(clock.now())
        await create_account(conn, "boss", "王芳", "supervisor", PASSWORD, now)
        await create_account(conn, "bench", "中关村服务站", "station", PASSWORD, now, "BJ01")
    app = create_app(replace(settings, chat_secret=SECRET, rasa_url=rasa.url), clock)
    client: TestClient = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    return client


async def _credentials(backend: TestClient) -> dict[str, dict[str, str]]:
    desk = await desk_headers(backend, "boss", PASSWORD)
    login = await backend.post(
        "/station/api/login", json={"username": "bench", "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    station = {
        "Cookie": f"{STATION_COOKIE}={login.cookies[STATION_COOKIE].value}",
        CSRF_HEADER: (await login.json())["csrf_token"],
    }
    return {
        "public": {},
        "station": station,
        "internal": {"Authorization": f"Bearer {API_TOKEN}"},
        "staff": API_HEADERS,
        "desk": desk,
        "supervisor": desk,
        "reports": desk,
    }


async def _own_handoff(backend: TestClient) -> str:
    """A handoff of the fuzz's own conversation, for the desk's writes to act on."""
    reply = await backend.post(
        "/api/handoffs",
        headers=API_HEADERS,
        json={"conversation_id": "fuzz-conversation", "channel": "rest", "reason": "requested"},
    )
    assert reply.status == 201, await reply.text()
    return str((await reply.json())["id"])


async def _demo_ids(db: Database) -> list[str]:
    async with db.read() as conn:
        return [str(await conn.scalar(select(column).limit(1))) for column in DEMO_IDS]


async def _wrong(backend: TestClient, request: Request, headers: dict[str, str]) -> str | None:
    """What is wrong with the answer to one request, if anything."""
    kwargs: dict[str, Any] = {"params": request.query, "headers": headers | request.headers}
    if request.body is not None:
        kwargs["data"] = json.dumps(request.body)
        kwargs["headers"]["Content-Type"] = "application/json"
    async with backend.request(request.method, request.path, **kwargs) as reply:
        # Exports answer in bytes (an XLSX workbook), so only errors are read as text.
        text = (await reply.read()).decode("utf-8", errors="replace")
        if reply.status >= 500:
            return f"{reply.status} {text[:200]}"
        if reply.status < 400:
            return None
        try:
            error = json.loads(text)["error"]
            assert isinstance(error["code"], str) and error["code"]
            assert isinstance(error["message"], str) and error["message"]
        except (ValueError, KeyError, TypeError, AssertionError):
            return f"{reply.status}, not the JSON error shape: {text[:200]}"
        return None


async def test_fuzzed_requests_get_no_5xx_a_json_error_and_change_nothing_of_others(
    backend: TestClient, db: Database
) -> None:
    document = await (await backend.get("/api/openapi.json", headers=API_HEADERS)).json()
    credentials = await _credentials(backend)
    before = await snapshot(db, NOT_SHARED)
    own, demo = [await _own_handoff(backend)], await _demo_ids(db)
    wrong, sent = [], 0
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            if (method, path) in LEFT_OUT:
                continue
            ids = demo + own if method == "get" else own
            for request in requests_for(document, path, method, ids, EXAMPLES):
                problem = await _wrong(backend, request, credentials[spec["x-audience"]])
                sent += 1
                if problem:
                    wrong.append(f"{request}: {problem}")
    assert sent >= EXAMPLES * 50
    assert not wrong, "\n".join(wrong)
    assert changed(before, await snapshot(db, NOT_SHARED)) == []


# --- what the fuzz run found, one case each ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/complaints", {"text": "屏幕\x00闪烁"}),
        ("/api/knowledge/search", {"text": "蓝屏\x00"}),
        ("/api/complaints", {"text": "屏幕\ud800闪烁"}),
    ],
)
async def test_text_a_database_cannot_keep_is_refused_not_a_500(
    api: TestClient, path: str, body: dict[str, str]
) -> None:
    # PostgreSQL refuses NUL in text, and no database keeps half a surrogate pair.
    assert await error_code(api, "POST", path, 422, json=body) == "invalid_body"


async def test_a_nul_in_a_query_or_a_path_is_refused_not_a_500(api: TestClient) -> None:
    assert await error_code(api, "GET", "/api/stations?city=%00", 422) == "invalid_query"
    assert await error_code(api, "GET", "/api/catalogue/models/A%00B", 400) == "invalid_path"


async def test_an_idempotency_key_that_cannot_be_kept_is_refused_and_an_empty_one_is_none(
    api: TestClient,
) -> None:
    complaint = {"text": "服务态度差"}
    for key in ("K" * 101, "a\u200bb"):
        code = await error_code(
            api, "POST", "/api/complaints", 422, json=complaint, headers={"Idempotency-Key": key}
        )
        assert code == "invalid_idempotency_key"
    empty = {"Idempotency-Key": ""}
    first = await call(api, "POST", "/api/complaints", 201, json=complaint, headers=empty)
    second = await call(api, "POST", "/api/complaints", 201, json=complaint, headers=empty)
    assert first["id"] != second["id"]
    longest = {"Idempotency-Key": "K" * 100}
    again = await call(api, "POST", "/api/complaints", 201, json=complaint, headers=longest)
    assert (
        await call(api, "POST", "/api/complaints", 200, json=complaint, headers=longest)
    ) == again


async def test_slots_at_the_end_of_the_calendar_are_none_not_an_overflow(api: TestClient) -> None:
    assert await call(api, "GET", "/api/stations/BJ01/slots?from=9999-12-31&days=31", 200) == []


@pytest.mark.parametrize("near", ["91,116", "39.9,181", "1" * 400 + ",116", "٣٩,١١٦"])
async def test_a_position_off_the_globe_is_refused(api: TestClient, near: str) -> None:
    assert await error_code(api, "GET", f"/api/stations?near={near}", 422) == "invalid_query"


async def test_a_handoffs_complaint_id_is_canonical_or_refused(api: TestClient) -> None:
    handoff = {"conversation_id": "c-empty", "channel": "rest", "reason": "complaint"}
    body = await call(api, "POST", "/api/handoffs", 201, json=handoff | {"complaint_id": ""})
    assert body["complaint_id"] is None
    wrong = handoff | {"conversation_id": "c-wrong", "complaint_id": "not-an-id"}
    assert await error_code(api, "POST", "/api/handoffs", 422, json=wrong) == "invalid_body"
    complaint = await call(api, "POST", "/api/complaints", 201, json={"text": "投诉"})
    typed = complaint["id"].lower().replace("-", "")
    mine = handoff | {"conversation_id": "c-typed", "complaint_id": typed}
    body = await call(api, "POST", "/api/handoffs", 201, json=mine)
    assert body["complaint_id"] == complaint["id"]


async def test_a_repairs_work_order_id_is_canonical_or_refused(api: TestClient) -> None:
    device = {"serial": "PFAB223456", "model_code": "XB14", "seller": "京东"}
    repair = {"repaired_on": "2026-10-01", "fault": "屏幕"}
    wrong = device | {"repairs": [repair | {"work_order_id": "W" * 40}]}
    assert await error_code(api, "POST", "/api/warranty/devices", 422, json=wrong) == "invalid_body"
    typed = device | {"repairs": [repair | {"work_order_id": "wo20261001 0007"}]}
    body = await call(api, "POST", "/api/warranty/devices", 201, json=typed)
    assert body["repairs"][0]["work_order_id"] == "WO20261001-0007"
