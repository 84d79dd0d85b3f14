"""The outbox: what a customer is told later, written in the transaction of the change.

`status_changed` is called by `bot.workorders` wherever a work order's status changes
(`advance`, reschedule, cancel): the row exists if and only if the change is committed, and
the unique key (order, event, round) makes it exist once however often the change is retried.
A round is one close of the order: a close writes the survey (`csat`) and the 回访
(`followup`) of its round; a reopen cancels what of them is still pending, and the next close
starts round 2. The worker (`bot.outbox_worker`) decides when a due row goes out (the survey's
delay, quiet hours) and sends it on the customer's channel (`bot.notices`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from bot import tables
from bot.clock import Clock
from bot.contracts.rules import SLOT_ENDS
from bot.notices import Responses

# The changes a customer is told of, and whether they may wake them (quiet hours hold the
# others until morning). Statuses the order does not have yet (accepted, on_the_way,
# ready_for_pickup) are told as soon as the life cycle has them.
STATUS_NOTICES: dict[str, tuple[str, bool]] = {
    "accepted": ("utter_notice_accepted", False),
    "received": ("utter_notice_received", False),
    "on_the_way": ("utter_notice_on_the_way", True),
    "waiting_parts": ("utter_notice_waiting_parts", False),
    "repaired": ("utter_notice_repaired", False),
    "ready_for_pickup": ("utter_notice_ready_for_pickup", False),
    "closed": ("utter_notice_closed", False),
    # A visit called off or moved the night before matters the next morning.
    "cancelled": ("utter_notice_cancelled", True),
    "rescheduled": ("utter_notice_rescheduled", True),
}
# A failed send waits 30 s, then twice as long each time, at most this long.
MAX_BACKOFF = timedelta(hours=1)
# Written at a close; the worker sends each when its policy says (see bot.outbox_worker).
SURVEY_EVENTS = ("csat", "csat_reminder", "followup")
# The domain.yml response of each event.
RESPONSES = {name: response for name, (response, _) in STATUS_NOTICES.items()} | {
    "csat": "utter_csat_invite",
    "csat_reminder": "utter_csat_reminder",
    "followup": "utter_followup_ask",
}


def in_quiet_hours(quiet: tuple[str, str], moment: datetime) -> bool:
    start, end = quiet
    now = moment.strftime("%H:%M")
    return start <= now < end if start < end else (now >= start or now < end)


def quiet_end(quiet: tuple[str, str], moment: datetime) -> datetime:
    """The first moment after `moment` (local) when the quiet hours are over."""
    hour, minute = (int(x) for x in quiet[1].split(":"))
    end = moment.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return end if end > moment else end + timedelta(days=1)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def values_of(responses: Responses, row: Row, order: Row) -> dict[str, Any]:
    """What the responses may name: the order, its station and slot, the step's note."""
    facts = dict(row.facts or {})
    slot = ""
    if order.slot_date and order.slot_start:
        d: date = order.slot_date
        slot = responses.label(
            "notice_slot",
            month=d.month,
            day=d.day,
            weekday=responses.label(f"weekday_{d.weekday()}"),
            start=order.slot_start,
            end=SLOT_ENDS.get(order.slot_start, ""),
        )
    return {
        "work_order_id": order.id,
        "station": order.station_name,
        "station_address": order.station_address,
        "station_phone": order.station_phone,
        "slot": slot,
        "slot_line": responses.label("notice_slot_line", slot=slot) if slot else "",
        "note": facts.get("note") or "",
    }


def insert_once(conn: AsyncConnection, table: Any) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING: a second write of the same key is no error (an error
    would abort the whole PostgreSQL transaction of the change)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt: Insert = dialect.insert(table).on_conflict_do_nothing()
    return stmt


def channel_of(order: Row) -> str | None:
    """Where the customer hears from us: the conversation the order was booked in, else SMS."""
    if order.conversation_id and order.channel and order.channel != "sms":
        return str(order.channel)
    return "sms" if order.phone else None


