"""Early-warning alerts kept and acted on: the scan that stores them, and the decisions.

``scan`` counts the fault reports of the last ``HISTORY_DAYS`` (``bot.insight.sources``),
runs the detector over them and stores the alerts raised in the last ``RECENT_DAYS`` that are
not stored yet (one per cell and day: a scan run twice, or by two processes, stores nothing
twice). Older alerts of the replay are history the operators did not see in time; raising
them now would only flood the desk after a first start.

A supervisor decides on each alert: acknowledge (seen, being looked at), dismiss (with a
reason: a known cause, a data error) or escalate to quality (the "stop the line" path of the
source articles). Dismissed and escalated are final; every decision is kept with who and when.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.clock import Clock
from bot.db import Database
from bot.errors import Invalid, Refused, not_found

HISTORY_DAYS = 730
RECENT_DAYS = 14
Action = Literal["acknowledge", "dismiss", "escalate"]
STATUS_AFTER: dict[str, str] = {
    "acknowledge": "acknowledged",
    "dismiss": "dismissed",
    "escalate": "escalated",
}
FINAL = frozenset({"dismissed", "escalated"})


async def scan(db: Database, clock: Clock, today: date | None = None) -> int:
    """Run the detector over the stored fault reports; returns how many alerts are new."""
    # numpy and scipy only when a scan runs, not when the backend imports its routes.
    from bot.insight.detector import detect
    from bot.insight.sources import fault_reports, history, installed_base

    last = today or clock.today()
    first = last - timedelta(days=HISTORY_DAYS - 1)
    async with db.read() as conn:
        reports = await fault_reports(conn, clock, first, last)
        units = await installed_base(conn, last)
    if not reports:
        return 0
    raised = detect(history(reports, first, last, units), warmup_days=0)
    recent = [a for a in raised if a.raised_on > last - timedelta(days=RECENT_DAYS)]
    stored = 0
    now = Clock.to_db(clock.now())
    for alert in recent:
        row = {key: value for key, value in asdict(alert).items() if key != "regions"}
        row["regions"] = [asdict(r) for r in alert.regions]
        row["summary"] = alert.summary
        row["status"] = "new"
        row["created_at"] = now
        try:
            async with db.write() as conn:
                await conn.execute(tables.insight_alerts.insert().values(**row))
            stored += 1
        except IntegrityError:
            pass  # raised by an earlier scan
    return stored


async def list_alerts(
    conn: AsyncConnection,
    clock: Clock,
    status: str | None = None,
    limit: int = 100,
    alert_id: int | None = None,
) -> list[dict[str, Any]]:
    """The latest alerts (newest first), each with its decisions."""
    a, d, st = tables.insight_alerts, tables.insight_decisions, tables.staff
    stmt = select(a).order_by(a.c.raised_on.desc(), a.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(a.c.status == status)
    if alert_id is not None:
        stmt = stmt.where(a.c.id == alert_id)
    rows = list(await conn.execute(stmt))
    decisions: dict[int, list[dict[str, Any]]] = {r.id: [] for r in rows}
    if rows:
        found = await conn.execute(
            select(d.c.alert_id, d.c.action, d.c.reason, d.c.at, st.c.display_name)
            .join(st, st.c.id == d.c.staff_id)
            .where(d.c.alert_id.in_(list(decisions)))
            .order_by(d.c.id)
        )
        for owner, action, reason, at, who in found:
            decisions[owner].append(
                {"action": action, "reason": reason, "staff": who, "at": clock.from_db(at)}
            )
    return [_out(r, clock, decisions[r.id]) for r in rows]


def _out(row: Any, clock: Clock, decisions: list[dict[str, Any]]) -> dict[str, Any]:
    data = dict(row._mapping)
    data["created_at"] = clock.from_db(data["created_at"])
    data["decisions"] = decisions
    return data


async def decide(
    conn: AsyncConnection,
    clock: Clock,
    alert_id: int,
    staff_id: int,
    action: Action,
    reason: str,
) -> dict[str, Any]:
    """Record a supervisor's decision on an alert; returns the alert as it now stands."""
    a = tables.insight_alerts
    if action == "dismiss" and not reason.strip():
        raise Invalid(
            "reason_required",
            "dismissing an alert needs a reason",
            fields=[{"field": "reason", "message": "required to dismiss"}],
        )
    row = (await conn.execute(select(a).where(a.c.id == alert_id))).one_or_none()
    if row is None:
        raise not_found("alert", str(alert_id))
    if row.status in FINAL:
        raise Refused("alert_closed", f"the alert was {row.status} already; its decision stands")
    now: datetime = Clock.to_db(clock.now())
    await conn.execute(
        tables.insight_decisions.insert().values(
            alert_id=alert_id, staff_id=staff_id, action=action, reason=reason.strip(), at=now
        )
    )
    # Conditional: of two supervisors deciding at once, the second sees the first's status.
    done = await conn.execute(
        a.update()
        .where(a.c.id == alert_id, a.c.status == row.status)
        .values(status=STATUS_AFTER[action])
    )
    if done.rowcount != 1:
        raise Refused("alert_changed", "another supervisor decided on the alert meanwhile")
    return (await list_alerts(conn, clock, alert_id=alert_id))[0]
