"""Complaint contracts: what the assistant records and the desk updates."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.contracts.base import Body, Query

Severity = Literal["low", "medium", "high", "critical"]


# "resolved": a serious complaint's resolution waits for a supervisor's review.
Status = Literal["open", "in_progress", "resolved", "closed"]
# Who must act now; past its due time a complaint climbs one level.
Level = Literal["agent", "supervisor", "manager"]


class ComplaintIn(Body):
    text: str = Field(min_length=1, max_length=10_000)
    severity: Severity = "medium"
    conversation_id: str | None = Field(None, max_length=100)
    channel: str | None = Field(None, max_length=20)
    serial: str | None = Field(None, max_length=40)
    work_order_id: str | None = Field(None, max_length=40)
    contact: str | None = Field(None, max_length=60)


class ComplaintUpdate(Body):
    status: Status
    resolution: str | None = Field(None, max_length=5000)


class Complaint(BaseModel):
    id: str
    text: str
    severity: Severity
    status: Status
    conversation_id: str | None
    channel: str | None
    serial: str | None
    work_order_id: str | None
    contact: str | None
    resolution: str | None
    created_at: datetime
    updated_at: datetime
    level: Level = "agent"
    owner: str | None = None
    due_at: datetime | None = None
    reviewed_by: str | None = None
    closed_at: datetime | None = None


class ComplaintQuery(Query):
    status: Status | None = None
    conversation_id: str | None = Field(None, max_length=100)
    work_order_id: str | None = Field(None, max_length=40)


class ComplaintStep(BaseModel):
    at: datetime
    kind: str
    level: Level
    actor: str
    note: str


class DeskComplaint(Complaint):
    """A complaint on the desk: whether it is past due, whether it is serious, its steps."""

    serious: bool
    overdue: bool
    steps: list[ComplaintStep]


class DeskComplaintQuery(Query):
    """`open`: every complaint not closed (the default); `mine`: those for the caller's level
    or owned by the caller; `closed`: the latest closed ones."""

    view: Literal["open", "mine", "closed"] = "open"


class ComplaintSummary(BaseModel):
    """The desk's badge: complaints waiting for the caller's level, and how many are late."""

    waiting: int
    overdue: int
    review: int


class ResolveIn(Body):
    resolution: str = Field(min_length=2, max_length=5000)


class ReviewIn(Body):
    approve: bool
    note: str = Field("", max_length=2000)
