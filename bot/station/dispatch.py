"""Dispatch rules: when a booking has waited too long for its station, the on-site response
promised by city tier and how much of it is used, and every station's load.

Pure functions over rows and settings (the console and the supervisors' panel both use them),
and the one query of the load figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.clock import Clock
from bot.contracts.rules import OPEN_STATUSES, SLOT_ENDS
from bot.settings import Settings
from bot.stations import open_weekdays

# Orders the station has not taken yet.
UNACCEPTED = ("created", "scheduled")
# The share of the promised response time after which the timer turns amber.
SLA_AMBER = 0.75
# Opening hours when a station's text names none.
_DEFAULT_HOURS = (time(9), time(18))
# Working time is counted over at most this many days back: enough to know an order is late.
_LOOKBACK_DAYS = 62

SlaState = Literal["green", "amber", "red", "met", "missed"]


def opening_hours(hours: str) -> tuple[time, time]:
    """The first HH:MM-HH:MM of a station's hours text ("周一至周六 09:00-18:00")."""
    match = re.search(r"(\d{1,2}):(\d{2})\s*[-~至到]\s*(\d{1,2}):(\d{2})", hours)
    if not match:
        return _DEFAULT_HOURS
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if (h1, m1) >= (h2, m2) or h2 > 23:
        return _DEFAULT_HOURS
    return time(h1, m1), time(h2, m2)


def working_seconds(start: datetime, end: datetime, hours: str, tz: ZoneInfo) -> float:
    """Seconds between two moments that fall in a station's opening hours: a booking made on
    Saturday evening for a station closed on Sunday waits from Monday's opening."""
    if end <= start:
        return 0.0
    days = set(open_weekdays(hours)) or set(range(7))
    opens, closes = opening_hours(hours)
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    day = max(day, last - timedelta(days=_LOOKBACK_DAYS))
    total = 0.0
    while day <= last:
        if day.weekday() in days:
            lo = max(start, datetime.combine(day, opens, tz))
            hi = min(end, datetime.combine(day, closes, tz))
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


def is_late(
    status: str, waiting_since: datetime, hours: str, now: datetime, settings: Settings
) -> bool:
    """Not accepted within the configured minutes of the station's opening hours."""
    if status not in UNACCEPTED:
        return False
    waited = working_seconds(waiting_since, now, hours, settings.timezone)
    return waited > settings.station_accept_minutes * 60


def city_tier(city: str, settings: Settings) -> int:
    first, second = settings.city_tiers
    return 1 if city in first else 2 if city in second else 3


class Sla(BaseModel):
    """The on-site response promise: due by when, how much of it is used, and its colour."""

    tier: int
    promised_hours: int
    due: datetime
    used: float
    state: SlaState


def response_sla(
    *,
    kind: str,
    city: str,
    booked_at: datetime,
    slot: tuple[date, str] | None,
    responded_at: datetime | None,
    now: datetime,
    clock: Clock,
    settings: Settings,
) -> Sla | None:
    """For on-site orders: the engineer must be on the way within the tier's hours of the
    booking, or by the end of the slot the customer chose if that is later (a customer who
    books next Thursday has asked to wait)."""
    if kind != "on_site":
        return None
    tier = city_tier(city, settings)
    hours = settings.onsite_response_hours[tier - 1]
    due = booked_at + timedelta(hours=hours)
    if slot is not None and slot[1] in SLOT_ENDS:
        due = max(due, clock.local(slot[0], SLOT_ENDS[slot[1]]))
    span = (due - booked_at).total_seconds()
    used = ((responded_at or now) - booked_at).total_seconds() / span
    state: SlaState
    if responded_at is not None:
        state = "met" if responded_at <= due else "missed"
    else:
        state = "red" if used >= 1 else "amber" if used >= SLA_AMBER else "green"
    return Sla(tier=tier, promised_hours=hours, due=due, used=round(used, 3), state=state)


@dataclass(frozen=True)
class LoadRow:
    code: str
    name: str
    city: str
    hours: str
    daily_capacity: int
    open_orders: int
    oldest_open: datetime | None
    booked_today: int


async def station_loads(conn: AsyncConnection, clock: Clock) -> list[LoadRow]:
    """Open orders, the oldest open one and today's bookings of every repair station."""
    s, w, sl = tables.stations, tables.work_orders, tables.slot_loads
    open_orders = (
        select(
            w.c.station_code,
            func.count().label("open_orders"),
            func.min(w.c.created_at).label("oldest_open"),
        )
        .where(w.c.status.in_(OPEN_STATUSES))
        .group_by(w.c.station_code)
        .subquery()
    )
    today = (
        select(sl.c.station_code, func.sum(sl.c.booked).label("booked"))
        .where(sl.c.slot_date == clock.today())
        .group_by(sl.c.station_code)
        .subquery()
    )
    rows = await conn.execute(
        select(
            s.c.code,
            s.c.name,
            s.c.city,
            s.c.hours,
            s.c.daily_capacity,
            func.coalesce(open_orders.c.open_orders, 0).label("open_orders"),
            open_orders.c.oldest_open,
            func.coalesce(today.c.booked, 0).label("booked_today"),
        )
        .outerjoin(open_orders, open_orders.c.station_code == s.c.code)
        .outerjoin(today, today.c.station_code == s.c.code)
        .where(s.c.daily_capacity > 0)
        .order_by(s.c.code)
    )
    return [
        LoadRow(
            code=r.code,
            name=r.name,
            city=r.city,
            hours=r.hours,
            daily_capacity=r.daily_capacity,
            open_orders=int(r.open_orders),
            oldest_open=clock.from_db(r.oldest_open) if r.oldest_open else None,
            booked_today=int(r.booked_today),
        )
        for r in rows
    ]
