"""Warranty contracts: devices and their repairs, the 三包 verdict, plans and extensions."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from bot.contracts.base import Body, Query
from bot.sanbao import EXCLUSION_KEYS


class Repair(BaseModel):
    repaired_on: date
    part: str | None
    part_name: str | None
    fault: str
    work_order_id: str | None


class Device(BaseModel):
    serial: str
    model_code: str
    model_name: str
    category: str
    invoice_date: date | None
    seller: str
    extended_until: date | None
    repairs: list[Repair]


class ReasonOut(BaseModel):
    text: str
    article: str | None


class OptionOut(BaseModel):
    remedy: str
    until: date | None


class CoverageOut(BaseModel):
    key: str
    requires: str
    ends_on: date
    active: bool


class Verdict(BaseModel):
    serial: str
    model_code: str
    model_name: str
    category: str
    policy_code: str
    policy_title: str
    legal: bool
    source: str
    invoice_date: date | None
    on_date: date
    days_since_invoice: int | None
    part: str | None
    main_part: bool
    remedy: Literal["return", "exchange", "free_repair", "paid_repair"]
    until: date | None
    options: list[OptionOut]
    basis: str = Field(
        description="a window key, repeat_repair, repair_guarantee, extended_warranty, exclusion"
        " or expired"
    )
    reasons: list[ReasonOut]
    coverage: list[CoverageOut]
    extended_until: date | None


class Plan(BaseModel):
    code: str
    name: str
    categories: list[str]
    years: int
    price_cents: int
    description: str


class Extension(BaseModel):
    id: str
    serial: str
    plan_code: str
    purchased_on: date
    starts_on: date
    ends_on: date
    price_cents: int


class FaultIn(Body):
    part: str | None = Field(None, description="part code, see /api/catalogue/parts")
    performance_fault: StrictBool = True
    exclusions: list[Literal[EXCLUSION_KEYS]] = []  # type: ignore[valid-type]
    description: str | None = Field(None, max_length=2000)


class VerdictIn(Body):
    serial: str = Field(min_length=1, max_length=40)
    fault: FaultIn = FaultIn()
    on_date: date | None = Field(None, description="defaults to today in the service's time zone")


class PolicyQuery(Query):
    category: str | None = None


class PlanQuery(Query):
    category: str | None = None
    serial: str | None = None


class ExtensionIn(Body):
    serial: str = Field(min_length=1, max_length=40)
    plan_code: str = Field(min_length=1, max_length=30)
