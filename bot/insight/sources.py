"""The fault reports the early warning counts, read from the backend's own tables.

A fault report is one of:

- a work order: its model (or the model of its serial's device) × its error code
  (``未分类`` without one), in the city of its station;
- a complaint about a registered device: its model × ``投诉``, in the device's city;
- a diagnosis the bot ran in a conversation (``report_conversations``, from Rasa's events):
  the model × fault case of the last one, unless the conversation also booked a work order
  (that order is the same fault, counted once).

Counts are per civil day in the service's time zone. The installed base under warranty of a
model is its registered devices whose invoice is at most ``WARRANTY_DAYS`` old or whose
extension still runs; a model with none counts as one unit, so its faults still count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.clock import Clock
from bot.insight.detector import Cell, History, Reports

UNCLASSIFIED = "未分类"
COMPLAINT = "投诉"
UNKNOWN_REGION = "未知地区"
# 三包: whole machine one year, main parts two; a fault report can come in either.
WARRANTY_DAYS = 730


@dataclass(frozen=True)
class FaultReport:
    day: date
    model_code: str
    fault_code: str
    region: str


def _window(clock: Clock, first: date, last: date) -> tuple[datetime, datetime]:
    start = clock.local(first, "00:00")
    end = clock.local(last + timedelta(days=1), "00:00")
    return Clock.to_db(start), Clock.to_db(end)


async def fault_reports(
    conn: AsyncConnection, clock: Clock, first: date, last: date
) -> list[FaultReport]:
    """Every fault report of the days ``first``..``last`` (inclusive)."""
    start, end = _window(clock, first, last)
    w, d, s = tables.work_orders, tables.devices, tables.stations
    orders = await conn.execute(
        select(
            w.c.created_at,
            func.coalesce(w.c.model_code, d.c.model_code),
            w.c.error_code,
            s.c.city,
            w.c.conversation_id,
        )
        .select_from(w.outerjoin(d, d.c.serial == w.c.serial).join(s, s.c.code == w.c.station_code))
        .where(w.c.created_at >= start, w.c.created_at < end)
    )
    out: list[FaultReport] = []
    booked: set[str] = set()
    for at, model, code, city, conversation in orders:
        if conversation:
            booked.add(conversation)
        if model:
            out.append(FaultReport(_day(clock, at), model, code or UNCLASSIFIED, city))
    c = tables.complaints
    complaints = await conn.execute(
        select(c.c.created_at, d.c.model_code, d.c.city)
        .select_from(c.join(d, d.c.serial == c.c.serial))
        .where(c.c.created_at >= start, c.c.created_at < end)
    )
    for at, model, city in complaints:
        out.append(FaultReport(_day(clock, at), model, COMPLAINT, city or UNKNOWN_REGION))
    r = tables.report_conversations
    diagnoses = await conn.execute(
        select(r.c.conversation_id, r.c.first_at, r.c.model_code, r.c.fault_code).where(
            r.c.first_at >= start,
            r.c.first_at < end,
            r.c.model_code.is_not(None),
            r.c.fault_code.is_not(None),
        )
    )
    for conversation, at, model, code in diagnoses:
        if conversation not in booked:
            out.append(FaultReport(_day(clock, at), model, code, UNKNOWN_REGION))
    return out


def _day(clock: Clock, at: datetime) -> date:
    return clock.from_db(at).date()


async def installed_base(conn: AsyncConnection, today: date) -> dict[str, float]:
    """Devices under warranty per model today."""
    d = tables.devices
    rows = await conn.execute(
        select(d.c.model_code, func.count())
        .where(
            or_(
                d.c.invoice_date >= today - timedelta(days=WARRANTY_DAYS),
                d.c.extended_until >= today,
            )
        )
        .group_by(d.c.model_code)
    )
    return {model: float(n) for model, n in rows}


def _indexed(items: Iterator[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for item in items:
        index.setdefault(item, len(index))
    return index


def history(
    reports: list[FaultReport], first: date, last: date, units: dict[str, float]
) -> History:
    """The detector's input: daily counts per model × fault code from ``first`` to ``last``."""
    cells = _indexed(f"{r.model_code}\t{r.fault_code}" for r in reports)
    regions = _indexed(r.region for r in reports)
    days = (last - first).days + 1
    cell = np.array([cells[f"{r.model_code}\t{r.fault_code}"] for r in reports], dtype=np.int64)
    day = np.array([(r.day - first).days for r in reports], dtype=np.int64)
    region = np.array([regions[r.region] for r in reports], dtype=np.int64)
    counts = np.zeros((len(cells), days), dtype=np.int64)
    np.add.at(counts, (cell, day), 1)
    keys = tuple(Cell(*key.split("\t", 1)) for key in cells)
    exposure = np.array([max(units.get(c.model_code, 0.0), 1.0) for c in keys], dtype=float)
    return History(first, keys, counts, exposure, Reports(cell, day, region, tuple(regions)))
