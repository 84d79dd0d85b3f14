"""`python -m bot serve` on SIGTERM, as a real process: it stops accepting, finishes the request
in flight, closes the desk's websockets with 1001 and exits with 0 within 10 s; a request that
never finishes is cancelled after the grace, and the process still stops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.clock import Clock
from bot.db import Database
from bot.desk.accounts import create_account
from tests.support.backend import BackendProcess, backend_env, start_backend
from tests.support.database import API_TOKEN, NOW
from tests.support.inflight import SlowRequest, exit_after, refuses, terminate

PASSWORD = "a-long-desk-password"
VERDICT = {"serial": "PF2K7Q9A", "on_date": "2026-12-03"}


@pytest.fixture
def started() -> Iterator[list[BackendProcess]]:
    backends: list[BackendProcess] = []
    yield backends
    for backend in backends:
        backend.kill()


def _start(database_url: str, workdir: Path, **env: str) -> BackendProcess:
    return start_backend(backend_env(database_url, workdir) | env, workdir / "backend.log")


async def test_sigterm_finishes_the_request_in_flight_and_closes_the_desk(
    database_url: str, db: Database, tmp_path: Path, started: list[BackendProcess]
) -> None:
    async with db.write() as conn:
        await create_account(conn, "zhang", "张敏", "agent", PASSWORD, Clock.to_db(NOW))
    backend = _start(database_url, tmp_path)
    started.append(backend)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        login = await session.post(
            f"{backend.url}/desk/api/login", json={"username": "zhang", "password": PASSWORD}
        )
        assert login.status == 200, await login.text()
        socket = await session.ws_connect(f"{backend.url}/desk/ws", origin=backend.url)

        request = SlowRequest(
            backend.port,
            "POST",
            "/api/warranty/verdict",
            VERDICT,
            {"Authorization": f"Bearer {API_TOKEN}"},
        ).start()
        await asyncio.sleep(
            0.5
        )  # the backend has the request's headers and is waiting for the rest
        sent = terminate(backend.process)

        assert refuses(backend.port), "still accepting connections after SIGTERM"
        closing = await socket.receive(timeout=5)
        assert (closing.type, socket.close_code) == (aiohttp.WSMsgType.CLOSE, 1001)
        await asyncio.sleep(1.0)  # the request is still in flight a second after the signal
        assert backend.process.poll() is None
        status, verdict = request.finish()
        assert status == 200, verdict
        assert verdict["remedy"] == "free_repair"

    took = exit_after(backend.process, sent)
    assert backend.process.returncode == 0, backend.output()
    assert took < 10, f"stopped in {took:.1f} s"
    log = backend.output()
    assert "1 request(s) in flight finished" in log
    assert "closed 1 websocket(s)" in log
    assert "did not stop in time" not in log, "a desk loop missed its safe point"


def test_a_request_that_never_finishes_is_cut_after_the_grace(
    database_url: str, tmp_path: Path, started: list[BackendProcess]
) -> None:
    backend = _start(database_url, tmp_path, BOT_SHUTDOWN_GRACE="1")
    started.append(backend)
    request = SlowRequest(
        backend.port,
        "POST",
        "/api/warranty/verdict",
        VERDICT,
        {"Authorization": f"Bearer {API_TOKEN}"},
    ).start()
    time.sleep(0.5)
    sent = terminate(backend.process)
    took = exit_after(backend.process, sent)
    assert backend.process.returncode == 0, backend.output()
    assert 1 <= took < 5, f"stopped in {took:.1f} s"
    assert not request.answer_or_none().startswith(b"HTTP/1.1 200")
    assert "1 request(s) still running after 1 s; cancelling them" in backend.output()


def test_an_idle_backend_stops_at_once(
    database_url: str, tmp_path: Path, started: list[BackendProcess]
) -> None:
    backend = _start(database_url, tmp_path)
    started.append(backend)
    took = exit_after(backend.process, terminate(backend.process))
    assert backend.process.returncode == 0, backend.output()
    assert took < 3, f"stopped in {took:.1f} s"
