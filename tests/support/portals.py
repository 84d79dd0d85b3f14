"""Staff of the desk and of the repair stations in backend tests: accounts made as
`python -m bot desk-user` makes them, and logged-in sessions (cookie and CSRF header) that
are sent by hand, so that one test client can act as several people."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from aiohttp.test_utils import TestClient

from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import COOKIE, CSRF_HEADER, STATION_COOKIE, Role, create_account
from bot.settings import Settings

PASSWORD = "a-station-test-password"
# username: (display name, role, station)
PEOPLE: dict[str, tuple[str, Role, str | None]] = {
    "bj01": ("中关村服务站", "station", "BJ01"),
    "sh01": ("上海服务站", "station", "SH01"),
    "zhang": ("张敏", "agent", None),
    "wang": ("王芳", "supervisor", None),
}


class ClientAt(Protocol):
    """The backend on one database with its clock frozen at a chosen moment (and settings)."""

    def __call__(self, at: Clock, changed: Settings = ..., /) -> Awaitable[TestClient]: ...


async def add_people(db: Database, clock: Clock) -> None:
    async with db.write() as conn:
        for username, (name, role, station) in PEOPLE.items():
            await create_account(
                conn, username, name, role, PASSWORD, Clock.to_db(clock.now()), station
            )


async def session(client: TestClient, username: str) -> dict[str, str]:
    """Headers of a logged-in member of staff, on the portal of their role."""
    station = PEOPLE[username][1] == "station"
    portal, cookie = ("station", STATION_COOKIE) if station else ("desk", COOKIE)
    reply = await client.post(
        f"/{portal}/api/login", json={"username": username, "password": PASSWORD}
    )
    assert reply.status == 200, await reply.text()
    return {
        "Cookie": f"{cookie}={reply.cookies[cookie].value}",
        CSRF_HEADER: (await reply.json())["csrf_token"],
    }


async def as_staff(
    client: TestClient, headers: dict[str, str], method: str, path: str, expect: int, **kw: Any
) -> Any:
    reply = await client.request(method, path, headers=headers, **kw)
    body = await reply.json()
    assert reply.status == expect, f"{method} {path}: {reply.status} {body}"
    return body
