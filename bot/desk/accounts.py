"""Staff accounts of the support desk and the repair stations: hashed passwords, login
sessions, CSRF, roles.

A login sets an HttpOnly, SameSite=Strict cookie holding a random token; the database keeps
only its SHA-256, with the session's CSRF token and expiry. Every state-changing request must
echo the CSRF token in `X-CSRF-Token`, and the websocket checks its Origin, so another site
cannot act with an agent's cookie.

Two portals share the accounts and the login guard: the desk (`/desk/api/`, agents and
supervisors) and the station console (`/station/api/`, station staff bound to one station).
Each has its own cookie, scoped to its path, and refuses the other's roles, so a station
login never opens the desk and a desk login never opens a station's orders.

Over 350 lines on purpose: accounts, sessions and the login guard are one security boundary,
kept together so it can be reviewed in one read.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes, json_response
from bot.clock import Clock
from bot.contracts.base import Body
from bot.throttle import (
    Backoff,
    Counters,
    CountersUnavailable,
    Gate,
    client_address,
    open_counters,
    retry_after_header,
)

log = logging.getLogger(__name__)
routes = Routes("desk", audience="desk")

# A manager is a supervisor too, and the last level a complaint escalates to.
Role = Literal["agent", "supervisor", "manager", "station", "operator"]
COOKIE = "desk_session"
STATION_COOKIE = "station_session"
CSRF_HEADER = "X-CSRF-Token"
# scrypt as OWASP suggests for it (n=2^15, r=8, p=1): about 50 ms and 32 MB per check.
_SCRYPT = {"n": 2**15, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024}
_DUMMY_HASH = "scrypt$00$00"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **_SCRYPT)
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    display_name: str
    role: Role
    station_code: str | None = None

    @property
    def supervisor(self) -> bool:
        return self.role in ("supervisor", "manager")

    @property
    def reads_reports(self) -> bool:
        """Supervisors and operators read the reports and the early-warning alerts."""
        return self.role in REPORT_ROLES


@dataclass(frozen=True)
class Portal:
    """One door into the accounts: its API prefix, cookie and the roles it lets in."""

    prefix: str
    cookie: str
    roles: frozenset[str]
    # The error code when a logged-in member of the other portal knocks.
    refusal: str


# Operators log in at the desk but see only the reports and the alerts: no conversation, no
# customer (`OPERATOR_PATHS` and the "reports" audience are all they may call).
DESK = Portal(
    "/desk/api/", COOKIE, frozenset({"agent", "supervisor", "manager", "operator"}), "desk_only"
)
CONVERSATION_ROLES = frozenset({"agent", "supervisor", "manager"})
REPORT_ROLES = frozenset({"supervisor", "manager", "operator"})
OPERATOR_PATHS = frozenset({"/desk/api/me", "/desk/api/logout"})
STATION = Portal("/station/api/", STATION_COOKIE, frozenset({"station"}), "station_only")
PORTALS = (DESK, STATION)


def portal_of(path: str) -> Portal | None:
    return next((p for p in PORTALS if path.startswith(p.prefix)), None)


STAFF = "desk_staff"
CSRF = "desk_csrf"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_account(
    conn: AsyncConnection,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    now: datetime,
    station_code: str | None = None,
) -> int:
    if len(password) < 10:
        raise ValueError("a password needs at least 10 characters")
    if (role == "station") != (station_code is not None):
        raise ValueError("a station account needs --station CODE, and only a station account")
    if station_code is not None:
        station_code = station_code.upper()
        s = tables.stations
        if await conn.scalar(select(s.c.code).where(s.c.code == station_code)) is None:
            raise ValueError(f"there is no station {station_code!r}")
    found = await conn.scalar(select(tables.staff.c.id).where(tables.staff.c.username == username))
    if found is not None:
        raise ValueError(f"the account {username!r} exists already")
    result = await conn.execute(
        tables.staff.insert().values(
            username=username,
            display_name=display_name,
            role=role,
            station_code=station_code,
            password_hash=hash_password(password),
            active=True,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])


async def session_staff(request: web.Request, cookie: str = COOKIE) -> tuple[Staff, str] | None:
    """The logged-in staff member and the session's CSRF token, from the portal's cookie."""
    token = request.cookies.get(cookie)
    if not token:
        return None
    clock = request.config_dict[CLOCK]
    s, st = tables.staff_sessions, tables.staff
    async with request.config_dict[DB].read() as conn:
        row = (
            await conn.execute(
                select(
                    st.c.id,
                    st.c.username,
                    st.c.display_name,
                    st.c.role,
                    st.c.station_code,
                    s.c.csrf_token,
                )
                .join(st, st.c.id == s.c.staff_id)
                .where(
                    s.c.token_hash == _token_hash(token),
                    s.c.expires_at > clock.to_db(clock.now()),
                    st.c.active.is_(True),
                )
            )
        ).first()
    if row is None:
        return None
    return Staff(row.id, row.username, row.display_name, row.role, row.station_code), row.csrf_token


def current(request: web.Request) -> Staff:
    staff: Staff = request[STAFF]
    return staff


@web.middleware
async def desk_auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every /desk/api/ and /station/api/ call needs a session of that portal, with a role it
    lets in; every change also needs the CSRF token.

    The login itself takes only JSON from the desk's own origin: a form or a text/plain body
    from another site (login CSRF, which would log an agent into an attacker's account) is
    refused before anything is read.
    """
    if request.path in LOGIN_PATHS:
        if request.method == "POST":
            _check_login_request(request)
        return await handler(request)
    portal = portal_of(request.path)
    if portal is None:
        return await handler(request)
    found = await session_staff(request, portal.cookie)
    if found is None:
        raise ApiError(401, "unauthorized", "log in first")
    staff, csrf = found
    if staff.role not in portal.roles:
        raise ApiError(403, portal.refusal, f"a {staff.role} account cannot use {portal.prefix}")
    # Before the body is read: an agent learns nothing from a supervisors' route's validation.
    operation = getattr(request.match_info.route.handler, "operation", None)
    _check_role(staff, getattr(operation, "audience", None), request.path)
    if request.method not in ("GET", "HEAD", "OPTIONS") and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, ""), csrf
    ):
        raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
    request[STAFF] = staff
    request[CSRF] = csrf
    return await handler(request)


