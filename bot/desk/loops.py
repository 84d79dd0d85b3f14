"""The desk's background loops (event reader, websocket push, waiting check): run each until
the app stops, restart it after a failure, and stop them all without cutting a step short.

Stopping begins when the app shuts down (`begin_stop`, from the desk's `on_shutdown`
handler, at the same time as the requests in flight drain): each loop finishes the step it is
in (an event stored, a notice sent and recorded) and does not start another. A step still
running `STOP_SECONDS` later is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)

# How long the loops have to reach a safe point once stopping began (well within the 10 s a
# process has to stop, see bot.serving).
STOP_SECONDS = 4.0

STOP = web.AppKey("desk_stop", asyncio.Event)
Loop = Callable[[web.Application], Awaitable[None]]


@dataclass
class Deadline:
    """When the loops must have stopped (loop time), once stopping began."""

    at: float | None = None


DEADLINE = web.AppKey("desk_stop_deadline", Deadline)


async def stop_signal(app: web.Application) -> AsyncIterator[None]:
    """The event every loop watches; set when the app stops (a cleanup context that must
    come before the loops' own)."""
    app[STOP] = asyncio.Event()
    app[DEADLINE] = Deadline()
    yield
    begin_stop(app)


def begin_stop(app: web.Application) -> None:
    """Tell every loop to stop at its next safe point (once; later calls change nothing)."""
    if app[DEADLINE].at is None:
        app[DEADLINE].at = asyncio.get_running_loop().time() + STOP_SECONDS
    app[STOP].set()


def stopping(app: web.Application) -> bool:
    return app[STOP].is_set()


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


def start_loop(name: str, work: Loop, app: web.Application) -> asyncio.Task[None]:
    """Start a loop of the desk (its task carries the name, for the logs)."""
    return asyncio.create_task(keep_running(name, work, app), name=f"desk {name}")


async def stop_all(app: web.Application, tasks: list[asyncio.Task[None]]) -> None:
    """Let the loops finish their step (a database call cut off mid-way leaves an SQLite
    worker thread behind that keeps the process alive), then cancel what still runs."""
    begin_stop(app)
    deadline = app[DEADLINE].at
    assert deadline is not None
    left = max(0.0, deadline - asyncio.get_running_loop().time())
    _, late = await asyncio.wait(tasks, timeout=left)
    for task in late:
        log.warning("%s did not stop in time; cancelling it", task.get_name())
        task.cancel()
    for task in late:
        with contextlib.suppress(asyncio.CancelledError):
            await task
