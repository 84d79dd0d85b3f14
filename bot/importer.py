"""Importing a manufacturer's real data from CSV, JSON or YAML files.

Every row is validated before anything is written; one bad row stops the whole import and the
error names the file, the row and the field. CSV files may come from Excel: a UTF-8 BOM is
accepted and list fields are written as ``a|b|c``.

Over 350 lines on purpose: one cohesive tool, a reader and a validator per data kind.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.authenticity import BatchRecord, CodeRecord, insert_codes, upsert_batches
from bot.catalogue import (
    CategoryRecord,
    FirmwareRecord,
    ModelRecord,
    PartRecord,
    upsert_categories,
    upsert_firmware,
    upsert_models,
    upsert_parts,
)
from bot.clock import Clock
from bot.contracts.rules import MODEL_CODE
from bot.db import Database
from bot.extensions import PlanRecord, upsert_plans
from bot.knowledge import CaseRecord, VocabularyRecord, upsert_cases, upsert_vocabulary
from bot.sanbao import Policy
from bot.stations import StationRecord, upsert_stations
from bot.warranty import DeviceRecord, upsert_devices, upsert_policies

R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: str
    row: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}, {self.row}"
        return (
            f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ImportFailed(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was imported")
        self.problems = list(problems)


def read_document(path: Path) -> Any:
    """A JSON or YAML file as data; a parse error is a Problem, not a traceback."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed([Problem(path.name, "file", "", f"cannot read: {exc}")]) from exc
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ImportFailed(
            [Problem(path.name, "file", "", f"not valid {path.suffix[1:]}: {exc}")]
        ) from exc


