"""Customers' personal data over its life (个人信息保护法, PIPL): export, erase, retention.

Where a customer's data lives, found by their phone number:
- the backend: work orders (name, phone, address, rating comment, conversation), their events'
  notes, devices (owner's name, phone, city), handoffs (the package: name, contact, the last
  message...) and the desk's callback number, complaints (contact, text), counterfeit reports
  (contact, note), the desk's copy of handed-off conversations, and the audit log;
- Rasa: the tracker store (every event of a conversation, the customer's words included) and
  the SQL event broker's table the desk reads (embedded mode; RabbitMQ keeps nothing).

A customer's conversations are those whose events carry the phone, plus those their work
orders, handoffs, complaints and reports were made in. `erase` anonymises the backend's rows
(records of repairs, complaints and handoffs stay, without who they were for) and deletes
those conversations' events; `export` returns everything held; `purge` applies the retention
settings. Every run is written to the desk's audit log with a masked phone.

Phone numbers are compared by their digits, so `138 0013 8000`, `138-0013-8000`,
`+86 13800138000` and full-width digits are one number.

Over 350 lines on purpose: one job (a customer's data across every store) that must be read
whole to be trusted.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Text, and_, cast, column, delete, func, or_, select, table, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot import tables
from bot.clock import Clock
from bot.contracts.masking import mask_phone
from bot.db import Database, async_url
from bot.desk.accounts import audit

ERASED = "[已删除]"
# What a finished record's status is, per table, for the retention of personal fields.
FINISHED_WORK_ORDERS = ("closed", "cancelled")
FINISHED_COMPLAINTS = ("resolved", "closed")

# Rasa's tables, as its SQLTrackerStore and SQLEventBroker create them (both are `events`).
tracker_events = table(
    "events",
    column("id"),
    column("sender_id"),
    column("type_name"),
    column("timestamp"),
    column("data"),
)
broker_events = table("events", column("id"), column("sender_id"), column("data"))


class NotAPhone(ValueError):
    pass


def phone_digits(raw: str) -> str:
    """The national number of a phone as digits: `+86 138-0013-8000` -> `13800138000`."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", raw))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
    if not 5 <= len(digits) <= 20:
        raise NotAPhone(f"not a phone number: {raw!r}")
    return digits


def mask(phone: str) -> str:
    """138****8000: enough to recognise in the audit log, not to call (as the bot shows it)."""
    return mask_phone(phone)


def _squashed(text: str) -> str:
    """NFKC, without the separators people put inside numbers."""
    return re.sub(r"(?<=\d)[\s\-.()]+(?=\d)", "", unicodedata.normalize("NFKC", text))


def _pattern(phone: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\d)(?:\+?86|0086)?{phone}(?!\d)")


def holds(value: Any, phone: str) -> bool:
    """Whether a value (text, or JSON-able data) contains the phone number."""
    if value is None:
        return False
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return _pattern(phone).search(_squashed(text)) is not None


def redact(text: str, phone: str) -> str:
    """The text with the phone number (in any of its spellings) replaced."""
    return _pattern(phone).sub(ERASED, _squashed(text)) if holds(text, phone) else text


def _like(col: Any, phone: str, *, json_text: bool = False) -> Any:
    """A cheap SQL pre-filter on the last four digits; `holds` decides."""
    last4 = phone[-4:]
    target = cast(col, Text) if json_text else col
    patterns = [f"%{last4}%"]
    if json_text:
        # JSON written with ensure_ascii (Rasa, SQLAlchemy) spells full-width digits \\uff1x.
        patterns.append("%" + "".join(f"\\uff1{d}" for d in last4) + "%")
    # An explicit escape character: PostgreSQL's default one is the backslash.
    return or_(*(target.like(p, escape="^") for p in patterns))


