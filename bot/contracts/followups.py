"""回访 (follow-up visit) contracts: the customer's answer to the bot, and staff's phone outcome.

One follow-up per work order and round (a round is one close of the order). The bot asks a few
days after the close; an answer it gets ends the follow-up, no answer within a day makes it a
task for staff doing phone 回访.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.contracts.base import Body, Query

# What the customer answers in the chat: solved, or "没解决/又坏了" (the order is reopened).
CustomerOutcome = Literal["solved", "recurred"]
# What staff record after a call; "unreachable" keeps the task for a retry the next day.
StaffOutcome = Literal["satisfied", "recurred", "unreachable"]
FollowupStatus = Literal["scheduled", "answered", "done", "cancelled"]


class FollowupAnswerIn(Body):
    outcome: CustomerOutcome


class FollowupOutcomeIn(Body):
    outcome: StaffOutcome
    note: str = Field("", max_length=2000)


class FollowupQuery(Query):
    """`due`: today's and overdue tasks (the default), or every open one."""

    due: Literal["today", "open"] = "today"


class Followup(BaseModel):
    id: int
    work_order_id: str
    round: int
    status: FollowupStatus
    outcome: str | None
    note: str
    attempts: int
    asked_at: datetime | None
    due_at: datetime | None
    overdue: bool
    customer_name: str | None
    phone: str | None
    station_code: str
    fault: str
