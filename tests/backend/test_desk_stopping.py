"""The desk's loops stop at a safe point when the backend stops: the event reader after the
event it is storing (its cursor saved there), the waiting check between two customers; a
notice cut off while Rasa hangs is given back, so the next process sends it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import tables
from bot.api import CLOCK, DB, SETTINGS
from bot.app import create_app
from bot.clock import Clock
from bot.desk import broker, waiting
from bot.desk.loops import DEADLINE, STOP, Deadline, begin_stop, stopping
from bot.desk.rasa import RASA, Rasa
from bot.settings import Settings
from tests.support.database import API_HEADERS
from tests.support.fake_rasa import Call, FakeRasa, ServerFactory


@pytest.fixture
async def rasa(aiohttp_server: ServerFactory) -> FakeRasa:
    return await FakeRasa.start(aiohttp_server)


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    rasa: FakeRasa,
    tmp_path: Path,
) -> TestClient:
    # The app's own reader waits for an event file that never comes: the test reads itself.
    never = f"sqlite:///{tmp_path / 'never.db'}"
    app = create_app(replace(settings, rasa_url=rasa.url, desk_events_url=never), clock)
    client: TestClient = await aiohttp_client(app, headers=API_HEADERS)
    return client


def _app(backend: TestClient) -> web.Application:
    assert backend.app is not None
    return backend.app


def _events_table(path: Path, senders: list[str]) -> None:
    """Rasa's SQL event broker table with one user message per sender."""
    engine = create_sync_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, data TEXT)")
        )
        for i, sender in enumerate(senders, 1):
            event = {"event": "user", "text": f"消息{i}", "timestamp": 1000.0 + i}
            conn.execute(
                text("INSERT INTO events (sender_id, data) VALUES (:s, :d)"),
                {"s": sender, "d": json.dumps(event)},
            )
    engine.dispose()


async def test_the_reader_stops_after_the_event_it_is_storing(
    backend: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(backend)
    conversations = [f"conv-{i}" for i in range(6)]
    for conversation in conversations:  # the desk keeps the messages of held conversations
        reply = await backend.post(
            "/api/handoffs",
            json={"conversation_id": conversation, "channel": "rest", "reason": "requested"},
        )
        assert reply.status == 201, await reply.text()
    _events_table(tmp_path / "events.db", conversations)
    stored: list[str] = []
    record = broker.record_event

    async def record_then_stop(db: Any, clock: Any, conversation: str, event: Any) -> None:
        await record(db, clock, conversation, event)
        stored.append(conversation)
        if len(stored) == 2:
            begin_stop(app)  # SIGTERM arrives while the second event is being stored

    monkeypatch.setattr(broker, "record_event", record_then_stop)
    events = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    try:
        assert await broker.read_events_once(app, events) == 2
    finally:
        await events.dispose()
    assert stored == ["conv-0", "conv-1"]
    # The next process goes on from the third event: nothing skipped, nothing read twice.
    assert await broker.cursor_position(app[DB]) == 2


async def _overdue(backend: TestClient, rasa: FakeRasa, count: int) -> list[str]:
    """Handoffs nobody claimed; returns their conversations."""
    conversations = []
    for i in range(count):
        conversation = f"waiting-{i}"
        rasa.events[conversation].append({"event": "pause"})
        reply = await backend.post(
            "/api/handoffs",
            json={"conversation_id": conversation, "channel": "rest", "reason": "requested"},
        )
        assert reply.status == 201, await reply.text()
        conversations.append(conversation)
    return conversations


async def _notified(backend: TestClient) -> int:
    a = tables.desk_assignments
    async with _app(backend)[DB].read() as conn:
        rows = await conn.execute(select(a.c.notified_at).where(a.c.notified_at.is_not(None)))
        return len(list(rows))


@pytest.fixture
async def later_desk(
    backend: TestClient, settings: Settings, clock: Clock, rasa: FakeRasa
) -> AsyncIterator[web.Application]:
    """What `waiting.check_once` needs of a desk process whose clock is past every
    customer's wait, without the background loops of a started app."""
    app = web.Application()
    app[DB] = _app(backend)[DB]
    app[SETTINGS] = settings
    app[CLOCK] = Clock(clock.tz, fixed=clock.now() + timedelta(minutes=10))
    app[STOP], app[DEADLINE] = asyncio.Event(), Deadline()
    async with aiohttp.ClientSession() as session:
        app[RASA] = Rasa(session, rasa.url, None)
        yield app


async def test_the_waiting_check_stops_between_two_customers(
    backend: TestClient, rasa: FakeRasa, later_desk: web.Application
) -> None:
    app = later_desk
    await _overdue(backend, rasa, 3)

    async def stop_on_first(call: Call) -> None:
        begin_stop(app)

    rasa.on_call = stop_on_first
    # The first customer's notice is sent whole (resume, the notice, listen); then it stops.
    assert await waiting.check_once(app) == 1
    assert stopping(app)
    assert await _notified(backend) == 1


async def test_a_notice_cut_off_while_rasa_hangs_is_given_back(
    backend: TestClient, rasa: FakeRasa, later_desk: web.Application
) -> None:
    app = later_desk
    [conversation] = await _overdue(backend, rasa, 1)
    rasa.hold()
    check = asyncio.create_task(waiting.check_once(app))
    await rasa.held()
    assert await _notified(backend) == 1
    check.cancel()  # stopping could not wait any longer
    with pytest.raises(asyncio.CancelledError):
        await check
    rasa.release()
    assert await _notified(backend) == 0, "the next process must tell the customer"
    assert rasa.said(conversation) == []