def _rasa_data(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


# --- stores ---------------------------------------------------------------------------------


@dataclass
class Stores:
    """The backend's database and, when they exist, Rasa's SQL tracker store and event table."""

    db: Database
    tracker: AsyncEngine | None = None
    broker: AsyncEngine | None = None
    notes: list[str] = field(default_factory=list)


def _engine(url: str | None, what: str, notes: list[str]) -> AsyncEngine | None:
    if not url:
        return None
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        notes.append(f"{what}: {backend} is not an SQL store this command reads; skipped")
        return None
    if backend == "sqlite" and not Path(str(parsed.database)).exists():
        notes.append(f"{what}: {parsed.database} does not exist yet; nothing to do there")
        return None
    return create_async_engine(async_url(url), poolclass=NullPool)


@asynccontextmanager
async def open_stores(
    db: Database, tracker_url: str | None, broker_url: str | None
) -> AsyncIterator[Stores]:
    notes: list[str] = []
    stores = Stores(
        db,
        _engine(tracker_url, "tracker store", notes),
        _engine(broker_url, "event broker table", notes),
        notes,
    )
    try:
        yield stores
    finally:
        for engine in (stores.tracker, stores.broker):
            if engine is not None:
                await engine.dispose()


# --- finding one customer -------------------------------------------------------------------


@dataclass
class Found:
    """The rows of one customer, by table: primary keys, and their conversations."""

    work_orders: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    handoffs: set[str] = field(default_factory=set)
    complaints: set[str] = field(default_factory=set)
    reports: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)


async def _matching(conn: AsyncConnection, key: Any, phone: str, *cols: Any) -> set[str]:
    """Keys of the rows where one of these columns holds the phone."""
    json_cols = {c for c in cols if isinstance(c.type, JSON)}
    rows = await conn.execute(
        select(key, *cols).where(or_(*(_like(c, phone, json_text=c in json_cols) for c in cols)))
    )
    return {str(r[0]) for r in rows if any(holds(value, phone) for value in r[1:])}


async def _conversations_in_tracker(engine: AsyncEngine | None, phone: str) -> set[str]:
    if engine is None:
        return set()
    e = tracker_events
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(e.c.sender_id, e.c.data).where(_like(e.c.data, phone, json_text=True))
        )
        return {str(r.sender_id) for r in rows if holds(_rasa_data(r.data), phone)}


async def find(conn: AsyncConnection, stores: Stores, phone: str) -> Found:
    w, d, h, a = tables.work_orders, tables.devices, tables.handoffs, tables.desk_assignments
    c, r = tables.complaints, tables.counterfeit_reports
    found = Found()
    found.work_orders = await _matching(conn, w.c.id, phone, w.c.phone)
    found.devices = await _matching(conn, d.c.serial, phone, d.c.customer_phone)
    found.handoffs = await _matching(conn, h.c.id, phone, h.c.package) | await _matching(
        conn, a.c.handoff_id, phone, a.c.callback_phone
    )
    found.complaints = await _matching(conn, c.c.id, phone, c.c.contact, c.c.text)
    found.reports = await _matching(conn, r.c.id, phone, r.c.contact, r.c.note)
    conversations = await _conversations_in_tracker(stores.tracker, phone)
    for tbl, ids in ((w, found.work_orders), (h, found.handoffs), (c, found.complaints)):
        conversations |= await _conversations_of(conn, tbl, ids)
    conversations |= await _conversations_of(conn, r, found.reports)
    found.conversations = conversations
    # Everything made in those conversations is theirs too.
    if conversations:
        for tbl, ids in (
            (w, found.work_orders),
            (h, found.handoffs),
            (c, found.complaints),
            (r, found.reports),
        ):
            ids |= {
                str(k)
                for k in await conn.scalars(
                    select(tbl.c.id).where(tbl.c.conversation_id.in_(sorted(conversations)))
                )
            }
    return found


