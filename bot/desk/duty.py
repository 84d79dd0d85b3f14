"""Agents on duty and the desk's teams, as the page shows and changes them.

An agent goes on duty (automatic assignment, `bot.desk.assign`, may give them customers) or
on a break; supervisors alone set who belongs to which team (the teams themselves are
configured, `BOT_DESK_TEAMS`).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes
from bot.contracts.base import Body
from bot.desk.accounts import Staff, audit, current
from bot.desk.assign import assign_waiting
from bot.desk.teams import memberships, open_loads, set_members, team_named

routes = Routes("desk", audience="desk")


# --- duty ------------------------------------------------------------------------------------


class DutyIn(Body):
    on_duty: bool


class Duty(BaseModel):
    on_duty: bool
    open: int = Field(description="open conversations you hold")
    limit: int
    auto_assign: bool
    # The response targets, for the page's timers (bot.desk.sla).
    first_response_seconds: int
    next_response_seconds: int
    warn_percent: int


async def _duty_of(request: web.Request, staff: Staff) -> Duty:
    d = tables.desk_duty
    async with request.config_dict[DB].read() as conn:
        on = await conn.scalar(select(d.c.on_duty).where(d.c.staff_id == staff.id))
        loads = await open_loads(conn)
    routing = request.config_dict[SETTINGS].routing
    return Duty(
        on_duty=bool(on),
        open=loads.get(staff.id, 0),
        limit=routing.agent_limit,
        auto_assign=routing.auto_assign,
        first_response_seconds=routing.first_response_seconds,
        next_response_seconds=routing.next_response_seconds,
        warn_percent=routing.warn_percent,
    )


@routes.get("/desk/api/duty", summary="Whether you are on duty, and your load", response=Duty)
async def show_duty(request: web.Request, _: None) -> Duty:
    return await _duty_of(request, current(request))


@routes.post(
    "/desk/api/duty",
    summary="Go on duty (automatic assignment gives you customers) or off (a break)",
    body=DutyIn,
    response=Duty,
    errors=(400, 401, 403),
)
async def set_duty(request: web.Request, body: DutyIn) -> Duty:
    staff, clock = current(request), request.config_dict[CLOCK]
    d = tables.desk_duty
    now = clock.to_db(clock.now())
    async with request.config_dict[DB].write() as conn:
        exists = await conn.scalar(select(d.c.staff_id).where(d.c.staff_id == staff.id))
        if exists is None:
            await conn.execute(
                d.insert().values(staff_id=staff.id, on_duty=body.on_duty, changed_at=now)
            )
        else:
            await conn.execute(
                d.update()
                .where(d.c.staff_id == staff.id)
                .values(on_duty=body.on_duty, changed_at=now)
            )
        await audit(conn, clock.now(), staff.id, "duty", None, {"on_duty": body.on_duty})
    if body.on_duty:
        # Whoever waits need not wait for the next round of the loop.
        await assign_waiting(request.app)
    return await _duty_of(request, staff)


# --- teams -----------------------------------------------------------------------------------


class Member(BaseModel):
    id: int
    display_name: str
    on_duty: bool
    open: int


class TeamOut(BaseModel):
    code: str
    name: str
    reasons: list[str]
    categories: list[str]
    members: list[Member]


async def _teams(request: web.Request) -> list[TeamOut]:
    routing = request.config_dict[SETTINGS].routing
    st, d = tables.staff, tables.desk_duty
    async with request.config_dict[DB].read() as conn:
        members = await memberships(conn)
        loads = await open_loads(conn)
        people = {
            row.id: row
            for row in await conn.execute(
                select(st.c.id, st.c.display_name, d.c.on_duty)
                .select_from(st.outerjoin(d, d.c.staff_id == st.c.id))
                .where(st.c.active.is_(True))
            )
        }
    return [
        TeamOut(
            code=team.code,
            name=team.name,
            reasons=list(team.reasons),
            categories=list(team.categories),
            members=[
                Member(
                    id=p.id,
                    display_name=p.display_name,
                    on_duty=bool(p.on_duty),
                    open=loads.get(p.id, 0),
                )
                for staff_id in sorted(members.get(team.code, set()))
                if (p := people.get(staff_id)) is not None
            ],
        )
        for team in routing.teams
    ]


@routes.get("/desk/api/teams", summary="The desk's teams and their members", response=list[TeamOut])
async def list_teams(request: web.Request, _: None) -> list[TeamOut]:
    return await _teams(request)


class MembersIn(Body):
    staff_ids: list[int] = Field(max_items=200)


@routes.post(
    "/desk/api/teams/{code}/members",
    summary="Set who belongs to a team (supervisors)",
    body=MembersIn,
    response=TeamOut,
    errors=(400, 401, 403, 404, 422),
    audience="supervisor",
)
async def set_team_members(request: web.Request, body: MembersIn) -> TeamOut:
    staff, clock = current(request), request.config_dict[CLOCK]
    routing = request.config_dict[SETTINGS].routing
    code = request.match_info["code"]
    if team_named(routing, code) is None:
        raise ApiError(404, "team_not_found", f"no team {code!r}")
    st = tables.staff
    async with request.config_dict[DB].write() as conn:
        known = set(
            await conn.scalars(
                select(st.c.id).where(
                    st.c.id.in_(body.staff_ids),
                    st.c.active.is_(True),
                    st.c.role.in_(("agent", "supervisor")),
                )
            )
        )
        if unknown := sorted(set(body.staff_ids) - known):
            raise ApiError(422, "unknown_staff", f"no active desk colleague {unknown}")
        await set_members(conn, code, body.staff_ids)
        await audit(
            conn,
            clock.now(),
            staff.id,
            "team_members",
            None,
            {"team": code, "staff": sorted(known)},
        )
    return next(t for t in await _teams(request) if t.code == code)
