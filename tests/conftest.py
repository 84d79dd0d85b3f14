"""Shared fixtures: a migrated, seeded database per test, on SQLite and (when set) PostgreSQL.

The schema and a small demo data set are built once per session into a template (a file for
SQLite, a template database for PostgreSQL); every test gets a fresh copy of it, so tests never
see each other's writes. Set TEST_POSTGRES_URL (for example postgresql://postgres@127.0.0.1/postgres)
to run every backend test on PostgreSQL as well.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.clock import Clock
from bot.db import Database, create_engine
from bot.demo import seed_demo
from bot.migrate import upgrade
from bot.settings import Settings
from tests.browser.chat import WEBCHAT_ENV
from tests.conversations.fake_telegram import FakeTelegram
from tests.conversations.stack import Stack

TZ = ZoneInfo("Asia/Shanghai")
# A Friday morning: slots from Saturday on are bookable, Sunday-closed stations exist.
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
DEVICES, CODES = 120, 600
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_ADMIN_URL else [])
_counter = itertools.count()


def fixed_clock() -> Clock:
    return Clock(TZ, fixed=NOW)


def settings_for(url: str) -> Settings:
    return Settings.from_env({"BOT_DATABASE_URL": url})


async def _seed(url: str) -> None:
    db = Database(create_engine(url))
    try:
        await seed_demo(db, settings_for(url), fixed_clock(), devices=DEVICES, codes=CODES)
    finally:
        await db.close()


def _pg_admin(sql: str) -> None:
    import psycopg2

    assert POSTGRES_ADMIN_URL
    conn = psycopg2.connect(POSTGRES_ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _pg_url(name: str) -> str:
    assert POSTGRES_ADMIN_URL
    return str(
        make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    made: dict[str, str] = {}
    path = tmp_path_factory.mktemp("template") / "bot.db"
    made["sqlite"] = f"sqlite:///{path}"
    if POSTGRES_ADMIN_URL:
        name = f"xc_template_{uuid.uuid4().hex[:8]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        made["postgresql"] = name
    for backend in BACKENDS:
        url = made["sqlite"] if backend == "sqlite" else _pg_url(made["postgresql"])
        upgrade(url)
        asyncio.run(_seed(url))
    yield made
    if POSTGRES_ADMIN_URL:
        _pg_admin(f'DROP DATABASE IF EXISTS "{made["postgresql"]}" WITH (FORCE)')


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
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{templates["postgresql"]}"')
    yield _pg_url(name)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
def clock() -> Clock:
    return fixed_clock()


@pytest.fixture
async def api(aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock) -> TestClient:
    """The backend's HTTP API on a fresh seeded database."""
    client: TestClient = await aiohttp_client(create_app(settings, clock))
    return client


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(create_engine(settings.database_url))
    yield database
    await database.close()


# --- the whole system, once per test session ------------------------------------------------
# Backend, action server and Rasa with the trained model, as `make run` starts them; the
# conversation, channel, desk and browser tests all talk to this one.


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
    running = Stack(
        tmp_path_factory.mktemp("stack"), extra_env=fake_telegram.env | WEBCHAT_ENV
    ).start()
    try:
        yield running
    finally:
        running.stop()