async def current_round(conn: AsyncConnection, order_id: str) -> int:
    """1 until the first close, then one more per close (each close wrote one survey row)."""
    n = tables.notifications
    closes = await conn.scalar(
        select(func.count()).where(n.c.work_order_id == order_id, n.c.event == "csat")
    )
    return int(closes or 0) + 1


async def put(
    conn: AsyncConnection,
    order: Row,
    event: str,
    round_: int,
    now: datetime,
    *,
    facts: dict[str, Any] | None = None,
    urgent: bool = False,
) -> bool:
    """Write one notification (due now; the worker may hold it); False if the key exists."""
    done = await conn.execute(
        insert_once(conn, tables.notifications).values(
            work_order_id=order.id,
            event=event,
            round=round_,
            response=RESPONSES[event],
            facts=facts or {},
            urgent=urgent,
            status="pending",
            due_at=now,
            attempts=0,
            channel=channel_of(order),
            created_at=now,
        )
    )
    return bool(done.rowcount == 1)


async def status_changed(
    conn: AsyncConnection, clock: Clock, order: Row, event: str, note: str, actor: str
) -> None:
    """Record what the customer must be told of a change from `order` (the row before it).

    `event` is the new status, or "rescheduled". What customers do themselves in the chat
    they have just been told there: no notice.
    """
    now = clock.to_db(clock.now())
    if order.status == "closed" and event != "closed":
        await reopened(conn, order.id, now)
    round_ = await current_round(conn, order.id)
    if event in STATUS_NOTICES and not actor.startswith("customer"):
        facts = {"note": note, "status_from": order.status}
        # A reschedule is keyed by its count (each one is told); other steps by the round.
        key_round = order.reschedule_count + 1 if event == "rescheduled" else round_
        urgent = STATUS_NOTICES[event][1]
        await put(conn, order, event, key_round, now, facts=facts, urgent=urgent)
    if event == "closed":
        for survey in ("csat", "followup"):
            await put(conn, order, survey, round_, now)
        await conn.execute(
            insert_once(conn, tables.followups).values(
                work_order_id=order.id,
                round=round_,
                status="scheduled",
                note="",
                attempts=0,
                created_at=now,
                updated_at=now,
            )
        )


async def reopened(conn: AsyncConnection, order_id: str, now: datetime) -> None:
    """A reopened order is not surveyed on the close it no longer has."""
    n, f = tables.notifications, tables.followups
    await conn.execute(
        n.update()
        .where(
            n.c.work_order_id == order_id,
            n.c.event.in_(SURVEY_EVENTS),
            n.c.status == "pending",
        )
        .values(status="cancelled", claimed_by=None, lease_until=None)
    )
    await conn.execute(
        f.update()
        .where(f.c.work_order_id == order_id, f.c.status == "scheduled")
        .values(status="cancelled", updated_at=now)
    )


async def closed_at(conn: AsyncConnection, order_id: str) -> datetime | None:
    """When the order's latest close was (its survey's row), None if it was never surveyed."""
    n = tables.notifications
    moment: datetime | None = await conn.scalar(
        select(func.max(n.c.created_at)).where(n.c.work_order_id == order_id, n.c.event == "csat")
    )
    return moment


async def surveyed_since(conn: AsyncConnection, order: Row, since: datetime) -> bool:
    """Whether this customer (the order's phone or conversation) was sent the survey of
    another order since `since`. A re-close of the same order (round 2) is still surveyed:
    that repair failed once, its rating matters most."""
    n, w = tables.notifications, tables.work_orders
    same = [
        column == value
        for column, value in (
            (w.c.phone, order.phone),
            (w.c.conversation_id, order.conversation_id),
        )
        if value
    ]
    if not same:
        return False
    found = await conn.scalar(
        select(n.c.id)
        .join(w, w.c.id == n.c.work_order_id)
        .where(
            n.c.event == "csat",
            n.c.status == "sent",
            n.c.sent_at >= since,
            n.c.work_order_id != order.id,
            or_(*same),
        )
        .limit(1)
    )
    return found is not None
