"""Warranty: the device registry, the 三包 verdict and the policy tables (plans and extensions:
`bot.extensions`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from aiohttp import web
from pydantic import Field, validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, Routes, path_param
from bot.catalogue import part_names
from bot.contracts.base import Body
from bot.contracts.errors import (
    DEVICE_EXISTS,
    IMPOSSIBLE_DATE,
    INVALID_BODY,
    INVALID_SERIAL,
    NO_POLICY,
    UNKNOWN_MODEL,
)
from bot.contracts.ids import SERIAL_RE, SERIAL_SHAPE, normalize_serial, normalize_work_order_id
from bot.contracts.rules import CODE, MODEL_CODE
from bot.contracts.warranty import (
    CoverageOut,
    Device,
    OptionOut,
    PolicyQuery,
    ReasonOut,
    Repair,
    Verdict,
    VerdictIn,
)
from bot.errors import Invalid, Refused, canonical, not_found
from bot.sanbao import (
    DeviceFacts,
    Fault,
    ImpossibleDate,
    Policy,
    RepairFact,
    decide,
)

routes = Routes("warranty")


# --- records -----------------------------------------------------------------------------


class RepairRecord(Body):
    repaired_on: date
    part: str | None = Field(None, regex=CODE)
    fault: str = Field(min_length=1, max_length=2000)
    work_order_id: str | None = Field(None, max_length=40)
    note: str = ""

    @validator("work_order_id")
    def _canonical_order(cls, raw: str | None) -> str | None:
        # Stored in the device's history as the desk and the bot show it, so it is the id's one
        # form or nothing; anything else would not fit its column.
        if not raw:
            return None
        order = normalize_work_order_id(raw)
        if order is None:
            raise ValueError(f"{raw!r} is not a work-order id")
        return order


class DeviceRecord(Body):
    serial: str = Field(regex=f"^{SERIAL_RE.pattern}$")
    model_code: str = Field(regex=MODEL_CODE)
    invoice_date: date | None
    seller: str = Field(min_length=1, max_length=100)
    invoice_no: str | None = Field(None, max_length=40)
    extended_until: date | None = None
    customer_name: str | None = Field(None, max_length=40)
    customer_phone: str | None = Field(None, regex=r"^[0-9+\-\s]{5,20}$")
    city: str | None = Field(None, max_length=20)
    repairs: list[RepairRecord] = []


# --- responses ---------------------------------------------------------------------------


# --- storage -----------------------------------------------------------------------------


async def upsert_policies(conn: AsyncConnection, records: Sequence[Policy]) -> None:
    p = tables.policies
    for policy in records:
        await conn.execute(p.delete().where(p.c.code == policy.code))
        await conn.execute(
            p.insert().values(
                code=policy.code,
                title=policy.title,
                legal=policy.legal,
                categories=policy.categories,
                document=policy.dict(),
            )
        )


async def upsert_devices(
    conn: AsyncConnection, records: Sequence[DeviceRecord], now: datetime
) -> None:
    d, r = tables.devices, tables.repairs
    for rec in records:
        values = rec.dict(exclude={"repairs"})
        if await conn.scalar(select(d.c.serial).where(d.c.serial == rec.serial)):
            await conn.execute(d.update().where(d.c.serial == rec.serial).values(**values))
            await conn.execute(r.delete().where(r.c.serial == rec.serial))
        else:
            await conn.execute(d.insert().values(**values, created_at=now))
        if rec.repairs:
            await conn.execute(
                r.insert(), [{"serial": rec.serial, **x.dict()} for x in rec.repairs]
            )


async def policy_for(conn: AsyncConnection, category: str) -> Policy:
    for row in await conn.execute(select(tables.policies.c.document, tables.policies.c.categories)):
        if category in row.categories:
            return Policy.parse_obj(row.document)
    raise Refused(NO_POLICY, f"no warranty policy covers category {category!r}")


async def load_device(conn: AsyncConnection, serial: str) -> Device:
    d, m, r = tables.devices, tables.models, tables.repairs
    row = (
        await conn.execute(
            select(d, m.c.name.label("model_name"), m.c.category)
            .join(m, m.c.code == d.c.model_code)
            .where(d.c.serial == serial)
        )
    ).one_or_none()
    if row is None:
        raise not_found("device", serial)
    names = await part_names(conn)
    repairs = await conn.execute(
        select(r).where(r.c.serial == serial).order_by(r.c.repaired_on, r.c.id)
    )
    return Device(
        serial=row.serial,
        model_code=row.model_code,
        model_name=row.model_name,
        category=row.category,
        invoice_date=row.invoice_date,
        seller=row.seller,
        extended_until=row.extended_until,
        repairs=[
            Repair(
                repaired_on=x.repaired_on,
                part=x.part,
                part_name=names.get(x.part) if x.part else None,
                fault=x.fault,
                work_order_id=x.work_order_id,
            )
            for x in repairs
        ],
    )


async def extension_terms(conn: AsyncConnection, serial: str, category: str) -> str | None:
    """The terms of the plan bought for the device; for an extension that arrived with imported
    data (no purchase here), the terms of the category's plans."""
    e, p = tables.warranty_extensions, tables.warranty_plans
    bought = await conn.scalar(
        select(p.c.description)
        .join(e, e.c.plan_code == p.c.code)
        .where(e.c.serial == serial)
        .order_by(e.c.ends_on.desc())
        .limit(1)
    )
    if bought is not None:
        return str(bought)
    for row in await conn.execute(select(p.c.description, p.c.categories).order_by(p.c.code)):
        if category in row.categories:
            return str(row.description)
    return None


