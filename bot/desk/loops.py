"""The desk's background loops (event reader, websocket push, waiting check): run each until
the app stops, restart it after a failure, and stop them all without cutting a step short."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

STOP = web.AppKey("desk_stop", asyncio.Event)
Loop = Callable[[web.Application], Awaitable[None]]


async def stop_signal(app: web.Application) -> AsyncIterator[None]:
    """The event every loop watches; set when the app stops (a cleanup context that must
    come before the loops' own)."""
    app[STOP] = asyncio.Event()
    yield
    app[STOP].set()


async def wait_unless_stopping(app: web.Application, seconds: float) -> bool:
    """Wait, unless the app stops meanwhile; True when it is stopping."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(app[STOP].wait(), timeout=seconds)
    return app[STOP].is_set()


async def keep_running(name: str, work: Loop, app: web.Application) -> None:
    """Run a loop of the desk until the app stops, restarting it after a failure."""
    while not app[STOP].is_set():
        try:
            await work(app)
        except Exception:
            log.exception("desk: %s stopped; restarting in 2 s", name)
            await wait_unless_stopping(app, 2)


async def stop_all(app: web.Application, tasks: list[asyncio.Task[None]]) -> None:
    """Let the loops finish their step (a database call cut off mid-way leaves an SQLite
    worker thread behind that keeps the process alive), then cancel what still runs."""
    app[STOP].set()
    _, late = await asyncio.wait(tasks, timeout=10)
    for task in late:
        task.cancel()
    for task in late:
        with contextlib.suppress(asyncio.CancelledError):
            await task
