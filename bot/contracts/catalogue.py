"""Catalogue contracts: categories, models, parts, firmware, and what a product mention names."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from bot.contracts.base import Query


class Category(BaseModel):
    code: str
    name: str
    synonyms: list[str]


class Part(BaseModel):
    code: str
    name: str


class ModelSummary(BaseModel):
    code: str
    name: str
    category: str
    series: str
    launched_on: date


class FirmwareRelease(BaseModel):
    model_code: str
    kind: str
    version: str
    released_on: date
    notes: str
    compatibility: str


class ModelDetail(ModelSummary):
    parts: list[Part]
    specs: dict[str, str]
    compatible_consumables: list[str]
    firmware: list[FirmwareRelease]


class Resolution(BaseModel):
    """What a free-text product mention refers to."""

    category: str | None
    model: str | None
    part: str | None


class ModelQuery(Query):
    category: str | None = None
    q: str | None = None


class FirmwareQuery(Query):
    kind: Literal["bios", "firmware", "driver"] | None = None


class ResolveQuery(Query):
    text: str = Field(min_length=1, max_length=2000)
