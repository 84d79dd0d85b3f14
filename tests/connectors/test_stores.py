"""The scale-out tracker store keeps working after its PostgreSQL connections were cut (a
database restart or failover), where Rasa's own store fails the next read of each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from connectors.stores import SteadySQLTrackerStore
from tests.support.database import POSTGRES_ADMIN_URL, pg_admin

pytestmark = pytest.mark.skipif(not POSTGRES_ADMIN_URL, reason="needs TEST_POSTGRES_URL")


@pytest.fixture
def database() -> Iterator[str]:
    name = f"trackers_{uuid.uuid4().hex[:10]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    yield name
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _store(kind: type[SQLTrackerStore], database: str) -> SQLTrackerStore:
    assert POSTGRES_ADMIN_URL
    admin = make_url(POSTGRES_ADMIN_URL)
    return kind(
        domain=Domain.empty(),
        dialect="postgresql",
        host=admin.host,
        port=admin.port or 5432,
        db=database,
        username=admin.username,
        password=admin.password,
    )


def _cut_connections(database: str) -> None:
    """What a restart does to the connections in a pool."""
    pg_admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )


async def _said(store: SQLTrackerStore, sender: str, *texts: str) -> None:
    tracker = await store.retrieve(sender) or DialogueStateTracker(sender, [])
    for text in texts:
        tracker.update(UserUttered(text))
    await store.save(tracker)


async def test_rasas_own_store_fails_the_first_read_after_a_restart(database: str) -> None:
    store = _store(SQLTrackerStore, database)
    await _said(store, "c1", "你好")
    _cut_connections(database)
    with pytest.raises(OperationalError):
        await store.retrieve("c1")


async def test_the_steady_store_reads_and_writes_after_a_restart(database: str) -> None:
    store = _store(SteadySQLTrackerStore, database)
    await _said(store, "c1", "你好")
    _cut_connections(database)
    await _said(store, "c1", "我想预约维修")
    _cut_connections(database)
    tracker = await store.retrieve("c1")
    assert tracker is not None
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == [
        "你好",
        "我想预约维修",
    ]


class _CuttingBroker(EventBroker):  # type: ignore[misc]
    """Records what it is given and, the first time, cuts the store's connections: the
    table write that follows fails as in a restart between the broker and the table."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.published: list[str] = []

    def publish(self, event: dict[str, Any]) -> None:
        if not self.published:
            _cut_connections(self.database)
        self.published.append(str(event.get("text")))


async def test_a_retried_write_publishes_the_turn_once(database: str) -> None:
    store = _store(SteadySQLTrackerStore, database)
    broker = _CuttingBroker(database)
    store.event_broker = broker
    await _said(store, "c1", "你好", "打印机卡纸")
    tracker = await store.retrieve("c1")
    assert tracker is not None
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["你好", "打印机卡纸"]
    assert broker.published == ["你好", "打印机卡纸"]