async def _conversations_of(conn: AsyncConnection, tbl: Any, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    rows = await conn.scalars(select(tbl.c.conversation_id).where(tbl.c.id.in_(sorted(ids))))
    return {str(c) for c in rows if c}


# --- export ----------------------------------------------------------------------------------


def _plain(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row._mapping.items()}


async def _rows(conn: AsyncConnection, tbl: Any, where: Any) -> list[dict[str, Any]]:
    key = next(iter(tbl.primary_key.columns))
    return [_plain(r) for r in await conn.execute(select(tbl).where(where).order_by(key))]


async def export(stores: Stores, phone_number: str, now: datetime, by: str) -> dict[str, Any]:
    """Everything held about the customer with this phone, as JSON-able data (audited)."""
    phone = phone_digits(phone_number)
    async with stores.db.write() as conn:
        found = await find(conn, stores, phone)
        w, conv = tables.work_orders, sorted(found.conversations)
        held: dict[str, Any] = {
            "phone": phone,
            "work_orders": await _rows(conn, w, w.c.id.in_(sorted(found.work_orders))),
            "work_order_events": await _rows(
                conn,
                tables.work_order_events,
                tables.work_order_events.c.work_order_id.in_(sorted(found.work_orders)),
            ),
            "devices": await _rows(
                conn, tables.devices, tables.devices.c.serial.in_(sorted(found.devices))
            ),
            "handoffs": await _rows(
                conn, tables.handoffs, tables.handoffs.c.id.in_(sorted(found.handoffs))
            ),
            "desk_assignments": await _rows(
                conn,
                tables.desk_assignments,
                tables.desk_assignments.c.handoff_id.in_(sorted(found.handoffs)),
            ),
            "complaints": await _rows(
                conn, tables.complaints, tables.complaints.c.id.in_(sorted(found.complaints))
            ),
            "counterfeit_reports": await _rows(
                conn,
                tables.counterfeit_reports,
                tables.counterfeit_reports.c.id.in_(sorted(found.reports)),
            ),
            "desk_messages": await _rows(
                conn, tables.desk_messages, tables.desk_messages.c.conversation_id.in_(conv)
            ),
            "conversations": await _transcripts(stores.tracker, conv),
        }
        counts = {k: len(v) for k, v in held.items() if isinstance(v, list | dict)}
        await audit(
            conn, now, None, "privacy_export", None, {"phone": mask(phone), "by": by, **counts}
        )
    return held


async def _transcripts(engine: AsyncEngine | None, conversations: list[str]) -> dict[str, Any]:
    if engine is None or not conversations:
        return {}
    e = tracker_events
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in conversations}
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(e.c.sender_id, e.c.data).where(e.c.sender_id.in_(conversations)).order_by(e.c.id)
        )
        for row in rows:
            out[str(row.sender_id)].append(_rasa_data(row.data))
    return {c: events for c, events in out.items() if events}


# --- erase -----------------------------------------------------------------------------------


async def erase(stores: Stores, phone_number: str, now: datetime, by: str) -> dict[str, int]:
    """Anonymise the customer's rows in the backend and delete their conversations (audited).

    The backend goes first, in one transaction; then Rasa's stores. Run again if Rasa's part
    failed: what was found through the backend is found again through the tracker store's
    own copy of the phone until that is gone.
    """
    phone = phone_digits(phone_number)
    counts: dict[str, int] = {}
    async with stores.db.write() as conn:
        found = await find(conn, stores, phone)
        counts = await _anonymise(conn, found, phone, now)
    counts["tracker_events"] = await _delete_conversations(stores.tracker, found.conversations)
    counts["broker_events"] = await _delete_broadcast(stores.broker, found.conversations)
    async with stores.db.write() as conn:
        await audit(
            conn, now, None, "privacy_erase", None, {"phone": mask(phone), "by": by, **counts}
        )
    return counts


async def _anonymise(
    conn: AsyncConnection, found: Found, phone: str, now: datetime
) -> dict[str, int]:
    w, ev, d = tables.work_orders, tables.work_order_events, tables.devices
    h, a, c, r = (
        tables.handoffs,
        tables.desk_assignments,
        tables.complaints,
        tables.counterfeit_reports,
    )
    conv = sorted(found.conversations)
    stamp = Clock.to_db(now)
    still_open = await conn.scalar(
        select(func.count())
        .select_from(w)
        .where(w.c.id.in_(sorted(found.work_orders)), w.c.status.not_in(FINISHED_WORK_ORDERS))
    )
    counts = {
        "open_work_orders": int(still_open or 0),
        "work_orders": await _update(
            conn,
            w,
            w.c.id.in_(sorted(found.work_orders)),
            customer_name=None,
            phone=None,
            address=None,
            rating_comment=None,
            conversation_id=None,
            idempotency_key=None,
            updated_at=stamp,
        ),
        "devices": await _update(
            conn,
            d,
            d.c.serial.in_(sorted(found.devices)),
            customer_name=None,
            customer_phone=None,
            city=None,
        ),
        "handoffs": await _update(
            conn,
            h,
            h.c.id.in_(sorted(found.handoffs)),
            package={},
            idempotency_key=None,
            updated_at=stamp,
        ),
        "callback_numbers": await _update(
            conn, a, a.c.handoff_id.in_(sorted(found.handoffs)), callback_phone=None
        ),
        "complaints": await _update(
            conn,
            c,
            c.c.id.in_(sorted(found.complaints)),
            text=ERASED,
            contact=None,
            conversation_id=None,
            idempotency_key=None,
            updated_at=stamp,
        ),
        "counterfeit_reports": await _update(
            conn,
            r,
            r.c.id.in_(sorted(found.reports)),
            contact=None,
            conversation_id=None,
            source="erased",
            idempotency_key=None,
        ),
    }
    # Handoffs keep a conversation id (it is required): one that leads nowhere.
    for handoff in sorted(found.handoffs):
        await conn.execute(
            update(h).where(h.c.id == handoff).values(conversation_id=f"erased:{handoff}")
        )
    notes = 0
    for row in await conn.execute(
        select(ev.c.id, ev.c.note).where(ev.c.work_order_id.in_(sorted(found.work_orders)))
    ):
        if holds(row.note, phone):
            await conn.execute(
                update(ev).where(ev.c.id == row.id).values(note=redact(row.note, phone))
            )
            notes += 1
    counts["work_order_notes"] = notes
    # Which conversation tried which order's phone: gone with the conversations.
    p = tables.phone_checks
    counts["phone_checks"] = int(
        (await conn.execute(delete(p).where(p.c.conversation_id.in_(conv)))).rowcount
    )
    reports = await conn.execute(select(r.c.id, r.c.note).where(r.c.id.in_(sorted(found.reports))))
    for row in reports:
        if holds(row.note, phone):
            await conn.execute(
                update(r).where(r.c.id == row.id).values(note=redact(row.note, phone))
            )
    m = tables.desk_messages
    counts["desk_messages"] = (
        await conn.execute(
            delete(m).where(
                or_(m.c.conversation_id.in_(conv), m.c.handoff_id.in_(sorted(found.handoffs)))
            )
        )
    ).rowcount
    # Code checks name who asked as "channel:conversation" (actions/backend.py).
    q = tables.security_queries
    counts["code_queries"] = 0
    for conversation in conv:
        counts["code_queries"] += await _update(
            conn, q, q.c.source.endswith(f":{conversation}", autoescape=True), source="erased"
        )
    counts["audit_entries"] = await _redact_audit(conn, phone)
    counts |= await _silence(conn, found, stamp)
    return counts


