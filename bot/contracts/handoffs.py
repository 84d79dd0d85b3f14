"""Handoff contracts: the package handed to a person, the handoff record, callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.contracts.base import Body, Query
from bot.contracts.rules import PHONE

Reason = Literal["requested", "fallback", "complaint", "angry", "safety", "backend_down", "other"]


Status = Literal["waiting", "assigned", "closed"]


# How a person's part of the conversation ended (not the catalogue's text `Resolution`).
Resolution = Literal["resolved", "work_order", "callback", "no_reply", "duplicate", "other"]


OPEN = ("waiting", "assigned")


class Package(Body):
    customer_name: str | None = Field(None, max_length=40)
    contact: str | None = Field(None, max_length=60)
    model_code: str | None = Field(None, max_length=30)
    serial: str | None = Field(None, max_length=40)
    warranty: str | None = Field(
        None, max_length=2000, description="the verdict as the bot told it"
    )
    fault: str | None = Field(None, max_length=10_000)
    steps_tried: list[str] = Field([], max_items=50)
    work_order_id: str | None = Field(None, max_length=20)
    last_message: str | None = Field(None, max_length=10_000)
    note: str | None = Field(None, max_length=2000)


class HandoffIn(Body):
    conversation_id: str = Field(min_length=1, max_length=100)
    channel: str = Field(min_length=1, max_length=20)
    reason: Reason
    package: Package = Package()
    complaint_id: str | None = Field(None, max_length=20)


class HandoffUpdate(Body):
    status: Status = Field(description="only `closed`: the desk claims and transfers")
    resolution: Resolution = "resolved"
    note: str = Field("", max_length=2000)


class Handoff(BaseModel):
    id: str
    conversation_id: str
    channel: str
    reason: Reason
    status: Status
    package: dict[str, Any]
    complaint_id: str | None
    created_at: datetime
    updated_at: datetime
    # Set only in the answer to opening a handoff, so the bot says one thing to the customer:
    # the place in the queue when the desk is open, the after-hours choices when it is not.
    desk_open: bool | None = None
    queue_position: int | None = Field(None, description="1 = next to be served")


class HandoffQuery(Query):
    status: Status | None = None
    conversation_id: str | None = Field(None, max_length=100)


class CallbackIn(Body):
    phone: str = Field(regex=PHONE)
