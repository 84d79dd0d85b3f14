"""The desk takes from Rasa's tracker store the customer messages its event broker never
delivered (RabbitMQ down, Rasa killed before publishing), each once, and only those of
conversations a person holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timezone
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import tables
from bot.api import CLOCK, DB
from bot.app import create_app
from bot.clock import Clock
from bot.desk import broker, recovery
from bot.settings import Settings
from tests.support.database import API_HEADERS
from tests.support.fake_rasa import FakeRasa, ServerFactory


def _tracker_store(path: Path, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Rasa's SQLTrackerStore table, with the columns the sweep reads."""
    engine = create_sync_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT,"
                " timestamp REAL, data TEXT)"
            )
        )
        for sender, event in events:
            conn.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, data)"
                    " VALUES (:s, :k, :t, :d)"
                ),
                {"s": sender, "k": event["event"], "t": event["timestamp"], "d": json.dumps(event)},
            )
    engine.dispose()


async def _customer_lines(backend: TestClient, conversation: str) -> list[str]:
    assert backend.app is not None
    m = tables.desk_messages
    async with backend.app[DB].read() as conn:
        rows = await conn.scalars(
            select(m.c.text)
            .where(m.c.conversation_id == conversation, m.c.kind == "customer")
            .order_by(m.c.sent_at)
        )
        return list(rows)


async def test_messages_the_broker_missed_are_taken_from_the_tracker_store_once(
    aiohttp_client: Callable[..., Any],
    aiohttp_server: ServerFactory,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    rasa = await FakeRasa.start(aiohttp_server)
    tracker_db = tmp_path / "rasa.db"
    app = create_app(
        replace(
            settings,
            rasa_url=rasa.url,
            desk_events_url=f"sqlite:///{tmp_path / 'never.db'}",
            tracker_db_url=f"sqlite:///{tracker_db}",
        ),
        clock,
    )
    backend: TestClient = await aiohttp_client(app, headers=API_HEADERS)
    rasa.events["held"].append({"event": "pause"})
    reply = await backend.post(
        "/api/handoffs", json={"conversation_id": "held", "channel": "rest", "reason": "requested"}
    )
    assert reply.status == 201, await reply.text()
    opened = app[CLOCK].now().astimezone(timezone.utc).timestamp()

    def said(words: str, at: float) -> dict[str, Any]:
        return {"event": "user", "text": words, "timestamp": at}

    delivered = said("电源灯不亮", opened + 1)
    _tracker_store(
        tracker_db,
        [
            # Long before the handoff: not the desk's.
            ("held", said("上个月问过保修", opened - 3600)),
            ("held", delivered),
            ("held", said("充电也没反应", opened + 2)),
            ("held", {"event": "bot", "text": "好的", "timestamp": opened + 3}),
            ("held", said("还在吗", opened + 4)),
            # Nobody holds this conversation.
            ("alone", said("你好", opened + 5)),
        ],
    )
    # The broker delivered one of them; RabbitMQ was down for the others.
    await broker.record_event(app[DB], app[CLOCK], "held", delivered)

    tracker = create_async_engine(f"sqlite+aiosqlite:///{tracker_db}")
    try:
        assert await recovery.sweep_once(app, tracker) == 3  # two customer lines, one bot
        assert await recovery.sweep_once(app, tracker) == 0
    finally:
        await tracker.dispose()
    assert await _customer_lines(backend, "held") == ["电源灯不亮", "充电也没反应", "还在吗"]
    assert await _customer_lines(backend, "alone") == []
