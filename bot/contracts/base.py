"""Bases of the request models: what a client may send, checked the same on both sides."""

from __future__ import annotations

from pydantic import BaseModel, Extra


class Body(BaseModel):
    """Base of request bodies: unknown fields are an error, strings are trimmed."""

    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True


class Query(BaseModel):
    """Base of query-string parameters."""

    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True
