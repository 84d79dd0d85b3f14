"""The service backend's aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bot import (
    authenticity,
    catalogue,
    complaints,
    extensions,
    followups,
    handoffs,
    health,
    knowledge,
    outbox_worker,
    serving,
    stations,
    warranty,
    webchat,
    workorders,
)
from bot.api import CLOCK, DB, SETTINGS, Routes, error_middleware, json_response, openapi_document
from bot.attachments import routes as attachments
from bot.audiences import guard_audiences
from bot.clock import Clock
from bot.complaints import desk as complaints_desk
from bot.complaints import escalation
from bot.db import Database, create_engine
from bot.desk import routes as desk
from bot.insight import routes as insight
from bot.insight import worker as insight_worker
from bot.reports import routes as reports
from bot.settings import Settings
from bot.station import console, learning, oversight

VERSION = "0.1.0"
ROUTES: tuple[Routes, ...] = (
    catalogue.routes,
    warranty.routes,
    extensions.routes,
    authenticity.routes,
    stations.routes,
    workorders.routes,
    knowledge.routes,
    complaints.routes,
    complaints_desk.routes,
    complaints_desk.review_routes,
    followups.routes,
    followups.desk_routes,
    handoffs.routes,
    webchat.routes,
    health.routes,
    *desk.ROUTES,
    attachments.chat_routes,
    attachments.desk_routes,
    attachments.internal_routes,
    console.routes,
    oversight.routes,
    insight.routes,
    reports.routes,
    learning.routes,
)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    db = Database(create_engine(app[SETTINGS].database_url))
    app[DB] = db
    async with db.read() as conn:
        app[knowledge.KNOWLEDGE] = await knowledge.build_index(conn)
    yield
    await db.close()


def create_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, guard_audiences], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or settings.clock()
    serving.setup(app, settings.shutdown_grace_seconds)
    app.cleanup_ctx.append(_resources)
    document = openapi_document(ROUTES, title="星辰科技售后服务后端 API", version=VERSION)

    async def openapi(_: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get("/api/openapi.json", openapi)
    for routes in ROUTES:
        routes.add_to(app)
    webchat.setup(app)
    desk.setup(app)
    console.add_page(app)
    # After the desk's stop signal, which the insight loops share.
    app.cleanup_ctx.append(insight_worker.loops)
    app.cleanup_ctx.append(escalation.running)
    reports.add_page(app)
    outbox_worker.setup(app)
    health.setup(app)
    return app
