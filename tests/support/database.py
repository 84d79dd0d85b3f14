"""The test data's clock and databases: the frozen time, the demo data, PostgreSQL when set.

The fixtures in tests/conftest.py build a seeded template from these once per session and give
every test a fresh copy. Set TEST_POSTGRES_URL (for example postgresql://postgres@127.0.0.1/postgres)
to run every backend test on PostgreSQL as well.
"""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from bot.clock import Clock
from bot.db import Database, create_engine
from bot.demo import seed_demo
from bot.desk.accounts import create_account
from bot.settings import Settings

TZ = ZoneInfo("Asia/Shanghai")
# A Friday morning: slots from Saturday on are bookable, Sunday-closed stations exist.
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
DEVICES, CODES = 120, 600
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL")
# The internal API's token in tests, and the staff member the tests act as on staff-only routes.
API_TOKEN = "test-internal-api-token"
STAFF_USER = "qa-staff"
API_HEADERS = {"Authorization": f"Bearer {API_TOKEN}", "X-Staff-User": STAFF_USER}
# The REST channel's token on the test stack (REST_CHANNEL_TOKEN).
REST_TOKEN = "test-rest-channel-token"
REST_HEADERS = {"Authorization": f"Bearer {REST_TOKEN}"}
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_ADMIN_URL else [])


def fixed_clock() -> Clock:
    return Clock(TZ, fixed=NOW)


def settings_for(url: str) -> Settings:
    # No early-warning scan of its own: a test scans when it chooses (tests/backend/test_alerts.py).
    # The outbox tests run the worker's steps themselves, on a clock they move.
    return Settings.from_env(
        {
            "BOT_DATABASE_URL": url,
            "BOT_API_TOKEN": API_TOKEN,
            "BOT_INSIGHT_SCAN_SECONDS": "0",
            "BOT_COMPLAINT_SCAN_SECONDS": "0",
            "BOT_OUTBOX_WORKER": "off",
        }
    )


async def add_staff_user(db: Database) -> None:
    """The supervisor account the tests name in X-Staff-User."""
    async with db.write() as conn:
        await create_account(
            conn,
            STAFF_USER,
            "质检员",
            "supervisor",
            "a-long-test-password",
            Clock.to_db(fixed_clock().now()),
        )


async def seed(url: str) -> None:
    """The demo data of the template, generated around NOW."""
    db = Database(create_engine(url))
    try:
        await seed_demo(db, settings_for(url), fixed_clock(), devices=DEVICES, codes=CODES)
    finally:
        await db.close()


def pg_admin(sql: str) -> None:
    """Run one statement as the TEST_POSTGRES_URL user (CREATE/DROP DATABASE)."""
    import psycopg2

    assert POSTGRES_ADMIN_URL
    conn = psycopg2.connect(POSTGRES_ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_url(name: str) -> str:
    """The URL of database `name` on the TEST_POSTGRES_URL server."""
    assert POSTGRES_ADMIN_URL
    return str(
        make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    )
