"""Domain errors: what the backend's storage and service functions raise when they refuse.

They know nothing of HTTP; `bot.api.error_middleware` answers each kind with its status, as
aiohttp-demos' views translate the data layer's RecordNotFound. The codes are the stable ones
of `bot.contracts.errors`.
"""

from __future__ import annotations

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
