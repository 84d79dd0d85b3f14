"""The fault-case base learns from repairs: closing an order records its root cause, fix and
parts (coded); engineers look up past closed cases of the same model and error code; a fix
that recurs becomes a draft fault case that a supervisor approves before the bot uses it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, ApiError, Routes
from bot.catalogue import model_category
from bot.clock import Clock
from bot.contracts.base import Body, Query
from bot.contracts.errors import ALREADY_REVIEWED, INVALID_BODY, UNKNOWN_MODEL
from bot.contracts.knowledge import Case
from bot.contracts.workorders import Outcome
from bot.desk.accounts import audit, current
from bot.errors import Invalid, Refused, not_found
from bot.knowledge import CaseRecord, normalize_code, refresh_index, upsert_cases

routes = Routes("fault-learning", audience="supervisor")
# The same fix for the same model and error code this many times makes a draft fault case.
RECURRENCE = 3
# How much of the repairs a draft carries: symptoms (customers' words) and steps (engineers').
_DRAFT_SYMPTOMS, _DRAFT_STEPS = 5, 8


async def record_outcome(
    conn: AsyncConnection, row: Row, outcome: Outcome, parts: list[str], note: str, now: datetime
) -> None:
    """Store a closed repair's outcome (with every part used on the order) and draft a fault
    case when the same fix keeps coming back; called by `bot.workorders.advance`."""
    ev, o = tables.work_order_events, tables.repair_outcomes
    steps = await conn.execute(select(ev.c.parts).where(ev.c.work_order_id == row.id))
    # A step without parts holds JSON null (not SQL NULL): skipped here.
    used = [p for parts_of_step in steps.scalars() for p in parts_of_step or []]
    error_code = normalize_code(row.error_code) if row.error_code else None
    await conn.execute(
        o.insert().values(
            work_order_id=row.id,
            station_code=row.station_code,
            model_code=row.model_code,
            error_code=error_code,
            root_cause=outcome.root_cause,
            fix=outcome.fix,
            parts=list(dict.fromkeys([*used, *parts])),
            note=note,
            closed_at=now,
        )
    )
    if row.model_code and error_code:
        await _draft_if_recurring(conn, row.model_code, error_code, outcome, now)


async def _draft_if_recurring(
    conn: AsyncConnection, model: str, error_code: str, outcome: Outcome, now: datetime
) -> None:
    o, w, d = tables.repair_outcomes, tables.work_orders, tables.case_drafts
    same = (
        await conn.execute(
            select(o.c.parts, o.c.note, w.c.fault)
            .join(w, w.c.id == o.c.work_order_id)
            .where(
                o.c.model_code == model,
                o.c.error_code == error_code,
                o.c.root_cause == outcome.root_cause,
                o.c.fix == outcome.fix,
            )
            .order_by(o.c.closed_at)
        )
    ).all()
    if len(same) < RECURRENCE:
        return
    key = (
        d.c.model_code == model,
        d.c.error_code == error_code,
        d.c.root_cause == outcome.root_cause,
        d.c.fix == outcome.fix,
    )
    draft = (await conn.execute(select(d.c.id, d.c.status).where(*key))).one_or_none()
    if draft is not None:
        # Reviewed drafts keep their verdict; the count still tells how often it came back.
        await conn.execute(d.update().where(d.c.id == draft.id).values(occurrences=len(same)))
        return
    await conn.execute(
        d.insert().values(
            model_code=model,
            error_code=error_code,
            root_cause=outcome.root_cause,
            fix=outcome.fix,
            parts=list(dict.fromkeys(p for r in same for p in r.parts)),
            symptoms=list(dict.fromkeys(r.fault for r in same))[:_DRAFT_SYMPTOMS],
            steps=list(dict.fromkeys(r.note for r in same if r.note))[:_DRAFT_STEPS],
            occurrences=len(same),
            status="draft",
            created_at=now,
        )
    )


class PastCase(BaseModel):
    work_order_id: str
    station_code: str
    closed_at: datetime
    fault: str
    root_cause: str
    fix: str
    parts: list[str]
    note: str


async def similar(
    conn: AsyncConnection, clock: Clock, model: str | None, error_code: str | None, order_id: str
) -> list[PastCase]:
    """Closed repairs of the same model and error code, newest first (no customer data)."""
    if not model or not error_code:
        return []
    o, w = tables.repair_outcomes, tables.work_orders
    rows = await conn.execute(
        select(o, w.c.fault)
        .join(w, w.c.id == o.c.work_order_id)
        .where(
            o.c.model_code == model,
            o.c.error_code == normalize_code(error_code),
            o.c.work_order_id != order_id,
        )
        .order_by(o.c.closed_at.desc())
        .limit(20)
    )
    return [
        PastCase(
            work_order_id=r.work_order_id,
            station_code=r.station_code,
            closed_at=clock.from_db(r.closed_at),
            fault=r.fault,
            root_cause=r.root_cause,
            fix=r.fix,
            parts=r.parts,
            note=r.note,
        )
        for r in rows
    ]


# --- supervisors' review -------------------------------------------------------------------

DraftStatus = Literal["draft", "approved", "rejected"]


class Draft(BaseModel):
    id: int
    model_code: str
    error_code: str
    root_cause: str
    fix: str
    parts: list[str]
    symptoms: list[str]
    steps: list[str]
    occurrences: int
    status: DraftStatus
    case_code: str | None
    created_at: datetime


class DraftQuery(Query):
    status: DraftStatus = "draft"


class ReviewIn(Body):
    decision: Literal["approve", "reject"]
    title: str | None = Field(None, min_length=1, max_length=100)
    symptoms: list[str] | None = Field(None, min_items=1, max_items=20)
    steps: list[str] | None = Field(None, min_items=1, max_items=12)
    stop_when: str | None = Field(None, min_length=1, max_length=500)


class Reviewed(BaseModel):
    draft: Draft
    case: Case | None


def _supervisor(request: web.Request) -> None:
    if not current(request).supervisor:
        raise ApiError(403, "supervisors_only", "only supervisors review fault cases")


def _draft(row: Row, clock: Clock) -> Draft:
    return Draft.parse_obj(dict(row._mapping) | {"created_at": clock.from_db(row.created_at)})


@routes.get(
    "/desk/api/case-drafts",
    summary="Draft fault cases from recurring repairs (supervisors)",
    query=DraftQuery,
    response=list[Draft],
    errors=(401, 403),
)
async def drafts(request: web.Request, query: DraftQuery) -> list[Draft]:
    _supervisor(request)
    d, clock = tables.case_drafts, request.config_dict[CLOCK]
    async with request.config_dict[DB].read() as conn:
        rows = await conn.execute(
            select(d).where(d.c.status == query.status).order_by(d.c.occurrences.desc(), d.c.id)
        )
        return [_draft(r, clock) for r in rows]


async def _next_case_code(conn: AsyncConnection) -> str:
    codes = (await conn.execute(select(tables.knowledge_cases.c.code))).scalars()
    numbers = [int(m.group(1)) for c in codes if (m := re.fullmatch(r"KB(\d+)", c))]
    return f"KB{max(numbers, default=0) + 1:03d}"


@routes.post(
    "/desk/api/case-drafts/{id}/review",
    summary="Approve a draft (it becomes a fault case the bot uses) or reject it",
    body=ReviewIn,
    response=Reviewed,
    errors=(401, 403, 404, 409),
)
async def review(request: web.Request, body: ReviewIn) -> Reviewed:
    _supervisor(request)
    d, clock = tables.case_drafts, request.config_dict[CLOCK]
    raw = request.match_info["id"]
    draft_id = int(raw) if raw.isdigit() else -1
    async with request.config_dict[DB].write() as conn:
        row = (await conn.execute(select(d).where(d.c.id == draft_id))).one_or_none()
        if row is None:
            raise not_found("case_draft", raw)
        if row.status != "draft":
            raise Refused(ALREADY_REVIEWED, f"draft {draft_id} is {row.status} already")
        now = clock.to_db(clock.now())
        case = None
        values: dict[str, object] = {"reviewed_by": current(request).id, "reviewed_at": now}
        if body.decision == "approve":
            case = await _approve(conn, row, body)
            values |= {"status": "approved", "case_code": case.code}
        else:
            values |= {"status": "rejected"}
        await conn.execute(d.update().where(d.c.id == draft_id).values(**values))
        await audit(
            conn,
            clock.now(),
            current(request).id,
            f"case_{body.decision}",
            None,
            {"draft": draft_id, "case": case.code if case else None},
        )
        if case is not None:
            await refresh_index(request.app, conn)
        fresh = (await conn.execute(select(d).where(d.c.id == draft_id))).one()
        return Reviewed(draft=_draft(fresh, clock), case=case)


async def _approve(conn: AsyncConnection, row: Row, body: ReviewIn) -> Case:
    steps = body.steps or row.steps
    if not body.title or not body.stop_when or not steps:
        raise Invalid(
            INVALID_BODY,
            "an approved case needs a title, steps and when to stop",
            fields=[{"field": f, "message": "required to approve"} for f in ("title", "stop_when")],
        )
    category = await model_category(conn, row.model_code)
    if category is None:
        raise Refused(UNKNOWN_MODEL, f"no model {row.model_code!r} in the catalogue")
    record = CaseRecord(
        code=await _next_case_code(conn),
        category=category,
        models=[row.model_code],
        title=body.title,
        symptoms=body.symptoms or row.symptoms,
        error_codes=[row.error_code],
        steps=steps,
        stop_when=body.stop_when,
        suspect_part=row.parts[0] if row.parts else None,
    )
    await upsert_cases(conn, [record])
    return Case.parse_obj(record.dict())