def _check_role(staff: Staff, audience: str | None, path: str) -> None:
    """The route's audience against the role, before the route reads its body or query: an
    agent learns nothing of a supervisors' route, not even which fields it wants."""
    if audience == "reports":
        if not staff.reads_reports:
            raise ApiError(403, "supervisors_only", "for supervisors and operators only")
        return
    if staff.role == "operator" and path not in OPERATOR_PATHS:
        raise ApiError(403, "reports_only", "an operator account sees the reports and alerts only")
    if audience == "supervisor" and not staff.supervisor:
        raise ApiError(403, "supervisors_only", "for supervisors only")


LOGIN_PATH = "/desk/api/login"
STATION_LOGIN_PATH = "/station/api/login"
LOGIN_PATHS = (LOGIN_PATH, STATION_LOGIN_PATH)


def _origin_of(request: web.Request) -> str | None:
    """Who sent this request, by `Origin` or else the `Referer`'s origin; None: neither."""
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if referer is None:
            return None
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.strip().lower()


def _check_login_request(request: web.Request) -> None:
    if request.content_type != "application/json":
        raise ApiError(
            415, "unsupported_media_type", "the login takes a JSON body (application/json)"
        )
    origin = _origin_of(request)
    # A browser always sends Origin with a cross-site POST (a "null" one from a sandbox or a
    # privacy setting, which is refused here); a request with neither header is not a page of
    # another site but a program, which the JSON-only rule and the back-off already limit.
    if origin is None:
        return
    settings = request.config_dict[SETTINGS]
    if urlsplit(origin).netloc != request.host.lower() and origin not in settings.public_origins:
        raise ApiError(403, "cross_origin", "the login is accepted only from the desk's own page")


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)


# Password guessing. Every gate counts attempts (a right password gives its attempt back), so a
# burst of parallel guesses is counted before any of them is checked.
# - One account from one client: five tries, then a wait that doubles from 2 s to 15 minutes.
#   It stops a guesser, and only that client: the owner elsewhere logs in as usual.
# - One client, any accounts: twenty tries, then the same doubling (password spraying).
# - One account, every client: from ten tries within a quarter of an hour each attempt, right
#   or wrong, is slowed by a quarter second doubling to at most 2 s: never refused, so a
#   botnet cannot use it to lock the owner out.
PER_ACCOUNT_AND_CLIENT = Backoff(free=5, first=2.0, longest=900.0, forget=24 * 3600.0)
PER_CLIENT = Backoff(free=20, first=2.0, longest=900.0, forget=24 * 3600.0)
PER_ACCOUNT = Backoff(free=10, first=0.25, longest=2.0, forget=900.0)


