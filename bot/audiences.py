"""Who may call what: the backend serves three audiences on one app, and keeps them apart.

- Public: the web-chat page and its static files, `POST /api/chat/sessions` (which hands out
  the signed token a conversation needs), `GET /api/health` for load balancers.
- Internal: every other `/api/*` route, for the action server and the backend's own pages
  only. The caller proves it with `Authorization: Bearer <BOT_API_TOKEN>`; without a token set,
  the internal API is closed rather than open.
- Staff: the desk (`/desk/api/*`, its own session login in `bot.desk.accounts`; a few
  routes, such as the audit log, for supervisors only; the reports and alerts for supervisors
  and operators, an operator account seeing nothing else), and the
  internal routes that change what only staff may change (a work order's life cycle, the
  device registry, complaint and handoff records). Those need the internal token *and* the
  staff member on whose behalf the call is made (`X-Staff-User`), an active desk account
  with a role allowed to; each such call is audited under that name.
- Station: the repair stations' console (`/station/api/*`), a session of a station account
  bound to one station (bot.desk.accounts); it sees and moves only that station's orders.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import select

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Operation
from bot.desk.accounts import audit

STAFF_HEADER = "X-Staff-User"
STAFF_ROLES = frozenset({"agent", "supervisor", "manager"})
# Routes outside the operation tables (bot.app adds them directly).
_PLAIN_ROUTES = {"/api/openapi.json": "internal"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_matches(header: str | None, token: str | None) -> bool:
    """Constant-time check of an `Authorization: Bearer …` header against the expected token."""
    if not token or not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def operation_of(request: web.Request) -> Operation | None:
    """The declared operation a request matched (see `Operation.as_handler`), if any."""
    operation = getattr(request.match_info.route.handler, "operation", None)
    return operation if isinstance(operation, Operation) else None


def audience_of(request: web.Request) -> str:
    """The audience of the route a request matched (pages and static files are public)."""
    operation = operation_of(request)
    if operation is not None:
        return operation.audience
    if request.path.startswith("/desk/"):
        return "desk"
    if request.path.startswith("/station/"):
        return "station"
    if request.path.startswith("/api/"):
        return _PLAIN_ROUTES.get(request.path, "internal")
    return "public"


@web.middleware
async def guard_audiences(request: web.Request, handler: Handler) -> web.StreamResponse:
    audience = audience_of(request)
    if audience in ("public", "desk", "supervisor", "reports", "station"):
        # The portals' own middleware (bot.desk.accounts) checks the session, its CSRF token
        # and the portal's roles; supervisor handlers check the role.
        return await handler(request)
    token = request.config_dict[SETTINGS].api_token
    if token is None:
        raise ApiError(503, "api_not_configured", "the internal API has no token (BOT_API_TOKEN)")
    if not bearer_matches(request.headers.get("Authorization"), token):
        raise ApiError(401, "unauthorized", "the internal API needs its bearer token")
    if audience != "staff":
        return await handler(request)
    staff_id, name = await staff_member(request)
    response = await handler(request)
    if response.status < 400:
        operation = operation_of(request)
        clock = request.config_dict[CLOCK]
        async with request.config_dict[DB].write() as conn:
            await audit(
                conn,
                clock.now(),
                staff_id,
                f"api_{operation.handler.__name__}" if operation else "api_call",
                None,
                {"method": request.method, "path": request.path, "staff": name},
            )
    return response


async def staff_member(request: web.Request) -> tuple[int, str]:
    """The active staff account a staff-only call is made for (id, username), or 403.

    The internal token has been checked already; this names the person for the audit line.
    """
    name = (request.headers.get(STAFF_HEADER) or "").strip()
    if not name:
        raise ApiError(403, "staff_only", f"a staff-only operation: send {STAFF_HEADER}")
    staff = tables.staff
    async with request.config_dict[DB].read() as conn:
        row = (
            await conn.execute(
                select(staff.c.id, staff.c.role, staff.c.active).where(staff.c.username == name)
            )
        ).one_or_none()
    if row is None or not row.active or row.role not in STAFF_ROLES:
        raise ApiError(403, "staff_only", f"{name!r} is not an active staff member")
    return int(row.id), name
