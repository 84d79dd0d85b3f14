"""The desk's login: back-off that cannot lock an owner out, JSON from its own origin, CSP."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import LOGIN_GUARD, create_account
from bot.settings import Settings
from bot.throttle import (
    Backoff,
    Gate,
    MemoryCounters,
    RedisCounters,
    Verdict,
    parse_networks,
)

LOGIN = "/desk/api/login"
PASSWORD = "the-right-password"
ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


async def _accounts(db: Database, clock: Clock, *names: str) -> None:
    async with db.write() as conn:
        for name in names:
            await create_account(conn, name, name, "agent", PASSWORD, Clock.to_db(clock.now()))


@pytest.fixture
async def desk(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    db: Database,
    fake_time: FakeTime,
) -> TestClient:
    """The backend behind a proxy on loopback, so each test picks the client's address."""
    await _accounts(db, clock, "zhang", "li")
    proxied = replace(settings, trusted_proxies=parse_networks("127.0.0.1"))
    client: TestClient = await aiohttp_client(create_app(proxied, clock))
    assert client.app is not None
    guard = client.app[LOGIN_GUARD]
    guard.now, guard.sleep = fake_time, fake_time.sleep
    return client


async def login(
    client: TestClient, username: str, password: str, address: str | None = None, **headers: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    if address is not None:
        headers["X-Forwarded-For"] = address
    async with client.post(
        LOGIN, json={"username": username, "password": password}, headers=headers
    ) as reply:
        return reply.status, await reply.json(), dict(reply.headers)


async def test_an_attackers_failures_do_not_stop_the_owner_elsewhere(desk: TestClient) -> None:
    for _ in range(5):
        assert (await login(desk, "zhang", "guess-guess", ATTACKER))[0] == 401
    status, body, headers = await login(desk, "zhang", PASSWORD, ATTACKER)
    # Even the right password waits from there: the guesser cannot tell when they hit it.
    assert (status, body["error"]["code"]) == (429, "too_many_attempts")
    assert headers["Retry-After"] == "2" and body["error"]["retry_after"] == 2
    status, body, _ = await login(desk, "zhang", PASSWORD, OWNER)
    assert status == 200 and body["username"] == "zhang"


async def test_the_wait_doubles_with_every_further_failure(
    desk: TestClient, fake_time: FakeTime
) -> None:
    for _ in range(5):
        await login(desk, "zhang", "guess-guess", ATTACKER)
    waits = []
    for _ in range(4):
        status, _, headers = await login(desk, "zhang", "guess-guess", ATTACKER)
        assert status == 429
        waits.append(int(headers["Retry-After"]))
        # Hammering a closed gate does not count: the wait stays the same ...
        assert (await login(desk, "zhang", "guess-guess", ATTACKER))[2]["Retry-After"] == str(
            waits[-1]
        )
        fake_time.now += waits[-1]
        # ... and once it is over, the next guess is checked (and counted).
        assert (await login(desk, "zhang", "guess-guess", ATTACKER))[0] == 401
    assert waits == [2, 4, 8, 16]


async def test_the_right_password_forgives_earlier_typos(desk: TestClient) -> None:
    for _ in range(4):
        assert (await login(desk, "zhang", "typo-typo", OWNER))[0] == 401
    assert (await login(desk, "zhang", PASSWORD, OWNER))[0] == 200
    for _ in range(4):
        assert (await login(desk, "zhang", "typo-typo", OWNER))[0] == 401
    assert (await login(desk, "zhang", PASSWORD, OWNER))[0] == 200


async def test_one_client_spraying_many_accounts_is_stopped(desk: TestClient) -> None:
    for n in range(20):
        assert (await login(desk, f"user{n}", "summer2026!", ATTACKER))[0] == 401
    assert (await login(desk, "li", "summer2026!", ATTACKER))[0] == 429
    assert (await login(desk, "li", PASSWORD, OWNER))[0] == 200


async def test_failures_from_everywhere_slow_an_account_down_but_never_lock_it(
    desk: TestClient, fake_time: FakeTime
) -> None:
    for n in range(12):
        assert (await login(desk, "zhang", "guess-guess", f"192.0.2.{n + 1}"))[0] == 401
    assert (await login(desk, "zhang", PASSWORD, OWNER))[0] == 200
    # The tenth failure on: a quarter second, doubling, at most two.
    assert fake_time.slept == [0.25, 0.5, 1.0]
    fake_time.slept.clear()
    for n in range(10):
        await login(desk, "zhang", "guess-guess", f"192.0.2.{n + 100}")
    assert (await login(desk, "zhang", PASSWORD, OWNER))[0] == 200
    assert max(fake_time.slept) == 2.0


async def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> None:
    await _accounts(db, clock, "zhang")
    client: TestClient = await aiohttp_client(create_app(settings, clock))
    for n in range(5):
        assert (await login(client, "zhang", "guess-guess", f"10.0.0.{n}"))[0] == 401
    assert (await login(client, "zhang", PASSWORD, "10.0.0.99"))[0] == 429


async def test_every_checked_failure_is_audited_with_its_client(
    desk: TestClient, db: Database
) -> None:
    for _ in range(7):
        await login(desk, "zhang", "guess-guess", ATTACKER)
    await login(desk, "nobody", "guess-guess", OWNER)
    await login(desk, "zhang", PASSWORD, OWNER)
    d = tables.desk_audit
    async with db.read() as conn:
        rows = (await conn.execute(select(d.c.action, d.c.detail).order_by(d.c.id))).all()
    # Five checked, two refused unchecked; the unknown name; the login.
    assert [(r.action, r.detail) for r in rows] == [
        *[("login_failed", {"username": "zhang", "client": ATTACKER})] * 5,
        ("login_failed", {"username": "nobody", "client": OWNER}),
        ("login", {"client": OWNER}),
    ]


async def test_only_a_json_body_from_the_desks_own_origin_logs_in(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> None:
    await _accounts(db, clock, "zhang")
    public = replace(settings, public_url="https://desk.example.com")
    client: TestClient = await aiohttp_client(create_app(public, clock))
    own = f"http://{client.host}:{client.port}"
    body = f'{{"username": "zhang", "password": "{PASSWORD}"}}'
    refused: list[tuple[dict[str, Any], int]] = [
        ({"data": body, "headers": {"Content-Type": "text/plain"}}, 415),
        ({"data": {"username": "zhang", "password": PASSWORD}}, 415),
        ({"data": body}, 415),
        ({"data": body, "headers": {"Content-Type": "application/json", "Origin": "null"}}, 403),
        (
            {
                "data": body,
                "headers": {"Content-Type": "application/json", "Origin": "https://evil.example"},
            },
            403,
        ),
        (
            {
                "data": body,
                "headers": {
                    "Content-Type": "application/json",
                    "Referer": "https://evil.example/desk/",
                },
            },
            403,
        ),
    ]
    for kwargs, status in refused:
        async with client.post(LOGIN, **kwargs) as reply:
            answer = await reply.json()
            assert reply.status == status, (kwargs, answer)
            assert "set-cookie" not in reply.headers
    for headers in (
        {"Origin": own},
        {"Origin": "https://desk.example.com"},
        {"Referer": f"{own}/desk/"},
        {},
    ):
        headers["Content-Type"] = "application/json; charset=utf-8"
        async with client.post(LOGIN, data=body, headers=headers) as reply:
            assert reply.status == 200, (headers, await reply.text())
    # None of the refused requests was even a guess.
    d = tables.desk_audit
    async with db.read() as conn:
        failed = await conn.scalar(select(d.c.id).where(d.c.action == "login_failed"))
    assert failed is None


async def test_desk_responses_carry_a_content_security_policy(desk: TestClient) -> None:
    for path in ("/desk/", "/desk/static/desk.js", "/desk/api/me"):
        async with desk.get(path) as reply:
            csp = reply.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
            assert "unsafe-inline" not in csp
            assert f"connect-src 'self' ws://{desk.host}:{desk.port} " in csp
            assert reply.headers["X-Frame-Options"] == "DENY"
    # The chat page keeps its own policy: manufacturers frame it.
    async with desk.get("/") as reply:
        assert "frame-ancestors *" in reply.headers["Content-Security-Policy"]


# --- the counters themselves ------------------------------------------------------------------

GATE = Backoff(free=2, first=1.0, longest=4.0, forget=10.0)


async def _exercise(counters: Any, key: str) -> None:
    """The same story for every kind of counters."""
    hard, soft = [Gate(f"{key}:pair", GATE)], [Gate(f"{key}:account", GATE)]
    t = 1000.0
    assert await counters.attempt(hard, soft, t) == Verdict(0.0, 0.0)
    assert await counters.attempt(hard, soft, t) == Verdict(0.0, 0.0)
    assert await counters.attempt(hard, soft, t + 0.5) == Verdict(0.5, 0.0)
    assert await counters.attempt(hard, soft, t + 1.0) == Verdict(0.0, 1.0)
    assert await counters.attempt(hard, soft, t + 2.0) == Verdict(1.0, 0.0)
    # Forgiven: the pair starts again, the account gives one attempt back.
    await counters.forgive([hard[0].key], [soft[0].key])
    assert await counters.attempt(hard, soft, t + 2.0) == Verdict(0.0, 1.0)


async def test_memory_counters() -> None:
    counters = MemoryCounters()
    await _exercise(counters, "k")
    # Forgotten after the last wait (2 s) and the quiet time (10 s).
    gates = [Gate("k:pair", GATE)], [Gate("k:account", GATE)]
    assert await counters.attempt(*gates, 1002.0 + 2 + 10 + 1) == Verdict(0.0, 0.0)
    await counters.close()


async def test_memory_counters_stay_bounded_under_a_flood_of_keys() -> None:
    counters = MemoryCounters(max_keys=100)
    remembered = replace(GATE, forget=1e6)
    for n in range(1000):
        await counters.attempt([Gate(f"client:{n}", remembered)], [], float(n))
    assert len(counters._entries) <= 100
    # The newest keys are the ones kept.
    assert "client:999" in counters._entries


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


REDIS_URL = os.environ.get("TEST_REDIS_URL") or (
    "redis://127.0.0.1:6379/15" if _redis_answers() else None
)


@pytest.mark.skipif(REDIS_URL is None, reason="needs Redis (TEST_REDIS_URL or loopback:6379)")
async def test_redis_counters() -> None:
    assert REDIS_URL
    prefix = f"test:{uuid.uuid4().hex}:"
    counters = RedisCounters(REDIS_URL, prefix=prefix)
    try:
        await _exercise(counters, "k")
        # Redis forgets by itself: after the last wait (2 s) and the quiet time (10 s).
        assert await counters._redis.ttl(prefix + "k:account") == 12
        await counters._redis.delete(prefix + "k:account", prefix + "k:pair")
    finally:
        await counters.close()
