"""Knowledge-base contracts: fault cases with their steps, and search hits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from bot.contracts.base import Body
from bot.contracts.rules import CATEGORY_CODES


class Case(BaseModel):
    code: str
    category: str
    models: list[str]
    title: str
    symptoms: list[str]
    error_codes: list[str]
    steps: list[str]
    stop_when: str
    suspect_part: str | None
    performance_fault: bool
    safety: bool


class Hit(BaseModel):
    case: Case
    score: float
    matched_by: str = Field(description="error_code or text")
    matched_terms: list[str]


class SearchIn(Body):
    q: str = Field(min_length=1, max_length=10_000, description="the customer's words")
    category: Literal[CATEGORY_CODES] | None = None  # type: ignore[valid-type]
    model: str | None = Field(None, max_length=40)
    limit: int = Field(5, ge=1, le=20)


class Reindexed(BaseModel):
    cases: int
    words: int