@dataclass
class LoginGuard:
    counters: Counters
    # Wall-clock time, never the service's business clock: BOT_CLOCK may freeze that one.
    now: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


LOGIN_GUARD = web.AppKey("desk_login_guard", LoginGuard)


async def _login_guard(app: web.Application) -> AsyncIterator[None]:
    guard = LoginGuard(open_counters(app[SETTINGS].redis_url))
    app[LOGIN_GUARD] = guard
    yield
    await guard.counters.close()


def _gates(username: str, client: str) -> tuple[list[Gate], list[Gate]]:
    hard = [
        Gate(f"login:account-client:{username}|{client}", PER_ACCOUNT_AND_CLIENT),
        Gate(f"login:client:{client}", PER_CLIENT),
    ]
    return hard, [Gate(f"login:account:{username}", PER_ACCOUNT)]


class Me(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    csrf_token: str
    station_code: str | None = None


@routes.post(
    "/desk/api/login",
    summary="Log in to the desk (JSON body, same-origin only)",
    body=LoginIn,
    response=Me,
    errors=(401, 403, 415, 429, 503),
)
async def login(request: web.Request, body: LoginIn) -> web.StreamResponse:
    return await sign_in(request, body, DESK)


async def sign_in(request: web.Request, body: LoginIn, portal: Portal) -> web.StreamResponse:
    """Log in to one portal; an account of the other portal's roles is refused like a wrong
    password, after the same checks, so the answer tells nothing more."""
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    guard = request.config_dict[LOGIN_GUARD]
    client = client_address(request, settings.trusted_proxies)
    hard, soft = _gates(body.username, client)
    try:
        verdict = await guard.counters.attempt(hard, soft, guard.now())
    except CountersUnavailable as exc:
        log.error("desk login refused: %s", exc)
        raise ApiError(503, "unavailable", "login is unavailable; try again shortly") from exc
    if verdict.retry_after > 0:
        # Not checked, so a guesser cannot tell whether this one was right.
        wait = math.ceil(verdict.retry_after)
        refused = ApiError(
            429,
            "too_many_attempts",
            f"too many wrong passwords from this place; try again in {wait} seconds",
            extra={"retry_after": wait},
        ).response()
        refused.headers.update(retry_after_header(verdict.retry_after))
        return refused
    if verdict.delay > 0:
        await guard.sleep(verdict.delay)
    st = tables.staff
    now = clock.now()
    async with request.config_dict[DB].read() as conn:
        row = (
            await conn.execute(
                select(st).where(st.c.username == body.username, st.c.active.is_(True))
            )
        ).first()
    # Hash even for an unknown name, so timing does not tell which accounts exist; off the
    # event loop, since scrypt takes tens of milliseconds of CPU by design.
    stored = row.password_hash if row else _DUMMY_HASH
    valid = await asyncio.to_thread(check_password, body.password, stored) and row is not None
    valid = valid and row.role in portal.roles
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with request.config_dict[DB].write() as conn:
        if not valid:
            await audit(
                conn, now, None, "login_failed", None, {"username": body.username, "client": client}
            )
        else:
            await conn.execute(
                tables.staff_sessions.insert().values(
                    token_hash=_token_hash(token),
                    staff_id=row.id,
                    csrf_token=csrf,
                    created_at=clock.to_db(now),
                    expires_at=clock.to_db(now + timedelta(hours=settings.desk_session_hours)),
                )
            )
            await audit(conn, now, row.id, "login", None, {"client": client})
    if valid:
        try:
            await guard.counters.forgive(
                reset=[hard[0].key], undo=[gate.key for gate in (*hard[1:], *soft)]
            )
        except CountersUnavailable as exc:
            log.warning("desk login: could not forgive a good attempt: %s", exc)
    if row is None or not valid:
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    me = Me(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        csrf_token=csrf,
        station_code=row.station_code,
    )
    reply = json_response(me)
    reply.set_cookie(
        portal.cookie,
        token,
        httponly=True,
        samesite="Strict",
        secure=settings.desk_cookie_secure,
        path=portal.prefix.removesuffix("api/").rstrip("/"),
        max_age=settings.desk_session_hours * 3600,
    )
    return reply


class LoggedOut(BaseModel):
    status: Literal["logged_out"] = "logged_out"


@routes.post(
    "/desk/api/logout", summary="Log out (ends this session)", response=LoggedOut, errors=(401, 403)
)
async def logout(request: web.Request, _: None) -> web.StreamResponse:
    return await sign_out(request, DESK)


async def sign_out(request: web.Request, portal: Portal) -> web.StreamResponse:
    token = request.cookies.get(portal.cookie, "")
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].write() as conn:
        await conn.execute(
            delete(tables.staff_sessions).where(
                tables.staff_sessions.c.token_hash == _token_hash(token)
            )
        )
        await audit(conn, clock.now(), current(request).id, "logout", None, {})
    reply = json_response(LoggedOut())
    reply.del_cookie(portal.cookie, path=portal.prefix.removesuffix("api/").rstrip("/"))
    return reply


