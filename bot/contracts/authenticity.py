"""Anti-counterfeit contracts: a security-code check and a counterfeit report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.contracts.base import Body
from bot.contracts.rules import MODEL_CODE


class Product(BaseModel):
    model_code: str
    model_name: str
    category: str
    batch_code: str
    produced_on: date


class Check(BaseModel):
    code: str
    result: Literal["genuine", "already_queried", "unknown"]
    query_count: int = Field(description="queries of this code including this one; 0 when unknown")
    first_queried_at: datetime | None
    product: Product | None


class VerifyIn(Body):
    code: str = Field(min_length=1, max_length=60)
    source: str = Field(
        min_length=1, max_length=100, description="who asks, e.g. telegram:12345 or web:<session>"
    )


class ReportIn(Body):
    code: str | None = Field(None, max_length=60)
    model_code: str | None = Field(None, regex=MODEL_CODE)
    source: str = Field(min_length=1, max_length=100)
    conversation_id: str | None = Field(None, max_length=100)
    where_bought: str = Field(min_length=1, max_length=500)
    city: str | None = Field(None, max_length=20)
    contact: str | None = Field(None, max_length=60)
    note: str = Field("", max_length=2000)


class Report(BaseModel):
    id: str
    code: str | None
    model_code: str | None
    source: str
    conversation_id: str | None
    where_bought: str
    city: str | None
    contact: str | None
    note: str
    status: str
    created_at: datetime
