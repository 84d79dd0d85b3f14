"""The desk's RabbitMQ reader (scale-out) with a real broker on loopback: the health report
counts the messages waiting, and stopping waits for the message being stored, acknowledges
it, and leaves the rest in the queue. Skipped without RabbitMQ on 127.0.0.1:5672."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aio_pika
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.clock import Clock
from bot.desk import broker
from bot.settings import Settings
from tests.support.database import API_HEADERS

RABBITMQ = ("127.0.0.1", int(os.environ.get("TEST_RABBITMQ_PORT", "5672")))
RABBITMQ_URL = f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/"


def _answers() -> bool:
    try:
        with socket.create_connection(RABBITMQ, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _answers(), reason="needs RabbitMQ on loopback")


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    name = f"desk_test_{uuid.uuid4().hex[:10]}"
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True)
        yield name
        await channel.queue_delete(name)


async def _publish(queue: str, count: int) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        for i in range(count):
            event = {"event": "user", "sender_id": f"amqp-{i}", "text": "你好", "timestamp": i}
            await channel.default_exchange.publish(
                aio_pika.Message(json.dumps(event).encode()), routing_key=queue
            )


async def _waiting(queue: str) -> int:
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        declared = await (await connection.channel()).declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def _feed(client: TestClient) -> dict[str, Any]:
    body = await (await client.get("/api/health/dependencies", headers=API_HEADERS)).json()
    [feed] = [d for d in body["dependencies"] if d["name"] == "event_feed"]
    return dict(feed)


async def test_the_report_counts_what_waits_and_stopping_finishes_the_message_in_hand(
    settings: Settings, clock: Clock, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    stored: list[str] = []

    async def slow_record(db: Any, clock: Any, conversation: str, event: Any) -> None:
        started.set()
        await release.wait()
        stored.append(conversation)

    monkeypatch.setattr(broker, "record_event", slow_record)
    app = create_app(
        replace(settings, desk_events_url=RABBITMQ_URL, desk_events_queue=queue), clock
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await _publish(queue, 5)
        await asyncio.wait_for(started.wait(), 10)
        feed = await _feed(client)
        assert feed["ok"], feed
        assert feed["detail"]["source"] == "amqp"
        # One in hand (unacknowledged, prefetched), the rest prefetched too: none is "ready".
        assert feed["detail"]["behind"] == 0
    finally:
        # SIGTERM arrives while the first message is being stored.
        stopping = asyncio.create_task(client.close())
        await asyncio.sleep(0.3)
        release.set()
        began = time.monotonic()
        await stopping
    assert time.monotonic() - began < 4
    assert stored == ["amqp-0"], "the message in hand was stored, no other was started"
    # It was acknowledged; the four not started went back to the queue for the next process.
    assert await _waiting(queue) == 4
