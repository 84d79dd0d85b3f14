"""The HTTP layer every concern shares: typed routes, JSON errors and the OpenAPI document.

A concern declares its operations on a `Routes` with pydantic models for the query or body
and for the response. From those declarations the same table both validates requests and
describes the API, so the OpenAPI document cannot drift from the code.

Over 350 lines on purpose: one flat toolkit (routes, errors, OpenAPI) that every concern
shares; splitting it would scatter one contract.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, get_args, get_origin

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json import pydantic_encoder
from pydantic.schema import schema as pydantic_schema
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.contracts.base import unstorable
from bot.db import Database
from bot.errors import DomainError, Invalid, Limited, NotFound, Refused, not_found
from bot.settings import Settings

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
CLOCK = web.AppKey("clock", Clock)


class ApiError(Exception):
    """An error the client caused or must know about, answered as JSON with a stable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: list[dict[str, str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []
        self.extra = extra or {}

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message, **self.extra}
        if self.fields:
            error["fields"] = self.fields
        return json_response({"error": error}, status=self.status)


@dataclass(frozen=True)
class Reply:
    """A handler result with a status other than the operation's default (e.g. 200 on replay)."""

    body: Any
    status: int


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.dict()
    if isinstance(value, list | tuple):
        return [_dump(item) for item in value]
    return value


def json_response(payload: Any, status: int = 200) -> web.Response:
    text = json.dumps(_dump(payload), default=pydantic_encoder, ensure_ascii=False)
    return web.Response(text=text, status=status, content_type="application/json")


def _validation_fields(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(part) for part in err["loc"] if part != "__root__"),
            "message": err["msg"],
        }
        for err in exc.errors()
    ]


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any, *, where: str) -> M:
    try:
        return model.parse_obj(data)
    except ValidationError as exc:
        fields = _validation_fields(exc)
        summary = "; ".join(f"{f['field'] or where}: {f['message']}" for f in fields)
        raise ApiError(
            422, "invalid_" + where, f"invalid {where}: {summary}", fields=fields
        ) from exc


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "empty_body", "a JSON object is required as the request body")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc


