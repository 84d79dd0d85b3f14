"""Stations: authorised repair stations and consumables dealers, and their repair slots."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, Routes, fetch_one
from bot.clock import Clock
from bot.contracts.base import Body
from bot.contracts.errors import NO_REPAIRS
from bot.contracts.rules import SLOT_ENDS, SLOTS
from bot.contracts.stations import City, Service, Slot, SlotQuery, Station, StationQuery
from bot.contracts.text import normalize_city
from bot.db import insert_ignore
from bot.errors import Refused

routes = Routes("stations")

_WEEKDAYS = "一二三四五六日"


def open_weekdays(hours: str) -> list[int]:
    """Weekdays (Monday is 0) a station opens, read from its hours text.

    For example "周一至周五 09:00-18:00，周六 10:00-17:00" gives Monday to Saturday.
    """
    days: set[int] = set()
    for first, last in re.findall(
        rf"周([{_WEEKDAYS}])(?:\s*[至到\-~]\s*周([{_WEEKDAYS}]))?", hours
    ):
        a = _WEEKDAYS.index(first)
        b = _WEEKDAYS.index(last) if last else a
        days.update(range(a, b + 1))
    if "每天" in hours or "全年" in hours:
        days.update(range(7))
    return sorted(days)


class StationRecord(Body):
    code: str = Field(regex=r"^[A-Z]{2}\d{2}$")
    kind: Literal["service", "dealer", "both"]
    name: str = Field(min_length=1, max_length=100)
    city: str = Field(min_length=1, max_length=20)
    district: str = Field(min_length=1, max_length=20)
    address: str = Field(min_length=1)
    phone: str = Field(min_length=5, max_length=30)
    hours: str = Field(min_length=1, max_length=60)
    services: list[Service]
    categories: list[str]
    daily_capacity: int = Field(ge=0, le=1000)
    lat: float = Field(ge=3, le=54)
    lon: float = Field(ge=73, le=136)


async def upsert_stations(conn: AsyncConnection, records: Sequence[StationRecord]) -> None:
    s = tables.stations
    for rec in records:
        values = {
            **rec.dict(),
            "city": normalize_city(rec.city),
            "open_weekdays": open_weekdays(rec.hours),
        }
        if await conn.scalar(select(s.c.code).where(s.c.code == rec.code)):
            await conn.execute(s.update().where(s.c.code == rec.code).values(**values))
        else:
            await conn.execute(s.insert().values(**values))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def slot_capacity(daily_capacity: int) -> int:
    return math.ceil(daily_capacity / len(SLOTS)) if daily_capacity > 0 else 0


async def get_station(conn: AsyncConnection, code: str) -> Station:
    row = await fetch_one(conn, tables.stations.c.code, code.upper(), "station")
    return Station.parse_obj(row._mapping)


def slot_problem(
    station: Station, day: date, start: str, clock: Clock, lead: timedelta, horizon_days: int
) -> str | None:
    """Why a slot cannot be booked, or None when it can (capacity aside)."""
    if start not in SLOT_ENDS:
        return f"{start!r} is not a slot start; slots start at {', '.join(SLOT_ENDS)}"
    if station.daily_capacity <= 0:
        return f"station {station.code} does not take repairs"
    if day.weekday() not in station.open_weekdays:
        return f"station {station.code} is closed on {day.isoformat()}"
    if clock.local(day, start) < clock.now() + lead:
        return "the slot starts too soon or has passed"
    if day > clock.today() + timedelta(days=horizon_days):
        return f"slots can be booked at most {horizon_days} days ahead"
    return None


async def reserve_slot(conn: AsyncConnection, station: Station, day: date, start: str) -> bool:
    """Take one place in a slot; False when it is full. Safe under concurrent callers."""
    load = tables.slot_loads
    await insert_ignore(
        conn,
        load,
        {
            "station_code": station.code,
            "slot_date": day,
            "slot_start": start,
            "booked": 0,
            "capacity": slot_capacity(station.daily_capacity),
        },
    )
    taken = await conn.execute(
        update(load)
        .where(
            load.c.station_code == station.code,
            load.c.slot_date == day,
            load.c.slot_start == start,
            load.c.booked < load.c.capacity,
        )
        .values(booked=load.c.booked + 1)
    )
    return bool(taken.rowcount)


async def release_slot(conn: AsyncConnection, station_code: str, day: date, start: str) -> None:
    load = tables.slot_loads
    await conn.execute(
        update(load)
        .where(
            load.c.station_code == station_code,
            load.c.slot_date == day,
            load.c.slot_start == start,
            load.c.booked > 0,
        )
        .values(booked=load.c.booked - 1)
    )


async def free_slots(
    conn: AsyncConnection,
    station: Station,
    first: date,
    days: int,
    clock: Clock,
    lead: timedelta,
    horizon_days: int,
) -> list[Slot]:
    load = tables.slot_loads
    last = first + timedelta(days=days - 1)
    booked: dict[tuple[date, str], int] = {
        (r.slot_date, r.slot_start): r.booked
        for r in await conn.execute(
            select(load.c.slot_date, load.c.slot_start, load.c.booked).where(
                load.c.station_code == station.code, load.c.slot_date.between(first, last)
            )
        )
    }
    capacity = slot_capacity(station.daily_capacity)
    slots = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        for start, end in SLOTS:
            if slot_problem(station, day, start, clock, lead, horizon_days) is not None:
                continue
            taken = booked.get((day, start), 0)
            slots.append(
                Slot(
                    date=day,
                    start=start,
                    end=end,
                    capacity=capacity,
                    booked=taken,
                    free=max(0, capacity - taken),
                )
            )
    return slots


# --- HTTP --------------------------------------------------------------------------------


def _matches(row: Row, query: StationQuery, city: str | None) -> bool:
    if city and row.city != city:
        return False
    if query.kind and row.kind not in (query.kind, "both"):
        return False
    if query.service and query.service not in row.services:
        return False
    return not (query.category and query.category not in row.categories)


@routes.get(
    "/api/stations",
    summary="Stations and dealers by city, service, category or distance",
    query=StationQuery,
    response=list[Station],
)
async def list_stations(request: web.Request, query: StationQuery) -> list[Station]:
    city = normalize_city(query.city) if query.city else None
    async with request.config_dict[DB].read() as conn:
        rows = (await conn.execute(select(tables.stations).order_by(tables.stations.c.code))).all()
    found = [Station.parse_obj(r._mapping) for r in rows if _matches(r, query, city)]
    if query.near:
        lat, lon = (float(x) for x in query.near.split(","))
        for s in found:
            s.distance_km = round(distance_km(lat, lon, s.lat, s.lon), 1)
        found.sort(key=lambda s: s.distance_km or 0.0)
    return found[: query.limit]


@routes.get("/api/stations/cities", summary="Cities with stations or dealers", response=list[City])
async def list_cities(request: web.Request, _: None) -> list[City]:
    async with request.config_dict[DB].read() as conn:
        rows = (await conn.execute(select(tables.stations.c.city, tables.stations.c.kind))).all()
    cities: dict[str, City] = {}
    for r in rows:
        c = cities.setdefault(r.city, City(city=r.city, service_stations=0, dealers=0))
        c.service_stations += r.kind in ("service", "both")
        c.dealers += r.kind in ("dealer", "both")
    return sorted(cities.values(), key=lambda c: c.city)


@routes.get("/api/stations/{code}", summary="One station", response=Station, errors=(404,))
async def show_station(request: web.Request, _: None) -> Station:
    async with request.config_dict[DB].read() as conn:
        return await get_station(conn, request.match_info["code"])


@routes.get(
    "/api/stations/{code}/slots",
    summary="Repair slots with free places",
    query=SlotQuery,
    response=list[Slot],
    errors=(404,),
)
async def list_slots(request: web.Request, query: SlotQuery) -> list[Slot]:
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    first = query.start or clock.today()
    async with request.config_dict[DB].read() as conn:
        station = await get_station(conn, request.match_info["code"])
        if station.daily_capacity <= 0:
            raise Refused(NO_REPAIRS, f"station {station.code} is a dealer and takes no repairs")
        if first > clock.today() + timedelta(days=settings.booking_horizon_days):
            # Nothing is bookable past the horizon; counting days from 9999-12-31 would overflow.
            return []
        return await free_slots(
            conn,
            station,
            first,
            query.days,
            clock,
            timedelta(minutes=settings.booking_lead_minutes),
            settings.booking_horizon_days,
        )
