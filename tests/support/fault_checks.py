"""The fault benchmark's checks of the data, read straight from the databases after the load:
every acknowledged booking exists once, every customer message of a handed-off conversation
reached the desk once, no message is in a conversation more often than it was sent, no
answered message is missing from it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from tests.support.fault_load import APOLOGY, APOLOGY_MARK, OK, Record, attempts_of

LOST, DUPLICATED = "lost", "duplicated"


@dataclass(frozen=True)
class Problem:
    kind: str
    """lost or duplicated"""
    at: float
    """time.monotonic() of the first attempt concerned, to tell which fault it belongs to."""
    what: str


def _rows(url: str, sql: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


def check_bookings(record: Record, bot_db: str) -> tuple[list[Problem], int]:
    """Problems, and how many work orders exist that the customer never saw confirmed."""
    problems, unseen = [], 0
    for booking in record.bookings:
        orders = [
            str(r[0])
            for r in _rows(
                bot_db, "SELECT id FROM work_orders WHERE conversation_id = :c", c=booking.sender
            )
        ]
        first = next(attempts_of(record, booking.sender), None)
        at = first.started if first else 0.0
        if booking.work_order and booking.work_order not in orders:
            problems.append(Problem(LOST, at, f"booking {booking.work_order} not stored"))
        if len(orders) > 1:
            problems.append(
                Problem(DUPLICATED, at, f"{booking.sender}: {len(orders)} work orders {orders}")
            )
        if orders and not booking.work_order:
            unseen += 1
    return problems, unseen


def check_desk(record: Record, bot_db: str) -> list[Problem]:
    """Each message a handed-off customer sent reached the desk once (answered ones at least
    once, none twice)."""
    problems = []
    for sender in record.handed_off:
        stored = Counter(
            str(r[0])
            for r in _rows(
                bot_db,
                "SELECT text FROM desk_messages WHERE conversation_id = :c AND kind = 'customer'",
                c=sender,
            )
        )
        problems += _compare(record, sender, stored, "desk", only_held=True)
    return problems


def check_trackers(record: Record, tracker_db: str) -> list[Problem]:
    """Every conversation holds each answered message at least once and no message more often
    than the customer sent it (a message processed twice would be answered twice)."""
    problems = []
    senders = sorted(record.senders())
    texts: dict[str, Counter[str]] = {s: Counter() for s in senders}
    for sender_id, data in _rows(
        tracker_db, "SELECT sender_id, data FROM events WHERE type_name = 'user'"
    ):
        if sender_id in texts:
            texts[str(sender_id)][str(json.loads(str(data)).get("text") or "")] += 1
    for sender in senders:
        problems += _compare(record, sender, texts[sender], "conversation")
    return problems


def _compare(
    record: Record, sender: str, stored: Counter[str], where: str, only_held: bool = False
) -> list[Problem]:
    """Compare what the customer sent with what was stored; `only_held`: the messages sent
    once a person held the conversation (the desk keeps only those)."""
    sent: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    first: dict[str, float] = {}
    for attempt in attempts_of(record, sender):
        if only_held and not attempt.expect_silence:
            continue
        sent[attempt.text] += 1
        first.setdefault(attempt.text, attempt.started)
        # An apology says the message was kept ("您刚才说的内容已经保存").
        if attempt.outcome in (OK, APOLOGY):
            answered[attempt.text] += 1
    problems = []
    for text, times in sent.items():
        if answered[text] and not stored[text]:
            problems.append(Problem(LOST, first[text], f"{sender}: {text!r} not in the {where}"))
        if stored[text] > times:
            problems.append(
                Problem(
                    DUPLICATED,
                    first[text],
                    f"{sender}: {text!r} {stored[text]} times in the {where}, sent {times}",
                )
            )
    return problems


def answered_twice(record: Record) -> list[Problem]:
    """A reply that holds the apology and an answer: the customer was answered twice."""
    return [
        Problem(DUPLICATED, a.started, f"{a.sender}: apology and answer to {a.text!r}")
        for a in record.attempts
        if a.outcome == APOLOGY and any(APOLOGY_MARK not in t for t in a.replies)
    ]
