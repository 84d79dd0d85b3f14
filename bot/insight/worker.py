"""The backend's insight loops: conversation facts from Rasa's events, the rollups' refresh
(today's figures at most ``REFRESH_SECONDS`` + one refresh behind) and the early-warning scan.

They run like the desk's loops (``bot.desk.loops``): restarted after a failure, stopped at a
safe point on SIGTERM. A first refresh and scan wait a few seconds after the start, so a
backend that starts and stops at once (the tests, a failed deploy) does no work for nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from bot.api import CLOCK, DB
from bot.desk.loops import start_loop, stop_all, wait_unless_stopping
from bot.insight.alerts import scan
from bot.reports import conversations, rollups

log = logging.getLogger(__name__)

FIRST_WAIT_SECONDS = 5.0
SCAN_SECONDS = 900.0


async def _refreshing(app: web.Application) -> None:
    since: datetime | None = None
    if await wait_unless_stopping(app, FIRST_WAIT_SECONDS):
        return
    while True:
        since = await rollups.refresh(app[DB], app[CLOCK], since)
        if await wait_unless_stopping(app, rollups.REFRESH_SECONDS):
            return


async def _scanning(app: web.Application) -> None:
    if await wait_unless_stopping(app, FIRST_WAIT_SECONDS * 2):
        return
    while True:
        new = await scan(app[DB], app[CLOCK])
        if new:
            log.warning("insight: %d new early-warning alert(s)", new)
        if await wait_unless_stopping(app, SCAN_SECONDS):
            return


async def loops(app: web.Application) -> AsyncIterator[None]:
    """Start the insight loops with the app and stop them with it (a cleanup context that
    comes after the desk's stop signal)."""
    tasks = [
        start_loop("conversation facts", conversations.follow, app),
        start_loop("report rollups", _refreshing, app),
        start_loop("early warning", _scanning, app),
    ]
    yield
    await stop_all(app, tasks)
