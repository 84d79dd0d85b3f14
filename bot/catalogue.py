"""Catalogue: product categories, models with parts and specs, firmware and driver releases."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import DB, Routes
from bot.contracts.base import Body
from bot.contracts.catalogue import (
    Category,
    FirmwareQuery,
    FirmwareRelease,
    ModelDetail,
    ModelQuery,
    ModelSummary,
    Part,
    Resolution,
    ResolveQuery,
)
from bot.contracts.errors import INVALID_QUERY
from bot.contracts.rules import CATEGORY_CODES, CODE, MODEL_CODE
from bot.contracts.text import normalize_model_code
from bot.errors import Invalid, not_found
from bot.normalize import normalize_text

routes = Routes("catalogue")

# --- records (what the seed files and the importer write) --------------------------------


class CategoryRecord(Body):
    code: str = Field(regex=CODE)
    name: str = Field(min_length=1, max_length=40)
    synonyms: list[str] = []


class PartRecord(Body):
    code: str = Field(regex=CODE)
    name: str = Field(min_length=1, max_length=40)
    synonyms: list[str] = []


class FirmwareRecord(Body):
    kind: Literal["bios", "firmware", "driver"]
    version: str = Field(min_length=1, max_length=40)
    released_on: date
    notes: str = Field(min_length=1)
    compatibility: str = ""


class ModelRecord(Body):
    code: str = Field(regex=MODEL_CODE)
    name: str = Field(min_length=1, max_length=100)
    category: str = Field(regex=CODE)
    series: str = Field(min_length=1, max_length=40)
    launched_on: date
    parts: list[str] = []
    specs: dict[str, str] = {}
    compatible_consumables: list[str] = []
    firmware: list[FirmwareRecord] = []


# --- responses ---------------------------------------------------------------------------


# --- storage -----------------------------------------------------------------------------


async def upsert_categories(conn: AsyncConnection, records: Sequence[CategoryRecord]) -> None:
    for rec in records:
        await conn.execute(delete(tables.categories).where(tables.categories.c.code == rec.code))
        await conn.execute(tables.categories.insert().values(**rec.dict()))


async def upsert_parts(conn: AsyncConnection, records: Sequence[PartRecord]) -> None:
    for rec in records:
        await conn.execute(delete(tables.parts).where(tables.parts.c.code == rec.code))
        await conn.execute(tables.parts.insert().values(**rec.dict()))


async def upsert_models(conn: AsyncConnection, records: Sequence[ModelRecord]) -> None:
    fw = tables.firmware_releases
    for rec in records:
        values = rec.dict(exclude={"firmware"})
        exists = await conn.scalar(
            select(tables.models.c.code).where(tables.models.c.code == rec.code)
        )
        if exists:
            await conn.execute(
                tables.models.update().where(tables.models.c.code == rec.code).values(**values)
            )
        else:
            await conn.execute(tables.models.insert().values(**values))
        await conn.execute(delete(fw).where(fw.c.model_code == rec.code))
        await upsert_firmware(conn, rec.code, rec.firmware)


async def upsert_firmware(
    conn: AsyncConnection, model_code: str, releases: Sequence[FirmwareRecord]
) -> None:
    """Add releases of a model; a release with the same kind and version replaces the old one."""
    fw = tables.firmware_releases
    for rel in releases:
        await conn.execute(
            delete(fw).where(
                fw.c.model_code == model_code, fw.c.kind == rel.kind, fw.c.version == rel.version
            )
        )
        await conn.execute(
            fw.insert().values(
                model_code=model_code, **rel.dict(include=set(FirmwareRecord.__fields__))
            )
        )


async def model_category(conn: AsyncConnection, model_code: str) -> str | None:
    found = await conn.scalar(
        select(tables.models.c.category).where(tables.models.c.code == model_code)
    )
    return str(found) if found is not None else None


async def part_names(conn: AsyncConnection) -> dict[str, str]:
    rows = await conn.execute(select(tables.parts.c.code, tables.parts.c.name))
    return {row.code: row.name for row in rows}


async def get_model(conn: AsyncConnection, code: str) -> ModelDetail | None:
    row = (
        await conn.execute(select(tables.models).where(tables.models.c.code == code))
    ).one_or_none()
    if row is None:
        return None
    names = await part_names(conn)
    fw = tables.firmware_releases
    releases = await conn.execute(
        select(fw).where(fw.c.model_code == code).order_by(fw.c.released_on.desc(), fw.c.id.desc())
    )
    return ModelDetail(
        code=row.code,
        name=row.name,
        category=row.category,
        series=row.series,
        launched_on=row.launched_on,
        parts=[Part(code=p, name=names.get(p, p)) for p in row.parts],
        specs=row.specs,
        compatible_consumables=row.compatible_consumables,
        firmware=[FirmwareRelease.parse_obj(r._mapping) for r in releases],
    )


async def resolve(conn: AsyncConnection, text: str) -> Resolution:
    """Find the category, model and part a customer's words name (model codes win)."""
    clean = normalize_text(text).lower()
    compact = re.sub(r"[\s\-]", "", clean)
    model_rows = (await conn.execute(select(tables.models.c.code, tables.models.c.category))).all()
    model = next(
        (
            r
            for r in sorted(model_rows, key=lambda r: -len(r.code))
            if r.code.lower().replace("-", "") in compact
        ),
        None,
    )

    def find(rows: Sequence[tuple[str, str, list[str]]]) -> str | None:
        best: tuple[int, str] | None = None
        for code, name, syns in rows:
            for word in (name, *syns):
                w = normalize_text(word).lower()
                if w and w in clean and (best is None or len(w) > best[0]):
                    best = (len(w), code)
        return best[1] if best else None

    cats = (await conn.execute(select(tables.categories))).all()
    part_rows = (await conn.execute(select(tables.parts))).all()
    category = model.category if model else find([(r.code, r.name, r.synonyms) for r in cats])
    part = find([(r.code, r.name, r.synonyms) for r in part_rows])
    return Resolution(category=category, model=model.code if model else None, part=part)


