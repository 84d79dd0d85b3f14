"""Scale-out mode as README.md describes it: endpoints.scale.yml with conversations in
PostgreSQL, per-conversation locks in Redis and every event published to RabbitMQ.

Runs when TEST_POSTGRES_URL is set and Redis and RabbitMQ answer on their usual loopback
ports (CI on this machine kind); skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator

import aio_pika
import aiohttp
import psycopg2
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot import tables
from bot.api import DB
from bot.app import create_app
from bot.settings import Settings
from tests.support.database import POSTGRES_ADMIN_URL, pg_admin
from tests.support.rest import say
from tests.support.stack import ROOT, Stack, free_port

REDIS = ("127.0.0.1", int(os.environ.get("TEST_REDIS_PORT", "6379")))
RABBITMQ = ("127.0.0.1", int(os.environ.get("TEST_RABBITMQ_PORT", "5672")))
RABBITMQ_URL = f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/"


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not (POSTGRES_ADMIN_URL and _answers(REDIS) and _answers(RABBITMQ)),
    reason="needs TEST_POSTGRES_URL, Redis and RabbitMQ on loopback",
)


async def _delete_queue(queue: str) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        await (await connection.channel()).queue_delete(queue)


@pytest.fixture(scope="module")
def scaled(stack: Stack) -> Iterator[tuple[str, str, str]]:
    """Rasa on endpoints.scale.yml; yields its URL, the tracker database and the queue."""
    assert POSTGRES_ADMIN_URL
    admin = make_url(POSTGRES_ADMIN_URL)
    database, queue = f"rasa_{uuid.uuid4().hex[:10]}", f"events_{uuid.uuid4().hex[:10]}"
    pg_admin(f'CREATE DATABASE "{database}"')
    port = free_port()
    started = len(stack.processes)
    env = {
        "ACTION_SERVER_URL": stack.action_url,
        "TRACKER_DB_HOST": admin.host or "127.0.0.1",
        "TRACKER_DB_PORT": str(admin.port or 5432),
        "TRACKER_DB_NAME": database,
        "TRACKER_DB_USER": admin.username or "postgres",
        "TRACKER_DB_PASSWORD": admin.password or "",
        "REDIS_HOST": REDIS[0],
        "REDIS_PORT": str(REDIS[1]),
        "REDIS_DB": "1",
        "REDIS_PASSWORD": "",
        "RABBITMQ_HOST": RABBITMQ[0],
        "RABBITMQ_USER": "guest",
        "RABBITMQ_PASSWORD": "guest",
        "RABBITMQ_QUEUE": queue,
    }
    try:
        stack.start_rasa(ROOT / "endpoints.scale.yml", port, env)
        yield f"http://127.0.0.1:{port}", database, queue
    finally:
        for process in stack.processes[started:]:
            process.terminate()
            process.wait(timeout=20)
        del stack.processes[started:]
        asyncio.run(_delete_queue(queue))
        pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def test_a_conversation_is_kept_in_postgresql_and_published_to_rabbitmq(
    scaled: tuple[str, str, str],
) -> None:
    url, database, queue = scaled
    async with aiohttp.ClientSession() as session:
        turn = await say(session, url, "scaled-1", "上海哪里有维修点")
    assert turn.actions == ["locator_form", "action_find_stations"]
    assert turn.replies
    assert POSTGRES_ADMIN_URL
    tracker_db = make_url(POSTGRES_ADMIN_URL).set(database=database)
    with (
        psycopg2.connect(tracker_db.render_as_string(hide_password=False)) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT count(*) FROM events WHERE sender_id = 'scaled-1'")
        stored = cur.fetchone()
    assert stored is not None and stored[0] >= 5
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        published = await (await connection.channel()).declare_queue(queue, passive=True)
    count = published.declaration_result.message_count
    assert count is not None and count >= 5


async def test_the_desk_reads_customer_messages_from_rabbitmq(
    stack: Stack, scaled: tuple[str, str, str]
) -> None:
    """In scale-out the desk consumes Rasa's queue: a customer's message written while a
    person holds the conversation is stored for the desk (and acknowledged only then)."""
    url, _, queue = scaled
    sender = f"scaled-desk-{uuid.uuid4().hex[:8]}"
    settings = Settings.from_env(
        stack.env
        | {"BOT_DESK_EVENTS_URL": RABBITMQ_URL, "BOT_DESK_EVENTS_QUEUE": queue, "BOT_RASA_URL": url}
    )
    m = tables.desk_messages
    async with aiohttp.ClientSession() as session:
        assert (await say(session, url, sender, "转人工")).paused
        async with TestClient(TestServer(create_app(settings))) as client:
            assert client.app is not None
            await say(session, url, sender, "屏幕一直闪，看不清")
            stored: list[str] = []
            for _ in range(100):
                async with client.app[DB].read() as conn:
                    stored = list(
                        await conn.scalars(
                            select(m.c.text).where(
                                m.c.conversation_id == sender, m.c.kind == "customer"
                            )
                        )
                    )
                if "屏幕一直闪，看不清" in stored:
                    break
                await asyncio.sleep(0.1)
    # "转人工" too: Rasa publishes a turn's events once the turn, and so the handoff, is done.
    assert stored == ["转人工", "屏幕一直闪，看不清"]
