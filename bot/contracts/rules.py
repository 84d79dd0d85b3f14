"""Business rules both sides must agree on: value shapes, categories, slots, change limits.

The backend enforces them; the actions use them to ask the right question before the backend
refuses. One definition each, so the two cannot drift.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

# --- catalogue ---------------------------------------------------------------------------

CATEGORY_CODES = (
    "laptop",
    "desktop",
    "printer",
    "copier",
    "monitor",
    "toner",
    "ink",
    "drum",
    "battery",
)
CONSUMABLE_CATEGORIES = ("toner", "ink", "drum", "battery")
MODEL_CODE = r"^[A-Z0-9][A-Z0-9\-]{1,29}$"
# Codes of categories, parts and fault cases.
CODE = r"^[a-z][a-z0-9_]{1,29}$"
STATION_CODE = r"^[A-Za-z]{2}\d{2}$"
# What the backend stores (international forms, extensions), and what a customer in China gives
# the assistant: a mobile (+86 allowed) or a landline with its area code.
PHONE = r"^\+?[0-9][0-9\-\s]{4,19}$"
CN_PHONE = r"(?:\+?86)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8}"

# --- repair slots ------------------------------------------------------------------------

# Repair slots of a working day: (start, end). Each gets an equal share of the daily capacity.
SLOTS: tuple[tuple[str, str], ...] = (
    ("09:00", "10:30"),
    ("10:30", "12:00"),
    ("13:30", "15:30"),
    ("15:30", "17:30"),
)
SLOT_ENDS = dict(SLOTS)
SLOT_START = r"^\d{2}:\d{2}$"


def slot_key(day: date, start: str) -> str:
    """One slot as a single value (2026-11-21T09:00): button payloads and form slots."""
    return f"{day.isoformat()}T{start}"


def split_slot_key(value: str) -> tuple[date, str] | None:
    """The day and start time of a `slot_key`, or None if it is not one."""
    day, sep, start = value.partition("T")
    if not sep or not start:
        return None
    try:
        return date.fromisoformat(day), start
    except ValueError:
        return None


# --- work orders -------------------------------------------------------------------------

Status = Literal[
    "created",
    "scheduled",
    "accepted",
    "on_the_way",
    "received",
    "diagnosing",
    "waiting_parts",
    "repaired",
    "ready_for_pickup",
    "closed",
    "cancelled",
]
# The life cycle. A booking is "scheduled" until its station accepts it; an on-site engineer
# then sets off ("on_the_way"), a drop-off device is "received". Reschedule puts an order back
# to "scheduled" (its station, maybe another one, accepts it again); cancel is only possible
# before the device is in the station's hands. "scheduled" -> "received" stays for a customer
# who walks in before the station has accepted the booking.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "created": ("scheduled", "cancelled"),
    "scheduled": ("accepted", "received", "cancelled"),
    "accepted": ("on_the_way", "received", "cancelled"),
    "on_the_way": ("diagnosing",),
    "received": ("diagnosing",),
    "diagnosing": ("waiting_parts", "repaired"),
    "waiting_parts": ("repaired",),
    "repaired": ("ready_for_pickup", "closed"),
    "ready_for_pickup": ("closed",),
    # Reopened (the 回访 found the fault back): booked again from the start, in a new round.
    "closed": ("created",),
    "cancelled": (),
}
CHANGEABLE = ("created", "scheduled", "accepted")
# A reopen (closed -> created) is the customer's, through the 回访: a station never offers it.
REOPEN = ("closed", "created")


def station_steps(status: str) -> tuple[str, ...]:
    """Where a repair station may move an order next."""
    return tuple(to for to in TRANSITIONS[status] if (status, to) != REOPEN)


# Orders a station still has to work on (its load); a closed order can be reopened but is done.
OPEN_STATUSES = tuple(s for s in TRANSITIONS if s not in ("closed", "cancelled"))
# An on-site order has been answered once the engineer is on the way (the promised response).
RESPONDED = ("on_the_way", "diagnosing", "waiting_parts", "repaired", "ready_for_pickup", "closed")
MAX_RESCHEDULES = 3

# Proving a work order is yours (the phone on it): tries per order in one conversation, and
# the failures on one order, from all conversations together, that lock its check for a while.
PHONE_TRIES = 3
PHONE_LOCK_FAILURES = 10
PHONE_LOCK_SECONDS = 3600
# What a customer gives as proof: the last four digits of the phone, or the whole number
# (7 digits or more: a landline without its area code too).
PHONE_PROOF = r"^(?:\d{4}|\d{7,15})$"
