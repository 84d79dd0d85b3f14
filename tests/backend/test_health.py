"""Health: the public answer for load balancers says ok, degraded or unavailable and nothing
more; the internal report names each dependency with reachable, latency and the error; the
desk's banner learns whether Rasa and the live feed work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.api import DB
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import COOKIE, create_account
from bot.settings import Settings
from tests.support.database import API_HEADERS
from tests.support.fake_rasa import FakeRasa, ServerFactory
from tests.support.stack import free_port

PASSWORD = "a-long-desk-password"


@pytest.fixture
async def rasa(aiohttp_server: ServerFactory) -> FakeRasa:
    return await FakeRasa.start(aiohttp_server)


@pytest.fixture
def make_backend(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, tmp_path: Path
) -> Callable[..., Any]:
    async def make(**changes: Any) -> TestClient:
        changes.setdefault("desk_events_url", f"sqlite:///{tmp_path / 'events.db'}")
        app = create_app(replace(settings, **changes), clock)
        client: TestClient = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
        return client

    return make


async def report(backend: TestClient) -> dict[str, dict[str, Any]]:
    reply = await backend.get("/api/health/dependencies", headers=API_HEADERS)
    body = await reply.json()
    assert reply.status == (503 if body["status"] == "unavailable" else 200)
    return {d["name"]: d for d in body["dependencies"]} | {"": {"status": body["status"]}}


async def test_all_reachable(make_backend: Callable[..., Any], rasa: FakeRasa) -> None:
    backend = await make_backend(rasa_url=rasa.url, rasa_token="the-rasa-token")
    reply = await backend.get("/api/health")
    assert (reply.status, await reply.json()) == (200, {"status": "ok"})
    found = await report(backend)
    assert found[""]["status"] == "ok"
    assert set(found) == {"", "database", "rasa", "event_feed"}
    for name in ("database", "rasa", "event_feed"):
        assert found[name]["ok"] and found[name]["reachable"], found[name]
        assert found[name]["error"] is None
        assert 0 <= found[name]["latency_ms"] < 1500
    assert found["database"]["detail"]["knowledge_cases"] == 60
    assert found["rasa"]["detail"] == {"model": "fake-model"}
    assert rasa.status_calls[-1] == "the-rasa-token"
    feed = found["event_feed"]["detail"]
    assert (feed["source"], feed["reader_running"], feed["behind"]) == ("sql", True, 0)


async def test_rasa_down_is_degraded_not_unavailable(make_backend: Callable[..., Any]) -> None:
    backend = await make_backend(rasa_url=f"http://127.0.0.1:{free_port()}")
    reply = await backend.get("/api/health")
    # Another backend process would not reach Rasa either: stay in rotation, say degraded.
    assert (reply.status, await reply.json()) == (200, {"status": "degraded"})
    found = await report(backend)
    assert found[""]["status"] == "degraded"
    assert not found["rasa"]["reachable"] and not found["rasa"]["ok"]
    assert "Cannot connect" in found["rasa"]["error"]
    assert found["database"]["ok"] and found["event_feed"]["ok"]


async def test_rasa_refusing_the_token_is_reachable_but_not_ok(
    make_backend: Callable[..., Any], rasa: FakeRasa
) -> None:
    rasa.failing = 401
    backend = await make_backend(rasa_url=rasa.url)
    rasa_report = (await report(backend))["rasa"]
    assert (rasa_report["reachable"], rasa_report["ok"]) == (True, False)
    assert rasa_report["error"] == "Rasa answered 401: the token was refused (RASA_TOKEN)"


async def test_a_broken_event_feed_is_reported(
    make_backend: Callable[..., Any], rasa: FakeRasa, tmp_path: Path
) -> None:
    garbage = tmp_path / "not-a-database.db"
    garbage.write_bytes(b"this is not an SQLite file" * 100)
    backend = await make_backend(rasa_url=rasa.url, desk_events_url=f"sqlite:///{garbage}")
    feed = (await report(backend))["event_feed"]
    assert not feed["ok"]
    assert "not a database" in feed["error"]
    assert (await (await backend.get("/api/health")).json()) == {"status": "degraded"}


async def test_no_database_means_unavailable(
    make_backend: Callable[..., Any], rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = await make_backend(rasa_url=rasa.url)
    assert backend.app is not None

    @asynccontextmanager
    async def broken() -> AsyncIterator[Any]:
        raise OSError("connection refused")
        yield

    monkeypatch.setattr(backend.app[DB], "read", broken)
    reply = await backend.get("/api/health")
    assert (reply.status, await reply.json()) == (503, {"status": "unavailable"})
    found = await report(backend)
    assert found[""]["status"] == "unavailable"
    assert found["database"]["error"] == "OSError: connection refused"


async def test_load_balancers_polling_often_cost_one_round_of_checks(
    make_backend: Callable[..., Any], rasa: FakeRasa
) -> None:
    backend = await make_backend(rasa_url=rasa.url)
    for _ in range(20):
        assert (await backend.get("/api/health")).status == 200
    assert len(rasa.status_calls) == 1
    await report(backend)  # the internal report always checks now
    assert len(rasa.status_calls) == 2


async def test_the_desk_banner_knows_when_rasa_is_unreachable(
    make_backend: Callable[..., Any], rasa: FakeRasa, db: Database, clock: Clock
) -> None:
    async with db.write() as conn:
        await create_account(conn, "zhang", "张敏", "agent", PASSWORD, Clock.to_db(clock.now()))
    rasa.failing = 502
    backend = await make_backend(rasa_url=rasa.url)
    assert (await backend.get("/desk/api/status")).status == 401
    login = await backend.post("/desk/api/login", json={"username": "zhang", "password": PASSWORD})
    cookie = {"Cookie": f"{COOKIE}={login.cookies[COOKIE].value}"}
    status = await (await backend.get("/desk/api/status", headers=cookie)).json()
    assert (status["rasa_reachable"], status["feed_alive"]) == (False, True)
