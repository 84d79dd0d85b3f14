"""The coarser grains of the daily rollups, summed from the finest inside the database.

The sources count at the finest grain (model, station and channel kept: ``FINEST``); each
coarser grain (any of the three summed over, written ``ALL``) is one ``INSERT … SELECT …
GROUP BY`` over those rows, so a rebuild of 10^6 orders does not expand counters in Python.
A chart then reads the coarsest grain that has what it filters or groups on
(``bot.reports.filters``). The check compares the finest grain with the raw rows and every
coarser grain with the sums of the finest (``mismatches``).
"""

from __future__ import annotations

from datetime import date
from itertools import combinations
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables

ALL = "*"
FINEST = "msc"
_COLUMNS = {"m": "model_code", "s": "station_code", "c": "channel"}
COARSER = tuple(
    "".join(kept) for n in (2, 1, 0) for kept in combinations(FINEST, n)
)  # "ms", "mc", "sc", "m", "s", "c", ""


def _summed(grain: str, *where: Any) -> Any:
    """The finest rows summed to ``grain``: (day, metric, model, station, channel, key, value)."""
    d = tables.report_daily
    dims = [
        d.c[column] if letter in grain else literal(ALL).label(column)
        for letter, column in _COLUMNS.items()
    ]
    kept = [d.c[column] for letter, column in _COLUMNS.items() if letter in grain]
    return (
        select(d.c.day, d.c.metric, *dims, d.c.key, func.sum(d.c.value).label("value"))
        .where(d.c.grain == FINEST, *where)
        .group_by(d.c.day, d.c.metric, *kept, d.c.key)
    )


async def coarsen(conn: AsyncConnection, first: date, last: date) -> None:
    """Write every coarser grain of the days ``first``..``last`` from their finest rows."""
    d = tables.report_daily
    for grain in COARSER:
        summed = _summed(grain, d.c.day >= first, d.c.day <= last).subquery()
        await conn.execute(
            d.insert().from_select(
                ["day", "metric", "model_code", "station_code", "channel", "key", "grain", "value"],
                select(
                    summed.c.day,
                    summed.c.metric,
                    summed.c.model_code,
                    summed.c.station_code,
                    summed.c.channel,
                    summed.c.key,
                    literal(grain),
                    summed.c.value,
                ),
            )
        )


async def mismatches(conn: AsyncConnection) -> list[str]:
    """Each coarser grain whose rows are not the sums of the finest rows (empty: all are)."""
    d = tables.report_daily
    wrong = []
    for grain in COARSER:
        summed = _summed(grain)
        stored = select(
            d.c.day, d.c.metric, d.c.model_code, d.c.station_code, d.c.channel, d.c.key, d.c.value
        ).where(and_(d.c.grain == grain))
        for a, b in ((summed, stored), (stored, summed)):
            differ = await conn.scalar(select(func.count()).select_from(a.except_(b).subquery()))
            if differ:
                wrong.append(f"grain {grain or '-'}: {differ} counter(s) differ from the finest")
    return wrong
