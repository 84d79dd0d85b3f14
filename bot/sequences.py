"""Daily id sequences (WO20261120-0007): allocation inside the caller's write transaction.

The id shapes and their normalisers are contracts (`bot.contracts.ids`); only allocation,
which needs the database, lives here.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.contracts.ids import format_id
from bot.db import insert_ignore


class SequenceExhausted(RuntimeError):
    """More than 9,999 ids of one kind in one day: the id format has no room left."""


async def next_id(conn: AsyncConnection, prefix: str, day: date) -> str:
    """Allocate the next id of the day inside the caller's write transaction.

    The UPDATE takes the row's write lock until the transaction ends, so concurrent
    callers get consecutive numbers and a rolled-back caller gives its number back.
    """
    key = f"{day:%Y%m%d}"
    await insert_ignore(conn, tables.sequences, {"prefix": prefix, "day": key, "last": 0})
    seq = tables.sequences
    where = (seq.c.prefix == prefix) & (seq.c.day == key)
    await conn.execute(update(seq).where(where).values(last=seq.c.last + 1))
    number = (await conn.execute(select(seq.c.last).where(where))).scalar_one()
    if number > 9999:
        raise SequenceExhausted(prefix)
    return format_id(prefix, day, int(number))