# --- HTTP --------------------------------------------------------------------------------


@routes.get("/api/catalogue/categories", summary="Product categories", response=list[Category])
async def list_categories(request: web.Request, _: None) -> list[Category]:
    async with request.config_dict[DB].read() as conn:
        rows = await conn.execute(select(tables.categories).order_by(tables.categories.c.code))
        return [Category.parse_obj(r._mapping) for r in rows]


@routes.get("/api/catalogue/parts", summary="Part codes and names", response=list[Part])
async def list_parts(request: web.Request, _: None) -> list[Part]:
    async with request.config_dict[DB].read() as conn:
        return [Part(code=c, name=n) for c, n in sorted((await part_names(conn)).items())]


@routes.get(
    "/api/catalogue/models",
    summary="Models, by category or text",
    query=ModelQuery,
    response=list[ModelSummary],
)
async def list_models(request: web.Request, query: ModelQuery) -> list[ModelSummary]:
    m = tables.models
    stmt = select(m.c.code, m.c.name, m.c.category, m.c.series, m.c.launched_on).order_by(m.c.code)
    if query.category:
        if query.category not in CATEGORY_CODES:
            raise Invalid(INVALID_QUERY, f"unknown category {query.category!r}")
        stmt = stmt.where(m.c.category == query.category)
    async with request.config_dict[DB].read() as conn:
        rows = [ModelSummary.parse_obj(r._mapping) for r in await conn.execute(stmt)]
    if query.q:
        needle = normalize_text(query.q).lower()
        code = normalize_model_code(query.q).replace("-", "")
        rows = [r for r in rows if code in r.code.replace("-", "") or needle in r.name.lower()]
    return rows


@routes.get(
    "/api/catalogue/models/{code}",
    summary="One model: parts, specs, firmware",
    response=ModelDetail,
    errors=(404,),
)
async def show_model(request: web.Request, _: None) -> ModelDetail:
    code = normalize_model_code(request.match_info["code"])
    async with request.config_dict[DB].read() as conn:
        found = await get_model(conn, code)
        if found is None:
            found = await get_model(conn, code.replace("-", ""))
    if found is None:
        raise not_found("model", code)
    return found


@routes.get(
    "/api/catalogue/models/{code}/firmware",
    summary="Firmware and driver releases, newest first",
    query=FirmwareQuery,
    response=list[FirmwareRelease],
    errors=(404,),
)
async def list_firmware(request: web.Request, query: FirmwareQuery) -> list[FirmwareRelease]:
    detail = await show_model(request, None)
    return [f for f in detail.firmware if query.kind is None or f.kind == query.kind]


@routes.get(
    "/api/catalogue/resolve",
    summary="Which category, model and part a text names",
    query=ResolveQuery,
    response=Resolution,
)
async def resolve_text(request: web.Request, query: ResolveQuery) -> Resolution:
    async with request.config_dict[DB].read() as conn:
        return await resolve(conn, query.text)
