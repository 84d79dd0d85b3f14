"""Complaint contracts: what the assistant records and the desk updates."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.contracts.base import Body, Query

Severity = Literal["low", "medium", "high", "critical"]


Status = Literal["open", "in_progress", "resolved", "closed"]


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


class ComplaintQuery(Query):
    status: Status | None = None
    conversation_id: str | None = Field(None, max_length=100)
