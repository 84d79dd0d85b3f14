"""The service backend's aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import text

from bot import (
    authenticity,
    catalogue,
    complaints,
    extensions,
    handoffs,
    knowledge,
    stations,
    warranty,
    webchat,
    workorders,
)
from bot.api import CLOCK, DB, SETTINGS, Routes, error_middleware, json_response, openapi_document
from bot.audiences import guard_audiences
from bot.clock import Clock
from bot.db import Database, create_engine
from bot.desk import routes as desk
from bot.settings import Settings

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
    handoffs.routes,
    webchat.routes,
    *desk.ROUTES,
)


class Health(BaseModel):
    status: str
    database: str
    knowledge_cases: int


async def _resources(app: web.Application) -> AsyncIterator[None]:
    db = Database(create_engine(app[SETTINGS].database_url))
    app[DB] = db
    async with db.read() as conn:
        app[knowledge.KNOWLEDGE] = await knowledge.build_index(conn)
    yield
    await db.close()


async def health(request: web.Request) -> web.Response:
    db = request.config_dict[DB]
    async with db.read() as conn:
        await conn.execute(text("SELECT 1"))
    payload = Health(
        status="ok",
        database=db.engine.dialect.name,
        knowledge_cases=len(request.config_dict[knowledge.KNOWLEDGE].cases),
    )
    return json_response(payload)


def create_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, guard_audiences], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or settings.clock()
    app.cleanup_ctx.append(_resources)
    document = openapi_document(ROUTES, title="星辰科技售后服务后端 API", version=VERSION)

    async def openapi(_: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get("/api/health", health)
    app.router.add_get("/api/openapi.json", openapi)
    for routes in ROUTES:
        routes.add_to(app)
    webchat.setup(app)
    desk.setup(app)
    return app