def read_rows(path: Path, key: str) -> list[tuple[str, Any]]:
    """Rows labelled for error messages: "row N" of a CSV (header is row 1), "item N" of a list."""
    if path.suffix.lower() == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return [(f"row {n}", row) for n, row in enumerate(csv.DictReader(handle), start=2)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ImportFailed([Problem(path.name, "file", "", f"cannot read CSV: {exc}")]) from exc
    data = read_document(path)
    if isinstance(data, dict):
        data = data.get(key)
    if not isinstance(data, list):
        raise ImportFailed(
            [Problem(path.name, "file", "", f"expected a list of {key} (or a '{key}' key)")]
        )
    return [(f"{key} item {n}", row) for n, row in enumerate(data, start=1)]


def _from_csv(model: type[BaseModel], row: dict[str, Any]) -> dict[str, Any]:
    """CSV cells are strings: empty means absent, list fields are split on '|'."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            # More cells than headers: an unknown field, refused like any other.
            out["extra_cells"] = value
            continue
        name = key.strip()
        field = model.__fields__.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
            if field is not None and get_origin(field.outer_type_) is list:
                value = [v.strip() for v in value.split("|") if v.strip()]
        out[name] = value
    return out


def validate_rows(
    model: type[R],
    file: str,
    rows: Sequence[tuple[str, Any]],
    problems: list[Problem],
    *,
    csv_cells: bool = False,
) -> list[tuple[str, R]]:
    records: list[tuple[str, R]] = []
    for label, raw in rows:
        if not isinstance(raw, dict):
            problems.append(Problem(file, label, "", "expected an object with named fields"))
            continue
        data = _from_csv(model, raw) if csv_cells else raw
        try:
            records.append((label, model.parse_obj(data)))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"] if p != "__root__")
                problems.append(Problem(file, label, field, err["msg"]))
    return records


def _unique(
    records: Sequence[tuple[str, Any]], attr: str, file: str, problems: list[Problem]
) -> None:
    seen: dict[Any, str] = {}
    for label, rec in records:
        key = getattr(rec, attr)
        if key in seen:
            problems.append(
                Problem(file, label, attr, f"{key!r} appears again (first at {seen[key]})")
            )
        else:
            seen[key] = label


async def _codes(conn: AsyncConnection, column: Any) -> set[str]:
    return set((await conn.execute(select(column))).scalars())


def _refs(
    records: Sequence[tuple[str, Any]],
    attr: str,
    known: set[str],
    file: str,
    problems: list[Problem],
    what: str,
) -> None:
    for label, rec in records:
        values = getattr(rec, attr)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and value not in known:
                problems.append(Problem(file, label, attr, f"unknown {what} {value!r}"))


# --- one function per kind: validate everything, then write in one transaction -----------


Importer = Callable[[Database, Path, datetime], Awaitable[int]]


async def _write(
    db: Database, problems: list[Problem], write: Callable[[AsyncConnection], Awaitable[None]]
) -> None:
    if problems:
        raise ImportFailed(problems)
    async with db.write() as conn:
        await write(conn)


async def import_catalogue(db: Database, path: Path, now: datetime) -> int:
    doc = read_document(path)
    if not isinstance(doc, dict):
        raise ImportFailed(
            [Problem(path.name, "file", "", "expected categories, parts and models keys")]
        )
    problems: list[Problem] = []
    cats = validate_rows(
        CategoryRecord,
        path.name,
        [(f"categories item {n}", r) for n, r in enumerate(doc.get("categories") or [], 1)],
        problems,
    )
    parts = validate_rows(
        PartRecord,
        path.name,
        [(f"parts item {n}", r) for n, r in enumerate(doc.get("parts") or [], 1)],
        problems,
    )
    models = validate_rows(
        ModelRecord, path.name, read_rows(path, "models") if "models" in doc else [], problems
    )
    _unique(cats, "code", path.name, problems)
    _unique(parts, "code", path.name, problems)
    _unique(models, "code", path.name, problems)
    async with db.read() as conn:
        known_cats = await _codes(conn, tables.categories.c.code) | {c.code for _, c in cats}
        known_parts = await _codes(conn, tables.parts.c.code) | {p.code for _, p in parts}
        known_models = await _codes(conn, tables.models.c.code) | {m.code for _, m in models}
    _refs(models, "category", known_cats, path.name, problems, "category")
    _refs(models, "parts", known_parts, path.name, problems, "part")
    _refs(models, "compatible_consumables", known_models, path.name, problems, "model")

    async def write(conn: AsyncConnection) -> None:
        await upsert_categories(conn, [c for _, c in cats])
        await upsert_parts(conn, [p for _, p in parts])
        await upsert_models(conn, [m for _, m in models])

    await _write(db, problems, write)
    return len(cats) + len(parts) + len(models)


class FirmwareRow(FirmwareRecord):
    model_code: str


Ref = tuple[str, Any, str]  # record attribute, column of the known values, what it names


async def _import_table(
    db: Database,
    path: Path,
    model: type[R],
    key: str,
    write: Callable[[AsyncConnection, list[R]], Awaitable[None]],
    *,
    unique: str | None = None,
    refs: Sequence[Ref] = (),
    check: Callable[[R], Iterable[tuple[str, str]]] | None = None,
) -> int:
    """Validate every row (shape, duplicates, references, `check`), then write all or nothing."""
    problems: list[Problem] = []
    rows = validate_rows(
        model, path.name, read_rows(path, key), problems, csv_cells=path.suffix.lower() == ".csv"
    )
    if unique:
        _unique(rows, unique, path.name, problems)
    for label, rec in rows:
        for field, message in check(rec) if check else ():
            problems.append(Problem(path.name, label, field, message))
    if refs:
        async with db.read() as conn:
            for attr, column, what in refs:
                _refs(rows, attr, await _codes(conn, column), path.name, problems, what)
    await _write(db, problems, lambda conn: write(conn, [r for _, r in rows]))
    return len(rows)


MODEL_REF: Ref = ("model_code", tables.models.c.code, "model")
CATEGORIES_REF: Ref = ("categories", tables.categories.c.code, "category")


async def import_firmware(db: Database, path: Path, now: datetime) -> int:
    async def write(conn: AsyncConnection, rows: list[FirmwareRow]) -> None:
        for r in rows:
            await upsert_firmware(conn, r.model_code, [r])

    return await _import_table(db, path, FirmwareRow, "firmware", write, refs=[MODEL_REF])


async def import_devices(db: Database, path: Path, now: datetime) -> int:
    def check(rec: DeviceRecord) -> Iterable[tuple[str, str]]:
        if rec.invoice_date and rec.invoice_date > now.date():
            yield "invoice_date", "lies in the future"
        if rec.extended_until and rec.invoice_date and rec.extended_until < rec.invoice_date:
            yield "extended_until", "is before the invoice date"

    async def write(conn: AsyncConnection, rows: list[DeviceRecord]) -> None:
        await upsert_devices(conn, rows, Clock.to_db(now))

    return await _import_table(
        db, path, DeviceRecord, "devices", write, unique="serial", refs=[MODEL_REF], check=check
    )


class CodeRow(CodeRecord):
    model_code: str = Field(regex=MODEL_CODE)
    produced_on: date


async def import_codes(db: Database, path: Path, now: datetime) -> int:
    """Security codes with their batch: code, batch_code, model_code, produced_on."""
    problems: list[Problem] = []
    rows = validate_rows(
        CodeRow,
        path.name,
        read_rows(path, "codes"),
        problems,
        csv_cells=path.suffix.lower() == ".csv",
    )
    _unique(rows, "code", path.name, problems)
    batches: dict[str, BatchRecord] = {}
    async with db.read() as conn:
        known_models = await _codes(conn, tables.models.c.code)
        existing = await _codes(conn, tables.security_codes.c.code)
    _refs(rows, "model_code", known_models, path.name, problems, "model")
    for label, r in rows:
        if r.code in existing:
            problems.append(Problem(path.name, label, "code", f"{r.code} is already issued"))
        batch = BatchRecord(
            code=r.batch_code, model_code=r.model_code, produced_on=r.produced_on, quantity=1
        )
        seen = batches.get(batch.code)
        if seen and (seen.model_code, seen.produced_on) != (batch.model_code, batch.produced_on):
            problems.append(
                Problem(path.name, label, "batch_code", "same batch with another model or date")
            )
        elif seen:
            seen.quantity += 1
        else:
            batches[batch.code] = batch

    async def write(conn: AsyncConnection) -> None:
        await upsert_batches(conn, list(batches.values()))
        await insert_codes(
            conn, [CodeRecord(code=r.code, batch_code=r.batch_code) for _, r in rows]
        )

    await _write(db, problems, write)
    return len(rows)


async def import_stations(db: Database, path: Path, now: datetime) -> int:
    return await _import_table(
        db, path, StationRecord, "stations", upsert_stations, unique="code", refs=[CATEGORIES_REF]
    )


async def import_knowledge(db: Database, path: Path, now: datetime) -> int:
    refs: list[Ref] = [
        ("category", tables.categories.c.code, "category"),
        ("models", tables.models.c.code, "model"),
        ("suspect_part", tables.parts.c.code, "part"),
    ]
    return await _import_table(
        db, path, CaseRecord, "cases", upsert_cases, unique="code", refs=refs
    )


async def import_vocabulary(db: Database, path: Path, now: datetime) -> int:
    problems: list[Problem] = []
    found = validate_rows(VocabularyRecord, path.name, [("file", read_document(path))], problems)
    await _write(db, problems, lambda conn: upsert_vocabulary(conn, found[0][1]))
    return len(found[0][1].synonyms) + len(found[0][1].terms)


async def import_policy(db: Database, path: Path, now: datetime) -> int:
    problems: list[Problem] = []
    found = validate_rows(Policy, path.name, [("policy", read_document(path))], problems)
    if found:
        policy = found[0][1]
        async with db.read() as conn:
            known_parts = await _codes(conn, tables.parts.c.code)
            known_cats = await _codes(conn, tables.categories.c.code)
            rows = (
                await conn.execute(select(tables.policies.c.code, tables.policies.c.categories))
            ).all()
        for cat in policy.categories:
            if cat not in known_cats:
                problems.append(
                    Problem(path.name, "policy", "categories", f"unknown category {cat!r}")
                )
            taken = [r.code for r in rows if cat in r.categories and r.code != policy.code]
            if taken:
                problems.append(
                    Problem(path.name, "policy", "categories", f"{cat!r} is covered by {taken[0]}")
                )
        for cat, parts in policy.main_parts.items():
            unknown = [p for p in parts if p not in known_parts]
            if unknown:
                problems.append(
                    Problem(
                        path.name, "policy", f"main_parts.{cat}", f"unknown part {unknown[0]!r}"
                    )
                )
    await _write(db, problems, lambda conn: upsert_policies(conn, [found[0][1]]))
    return 1


async def import_plans(db: Database, path: Path, now: datetime) -> int:
    return await _import_table(
        db, path, PlanRecord, "plans", upsert_plans, unique="code", refs=[CATEGORIES_REF]
    )


IMPORTERS: dict[str, Importer] = {
    "catalogue": import_catalogue,
    "firmware": import_firmware,
    "devices": import_devices,
    "codes": import_codes,
    "stations": import_stations,
    "knowledge": import_knowledge,
    "vocabulary": import_vocabulary,
    "policy": import_policy,
    "plans": import_plans,
}
