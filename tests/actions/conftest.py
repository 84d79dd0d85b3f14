"""Actions run against a real backend on a temporary database, over HTTP on loopback.

Trackers are built by `tests.support.trackers.make_tracker`; responses are checked by name,
events exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk.executor import CollectingDispatcher

from actions import common
from bot.app import create_app
from bot.client import ServiceClient
from bot.clock import Clock
from bot.db import Database, create_engine
from bot.settings import Settings
from tests.support.database import API_TOKEN, STAFF_USER, add_staff_user

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    loaded: dict[str, Any] = Domain.load(str(DOMAIN_FILE)).as_dict()
    return loaded


@pytest.fixture
async def service(
    aiohttp_server: Any, settings: Settings, clock: Clock
) -> AsyncIterator[ServiceClient]:
    """The backend on a fresh seeded database, and the actions' client pointed at it."""
    database = Database(create_engine(settings.database_url))
    try:
        await add_staff_user(database)
    finally:
        await database.close()
    server = await aiohttp_server(create_app(settings, clock))
    # Tests read back what the actions wrote, some of it on staff-only routes.
    client = ServiceClient(str(server.make_url("/")), token=API_TOKEN, staff=STAFF_USER, timeout=10)
    common.use_client(client)
    common.use_clock(clock)
    yield client
    await client.close()
    common.use_client(None)
    common.use_clock(None)


@pytest.fixture
async def backend_down(unused_tcp_port: int, clock: Clock) -> AsyncIterator[None]:
    """The actions' client pointed at a port where nothing listens."""
    client = ServiceClient(f"http://127.0.0.1:{unused_tcp_port}", timeout=1, retries=0)
    common.use_client(client)
    common.use_clock(clock)
    yield
    await client.close()
    common.use_client(None)
    common.use_clock(None)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()
