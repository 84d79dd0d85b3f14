"""Every route of the OpenAPI document, called as each audience: only its own gets in.

The document is walked, so a new route cannot be forgotten: each declares its audience
(`x-audience`) and this test holds the backend to it. Callers: nobody, a web-chat customer
(with a valid chat token), a desk agent and a desk supervisor (session cookie and CSRF token),
a repair station's staff (the station console's cookie and CSRF token), the action server
(the internal token) and a named staff member (the token and X-Staff-User).
"Gets in" means the answer is not the audience checks' 401 or 403; what happens after (a 404
for a made-up id, a 422 for an empty body) is the route's own business.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.contracts.chat_tokens import issue_token, new_session_id
from bot.db import Database
from bot.desk.accounts import COOKIE, CSRF_HEADER, STATION_COOKIE, Role, create_account
from bot.settings import Settings
from tests.support.database import API_HEADERS, API_TOKEN, STAFF_USER, add_staff_user

SECRET = "audience-test-secret-" + "0123456789" * 3
PASSWORD = "an-agent-password"
# Calling these as the desk agent would end the agent's session for the calls after it.
ENDS_SESSION = {("POST", "/desk/api/logout"), ("POST", "/station/api/logout")}
# Any one may knock at these doors, with a wrong password.
LOGINS = {"/desk/api/login", "/station/api/login"}
DESK_USERS: dict[str, tuple[str, Role]] = {
    "agent": ("zhang", "agent"),
    "supervisor": ("wang", "supervisor"),
    "manager": ("li", "manager"),
    "operator": ("zhao", "operator"),
}
CALLERS = (
    "nobody",
    "customer",
    "agent",
    "supervisor",
    "manager",
    "operator",
    "station",
    "internal",
    "staff",
)
# Who gets in, by audience.
ADMITS = {
    "public": set(CALLERS),
    "internal": {"internal", "staff"},
    "staff": {"staff"},
    "desk": {"agent", "supervisor", "manager"},
    # A manager has every right of a supervisor.
    "supervisor": {"supervisor", "manager"},
    "reports": {"supervisor", "manager", "operator"},
    "station": {"station"},
}
# The desk routes an operator may call besides the reports: who am I, and logging out.
OPERATOR_DESK_PATHS = {"/desk/api/me"}


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> TestClient:
    await add_staff_user(db)
    async with db.write() as conn:
        for username, role in DESK_USERS.values():
            await create_account(conn, username, username, role, PASSWORD, Clock.to_db(clock.now()))
        await create_account(
            conn, "bj01", "北京中关村", "station", PASSWORD, Clock.to_db(clock.now()), "BJ01"
        )
    app = create_app(replace(settings, chat_secret=SECRET), clock)
    client: TestClient = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    return client


async def _desk_session(
    backend: TestClient, username: str, portal: str = "desk", cookie: str = COOKIE
) -> dict[str, str]:
    reply = await backend.post(
        f"/{portal}/api/login", json={"username": username, "password": PASSWORD}
    )
    assert reply.status == 200, await reply.text()
    return {
        "Cookie": f"{cookie}={reply.cookies[cookie].value}",
        CSRF_HEADER: (await reply.json())["csrf_token"],
    }


async def _callers(backend: TestClient) -> dict[str, dict[str, str]]:
    chat_token, _ = issue_token(SECRET, new_session_id(), 3600)
    return {
        "nobody": {},
        "customer": {"Authorization": f"Bearer {chat_token}"},
        "agent": await _desk_session(backend, "zhang"),
        "supervisor": await _desk_session(backend, "wang"),
        "manager": await _desk_session(backend, "li"),
        "operator": await _desk_session(backend, "zhao"),
        "station": await _desk_session(backend, "bj01", "station", STATION_COOKIE),
        "internal": {"Authorization": f"Bearer {API_TOKEN}"},
        "staff": API_HEADERS,
    }


async def _refused_at_the_door(reply: aiohttp.ClientResponse) -> bool:
    """A 401/403 of the audience checks, not a route's own (a chat token that is not one)."""
    if reply.status not in (401, 403):
        return False
    body = await reply.json()
    return body["error"]["code"] in (
        "unauthorized",
        "staff_only",
        "supervisors_only",
        "desk_only",
        "station_only",
        "reports_only",
    )


def _operations(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (method.upper(), re.sub(r"{\w+}", "X0000", path), spec["x-audience"])
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    ]


async def test_every_route_admits_its_audience_only(backend: TestClient) -> None:
    document = await (await backend.get("/api/openapi.json", headers=API_HEADERS)).json()
    operations = _operations(document)
    assert {audience for *_, audience in operations} == set(ADMITS)
    callers = await _callers(backend)
    wrong = []
    for method, path, audience in operations:
        for caller, headers in callers.items():
            if caller in (*DESK_USERS, "station") and (method, path) in ENDS_SESSION:
                continue
            reply = await backend.request(method, path, headers=headers, json={})
            let_in = not await _refused_at_the_door(reply)
            # The login route is the desk's door: anyone may knock, with a wrong password.
            if path in LOGINS:
                continue
            admitted = caller in ADMITS[audience] or (
                caller == "operator" and path in OPERATOR_DESK_PATHS
            )
            if let_in != admitted:
                wrong.append(f"{caller} {method} {path} ({audience}): {reply.status}")
    assert wrong == []


async def test_plain_routes_have_their_audience_too(backend: TestClient) -> None:
    assert (await backend.get("/api/health")).status == 200
    assert (await backend.get("/")).status == 200
    assert (await backend.get("/api/openapi.json")).status == 401
    assert (await backend.get("/api/openapi.json", headers=API_HEADERS)).status == 200


async def test_a_staff_call_names_an_active_staff_member_and_is_audited(
    backend: TestClient, db: Database
) -> None:
    order = "/api/workorders/WO20261120-0001/transitions"
    step = {"to": "received", "actor": "station:BJ01"}
    internal = {"Authorization": f"Bearer {API_TOKEN}"}
    for who in (None, "nobody-here", "zhang"):
        headers = internal | ({"X-Staff-User": who} if who else {})
        reply = await backend.post(order, headers=headers, json=step)
        if who == "zhang":
            # An agent's account is a staff account: it gets past the door.
            assert reply.status not in (401, 403)
        else:
            assert (reply.status, (await reply.json())["error"]["code"]) == (403, "staff_only")
    reply = await backend.post(
        "/api/knowledge/reindex", headers=internal | {"X-Staff-User": STAFF_USER}
    )
    assert reply.status == 200
    from sqlalchemy import select

    from bot import tables

    async with db.read() as conn:
        actions = (await conn.execute(select(tables.desk_audit.c.action))).scalars().all()
    assert "api_reindex" in actions