@routes.get("/desk/api/me", summary="Who is logged in", response=Me, errors=(401,))
async def me(request: web.Request, _: None) -> Me:
    staff = current(request)
    return Me(
        id=staff.id,
        username=staff.username,
        display_name=staff.display_name,
        role=staff.role,
        csrf_token=request[CSRF],
        station_code=staff.station_code,
    )


class Colleague(BaseModel):
    id: int
    display_name: str
    role: Role


@routes.get(
    "/desk/api/staff", summary="Active colleagues (to transfer to)", response=list[Colleague]
)
async def colleagues(request: web.Request, _: None) -> list[Colleague]:
    """By name; colleagues of the same name (two 李强 are no rarity) with whoever is at work
    now first: connected to this process's live feed, then logged in last, so that the page's
    first option of a name is the colleague at their desk, in a stable order (before,
    namesakes came in whatever order the database chose)."""
    from bot.desk.feed import HUB  # the feed imports this module

    st, ss = tables.staff, tables.staff_sessions
    now = Clock.to_db(request.config_dict[CLOCK].now())
    last = (
        select(ss.c.staff_id, func.max(ss.c.created_at).label("at"))
        .where(ss.c.expires_at > now)
        .group_by(ss.c.staff_id)
        .subquery()
    )
    async with request.config_dict[DB].read() as conn:
        rows = (
            await conn.execute(
                select(st.c.id, st.c.display_name, st.c.role)
                .select_from(st.outerjoin(last, last.c.staff_id == st.c.id))
                .where(st.c.active.is_(True), st.c.role.in_(CONVERSATION_ROLES))
                .order_by(st.c.display_name, last.c.at.is_(None), last.c.at.desc(), st.c.id)
            )
        ).all()
    hub = request.app.get(HUB)
    connected = {viewer.staff.id for viewer in hub.viewers} if hub is not None else set()
    first_of_name: dict[str, int] = {}
    for index, r in enumerate(rows):
        first_of_name.setdefault(r.display_name, index)
    rows = sorted(rows, key=lambda r: (first_of_name[r.display_name], r.id not in connected))
    return [Colleague(id=r.id, display_name=r.display_name, role=r.role) for r in rows]


async def audit(
    conn: AsyncConnection,
    now: datetime,
    staff_id: int | None,
    action: str,
    handoff_id: str | None,
    detail: dict[str, object],
) -> None:
    """Record who did what, when: every agent action goes through here."""
    await conn.execute(
        tables.desk_audit.insert().values(
            staff_id=staff_id,
            action=action,
            handoff_id=handoff_id,
            detail=detail,
            at=Clock.to_db(now),
        )
    )


# What the desk's pages may do: load their own script and style, talk to their own server
# (API and websocket), nothing inline, no framing (clickjacking), no form posting anywhere.
# The websocket's origin is named besides 'self', which older browsers do not extend to ws:.
DESK_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
DESK_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


async def _desk_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.split("/")[1] in ("desk", "station"):
        host = re.sub(r"[^A-Za-z0-9.:\[\]-]", "", request.host)
        response.headers.setdefault("Content-Security-Policy", DESK_CSP.format(host=host))
        for name, value in DESK_HEADERS.items():
            response.headers.setdefault(name, value)


def setup(app: web.Application) -> None:
    """The login check and guard, and the security headers of every desk response."""
    app.middlewares.append(desk_auth)
    app.cleanup_ctx.append(_login_guard)
    # aiohttp 3.9 types this signal's handlers wrongly; the call matches its documentation.
    app.on_response_prepare.append(_desk_headers)  # type: ignore[arg-type]
