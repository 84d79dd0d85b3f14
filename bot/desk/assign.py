"""Who gets a waiting customer: agents on duty, teams, automatic assignment and transfer.

- Duty: an agent says they are on duty (or on a break); only agents on duty and logged in
  are given customers automatically. Claiming from the queue works either way.
- Teams (`bot.desk.teams`): configured; supervisors alone change who belongs to which.
- Automatic assignment (`BOT_DESK_AUTO_ASSIGN`, off by default): a loop gives each waiting
  customer, complaints first then the longest waiting, to the least-loaded agent on duty who
  holds fewer than `BOT_DESK_AGENT_LIMIT` open conversations; of the handoff's team when one of
  its members is on duty (the customer then waits for them rather than go to someone else),
  anyone on duty otherwise. Ties go to whoever was given a conversation longest ago, so a
  quiet desk takes turns. Two backend processes may both pick for one customer: the database
  lets one win and the other's attempt is a 409 that the loop skips; an agent may then end
  one over their limit until the next close, which is tolerated rather than locked against.
- Transfer to a colleague or a team, with a note the receiver sees (a private note).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import handoffs, tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes
from bot.clock import Clock
from bot.contracts.base import Body
from bot.desk.accounts import Staff, audit, current
from bot.desk.loops import start_loop, stop_all, stopping, wait_unless_stopping
from bot.desk.rasa import RASA
from bot.desk.sla import set_routing
from bot.desk.teams import memberships, set_members, team_named

log = logging.getLogger(__name__)
routes = Routes("desk", audience="desk")


# --- who is picked --------------------------------------------------------------------------


def pick(
    team: str | None,
    on_duty: Sequence[Staff],
    loads: dict[int, int],
    last_given: dict[int, datetime],
    members: dict[str, set[int]],
    limit: int,
) -> Staff | None:
    """The agent a waiting customer of `team` goes to now, or None (everyone is full)."""
    in_team = [s for s in on_duty if team is not None and s.id in members.get(team, set())]
    pool = in_team or list(on_duty)
    free = [s for s in pool if loads.get(s.id, 0) < limit]
    if not free:
        return None
    return min(free, key=lambda s: (loads.get(s.id, 0), last_given.get(s.id, datetime.min), s.id))


async def assign_waiting(app: web.Application) -> list[tuple[str, str]]:
    """Give every waiting customer an agent, as far as agents are free; returns (handoff,
    agent's username) of each assignment made."""
    settings, clock, db = app[SETTINGS], app[CLOCK], app[DB]
    routing = settings.routing
    if not routing.auto_assign:
        return []
    h, a, r, st, d, ss = (
        tables.handoffs,
        tables.desk_assignments,
        tables.desk_routing,
        tables.staff,
        tables.desk_duty,
        tables.staff_sessions,
    )
    async with db.read() as conn:
        waiting = list(
            await conn.execute(
                select(h.c.id, h.c.reason, h.c.created_at, r.c.team_code)
                .select_from(h.outerjoin(r, r.c.handoff_id == h.c.id))
                .where(h.c.status == "waiting")
                .order_by(h.c.created_at, h.c.id)
            )
        )
        if not waiting:
            return []
        # On duty and logged in: an agent who logged out (or whose session ran out) without
        # pausing is given nobody.
        live = select(ss.c.staff_id).where(ss.c.expires_at > clock.to_db(clock.now()))
        agents = [
            Staff(row.id, row.username, row.display_name, row.role)
            for row in await conn.execute(
                select(st.c.id, st.c.username, st.c.display_name, st.c.role)
                .select_from(st.join(d, d.c.staff_id == st.c.id))
                .where(
                    d.c.on_duty.is_(True),
                    st.c.active.is_(True),
                    st.c.role == "agent",
                    st.c.id.in_(live),
                )
            )
        ]
        loads = await _loads(conn)
        last_given = {
            int(row.staff_id): row.last
            for row in await conn.execute(
                select(a.c.staff_id, func.max(a.c.claimed_at).label("last"))
                .where(a.c.staff_id.is_not(None), a.c.claimed_at.is_not(None))
                .group_by(a.c.staff_id)
            )
        }
        members = await memberships(conn)
    done: list[tuple[str, str]] = []
    for row in sorted(waiting, key=lambda w: (w.reason != "complaint", w.created_at, w.id)):
        if stopping(app):
            break
        agent = pick(row.team_code, agents, loads, last_given, members, routing.agent_limit)
        if agent is None:
            continue
        try:
            await handoffs.auto_assign(db, clock, app[RASA], row.id, agent)
        except ApiError as error:
            if error.status == 409:
                continue  # claimed meanwhile, by hand or by another process
            log.warning("desk: automatic assignment stopped: %s", error.message)
            break  # the assistant is unreachable: try again next round
        loads[agent.id] = loads.get(agent.id, 0) + 1
        last_given[agent.id] = clock.to_db(clock.now())
        done.append((row.id, agent.username))
    return done


async def _loads(conn: AsyncConnection) -> dict[int, int]:
    """Open conversations each staff member holds."""
    h, a = tables.handoffs, tables.desk_assignments
    rows = await conn.execute(
        select(a.c.staff_id, func.count().label("n"))
        .select_from(h.join(a, a.c.handoff_id == h.c.id))
        .where(h.c.status == "assigned", a.c.staff_id.is_not(None))
        .group_by(a.c.staff_id)
    )
    return {int(row.staff_id): int(row.n) for row in rows}


async def _assign_loop(app: web.Application) -> None:
    while not await wait_unless_stopping(app, app[SETTINGS].routing.assign_poll_seconds):
        try:
            await assign_waiting(app)
        except (OperationalError, DBAPIError, OSError):
            log.warning("desk: automatic assignment failed; retrying", exc_info=True)


async def assigner(app: web.Application) -> AsyncIterator[None]:
    """The automatic assignment loop (it does nothing while the setting is off)."""
    task = start_loop("automatic assignment", _assign_loop, app)
    yield
    await stop_all(app, [task])


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
        loads = await _loads(conn)
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
        loads = await _loads(conn)
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


# --- transfer --------------------------------------------------------------------------------


async def transfer(
    request: web.Request, handoff_id: str, to: int | None, team: str | None, note: str
) -> None:
    """Give a conversation to a colleague, or to a team's queue, with a note for whoever
    takes it. Its holder may; a supervisor may give any open one."""
    staff, clock, db = current(request), request.config_dict[CLOCK], request.config_dict[DB]
    routing = request.config_dict[SETTINGS].routing
    if to is None and team is None:
        raise ApiError(400, "invalid_body", "say to whom (to) or to which team (team)")
    chosen = team_named(routing, team) if team is not None else None
    if team is not None and chosen is None:
        raise ApiError(404, "team_not_found", f"no team {team!r}")
    if to is not None:
        await handoffs.transfer(db, clock, request.app[RASA], handoff_id, staff, to)
        async with db.write() as conn:
            row = await _handoff(conn, handoff_id)
            if chosen is not None:
                await set_routing(conn, handoff_id, team_code=chosen.code)
            await _transfer_note(conn, clock, row, staff, note, {"to_staff": to})
        return
    assert chosen is not None
    async with db.write() as conn:
        row = await handoffs.requeue(conn, clock, handoff_id, staff, chosen.code)
        await set_routing(conn, handoff_id, team_code=chosen.code)
        await _transfer_note(conn, clock, row, staff, note, {"to_team": chosen.code})


async def _handoff(conn: AsyncConnection, handoff_id: str) -> Row:
    h = tables.handoffs
    return (await conn.execute(select(h).where(h.c.id == handoff_id))).one()


async def _transfer_note(
    conn: AsyncConnection, clock: Clock, row: Row, staff: Staff, note: str, detail: dict[str, Any]
) -> None:
    """The note travels as a private note marked as the transfer's: the receiver sees it on
    the queue item and in the conversation, and erasing the customer's data erases it. No
    note, no row: the change of holder is in the conversation's history already."""
    if not note.strip():
        return
    await handoffs.add_activity(
        conn,
        clock,
        conversation=row.conversation_id,
        handoff_id=row.id,
        kind="note",
        text_=note.strip(),
        staff_id=staff.id,
        data={"transfer": True, **detail},
    )
