"""Extended warranty: the plans on sale and selling one to a device while its coverage runs.

An extension starts the day after the standard 三包 coverage ends (`bot.warranty` reads the
policy) and is sold once per device; the verdict then counts it (`extension_terms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from aiohttp import web
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, Reply, Routes, fetch_one, idempotency_key
from bot.clock import Clock
from bot.contracts.base import Body
from bot.contracts.errors import (
    ALREADY_EXTENDED,
    COVERAGE_EXPIRED,
    NO_INVOICE,
    PLAN_NOT_APPLICABLE,
)
from bot.contracts.ids import EXTENSION_PREFIX
from bot.contracts.warranty import Device, Extension, ExtensionIn, Plan, PlanQuery
from bot.db import replayed
from bot.errors import Refused
from bot.sanbao import Length
from bot.sequences import next_id
from bot.warranty import load_device, policy_for, serial_param

routes = Routes("warranty")


class PlanRecord(Body):
    code: str = Field(regex=r"^[A-Z0-9\-]{2,30}$")
    name: str = Field(min_length=1, max_length=60)
    categories: list[str] = Field(min_items=1)
    years: int = Field(gt=0, le=5)
    price_cents: int = Field(ge=0)
    description: str = Field(min_length=1)


async def upsert_plans(conn: AsyncConnection, records: Sequence[PlanRecord]) -> None:
    p = tables.warranty_plans
    for rec in records:
        await conn.execute(p.delete().where(p.c.code == rec.code))
        await conn.execute(p.insert().values(**rec.dict()))


@routes.get(
    "/api/warranty/plans",
    summary="Extended-warranty plans for a category, or those a device can buy now "
    "(409 with the reason when it cannot buy any)",
    query=PlanQuery,
    response=list[Plan],
    errors=(404, 409),
)
async def list_plans(request: web.Request, query: PlanQuery) -> list[Plan]:
    category = query.category
    async with request.config_dict[DB].read() as conn:
        if query.serial:
            device = await load_device(conn, serial_param(query.serial))
            await extension_starts(conn, request.config_dict[CLOCK], device)
            category = device.category
        rows = await conn.execute(
            select(tables.warranty_plans).order_by(tables.warranty_plans.c.code)
        )
        plans = [Plan.parse_obj(r._mapping) for r in rows]
    return [p for p in plans if category is None or category in p.categories]


@routes.post(
    "/api/warranty/extensions",
    summary="Buy an extended-warranty plan for a device",
    body=ExtensionIn,
    response=Extension,
    status=201,
    errors=(404, 409),
)
async def buy_extension(request: web.Request, body: ExtensionIn) -> Extension | Reply:
    serial = serial_param(body.serial)
    key = idempotency_key(request)
    async with request.config_dict[DB].write() as conn:
        if (row := await replayed(conn, tables.warranty_extensions, key)) is not None:
            return Reply(Extension.parse_obj(row._mapping), 200)
        return await purchase(conn, request.config_dict[CLOCK], serial, body.plan_code, key)


async def extension_starts(conn: AsyncConnection, clock: Clock, device: Device) -> date:
    """The day the standard coverage ends, if the device may still buy an extension."""
    if device.invoice_date is None:
        raise Refused(NO_INVOICE, "an extension needs the invoice date of the device")
    extensions = tables.warranty_extensions
    if await conn.scalar(select(extensions.c.id).where(extensions.c.serial == device.serial)):
        raise Refused(ALREADY_EXTENDED, f"device {device.serial} already has an extended warranty")
    policy = await policy_for(conn, device.category)
    base_end = policy.base_end(device.invoice_date)
    if clock.today() > base_end:
        raise Refused(
            COVERAGE_EXPIRED,
            f"extensions are sold only while the standard coverage runs (ended {base_end})",
        )
    return base_end


async def purchase(
    conn: AsyncConnection, clock: Clock, serial: str, plan_code: str, key: str | None = None
) -> Extension:
    """Sell an extension: once per device, while the standard coverage still runs."""
    e = tables.warranty_extensions
    device = await load_device(conn, serial)
    plan_row = await fetch_one(conn, tables.warranty_plans.c.code, plan_code, "plan")
    plan = Plan.parse_obj(plan_row._mapping)
    if device.category not in plan.categories:
        raise Refused(PLAN_NOT_APPLICABLE, f"plan {plan.code} does not cover {device.category}")
    base_end = await extension_starts(conn, clock, device)
    today = clock.today()
    ends = Length(years=plan.years).end(base_end)
    values = {
        "id": await next_id(conn, EXTENSION_PREFIX, today),
        "serial": serial,
        "plan_code": plan.code,
        "purchased_on": today,
        "starts_on": base_end + timedelta(days=1),
        "ends_on": ends,
        "price_cents": plan.price_cents,
        "idempotency_key": key,
        "created_at": clock.to_db(clock.now()),
    }
    await conn.execute(e.insert().values(**values))
    await conn.execute(
        tables.devices.update().where(tables.devices.c.serial == serial).values(extended_until=ends)
    )
    return Extension.parse_obj(values)