async def _silence(conn: AsyncConnection, found: Found, stamp: datetime) -> dict[str, int]:
    """What the outbox still meant to tell or ask the customer is called off: an erased
    customer gets no more notices, surveys or 回访 (by the bot or by staff)."""
    n, f = tables.notifications, tables.followups
    orders = sorted(found.work_orders)
    return {
        "notices_cancelled": await _update(
            conn,
            n,
            and_(n.c.work_order_id.in_(orders), n.c.status == "pending"),
            status="cancelled",
            claimed_by=None,
            lease_until=None,
            last_error="privacy erase",
        ),
        "followups_cancelled": await _update(
            conn,
            f,
            and_(f.c.work_order_id.in_(orders), f.c.status == "scheduled"),
            status="cancelled",
            note="",
            updated_at=stamp,
        ),
    }


async def _update(conn: AsyncConnection, tbl: Any, where: Any, **values: Any) -> int:
    return int((await conn.execute(update(tbl).where(where).values(**values))).rowcount)


async def _redact_audit(conn: AsyncConnection, phone: str) -> int:
    """Audit entries keep who did what; a phone number in their detail goes."""
    d = tables.desk_audit
    changed = 0
    for row in await conn.execute(
        select(d.c.id, d.c.detail).where(_like(d.c.detail, phone, json_text=True))
    ):
        if holds(row.detail, phone):
            detail = json.loads(redact(json.dumps(row.detail, ensure_ascii=False), phone))
            await conn.execute(update(d).where(d.c.id == row.id).values(detail=detail))
            changed += 1
    return changed


async def _delete_conversations(engine: AsyncEngine | None, conversations: set[str]) -> int:
    if engine is None or not conversations:
        return 0
    e = tracker_events
    async with engine.begin() as conn:
        result = await conn.execute(delete(e).where(e.c.sender_id.in_(sorted(conversations))))
    return int(result.rowcount)


async def _delete_broadcast(engine: AsyncEngine | None, conversations: Iterable[str]) -> int:
    """Delete these conversations' rows from the event broker's table.

    The newest row is blanked instead of deleted: SQLite would hand its id out again, and the
    desk reads this table from a cursor over ids, so it would miss the next events.
    """
    wanted = sorted(conversations)
    if engine is None or not wanted:
        return 0
    e = broker_events
    async with engine.begin() as conn:
        newest = await conn.scalar(select(func.max(e.c.id)))
        result = await conn.execute(delete(e).where(e.c.sender_id.in_(wanted), e.c.id != newest))
        blanked = await conn.execute(
            update(e)
            .where(e.c.id == newest, e.c.sender_id.in_(wanted))
            .values(sender_id="", data=json.dumps({"event": "erased"}))
        )
    return int(result.rowcount) + int(blanked.rowcount)


# --- retention -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    work_orders_days: int
    transcripts_days: int


