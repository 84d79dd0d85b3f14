"""Bases of the request models: what a client may send, checked the same on both sides."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Extra, root_validator


def unstorable(value: Any) -> bool:
    """Text no database keeps: PostgreSQL refuses NUL, and half a surrogate pair (which a
    JSON escape such as \\ud800 can carry) is no text at all."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(unstorable(k) or unstorable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(unstorable(item) for item in value)
    return False


class _Storable(BaseModel):
    """Refuses text no database keeps, the same on SQLite (which would keep a NUL) as on
    PostgreSQL: a 422 naming the fields, never a storage error."""

    @root_validator(pre=True, allow_reuse=True)
    def _storable(cls, values: dict[str, Any]) -> dict[str, Any]:
        bad = [str(name) for name, value in values.items() if unstorable(value)]
        if bad:
            raise ValueError(f"{', '.join(bad)}: NUL characters or unpaired surrogates in the text")
        return values


class Body(_Storable):
    """Base of request bodies: unknown fields are an error, strings are trimmed."""

    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True


class Query(_Storable):
    """Base of query-string parameters."""

    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True
