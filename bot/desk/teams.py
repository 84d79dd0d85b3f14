"""Desk teams: which team a new handoff belongs to, and who belongs to which team.

Teams themselves are configured (`BOT_DESK_TEAMS`, see `bot.settings.RoutingSettings`); the
membership is in the database, changed by supervisors only (`bot.desk.assign`). A handoff's
team is picked once, when it is opened: by its reason first (a complaint goes to the
complaints team whatever the product), then by the category of the product in its package.
This module imports nothing of the desk's routes, so `bot.handoffs` can call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.desk.sla import set_routing
from bot.settings import RoutingSettings, Team


def team_for(teams: Sequence[Team], reason: str, category: str | None) -> Team | None:
    """The first team taking this reason, else the first taking this product category."""
    for team in teams:
        if reason in team.reasons:
            return team
    for team in teams:
        if category is not None and category in team.categories:
            return team
    return None


def team_named(routing: RoutingSettings, code: str | None) -> Team | None:
    return next((t for t in routing.teams if t.code == code), None)


async def route_new(conn: AsyncConnection, routing: RoutingSettings, row: Any) -> str | None:
    """Give a new handoff its team (in the transaction that opens it); the team's code."""
    model = (row.package or {}).get("model_code")
    category = None
    if model:
        m = tables.models
        category = await conn.scalar(select(m.c.category).where(m.c.code == model))
    team = team_for(routing.teams, row.reason, category)
    if team is not None:
        await set_routing(conn, row.id, team_code=team.code)
    return team.code if team else None


async def memberships(conn: AsyncConnection) -> dict[str, set[int]]:
    """Each team's members (staff ids)."""
    t = tables.desk_team_members
    out: dict[str, set[int]] = {}
    for row in await conn.execute(select(t.c.team_code, t.c.staff_id)):
        out.setdefault(row.team_code, set()).add(int(row.staff_id))
    return out


async def set_members(conn: AsyncConnection, team: str, staff_ids: Sequence[int]) -> None:
    """Replace a team's members."""
    t = tables.desk_team_members
    await conn.execute(t.delete().where(t.c.team_code == team))
    for staff_id in sorted(set(staff_ids)):
        await conn.execute(t.insert().values(team_code=team, staff_id=staff_id))


async def open_loads(conn: AsyncConnection) -> dict[int, int]:
    """Open conversations each staff member holds."""
    h, a = tables.handoffs, tables.desk_assignments
    rows = await conn.execute(
        select(a.c.staff_id, func.count().label("n"))
        .select_from(h.join(a, a.c.handoff_id == h.c.id))
        .where(h.c.status == "assigned", a.c.staff_id.is_not(None))
        .group_by(a.c.staff_id)
    )
    return {int(row.staff_id): int(row.n) for row in rows}