async def purge(
    stores: Stores, retention: Retention, now: datetime, wall_time: float, by: str
) -> dict[str, int]:
    """Apply the retention (audited).

    Personal fields of work orders finished (closed, cancelled) longer ago than the work-order
    retention are anonymised, with those of finished complaints and handoffs and of
    counterfeit reports of that age. Conversation events older than the transcript retention
    go, in Rasa's stores (by their own wall-clock timestamps) and in the desk's copy.
    """
    records = Clock.to_db(now - timedelta(days=retention.work_orders_days))
    talk = Clock.to_db(now - timedelta(days=retention.transcripts_days))
    w, c, h, a, r = (
        tables.work_orders,
        tables.complaints,
        tables.handoffs,
        tables.desk_assignments,
        tables.counterfeit_reports,
    )
    async with stores.db.write() as conn:
        old_handoffs = select(h.c.id).where(h.c.status == "closed", h.c.updated_at < records)
        counts = {
            "work_orders": await _update(
                conn,
                w,
                (w.c.status.in_(FINISHED_WORK_ORDERS))
                & (w.c.updated_at < records)
                & or_(
                    w.c.customer_name.is_not(None),
                    w.c.phone.is_not(None),
                    w.c.address.is_not(None),
                    w.c.rating_comment.is_not(None),
                    w.c.conversation_id.is_not(None),
                ),
                customer_name=None,
                phone=None,
                address=None,
                rating_comment=None,
                conversation_id=None,
            ),
            "complaints": await _update(
                conn,
                c,
                c.c.status.in_(FINISHED_COMPLAINTS)
                & (c.c.updated_at < records)
                & c.c.contact.is_not(None),
                contact=None,
            ),
            "callback_numbers": await _update(
                conn,
                a,
                a.c.handoff_id.in_(old_handoffs) & a.c.callback_phone.is_not(None),
                callback_phone=None,
            ),
            "handoffs": await _update(
                conn,
                h,
                h.c.id.in_(old_handoffs) & (cast(h.c.package, Text) != "{}"),
                package={},
            ),
            "counterfeit_reports": await _update(
                conn,
                r,
                (r.c.created_at < records) & r.c.contact.is_not(None),
                contact=None,
            ),
        }
        m = tables.desk_messages
        counts["desk_messages"] = int(
            (await conn.execute(delete(m).where(m.c.created_at < talk))).rowcount
        )
        p = tables.phone_checks
        counts["phone_checks"] = int((await conn.execute(delete(p).where(p.c.at < talk))).rowcount)
    cutoff = wall_time - retention.transcripts_days * 86400
    counts["tracker_events"] = await _purge_tracker(stores.tracker, cutoff)
    counts["broker_events"] = await _purge_broadcast(stores.broker, cutoff)
    async with stores.db.write() as conn:
        await audit(
            conn,
            now,
            None,
            "privacy_purge",
            None,
            {
                "by": by,
                "work_orders_days": retention.work_orders_days,
                "transcripts_days": retention.transcripts_days,
                **counts,
            },
        )
    return counts


async def _purge_tracker(engine: AsyncEngine | None, cutoff: float) -> int:
    if engine is None:
        return 0
    e = tracker_events
    async with engine.begin() as conn:
        result = await conn.execute(delete(e).where(e.c.timestamp < cutoff))
    return int(result.rowcount)


async def _purge_broadcast(engine: AsyncEngine | None, cutoff: float, batch: int = 1000) -> int:
    """The broker's rows carry their time inside `data` only; they are in time order by id,
    so read from the oldest and stop at the first young one (never the newest row: see
    `_delete_broadcast`)."""
    if engine is None:
        return 0
    e = broker_events
    deleted = 0
    async with engine.begin() as conn:
        newest = await conn.scalar(select(func.max(e.c.id)))
        after = -1
        while True:
            rows = (
                await conn.execute(
                    select(e.c.id, e.c.data)
                    .where(e.c.id > after, e.c.id != newest)
                    .order_by(e.c.id)
                    .limit(batch)
                )
            ).all()
            old = []
            for row in rows:
                stamp = _rasa_data(row.data).get("timestamp")
                if isinstance(stamp, int | float) and stamp >= cutoff:
                    break
                old.append(row.id)
            if old:
                await conn.execute(delete(e).where(e.c.id.in_(old)))
                deleted += len(old)
            if len(old) < len(rows) or len(rows) < batch:
                return deleted
            after = rows[-1].id


def wall_clock() -> float:
    return time.time()
