"""The customer's one-tap rating of the agent, and what supervisors see of it.

When an agent closes a conversation or hands it back, the bot's goodbye (`utter_desk_closed`,
`utter_desk_handback` in domain.yml) carries a rating card; on the web chat the customer taps
a score and the page posts it here with its chat token. The token's session is the
conversation, so a customer can rate only the agents of their own conversation: the score goes
to the latest handoff of that conversation an agent held and ended, within `RATING_DAYS`.
A second tap changes the score (a mistap is undone by tapping again), it is not a second vote.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes
from bot.contracts.base import Body
from bot.contracts.chat_tokens import (
    ChatNotConfigured,
    TokenRejected,
    bearer,
    check_secret,
    read_token,
)
from bot.db import insert_ignore

chat_routes = Routes("webchat", audience="public")
routes = Routes("agent-ratings", audience="supervisor")

# A goodbye older than this is no longer answered by a tap.
RATING_DAYS = 7
RECENT = 50


class RatingIn(Body):
    score: int = Field(ge=1, le=5)


class RatingOut(BaseModel):
    handoff_id: str
    score: int
    rated_at: datetime


def _conversation(request: web.Request) -> str:
    """The conversation of the chat token the page sends (`Authorization: Bearer`)."""
    try:
        secret = check_secret(request.config_dict[SETTINGS].chat_secret)
    except ChatNotConfigured as exc:
        raise ApiError(503, "chat_not_configured", str(exc)) from exc
    token = bearer(request.headers.get("Authorization"))
    if not token:
        raise ApiError(401, "token_missing", "send the chat token as Authorization: Bearer")
    try:
        return read_token(secret, token).session_id
    except TokenRejected as exc:
        raise ApiError(401, exc.code, str(exc)) from exc


@chat_routes.post(
    "/api/chat/agent-rating",
    summary="Rate the agent who just ended this chat's handoff, 1-5 (the chat token's session)",
    body=RatingIn,
    response=RatingOut,
    errors=(401, 404, 422, 503),
)
async def rate_agent(request: web.Request, body: RatingIn) -> RatingOut:
    conversation = _conversation(request)
    clock = request.config_dict[CLOCK]
    h, a, r = tables.handoffs, tables.desk_assignments, tables.agent_ratings
    now = clock.now()
    since = clock.to_db(now - timedelta(days=RATING_DAYS))
    stmt = (
        select(h.c.id, a.c.staff_id)
        .join(a, a.c.handoff_id == h.c.id)
        .where(
            h.c.conversation_id == conversation,
            h.c.status == "closed",
            a.c.staff_id.is_not(None),
            a.c.closed_at >= since,
        )
        .order_by(a.c.closed_at.desc())
        .limit(1)
    )
    async with request.config_dict[DB].write() as conn:
        found = (await conn.execute(stmt)).first()
        if found is None:
            raise ApiError(404, "nothing_to_rate", "no agent ended a handoff of this chat lately")
        values = {"score": body.score, "rated_at": clock.to_db(now)}
        row = {"handoff_id": found.id, "staff_id": found.staff_id, "conversation_id": conversation}
        if not await insert_ignore(conn, r, {**row, **values}):
            await conn.execute(update(r).where(r.c.handoff_id == found.id).values(**values))
    return RatingOut(handoff_id=found.id, score=body.score, rated_at=now)


class AgentScore(BaseModel):
    staff_id: int
    agent: str
    ratings: int
    average: float


class RecentRating(BaseModel):
    handoff_id: str
    agent: str
    score: int
    rated_at: datetime


class AgentRatings(BaseModel):
    agents: list[AgentScore] = Field(description="every rated agent, lowest average first")
    recent: list[RecentRating] = Field(description=f"the latest {RECENT} ratings, newest first")


@routes.get(
    "/desk/api/agent-ratings",
    summary="How customers rated the agents: each agent's average and the latest ratings",
    response=AgentRatings,
    errors=(401, 403),
)
async def agent_ratings(request: web.Request, _: None) -> AgentRatings:
    clock = request.config_dict[CLOCK]
    r, s = tables.agent_ratings, tables.staff
    per_agent = (
        select(
            s.c.id,
            s.c.display_name,
            func.count().label("ratings"),
            func.avg(r.c.score).label("average"),
        )
        .join(s, s.c.id == r.c.staff_id)
        .group_by(s.c.id, s.c.display_name)
        .order_by(func.avg(r.c.score), s.c.id)
    )
    latest = (
        select(r.c.handoff_id, r.c.score, r.c.rated_at, s.c.display_name)
        .join(s, s.c.id == r.c.staff_id)
        .order_by(r.c.rated_at.desc(), r.c.handoff_id)
        .limit(RECENT)
    )
    async with request.config_dict[DB].read() as conn:
        agents = (await conn.execute(per_agent)).all()
        recent = (await conn.execute(latest)).all()
    return AgentRatings(
        agents=[
            AgentScore(
                staff_id=a.id,
                agent=a.display_name,
                ratings=a.ratings,
                average=round(float(a.average), 2),
            )
            for a in agents
        ],
        recent=[
            RecentRating(
                handoff_id=x.handoff_id,
                agent=x.display_name,
                score=x.score,
                rated_at=clock.from_db(x.rated_at),
            )
            for x in recent
        ],
    )
