"""Authenticity: 16-digit security codes on consumables and batteries, and counterfeit reports.

A code that was already queried is the classic sign of a counterfeit: fakers copy one genuine
label onto many boxes. So every query is recorded, and a code answers "genuine" only once.
Unknown codes are recorded too; many of them from one source is a brute-force attempt and
is refused for a while.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import (
    CLOCK,
    DB,
    SETTINGS,
    Reply,
    Routes,
    fetch_one,
    from_row,
    idempotency_key,
    path_param,
)
from bot.clock import Clock
from bot.contracts.authenticity import Check, Product, Report, ReportIn, VerifyIn
from bot.contracts.base import Body
from bot.contracts.errors import INVALID_BODY, INVALID_SECURITY_CODE, RATE_LIMITED
from bot.contracts.ids import COUNTERFEIT_PREFIX, normalize_daily_id, normalize_security_code
from bot.contracts.rules import CONSUMABLE_CATEGORIES, MODEL_CODE
from bot.db import replayed
from bot.errors import Invalid, Limited, canonical
from bot.sequences import next_id
from bot.settings import Settings

routes = Routes("authenticity")


class BatchRecord(Body):
    code: str = Field(regex=r"^[A-Z0-9\-]{3,30}$")
    model_code: str = Field(regex=MODEL_CODE)
    produced_on: date
    quantity: int = Field(gt=0)


class CodeRecord(Body):
    code: str = Field(regex=r"^\d{16}$")
    batch_code: str = Field(regex=r"^[A-Z0-9\-]{3,30}$")
    query_count: int = Field(0, ge=0)
    first_queried_at: datetime | None = None
    last_queried_at: datetime | None = None


async def upsert_batches(conn: AsyncConnection, records: Sequence[BatchRecord]) -> None:
    b = tables.security_batches
    for rec in records:
        await conn.execute(b.delete().where(b.c.code == rec.code))
        await conn.execute(b.insert().values(**rec.dict()))


async def insert_codes(conn: AsyncConnection, records: Sequence[CodeRecord]) -> None:
    if records:
        await conn.execute(tables.security_codes.insert(), [r.dict() for r in records])


def _security_code(raw: str, field: str = "code") -> str:
    shape = "a security code: 16 digits, optionally in groups of 4"
    return canonical(raw, normalize_security_code, field, INVALID_SECURITY_CODE, shape)


async def _guard(conn: AsyncConnection, source: str, now: datetime, settings: Settings) -> None:
    """Refuse a source that queries too fast or tries too many unknown codes."""
    q = tables.security_queries
    minute_ago, hour_ago = now - timedelta(minutes=1), now - timedelta(hours=1)
    recent = await conn.scalar(
        select(func.count()).where(q.c.source == source, q.c.queried_at > minute_ago)
    )
    unknown = await conn.scalar(
        select(func.count()).where(
            q.c.source == source, q.c.queried_at > hour_ago, q.c.result == "unknown"
        )
    )
    if recent >= settings.verify_per_minute:
        retry = 60
    elif unknown >= settings.verify_unknown_per_hour:
        oldest = await conn.scalar(
            select(func.min(q.c.queried_at)).where(
                q.c.source == source, q.c.queried_at > hour_ago, q.c.result == "unknown"
            )
        )
        retry = max(1, math.ceil((oldest + timedelta(hours=1) - now).total_seconds()))
    else:
        return
    raise Limited(
        RATE_LIMITED,
        f"too many security-code queries from {source}; retry later",
        extra={"retry_after": retry},
    )


async def check_code(
    conn: AsyncConnection, clock: Clock, code: str, source: str, now: datetime
) -> Check:
    c, b, m = tables.security_codes, tables.security_batches, tables.models
    # Increment first: the row lock (PostgreSQL) or the write lock (SQLite) orders concurrent
    # queries of one code, so exactly one of them sees itself as the first.
    changed = await conn.execute(
        update(c)
        .where(c.c.code == code)
        .values(
            query_count=c.c.query_count + 1,
            first_queried_at=func.coalesce(c.c.first_queried_at, now),
            last_queried_at=now,
        )
    )
    if not changed.rowcount:
        result, check = (
            "unknown",
            Check(code=code, result="unknown", query_count=0, first_queried_at=None, product=None),
        )
    else:
        row = (
            await conn.execute(
                select(
                    c.c.query_count,
                    c.c.first_queried_at,
                    b.c.code.label("batch_code"),
                    b.c.produced_on,
                    m.c.code.label("model_code"),
                    m.c.name,
                    m.c.category,
                )
                .join(b, b.c.code == c.c.batch_code)
                .join(m, m.c.code == b.c.model_code)
                .where(c.c.code == code)
            )
        ).one()
        result = "genuine" if row.query_count == 1 else "already_queried"
        check = Check(
            code=code,
            result=result,
            query_count=row.query_count,
            first_queried_at=clock.from_db(row.first_queried_at),
            product=Product(
                model_code=row.model_code,
                model_name=row.name,
                category=row.category,
                batch_code=row.batch_code,
                produced_on=row.produced_on,
            ),
        )
    await conn.execute(
        tables.security_queries.insert().values(
            code=code, source=source, result=result, queried_at=now
        )
    )
    return check


@routes.post(
    "/api/authenticity/verify",
    summary="Check a security code; every query is recorded",
    body=VerifyIn,
    response=Check,
    errors=(429,),
)
async def verify(request: web.Request, body: VerifyIn) -> Check:
    code = _security_code(body.code)
    clock = request.config_dict[CLOCK]
    now = clock.to_db(clock.now())
    async with request.config_dict[DB].write() as conn:
        await _guard(conn, body.source, now, request.config_dict[SETTINGS])
        return await check_code(conn, clock, code, body.source, now)


def _report(row: Any, clock: Clock) -> Report:
    return from_row(Report, row, clock, "created_at")


@routes.post(
    "/api/authenticity/reports",
    summary="Report a suspected counterfeit; opens a case",
    body=ReportIn,
    response=Report,
    status=201,
)
async def report(request: web.Request, body: ReportIn) -> Report | Reply:
    clock = request.config_dict[CLOCK]
    key = idempotency_key(request)
    r = tables.counterfeit_reports
    code = _security_code(body.code) if body.code else None
    async with request.config_dict[DB].write() as conn:
        if (row := await replayed(conn, r, key)) is not None:
            return Reply(_report(row, clock), 200)
        if body.model_code:
            category = await conn.scalar(
                select(tables.models.c.category).where(tables.models.c.code == body.model_code)
            )
            if category not in CONSUMABLE_CATEGORIES:
                raise Invalid(
                    INVALID_BODY,
                    f"{body.model_code!r} is not a consumable or battery",
                    fields=[{"field": "model_code", "message": "not a consumable"}],
                )
        values = {
            **body.dict(exclude={"code"}),
            "code": code,
            "id": await next_id(conn, COUNTERFEIT_PREFIX, clock.today()),
            "status": "open",
            "idempotency_key": key,
            "created_at": clock.to_db(clock.now()),
        }
        await conn.execute(r.insert().values(**values))
        return _report(await fetch_one(conn, r.c.id, values["id"], "case"), clock)


@routes.get(
    "/api/authenticity/reports/{id}",
    summary="A counterfeit case",
    response=Report,
    errors=(400, 404),
    audience="staff",
)
async def show_report(request: web.Request, _: None) -> Report:
    report_id = path_param(
        request, "id", lambda s: normalize_daily_id(s, COUNTERFEIT_PREFIX), "case_id"
    )
    async with request.config_dict[DB].read() as conn:
        row = await fetch_one(conn, tables.counterfeit_reports.c.id, report_id, "case")
    return _report(row, request.config_dict[CLOCK])
