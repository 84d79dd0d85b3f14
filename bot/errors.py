"""Domain errors: what the backend's storage and service functions raise when they refuse.

They know nothing of HTTP; `bot.api.error_middleware` answers each kind with its status, as
aiohttp-demos' views translate the data layer's RecordNotFound. The codes are the stable ones
of `bot.contracts.errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class DomainError(Exception):
    """A refusal with a stable code, a developer-facing message and optional details."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fields: list[dict[str, str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []
        self.extra = extra or {}


class NotFound(DomainError):
    """No such device, work order, model or case."""


class Invalid(DomainError):
    """A value that cannot be right: a malformed id, an unknown model, an impossible date."""


class Refused(DomainError):
    """Well-formed, but the current state forbids it: the slot is full, it is too late."""


class Limited(DomainError):
    """Too many requests from one asker; `extra["retry_after"]` says when to try again."""


def not_found(what: str, key: str) -> NotFound:
    return NotFound(f"{what}_not_found", f"no {what.replace('_', ' ')} {key!r}")


def canonical(
    raw: str, normalize: Callable[[str], str | None], field: str, code: str, shape: str
) -> str:
    """An ID from a request in its canonical form, or Invalid naming the field and the shape.

    `shape` says what was expected ("a serial number: two letters then 6-10 letters or
    digits"); every ID a request carries goes through here, so they are refused alike.
    """
    value = normalize(raw)
    if value is None:
        raise Invalid(
            code, f"{raw!r} is not {shape}", fields=[{"field": field, "message": f"not {shape}"}]
        )
    return value
