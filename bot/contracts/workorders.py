"""Work-order contracts: booking, reschedule, cancel, life-cycle steps, rating."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, root_validator, validator

from bot.contracts.base import Body, Query
from bot.contracts.rules import (
    CODE,
    MODEL_CODE,
    PHONE,
    PHONE_PROOF,
    SLOT_START,
    STATION_CODE,
    Status,
)


class CreateIn(Body):
    kind: Literal["on_site", "drop_off", "remote"]
    serial: str | None = Field(None, max_length=40)
    model_code: str | None = Field(None, regex=MODEL_CODE)
    fault: str = Field(min_length=1, max_length=2000)
    error_code: str | None = Field(None, max_length=30)
    steps_tried: list[str] = Field([], max_items=30)
    station_code: str = Field(regex=STATION_CODE)
    slot_date: date
    slot_start: str = Field(regex=SLOT_START)
    customer_name: str | None = Field(None, max_length=40)
    phone: str | None = Field(None, regex=PHONE)
    address: str | None = Field(None, max_length=300)
    conversation_id: str | None = Field(None, max_length=100)
    channel: str | None = Field(None, max_length=20)

    @root_validator(skip_on_failure=True)
    def _on_site_needs_address(cls, values: dict[str, Any]) -> dict[str, Any]:
        if values["kind"] == "on_site" and not (values.get("address") and values.get("phone")):
            raise ValueError("an on-site visit needs the address and a phone number")
        return values


class RescheduleIn(Body):
    slot_date: date
    slot_start: str = Field(regex=SLOT_START)
    station_code: str | None = Field(None, regex=STATION_CODE)


class CancelIn(Body):
    reason: str = Field(min_length=1, max_length=500)


class Outcome(Body):
    """What the station found and did, coded (like `fuser_overheat`, `replace_fuser`)."""

    root_cause: str = Field(regex=CODE)
    fix: str = Field(regex=CODE)


class StepIn(Body):
    """A life-cycle step as the station console sends it (its actor is the logged-in account)."""

    to: Status
    note: str = Field("", max_length=2000)
    parts: list[str] = Field(
        [], max_items=20, description="part codes used in this step (each like `mainboard`)"
    )
    engineer: str | None = Field(
        None, min_length=1, max_length=40, description="the engineer who takes the order"
    )
    outcome: Outcome | None = Field(
        None, description="with to=closed: the root cause and the fix, for the fault-case base"
    )

    @validator("parts", each_item=True)
    def _part_code(cls, value: str) -> str:
        if not re.fullmatch(CODE, value):
            raise ValueError("a part code looks like `mainboard` (a-z, 0-9, _)")
        return value


class TransitionIn(StepIn):
    actor: str = Field(min_length=1, max_length=60)
    part: str | None = Field(None, regex=CODE, description="part repaired, with to=repaired")


class RatingIn(Body):
    score: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=2000)

    @validator("score", pre=True)
    def _whole_number(cls, value: Any) -> Any:
        # "5" or 4.5 or true is a client bug, not a rating.
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("the score must be a whole number from 1 to 5")
        return value


class PhoneCheckIn(Body):
    """What a customer gives to prove a work order is theirs, and the conversation asking."""

    digits: str = Field(
        regex=PHONE_PROOF,
        description="the last four digits of the phone on the order, or the whole number",
    )
    conversation_id: str = Field(min_length=1, max_length=100)


class PhoneCheck(BaseModel):
    """Whether the digits match; never the phone itself."""

    matched: bool
    tries_left: int = Field(description="tries this conversation has left on this order")


class PhoneLookupIn(Body):
    """The owner of a phone asking for the work orders booked with it (the number is the proof)."""

    phone: str = Field(regex=PHONE)


class Event(BaseModel):
    at: datetime
    status: str
    note: str
    actor: str
    parts: list[str] = []


class StationRef(BaseModel):
    code: str
    name: str
    address: str
    phone: str


class WorkOrder(BaseModel):
    id: str
    kind: str
    status: Status
    serial: str | None
    model_code: str | None
    fault: str
    error_code: str | None
    steps_tried: list[str]
    station: StationRef
    slot_date: date | None
    slot_start: str | None
    slot_end: str | None
    customer_name: str | None
    phone: str | None
    address: str | None
    conversation_id: str | None
    channel: str | None
    reschedule_count: int
    rating: int | None
    rating_comment: str | None
    engineer: str | None = None
    accepted_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    can_cancel: bool
    can_reschedule: bool
    timeline: list[Event]


class ListQuery(Query):
    serial: str | None = Field(None, max_length=40)
    conversation_id: str | None = Field(None, max_length=100)