Handler = Callable[[web.Request, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    errors: tuple[int, ...]
    # Who may call it (bot.audiences): "public", "internal" (the bearer token), "staff" (the
    # token and a named staff member, audited), "desk" (a desk session) or "supervisor" (a
    # supervisor's desk session).
    audience: str = "internal"

    def as_handler(self) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A coroutine function for the router (it wraps other callables and hides them),
        carrying the operation so that middlewares can read its audience."""

        async def handle(request: web.Request) -> web.StreamResponse:
            return await self(request)

        setattr(handle, "operation", self)  # noqa: B010
        return handle

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        params: Any = None
        if self.body is not None:
            data = await read_json(request)
            if not isinstance(data, dict):
                raise ApiError(400, "invalid_json", "the body must be a JSON object")
            params = parse_model(self.body, data, where="body")
        elif self.query is not None:
            params = parse_model(self.query, dict(request.query), where="query")
        result = await self.handler(request, params)
        if isinstance(result, web.StreamResponse):
            return result
        if isinstance(result, Reply):
            return json_response(result.body, status=result.status)
        return json_response(result, status=self.status)


class Routes:
    """The operations of one concern, added to the app and described in the OpenAPI document."""

    def __init__(self, tag: str, audience: str = "internal") -> None:
        self.tag = tag
        self.audience = audience
        self.operations: list[Operation] = []

    def _add(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        errors: Sequence[int] = (),
        audience: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method,
                    path,
                    handler,
                    summary,
                    self.tag,
                    body,
                    query,
                    response,
                    status,
                    tuple(errors),
                    audience or self.audience,
                )
            )
            return handler

        return register

    def get(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self._add("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self._add("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self._add("PATCH", path, **kwargs)

    def add_to(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, op.as_handler())


# The status of each kind of domain error.
_DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Invalid: 422,
    Refused: 409,
    Limited: 429,
}

_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
    """Every failure becomes a JSON answer; a client mistake is never a 500."""
    if unstorable(request.path):
        # A path parameter with a NUL would reach the database, which refuses it.
        return ApiError(
            400, "invalid_path", "the path has a NUL or an unpaired surrogate"
        ).response()
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return exc.response()
    except DomainError as exc:
        status = _DOMAIN_STATUS.get(type(exc), 409)
        error = ApiError(status, exc.code, exc.message, fields=exc.fields, extra=exc.extra)
        return error.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _ERROR_CODES.get(exc.status, "http_error")
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        return ApiError(exc.status, code, message or code).response()
    except asyncio.CancelledError:
        raise
    except (OperationalError, DBAPIError, OSError, asyncio.TimeoutError) as exc:
        log.exception("database unavailable while serving %s %s", request.method, request.path)
        return ApiError(
            503, "unavailable", f"storage is unavailable: {type(exc).__name__}"
        ).response()
    except Exception:
        log.exception("unhandled error while serving %s %s", request.method, request.path)
        return ApiError(500, "internal_error", "internal error; it has been logged").response()


# --- helpers for path parameters ---------------------------------------------------------


def path_param(
    request: web.Request, name: str, normalize: Callable[[str], str | None], what: str
) -> str:
    """A path parameter in canonical form, or a 400 that says what shape was expected."""
    raw = request.match_info[name]
    value = normalize(raw)
    if value is None:
        raise ApiError(400, f"invalid_{what}", f"{raw!r} is not a valid {what.replace('_', ' ')}")
    return value


IDEMPOTENCY_HEADER = "Idempotency-Key"
# The longest key the tables keep (their idempotency_key columns).
IDEMPOTENCY_KEY_MAX = 100


def idempotency_key(request: web.Request) -> str | None:
    """The request's Idempotency-Key, trimmed; none when absent or empty, a 422 when it cannot
    be kept (too long for the column, or with characters a database refuses)."""
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if not key:
        return None
    if len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise ApiError(
            422,
            "invalid_idempotency_key",
            f"{IDEMPOTENCY_HEADER} must be printable text of at most {IDEMPOTENCY_KEY_MAX} "
            "characters",
        )
    return key


# --- OpenAPI -----------------------------------------------------------------------------


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if annotation is None:
        return []
    # list[X] passes isinstance(..., type) on Python 3.10: look at generics first.
    if get_origin(annotation) is None and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _schema_ref(annotation: Any) -> dict[str, Any]:
    if get_origin(annotation) is list:
        return {"type": "array", "items": _schema_ref(get_args(annotation)[0])}
    return {"$ref": f"#/components/schemas/{annotation.__name__}"}


def _content(response: Any) -> dict[str, Any]:
    """A JSON model, or a file's media types (a download such as ``text/csv``, or a tuple of
    the types a stored file may have)."""
    if response is None:
        return {}
    if isinstance(response, str | tuple):
        types = (response,) if isinstance(response, str) else response
        return {t: {"schema": {"type": "string", "format": "binary"}} for t in types}
    return {"application/json": {"schema": _schema_ref(response)}}


def openapi_document(routes: Sequence[Routes], *, title: str, version: str) -> dict[str, Any]:
    operations = [op for r in routes for op in r.operations]
    models: dict[str, type[BaseModel]] = {}
    for op in operations:
        shape = None if isinstance(op.response, str | tuple) else op.response
        for m in _models_in(shape) + _models_in(op.body):
            models[m.__name__] = m
    components = pydantic_schema(list(models.values()), ref_prefix="#/components/schemas/")
    components["definitions"]["Error"] = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", op.path)
        ]
        if op.query is not None:
            for field in op.query.__fields__.values():
                prop = op.query.schema()["properties"][field.alias]
                params.append(
                    {"name": field.alias, "in": "query", "required": field.required, "schema": prop}
                )
        spec: dict[str, Any] = {
            "tags": [op.tag],
            "summary": op.summary,
            "operationId": f"{op.tag}_{op.handler.__name__}",
            "x-audience": op.audience,
            "parameters": params,
            "responses": {
                str(op.status): {
                    "description": "OK",
                    "content": _content(op.response),
                },
                **{
                    str(code): {
                        "description": _ERROR_CODES.get(code, "error"),
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    }
                    for code in sorted({*op.errors, 422 if (op.body or op.query) else 400})
                },
            },
        }
        if op.body is not None:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema_ref(op.body)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": components["definitions"]},
    }


def from_row(model: type[M], row: Any, clock: Clock, *times: str) -> M:
    """A response model from a database row, with stored UTC timestamps in local time."""
    data = dict(row._mapping)
    for name in times:
        if data.get(name) is not None:
            data[name] = clock.from_db(data[name])
    return model.parse_obj(data)


async def fetch_one(conn: AsyncConnection, column: Any, key: str, what: str) -> Any:
    """The row of `column`'s table whose `column` equals `key`, or a 404 naming `what`."""
    row = (await conn.execute(select(column.table).where(column == key))).one_or_none()
    if row is None:
        raise not_found(what, key)
    return row
