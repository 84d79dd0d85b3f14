"""The backend's insight loops: conversation facts from Rasa's events, the rollups' refresh
(today's figures at most ``REFRESH_SECONDS`` + one refresh behind) and the early-warning scan.

They run like the desk's loops (``bot.desk.loops``): restarted after a failure, stopped at a
safe point on SIGTERM. A first refresh and scan wait a few seconds after the start, so a
backend that starts and stops at once (the tests, a failed deploy) does no work for nothing.

The scan runs as a child process (``python -m bot insight scan`` on the app's database): the
detector is seconds of numpy and scipy work (its first designs are calibrated in the process),
which would stall every request and websocket of this event loop, and a thread could not be
stopped within the 10 s a stopping backend has. The child is terminated when the app stops; it
stores each alert in its own transaction, so a scan cut short loses nothing stored.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from bot.api import CLOCK, DB, SETTINGS
from bot.desk.loops import STOP, start_loop, stop_all, wait_unless_stopping
from bot.reports import conversations, rollups

log = logging.getLogger(__name__)

FIRST_WAIT_SECONDS = 5.0
SCAN_TIMEOUT_SECONDS = 600.0


async def _refreshing(app: web.Application) -> None:
    since: datetime | None = None
    if await wait_unless_stopping(app, FIRST_WAIT_SECONDS):
        return
    while True:
        since = await rollups.refresh(app[DB], app[CLOCK], since, app[SETTINGS])
        if await wait_unless_stopping(app, rollups.REFRESH_SECONDS):
            return


async def scan_in_child(app: web.Application) -> str:
    """One scan in a child process; what it printed, or why it did not finish."""
    settings = app[SETTINGS]
    env = dict(
        os.environ,
        BOT_DATABASE_URL=settings.database_url,
        BOT_TIMEZONE=str(settings.timezone),
    )
    if settings.frozen_at is not None:
        env["BOT_CLOCK"] = settings.frozen_at.isoformat()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "insight",
        "scan",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = asyncio.create_task(child.communicate())
    stop = asyncio.create_task(app[STOP].wait())
    done, _ = await asyncio.wait(
        {output, stop}, timeout=SCAN_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
    )
    stop.cancel()
    if output in done:
        text = output.result()[0].decode(errors="replace").strip()
        return text.splitlines()[-1] if text else f"exit {child.returncode}"
    child.terminate()
    await output
    return "stopped" if stop in done else f"did not finish in {SCAN_TIMEOUT_SECONDS:.0f} s"


async def _scanning(app: web.Application) -> None:
    every = app[SETTINGS].insight_scan_seconds
    if every <= 0:
        await wait_unless_stopping(app, 1e9)
        return
    if await wait_unless_stopping(app, FIRST_WAIT_SECONDS * 2):
        return
    while True:
        log.info("insight: early-warning scan: %s", await scan_in_child(app))
        if await wait_unless_stopping(app, every):
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
