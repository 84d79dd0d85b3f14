"""How the desk plugs into the backend app: its API routes (`ROUTES`, listed with the rest
in `bot.app`) and `setup(app)`, which adds the login check, the Rasa client, the canned
replies, the background loops and the page."""

from __future__ import annotations

from aiohttp import web

from bot import serving
from bot.api import Routes
from bot.desk import (
    accounts,
    assign,
    broker,
    canned,
    context,
    duty,
    feed,
    holding,
    loops,
    orders,
    page,
    presence,
    queue,
    rasa,
    ratings,
    recovery,
    reveal,
    search,
    waiting,
)

ROUTES: tuple[Routes, ...] = (
    accounts.routes,
    queue.routes,
    holding.routes,
    canned.routes,
    reveal.routes,
    duty.routes,
    orders.routes,
    presence.desk_routes,
    presence.chat_routes,
    context.routes,
    search.routes,
    ratings.routes,
    ratings.chat_routes,
)


def setup(app: web.Application) -> None:
    accounts.setup(app)
    presence.setup(app)
    app.cleanup_ctx.append(rasa.client)
    app.cleanup_ctx.append(canned.loaded)
    # The stop signal first: the loops after it are stopped (in reverse order) before it.
    app.cleanup_ctx.append(loops.stop_signal)
    app.cleanup_ctx.append(broker.reader)
    app.cleanup_ctx.append(recovery.sweeper)
    app.cleanup_ctx.append(feed.pusher)
    app.cleanup_ctx.append(waiting.watcher)
    app.cleanup_ctx.append(assign.assigner)
    # On SIGTERM: the loops begin to stop and the websockets close while requests drain.
    serving.when_stopping(app, feed.going_away)
    page.add_page(app)