async def verdict_for(conn: AsyncConnection, serial: str, fault: Fault, on_date: date) -> Verdict:
    device = await load_device(conn, serial)
    policy = await policy_for(conn, device.category)
    unknown = [k for k in fault.exclusions if policy.exclusion(k) is None]
    if unknown:
        allowed = ", ".join(e.key for e in policy.exclusions)
        raise Invalid(
            INVALID_BODY,
            f"exclusion {unknown[0]!r} is not part of policy {policy.code}; it knows: {allowed}",
            fields=[{"field": "fault.exclusions", "message": f"unknown for {policy.code}"}],
        )
    facts = DeviceFacts(
        category=device.category,
        invoice_date=device.invoice_date,
        extended_until=device.extended_until,
        extension_reason=await extension_terms(conn, serial, device.category),
        repairs=tuple(RepairFact(x.repaired_on, x.part) for x in device.repairs),
    )
    try:
        decision = decide(policy, facts, fault, on_date)
    except ImpossibleDate as exc:
        raise Invalid(
            IMPOSSIBLE_DATE, str(exc), fields=[{"field": "on_date", "message": str(exc)}]
        ) from exc
    return Verdict(
        serial=device.serial,
        model_code=device.model_code,
        model_name=device.model_name,
        category=device.category,
        policy_code=policy.code,
        policy_title=policy.title,
        legal=policy.legal,
        source=policy.source,
        invoice_date=device.invoice_date,
        on_date=on_date,
        days_since_invoice=decision.days_since_invoice,
        part=fault.part,
        main_part=decision.main_part,
        remedy=decision.remedy,
        until=decision.until,
        options=[OptionOut(remedy=o.remedy, until=o.until) for o in decision.options],
        basis=decision.basis,
        reasons=[ReasonOut(text=r.text, article=r.article) for r in decision.reasons],
        coverage=[CoverageOut(**c.__dict__) for c in decision.coverage],
        extended_until=device.extended_until,
    )


# --- HTTP --------------------------------------------------------------------------------


def serial_param(raw: str, field: str = "serial") -> str:
    return canonical(raw, normalize_serial, field, INVALID_SERIAL, SERIAL_SHAPE)


@routes.get(
    "/api/warranty/devices/{serial}",
    summary="A registered device with its repair history",
    response=Device,
    errors=(400, 404),
)
async def show_device(request: web.Request, _: None) -> Device:
    serial = path_param(request, "serial", normalize_serial, "serial")
    async with request.config_dict[DB].read() as conn:
        return await load_device(conn, serial)


@routes.post(
    "/api/warranty/devices",
    summary="Register a device (manufacturer or dealer systems)",
    body=DeviceRecord,
    response=Device,
    status=201,
    errors=(409,),
    audience="staff",
)
async def register_device(request: web.Request, body: DeviceRecord) -> Device:
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].write() as conn:
        if await conn.scalar(
            select(tables.devices.c.serial).where(tables.devices.c.serial == body.serial)
        ):
            raise Refused(DEVICE_EXISTS, f"device {body.serial} is already registered")
        if not await conn.scalar(
            select(tables.models.c.code).where(tables.models.c.code == body.model_code)
        ):
            raise Invalid(UNKNOWN_MODEL, f"no model {body.model_code!r} in the catalogue")
        if body.invoice_date and body.invoice_date > clock.today():
            raise Invalid(IMPOSSIBLE_DATE, "the invoice date lies in the future")
        await upsert_devices(conn, [body], clock.to_db(clock.now()))
        return await load_device(conn, body.serial)


@routes.post(
    "/api/warranty/verdict",
    summary="The 三包 verdict for a device's fault on a day",
    body=VerdictIn,
    response=Verdict,
    errors=(404, 409),
)
async def verdict(request: web.Request, body: VerdictIn) -> Verdict:
    serial = serial_param(body.serial)
    on_date = body.on_date or request.config_dict[CLOCK].today()
    async with request.config_dict[DB].read() as conn:
        if body.fault.part is not None and body.fault.part not in await part_names(conn):
            raise Invalid(
                INVALID_BODY,
                f"unknown part {body.fault.part!r}",
                fields=[{"field": "fault.part", "message": "unknown part code"}],
            )
        fault = Fault(
            part=body.fault.part,
            performance_fault=body.fault.performance_fault,
            exclusions=tuple(body.fault.exclusions),
        )
        return await verdict_for(conn, serial, fault, on_date)


@routes.get(
    "/api/warranty/policies",
    summary="Policy tables with their articles",
    query=PolicyQuery,
    response=list[Policy],
)
async def list_policies(request: web.Request, query: PolicyQuery) -> list[Policy]:
    async with request.config_dict[DB].read() as conn:
        rows = await conn.execute(
            select(tables.policies.c.document).order_by(tables.policies.c.code)
        )
        found = [Policy.parse_obj(r.document) for r in rows]
    if query.category:
        found = [p for p in found if query.category in p.categories]
    return found
