"""The after-sales loop's charts (definitions in ``bot.reports.definitions``): CSAT and
response rate, 回访 outcomes, the on-site SLA by city tier, and station load."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.reports.definitions import (
    CSAT_KEYS,
    FOLLOWUP_KEYS,
    ONSITE_STATES,
    SATISFIED_SCORES,
    TIERS,
    share,
)
from bot.reports.filters import Filters, sum_rollups

TOP_STATIONS = 20


async def csat(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """Surveyed orders by rating (or no answer), the response rate and CSAT."""
    rows = dict(await sum_rollups(conn, f, "csat", ("key",)))
    counts = {key: int(rows.get(key, 0)) for key in CSAT_KEYS}
    surveyed = sum(counts.values())
    rated = surveyed - counts["no_answer"]
    satisfied = sum(counts[key] for key in SATISFIED_SCORES)
    return {
        "counts": counts,
        "surveyed": surveyed,
        "rated": rated,
        "response_rate": share(rated, surveyed),
        "csat": share(satisfied, rated),
    }


async def followups(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """Orders with a 回访, each by the outcome of its latest round."""
    rows = dict(await sum_rollups(conn, f, "followups", ("key",)))
    counts = {key: int(rows.get(key, 0)) for key in FOLLOWUP_KEYS}
    total = sum(counts.values())
    return {
        "counts": counts,
        "total": total,
        "solved_rate": share(counts["solved"] + counts["satisfied"], total),
        "recurred_rate": share(counts["recurred"], total),
    }


def _tiers(rows: list[Any]) -> dict[int, dict[str, int]]:
    tiers = {tier: dict.fromkeys(ONSITE_STATES, 0) for tier in TIERS}
    for key, value in rows:
        tier, _, state = str(key).partition(":")
        if tier.isdigit() and int(tier) in tiers and state in ONSITE_STATES:
            tiers[int(tier)][state] += int(value)
    return tiers


def _on_time(counts: dict[str, int]) -> float | None:
    return share(counts["met"], counts["met"] + counts["missed"])


async def onsite(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """On-site orders by city tier and SLA outcome, with each tier's on-time share."""
    tiers = _tiers(await sum_rollups(conn, f, "onsite", ("key",)))
    total = {state: sum(t[state] for t in tiers.values()) for state in ONSITE_STATES}
    return {
        "tiers": [
            {"tier": tier, "counts": counts, "on_time_rate": _on_time(counts)}
            for tier, counts in tiers.items()
        ],
        "on_time_rate": _on_time(total),
    }


async def load(conn: AsyncConnection, f: Filters) -> dict[str, Any]:
    """The stations with the most orders: orders, load against capacity, on-site on time."""
    orders = sorted(await sum_rollups(conn, f, "orders", ("station_code",)), key=lambda r: -r[1])
    top = orders[:TOP_STATIONS]
    codes = [code for code, _ in top]
    s = tables.stations
    info = {
        r.code: r
        for r in await conn.execute(
            select(s.c.code, s.c.name, s.c.city, s.c.daily_capacity).where(s.c.code.in_(codes))
        )
    }
    onsite_rows = await sum_rollups(conn, f, "onsite", ("station_code", "key"))
    met: dict[str, int] = {}
    missed: dict[str, int] = {}
    for code, key, value in onsite_rows:
        state = str(key).partition(":")[2]
        if state == "met":
            met[code] = met.get(code, 0) + int(value)
        elif state == "missed":
            missed[code] = missed.get(code, 0) + int(value)
    days = len(f.days())
    stations = []
    for code, value in top:
        row = info.get(code)
        capacity = row.daily_capacity * days if row is not None else 0
        stations.append(
            {
                "code": code,
                "name": row.name if row is not None else code,
                "city": row.city if row is not None else "",
                "orders": int(value),
                "load": int(value) / capacity if capacity else None,
                "on_time_rate": share(met.get(code, 0), met.get(code, 0) + missed.get(code, 0)),
            }
        )
    return {"stations": stations}


CHARTS: dict[str, Callable[[AsyncConnection, Filters], Awaitable[dict[str, Any]]]] = {
    "csat": csat,
    "followups": followups,
    "onsite": onsite,
    "load": load,
}
