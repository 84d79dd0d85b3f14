"""Response targets at the desk: how long a customer has waited for an agent's answer.

Two targets (`RoutingSettings`): the first response, counted from the handoff (the customer
asked for a person), and each next response, counted from the customer's first message after
the agent's last answer. The clock stops when the agent answers. The timer is amber from
`warn_percent` of the target and red once it is missed; the page says so in words as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.clock import Clock
from bot.settings import RoutingSettings

Level = Literal["ok", "warn", "late"]


class Sla(BaseModel):
    """The running response timer of a conversation (none while nobody waits for an answer)."""

    phase: Literal["first", "next"]
    since: datetime
    target_seconds: int
    warn_seconds: int
    elapsed_seconds: int
    level: Level


@dataclass(frozen=True)
class Facts:
    """What the timers are computed from, for one handoff."""

    team: str | None = None
    first_response_at: datetime | None = None
    last_agent_at: datetime | None = None
    last_customer_at: datetime | None = None
    # The note of the latest transfer, and who wrote it (a private note in desk_messages).
    transfer_note: str | None = None
    transferred_by: int | None = None


def level_of(elapsed: float, target: int, warn: int) -> Level:
    if elapsed >= target:
        return "late"
    return "warn" if elapsed >= warn else "ok"


def timer(
    status: str, created: datetime, facts: Facts, now: datetime, targets: RoutingSettings
) -> Sla | None:
    """The timer running now, or None: closed, or the agent's answer is the latest word."""
    if status == "closed":
        return None
    if facts.first_response_at is None:
        phase: Literal["first", "next"] = "first"
        since, target = created, targets.first_response_seconds
    elif facts.last_customer_at is not None and (
        facts.last_agent_at is None or facts.last_customer_at > facts.last_agent_at
    ):
        phase, since, target = "next", facts.last_customer_at, targets.next_response_seconds
    else:
        return None
    warn = target * targets.warn_percent // 100
    elapsed = max(0.0, (now - since).total_seconds())
    return Sla(
        phase=phase,
        since=since,
        target_seconds=target,
        warn_seconds=warn,
        elapsed_seconds=int(elapsed),
        level=level_of(elapsed, target, warn),
    )


async def facts_of(conn: AsyncConnection, clock: Clock, handoff_ids: list[str]) -> dict[str, Facts]:
    """The routing row and the customer's last message time of each handoff."""
    if not handoff_ids:
        return {}
    r, m = tables.desk_routing, tables.desk_messages
    routing = {
        row.handoff_id: row
        for row in await conn.execute(select(r).where(r.c.handoff_id.in_(handoff_ids)))
    }
    customer = {
        row.handoff_id: row.last
        for row in await conn.execute(
            select(m.c.handoff_id, func.max(m.c.created_at).label("last"))
            .where(m.c.handoff_id.in_(handoff_ids), m.c.kind == "customer")
            .group_by(m.c.handoff_id)
        )
    }

    transfers = {
        row.handoff_id: row
        for row in await conn.execute(
            select(m.c.handoff_id, m.c.text, m.c.staff_id, m.c.data)
            .where(m.c.handoff_id.in_(handoff_ids), m.c.kind == "note")
            .order_by(m.c.id)
        )
        if (row.data or {}).get("transfer")
    }

    def local(moment: datetime | None) -> datetime | None:
        return clock.from_db(moment) if moment is not None else None

    out = {}
    for handoff_id in handoff_ids:
        row = routing.get(handoff_id)
        out[handoff_id] = Facts(
            team=row.team_code if row else None,
            first_response_at=local(row.first_response_at if row else None),
            last_agent_at=local(row.last_agent_at if row else None),
            last_customer_at=local(customer.get(handoff_id)),
            transfer_note=transfers[handoff_id].text if handoff_id in transfers else None,
            transferred_by=transfers[handoff_id].staff_id if handoff_id in transfers else None,
        )
    return out


async def set_routing(conn: AsyncConnection, handoff_id: str, **values: object) -> None:
    """Create or change a handoff's routing row (team, response times)."""
    r = tables.desk_routing
    exists = await conn.scalar(select(r.c.handoff_id).where(r.c.handoff_id == handoff_id))
    if exists is None:
        await conn.execute(r.insert().values(handoff_id=handoff_id, **values))
    else:
        await conn.execute(r.update().where(r.c.handoff_id == handoff_id).values(**values))


async def answered(conn: AsyncConnection, clock: Clock, handoff_id: str) -> None:
    """The agent answered the customer: the running timer stops (call in the reply's write)."""
    r = tables.desk_routing
    now = clock.to_db(clock.now())
    first = await conn.scalar(select(r.c.first_response_at).where(r.c.handoff_id == handoff_id))
    await set_routing(conn, handoff_id, first_response_at=first or now, last_agent_at=now)
