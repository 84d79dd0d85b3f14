"""Staff accounts of the support desk: hashed passwords, login sessions, CSRF, roles.

A login sets an HttpOnly, SameSite=Strict cookie holding a random token; the database keeps
only its SHA-256, with the session's CSRF token and expiry. Every state-changing request must
echo the CSRF token in `X-CSRF-Token`, and the websocket checks its Origin, so another site
cannot act with an agent's cookie.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import tables
from bot.api import CLOCK, DB, SETTINGS, ApiError, Routes, json_response
from bot.clock import Clock
from bot.contracts.base import Body

routes = Routes("desk", audience="desk")

Role = Literal["agent", "supervisor"]
COOKIE = "desk_session"
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

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


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
) -> int:
    if len(password) < 10:
        raise ValueError("a password needs at least 10 characters")
    found = await conn.scalar(select(tables.staff.c.id).where(tables.staff.c.username == username))
    if found is not None:
        raise ValueError(f"the account {username!r} exists already")
    result = await conn.execute(
        tables.staff.insert().values(
            username=username,
            display_name=display_name,
            role=role,
            password_hash=hash_password(password),
            active=True,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])


async def session_staff(request: web.Request) -> tuple[Staff, str] | None:
    """The logged-in staff member and the session's CSRF token, from the cookie."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    clock = request.config_dict[CLOCK]
    s, st = tables.staff_sessions, tables.staff
    async with request.config_dict[DB].read() as conn:
        row = (
            await conn.execute(
                select(st.c.id, st.c.username, st.c.display_name, st.c.role, s.c.csrf_token)
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
    return Staff(row.id, row.username, row.display_name, row.role), row.csrf_token


def current(request: web.Request) -> Staff:
    staff: Staff = request[STAFF]
    return staff


@web.middleware
async def desk_auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every /desk/api/ call needs a session; every change also needs the CSRF token."""
    if not request.path.startswith("/desk/api/") or request.path == "/desk/api/login":
        return await handler(request)
    found = await session_staff(request)
    if found is None:
        raise ApiError(401, "unauthorized", "log in first")
    staff, csrf = found
    if request.method not in ("GET", "HEAD", "OPTIONS") and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, ""), csrf
    ):
        raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
    request[STAFF] = staff
    request[CSRF] = csrf
    return await handler(request)


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)


# Password guessing: after this many failures for one name in the window, wait it out.
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)


async def _refuse_guessing(conn: AsyncConnection, now: datetime, username: str) -> None:
    d = tables.desk_audit
    rows = await conn.execute(
        select(d.c.detail).where(
            d.c.action == "login_failed", d.c.at > Clock.to_db(now - FAILED_LOGIN_WINDOW)
        )
    )
    failures = sum(1 for r in rows if (r.detail or {}).get("username") == username)
    if failures >= MAX_FAILED_LOGINS:
        raise ApiError(
            429, "too_many_attempts", "too many wrong passwords; try again in 15 minutes"
        )


class Me(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    csrf_token: str


@routes.post("/desk/api/login", summary="Log in to the desk", body=LoginIn, response=Me)
async def login(request: web.Request, body: LoginIn) -> web.StreamResponse:
    clock, settings = request.config_dict[CLOCK], request.config_dict[SETTINGS]
    st = tables.staff
    now = clock.now()
    async with request.config_dict[DB].read() as conn:
        await _refuse_guessing(conn, now, body.username)
        row = (
            await conn.execute(
                select(st).where(st.c.username == body.username, st.c.active.is_(True))
            )
        ).first()
    # Hash even for an unknown name, so timing does not tell which accounts exist; off the
    # event loop, since scrypt takes tens of milliseconds of CPU by design.
    stored = row.password_hash if row else _DUMMY_HASH
    valid = await asyncio.to_thread(check_password, body.password, stored) and row is not None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with request.config_dict[DB].write() as conn:
        if not valid:
            await audit(conn, now, None, "login_failed", None, {"username": body.username})
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
            await audit(conn, now, row.id, "login", None, {})
    if row is None or not valid:
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    me = Me(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        csrf_token=csrf,
    )
    reply = json_response(me)
    reply.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=settings.desk_cookie_secure,
        path="/desk",
        max_age=settings.desk_session_hours * 3600,
    )
    return reply


class LoggedOut(BaseModel):
    status: Literal["logged_out"] = "logged_out"


@routes.post(
    "/desk/api/logout", summary="Log out (ends this session)", response=LoggedOut, errors=(401, 403)
)
async def logout(request: web.Request, _: None) -> web.StreamResponse:
    token = request.cookies.get(COOKIE, "")
    clock = request.config_dict[CLOCK]
    async with request.config_dict[DB].write() as conn:
        await conn.execute(
            delete(tables.staff_sessions).where(
                tables.staff_sessions.c.token_hash == _token_hash(token)
            )
        )
        await audit(conn, clock.now(), current(request).id, "logout", None, {})
    reply = json_response(LoggedOut())
    reply.del_cookie(COOKIE, path="/desk")
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
    )


class Colleague(BaseModel):
    id: int
    display_name: str
    role: Role


@routes.get(
    "/desk/api/staff", summary="Active colleagues (to transfer to)", response=list[Colleague]
)
async def colleagues(request: web.Request, _: None) -> list[Colleague]:
    st = tables.staff
    async with request.config_dict[DB].read() as conn:
        rows = (
            await conn.execute(
                select(st.c.id, st.c.display_name, st.c.role)
                .where(st.c.active.is_(True))
                .order_by(st.c.display_name)
            )
        ).all()
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
