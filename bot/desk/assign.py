"""Who gets a waiting customer: automatic assignment and transfer.

- Duty (`bot.desk.duty`): only agents on duty and logged in are given customers
  automatically. Claiming from the queue works either way.
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
from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import handoffs, tables
from bot.api import CLOCK, DB, SETTINGS, ApiError
from bot.clock import Clock
from bot.desk.accounts import Staff, current
from bot.desk.loops import start_loop, stop_all, stopping, wait_unless_stopping
from bot.desk.rasa import RASA
from bot.desk.sla import set_routing
from bot.desk.teams import memberships, open_loads, team_named

log = logging.getLogger(__name__)


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
        loads = await open_loads(conn)
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
