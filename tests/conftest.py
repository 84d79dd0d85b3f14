"""Shared fixtures: a migrated, seeded database per test, on SQLite and (when set) PostgreSQL.

The schema and a small demo data set are built once per session into a template (a file for
SQLite, a template database for PostgreSQL); every test gets a fresh copy of it, so tests never
see each other's writes. Set TEST_POSTGRES_URL (for example postgresql://postgres@127.0.0.1/postgres)
to run every backend test on PostgreSQL as well. The helpers behind them are in tests/support/.

Also the whole running system (`stack`) and the trained model (`trained_model`), and the `slow`
marker: every test that needs either, or Chromium, is marked here, so `pytest -m "not slow"`
(`make test-fast`) runs without a model and without a browser.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.db import Database, create_engine
from bot.migrate import upgrade
from bot.settings import Settings
from tests.support.chat import WEBCHAT_ENV
from tests.support.database import (
    API_HEADERS,
    BACKENDS,
    POSTGRES_ADMIN_URL,
    add_staff_user,
    fixed_clock,
    pg_admin,
    pg_url,
    seed,
    settings_for,
)
from tests.support.fake_rasa import FakeRasa, ServerFactory
from tests.support.fake_telegram import FakeTelegram
from tests.support.stack import Stack, latest_model

_counter = itertools.count()

TESTS = Path(__file__).resolve().parent
# Folders whose every test needs the running system or Chromium.
SLOW_FOLDERS = {"browser", "conversations"}
# Fixtures that need a trained model or start the system; any test depending on one, even
# through other fixtures, is slow.
SLOW_FIXTURES = {"stack", "trained_model"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` what needs the running system, a trained model or Chromium."""
    for item in items:
        path = item.path.resolve()
        folder = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
        fixtures = set(getattr(item, "fixturenames", ()))
        if folder in SLOW_FOLDERS or fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    made: dict[str, str] = {}
    path = tmp_path_factory.mktemp("template") / "bot.db"
    made["sqlite"] = f"sqlite:///{path}"
    if POSTGRES_ADMIN_URL:
        name = f"xc_template_{uuid.uuid4().hex[:8]}"
        pg_admin(f'CREATE DATABASE "{name}"')
        made["postgresql"] = name
    for backend in BACKENDS:
        url = made["sqlite"] if backend == "sqlite" else pg_url(made["postgresql"])
        upgrade(url)
        asyncio.run(seed(url))
    yield made
    if POSTGRES_ADMIN_URL:
        pg_admin(f'DROP DATABASE IF EXISTS "{made["postgresql"]}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, templates: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    """A fresh copy of the seeded template database."""
    if request.param == "sqlite":
        target = tmp_path / "bot.db"
        shutil.copyfile(Path(templates["sqlite"].removeprefix("sqlite:///")), target)
        yield f"sqlite:///{target}"
        return
    name = f"xc_test_{os.getpid()}_{next(_counter)}"
    pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{templates["postgresql"]}"')
    yield pg_url(name)
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
def clock() -> Clock:
    return fixed_clock()


@pytest.fixture
async def api(aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock) -> TestClient:
    """The backend's HTTP API on a fresh seeded database."""
    database = Database(create_engine(settings.database_url))
    try:
        await add_staff_user(database)
    finally:
        await database.close()
    client: TestClient = await aiohttp_client(create_app(settings, clock), headers=API_HEADERS)
    return client


@pytest.fixture
async def rasa(aiohttp_server: ServerFactory) -> FakeRasa:
    """A fake of Rasa's HTTP API on loopback, for the desk."""
    return await FakeRasa.start(aiohttp_server)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(create_engine(settings.database_url))
    yield database
    await database.close()


# --- the whole system, once per test session ------------------------------------------------
# Backend, action server and Rasa with the trained model, as `make run` starts them; the
# conversation, channel, desk and browser tests all talk to this one.


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The latest model in models/ (`make train`)."""
    return latest_model()


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    """The Bot API server the stack's Telegram channel talks to (started before the stack)."""
    server = FakeTelegram().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_telegram: FakeTelegram) -> Iterator[Stack]:
    # The stack's clock is frozen: its surveys go out at once instead of two hours after a close.
    outbox = {"BOT_CSAT_DELAY_MINUTES": "0"}
    running = Stack(
        tmp_path_factory.mktemp("stack"), extra_env=fake_telegram.env | WEBCHAT_ENV | outbox
    ).start()
    try:
        yield running
    finally:
        running.stop()
