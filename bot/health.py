"""Health: can this backend serve, and can it reach what it depends on?

- `GET /api/health` (public, for load balancers): `{"status": "ok"}`; `"degraded"` (still 200)
  when Rasa, the desk's event feed or Redis is unreachable, which another backend process
  would not fix, so the process stays in rotation; 503 `"unavailable"` when its database does
  not answer. Nothing else: no names, addresses, versions or errors.
- `GET /api/health/dependencies` (internal): each dependency (database, Rasa, the desk's
  event feed, Redis when set) with reachable, ok, latency and the error, checked now.
- `GET /desk/api/status` (desk): what the desk page's banner needs (Rasa and the live feed).

Checks run concurrently, each at most `CHECK_SECONDS`. The public route and the desk's use a
report at most `SHARED_MAX_AGE` seconds old, made by one request at a time, so load
balancers and open desk pages polling often cost one round of checks every few seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import text

from bot import knowledge
from bot.api import DB, SETTINGS, Reply, Routes
from bot.desk import broker
from bot.desk.rasa import RASA
from bot.webchat import SESSION_COUNTERS

routes = Routes("health", audience="public")

CHECK_SECONDS = 1.5
SHARED_MAX_AGE = 5.0
# The SQL reader polls every 0.15 s: no successful read for this long means it is stuck.
FEED_STALE_SECONDS = 10.0

Status = Literal["ok", "degraded", "unavailable"]


class Dependency(BaseModel):
    name: str = Field(description="database, rasa, event_feed or redis")
    ok: bool = Field(description="reachable and working as this backend needs it")
    reachable: bool = Field(description="it answered (possibly with an error)")
    latency_ms: float | None = Field(None, description="how long the check took")
    error: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class DependencyReport(BaseModel):
    status: Status
    checked_at: datetime
    dependencies: list[Dependency]


class Health(BaseModel):
    status: Status


class DeskStatus(BaseModel):
    rasa_reachable: bool = Field(description="false: agents' messages cannot reach customers")
    feed_alive: bool = Field(description="false: customers' messages do not reach the desk")
    checked_at: datetime


@dataclass
class Outcome:
    reachable: bool
    ok: bool
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


Check = Callable[[web.Application], Awaitable[Outcome]]


async def _database(app: web.Application) -> Outcome:
    db = app[DB]
    async with db.read() as conn:
        await conn.execute(text("SELECT 1"))
    cases = len(app[knowledge.KNOWLEDGE].cases)
    return Outcome(True, True, detail={"dialect": db.engine.dialect.name, "knowledge_cases": cases})


async def _rasa(app: web.Application) -> Outcome:
    status, body = await app[RASA].status(CHECK_SECONDS)
    if status == 200:
        return Outcome(True, True, detail={"model": str((body or {}).get("model_id") or "")})
    why = {401: ": the token was refused (RASA_TOKEN)", 403: ": the token was refused (RASA_TOKEN)"}
    return Outcome(True, False, f"Rasa answered {status}{why.get(status, '')}")


async def _event_feed(app: web.Application) -> Outcome:
    state = app[broker.READER]
    running = state.task is not None and not state.task.done()
    age = None if state.read_at is None else time.monotonic() - state.read_at
    quiet = time.monotonic() - (state.read_at or state.started_at)
    detail: dict[str, Any] = {
        "source": state.source,
        "reader_running": running,
        "seconds_since_last_read": None if age is None else round(age, 1),
        "read_since_start": state.read,
    }
    try:
        detail["behind"] = await broker.backlog(app)
    except Exception as exc:
        return Outcome(False, False, state.error or _describe(exc), detail)
    # AMQP delivers when there is something: silence is not a stall there.
    stale = state.source == "sql" and quiet > FEED_STALE_SECONDS
    if not running:
        return Outcome(True, False, "the event reader is not running", detail)
    if state.error or stale:
        return Outcome(True, False, state.error or "the event reader has stalled", detail)
    return Outcome(True, True, None, detail)


async def _redis(app: web.Application) -> Outcome:
    await app[SESSION_COUNTERS].ping()
    return Outcome(True, True)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer within {CHECK_SECONDS} s"
    return f"{type(exc).__name__}: {exc}"[:300]


async def _run(name: str, check: Check, app: web.Application) -> Dependency:
    started = time.monotonic()
    try:
        outcome = await asyncio.wait_for(check(app), timeout=CHECK_SECONDS)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        outcome = Outcome(False, False, _describe(exc))
    return Dependency(
        name=name,
        ok=outcome.ok,
        reachable=outcome.reachable,
        latency_ms=round((time.monotonic() - started) * 1000, 1),
        error=outcome.error,
        detail=outcome.detail,
    )


def _checks(app: web.Application) -> dict[str, Check]:
    checks: dict[str, Check] = {"database": _database, "rasa": _rasa, "event_feed": _event_feed}
    if app[SETTINGS].redis_url:
        checks["redis"] = _redis
    return checks


async def check_all(app: web.Application) -> DependencyReport:
    found = await asyncio.gather(*(_run(n, c, app) for n, c in _checks(app).items()))
    ok = {d.name: d.ok for d in found}
    status: Status = (
        "unavailable" if not ok["database"] else "ok" if all(ok.values()) else "degraded"
    )
    return DependencyReport(
        status=status, checked_at=datetime.now(timezone.utc), dependencies=list(found)
    )


@dataclass
class Monitor:
    """The latest report, shared by the public route and the desk's banner."""

    latest: DependencyReport | None = None
    made_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def report(self, app: web.Application, max_age: float) -> DependencyReport:
        async with self.lock:
            if self.latest is None or time.monotonic() - self.made_at > max_age:
                self.latest = await check_all(app)
                self.made_at = time.monotonic()
            return self.latest


MONITOR = web.AppKey("health_monitor", Monitor)


def setup(app: web.Application) -> None:
    app[MONITOR] = Monitor()


@routes.get(
    "/api/health",
    summary="Load balancers: ok, degraded (serving; Rasa or the event feed is down) or 503",
    response=Health,
    errors=(503,),
)
async def health(request: web.Request, _: None) -> Reply:
    report = await request.config_dict[MONITOR].report(request.app, SHARED_MAX_AGE)
    return Reply(Health(status=report.status), 503 if report.status == "unavailable" else 200)


@routes.get(
    "/api/health/dependencies",
    summary="Each dependency (database, Rasa, event feed, Redis): reachable, latency, error",
    response=DependencyReport,
    errors=(503,),
    audience="internal",
)
async def dependencies(request: web.Request, _: None) -> Reply:
    report = await request.config_dict[MONITOR].report(request.app, 0)
    return Reply(report, 503 if report.status == "unavailable" else 200)


@routes.get(
    "/desk/api/status",
    summary="What the desk's banner shows: can the desk reach Rasa, is the live feed alive",
    response=DeskStatus,
    errors=(401,),
    audience="desk",
)
async def desk_status(request: web.Request, _: None) -> DeskStatus:
    report = await request.config_dict[MONITOR].report(request.app, SHARED_MAX_AGE)
    ok = {d.name: d.ok for d in report.dependencies}
    return DeskStatus(
        rasa_reachable=ok["rasa"], feed_alive=ok["event_feed"], checked_at=report.checked_at
    )
