"""How `python -m bot serve` runs the app, and how it stops.

On SIGTERM (what systemd, Docker, Kubernetes and `make run` send) or SIGINT (Ctrl-C):

1. it stops accepting: the listening socket closes, and so do the keep-alive connections that
   carry no request; a response sent from now on closes its connection;
2. the `when_stopping` hooks run: the desk tells its loops to stop at their next safe point
   and closes the staff's websockets with 1001 (going away);
3. the requests in flight finish, for at most `BOT_SHUTDOWN_GRACE` seconds (default 5) after
   the signal, including one whose body is still arriving; what still runs then is cancelled
   (and logged);
4. aiohttp's own shutdown and the cleanups run (the desk's loops are joined, the Rasa client
   and the database closed) and the process exits with 0.

aiohttp's `run_app` does not do this: it waits up to 60 s for every task started after the
app (the desk's loops poll for ever), and closes every connection before the shutdown
handlers run, which drops the rest of a request body still arriving.

A second signal ends the process at once, and so does a watchdog `HARD_STOP_SECONDS` after the
first (both with exit code 1 and a log line): a database driver thread that hangs must not keep
the process alive until the supervisor's SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

log = logging.getLogger(__name__)

# Every process of the system stops within 10 s of SIGTERM; this leaves room for the cleanups.
HARD_STOP_SECONDS = 9.5
# What aiohttp gives a request still running after the grace before cancelling it (its
# response is being written, or it ignored the grace).
CANCEL_AFTER_SECONDS = 1.0

Hook = Callable[[web.Application], Awaitable[None]]


@dataclass
class Serving:
    """The requests being served now (websockets included until they close), and what runs
    when the process begins to stop."""

    grace: float
    count: int = 0
    stopping_since: float | None = None
    hooks: list[Hook] = field(default_factory=list)
    # Connections with a request in flight (RequestHandler → requests), the others are idle.
    busy: Counter[object] = field(default_factory=Counter)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._idle.set()

    @property
    def stopping(self) -> bool:
        return self.stopping_since is not None

    def enter(self, connection: object) -> None:
        self.count += 1
        self.busy[connection] += 1
        self._idle.clear()

    def leave(self, connection: object) -> None:
        self.count -= 1
        self.busy[connection] -= 1
        if self.busy[connection] <= 0:
            del self.busy[connection]
        if self.count == 0:
            self._idle.set()

    async def idle(self, seconds: float) -> bool:
        """Wait until nothing is in flight, at most `seconds`; True when nothing is."""
        if seconds > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=seconds)
        return self.count == 0


SERVING = web.AppKey("serving", Serving)


@web.middleware
async def count_in_flight(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    serving = request.config_dict[SERVING]
    serving.enter(request.protocol)
    try:
        response = await handler(request)
        if serving.stopping and not response.prepared:
            response.force_close()  # no next request on this connection
        return response
    finally:
        serving.leave(request.protocol)


def setup(app: web.Application, grace: float) -> None:
    """Count the requests in flight (before every other part of the app is set up)."""
    app[SERVING] = Serving(grace)
    app.middlewares.insert(0, count_in_flight)


def when_stopping(app: web.Application, hook: Hook) -> None:
    """Run `hook` as soon as the process begins to stop, while requests drain."""
    app[SERVING].hooks.append(hook)


async def stop(app: web.Application, runner: web.AppRunner) -> None:
    """Steps 1-3 of the module's docstring; `runner.cleanup()` does the rest."""
    serving = app[SERVING]
    since = serving.stopping_since = serving.stopping_since or time.monotonic()
    for site in list(runner.sites):
        await site.stop()
    if runner.server is not None:
        for connection in runner.server.connections:
            if connection not in serving.busy:
                connection.close()
    for hook in serving.hooks:
        await hook(app)
    running = serving.count
    if await serving.idle(serving.grace - (time.monotonic() - since)):
        if running:
            log.info(
                "shutdown: %d request(s) in flight finished in %.1f s",
                running,
                time.monotonic() - since,
            )
        return
    log.warning(
        "shutdown: %d request(s) still running after %.0f s; cancelling them",
        serving.count,
        serving.grace,
    )


def _exit_now(why: str) -> None:
    log.error("shutdown: %s; exiting now", why)
    logging.shutdown()
    os._exit(1)


async def _serve(app: web.Application, host: str, port: int) -> None:
    signalled = asyncio.Event()
    received: list[str] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if received:
            _exit_now(f"{name} received while stopping")
        received.append(name)
        app[SERVING].stopping_since = time.monotonic()
        watchdog = threading.Timer(
            HARD_STOP_SECONDS, _exit_now, (f"still stopping after {HARD_STOP_SECONDS:.1f} s",)
        )
        watchdog.daemon = True
        watchdog.start()
        signalled.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=CANCEL_AFTER_SECONDS)
    await runner.setup()
    try:
        if not signalled.is_set():  # not told to stop while starting
            await web.TCPSite(runner, host, port).start()
            log.info("backend listening on http://%s:%d", host, port)
        await signalled.wait()
        log.info(
            "shutdown: %s received; not accepting, %d request(s) in flight",
            received[0],
            app[SERVING].count,
        )
        await stop(app, runner)
    finally:
        started = app[SERVING].stopping_since or time.monotonic()
        await runner.cleanup()
        log.info("shutdown: stopped in %.1f s", time.monotonic() - started)


def serve(app: web.Application, host: str, port: int) -> int:
    """Run the app until SIGTERM or SIGINT, then stop it gracefully; the exit code."""
    asyncio.run(_serve(app, host, port))
    return 0
