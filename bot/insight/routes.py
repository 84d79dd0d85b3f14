"""Early-warning alerts on the supervisors' desk: list them, and decide on each."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from bot.api import CLOCK, DB, ApiError, Routes
from bot.contracts.base import Body, Query
from bot.desk.accounts import audit, current
from bot.insight.alerts import Action, decide, list_alerts

routes = Routes("insight", audience="reports")


class Decision(BaseModel):
    action: str
    reason: str
    staff: str
    at: datetime


class RegionOut(BaseModel):
    region: str
    observed: int
    expected: float


class AlertOut(BaseModel):
    """An alert as stored (``tables.insight_alerts``), with every decision on it."""

    id: int
    raised_on: date
    model_code: str
    fault_code: str
    region: str | None
    rule: str
    since: date
    observed: int
    expected: float
    p_value: float
    statistic: float
    threshold: float
    arl0_days: float
    units: float | None
    regions: list[RegionOut]
    summary: str
    status: str
    created_at: datetime
    decisions: list[Decision]


def _supervisor(request: web.Request) -> int:
    staff = current(request)
    if not staff.reads_reports:
        raise ApiError(
            403, "supervisors_only", "only supervisors and operators see early-warning alerts"
        )
    return staff.id


class AlertQuery(Query):
    status: Literal["new", "acknowledged", "dismissed", "escalated"] | None = None
    limit: int = Field(100, ge=1, le=500)


@routes.get(
    "/desk/api/insight/alerts",
    summary="Early-warning alerts, newest first, with every decision (supervisors)",
    query=AlertQuery,
    response=list[AlertOut],
    errors=(401, 403),
)
async def read_alerts(request: web.Request, query: AlertQuery) -> list[dict[str, Any]]:
    _supervisor(request)
    async with request.config_dict[DB].read() as conn:
        return await list_alerts(conn, request.config_dict[CLOCK], query.status, query.limit)


class DecisionIn(Body):
    action: Action
    reason: str = Field("", max_length=1000)


@routes.post(
    "/desk/api/insight/alerts/{id}/decisions",
    summary="Acknowledge, dismiss (with a reason) or escalate an alert to quality (supervisors)",
    body=DecisionIn,
    response=AlertOut,
    errors=(400, 401, 403, 404, 409),
)
async def decide_alert(request: web.Request, body: DecisionIn) -> dict[str, Any]:
    staff_id = _supervisor(request)
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError(400, "invalid_alert_id", f"{raw!r} is not an alert number")
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].write() as conn:
        alert = await decide(conn, clock, int(raw), staff_id, body.action, body.reason)
        await audit(
            conn,
            clock.now(),
            staff_id,
            f"alert_{body.action}",
            None,
            {"alert_id": int(raw), "reason": body.reason},
        )
    return alert
