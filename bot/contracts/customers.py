"""The desk's view of one customer (`GET /desk/api/handoffs/{id}/context`, bot.desk.context):
every phone and address in it masked."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from bot.contracts.warranty import CoverageOut, Extension, Repair


class Phone(BaseModel):
    """A number of the customer, masked, and where the desk knows it from."""

    masked: str
    source: str = "contact"  # contact | callback | proven


class PastConversation(BaseModel):
    id: str
    channel: str
    reason: str
    status: str
    holder: str | None
    resolution: str | None
    created_at: datetime
    current: bool
    openable: bool


class Warranty(BaseModel):
    """The engine's verdict for a fault reported today; `problem` when it has none."""

    remedy: str | None = None
    until: date | None = None
    basis: str | None = None
    policy_title: str | None = None
    coverage: list[CoverageOut] = []
    problem: str | None = None


class DeviceOut(BaseModel):
    serial: str
    known: bool
    model_code: str | None = None
    model_name: str | None = None
    invoice_date: date | None = None
    extended_until: date | None = None
    warranty: Warranty | None = None
    extensions: list[Extension] = []
    repairs: list[Repair] = []


class OrderOut(BaseModel):
    id: str
    kind: str
    status: str
    serial: str | None
    station_code: str
    slot_date: date | None
    slot_start: str | None
    fault: str
    phone: str | None
    address: str | None
    created_at: datetime


class ComplaintOut(BaseModel):
    id: str
    severity: str
    status: str
    text: str
    work_order_id: str | None
    created_at: datetime


class CustomerContext(BaseModel):
    handoff_id: str
    channel: str
    identity: str
    customer_name: str | None
    phones: list[Phone]
    conversations: list[PastConversation]
    devices: list[DeviceOut]
    work_orders: list[OrderOut]
    complaints: list[ComplaintOut]
