"""Repair slots: a station's free slots, the customer's choice, and asking for one.

A slot is written into the `booking_slot` slot (and into the buttons that offer it) as
"2026-11-21T09:00": `slot_value` writes that form and `split_slot` reads it back; the two
are the only places that know it, apart from `actions.dates.parse_when`, which recognises a
pressed button among the customer's words.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from itertools import islice
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, client, clock, label, shown
from actions.conversation import history, latest_text
from actions.dates import parse_when
from actions.days import day_text
from bot.contracts.rules import slot_key, split_slot_key
from bot.contracts.stations import Slot

SLOT_CHOICES = 6
# How far back a day named earlier still counts for a time given without one.
EARLIER_MESSAGES = 4


def slot_value(day: date, start: str) -> str:
    """The `booking_slot` value of a slot: its date and start, "2026-11-21T09:00"."""
    return slot_key(day, start)


def split_slot(value: str) -> tuple[date, str]:
    """The date and start of a `booking_slot` value written by `slot_value`."""
    parts = split_slot_key(value)
    if parts is None:
        raise ValueError(f"not a slot value: {value!r}")
    return parts


def slot_text(domain: DomainDict, day: Any, start: str | None, end: str | None = None) -> str:
    return label(domain, "slot", date=day_text(domain, day), start=start or "", end=end or "")


async def free_slots(station_code: str) -> list[Slot]:
    slots = await client().slots(station_code, start=clock().today(), days=14)
    return [s for s in slots if s.free > 0]


def _words(value: Any, tracker: Tracker | None) -> str:
    """The customer's words for the time: the whole message when the slot holds only the part
    the entity extractor found ("下周四下午" of "下周四下午三点半")."""
    said = latest_text(tracker) if tracker is not None else ""
    if said and not said.startswith("/") and str(value or "") in said:
        return said
    return str(value or "")


def _earlier_days(tracker: Tracker | None, today: date) -> tuple[date, ...] | None:
    """The day named in an earlier message of this request ("能挪到后天吗", then "上午十点半")."""
    if tracker is None:
        return None
    for said in islice(history(tracker), 1, EARLIER_MESSAGES + 1):
        earlier = parse_when(said.typed or "", today) if said.typed else None
        if earlier is not None and earlier.days:
            return earlier.days
    return None


async def choose_slot(
    value: Any,
    station_code: str | None,
    dispatcher: CollectingDispatcher,
    tracker: Tracker | None = None,
) -> dict[str, Any]:
    """A free slot matching the customer's words ("明天下午") or button ("2026-11-21T09:00")."""
    if not station_code:
        return {"booking_slot": None}
    today = clock().today()
    wanted = parse_when(_words(value, tracker), today)
    if wanted is not None and wanted.days is None and wanted.exact_start is None:
        days = _earlier_days(tracker, today)
        wanted = replace(wanted, days=days) if days else wanted
    if wanted is None:
        dispatcher.utter_message(response="utter_slot_not_understood", value=shown(value))
        return {"booking_slot": None}
    if wanted.in_the_past(clock().today()):
        dispatcher.utter_message(response="utter_slot_in_the_past", when=shown(value))
        return {"booking_slot": None}
    match = next(
        (s for s in await free_slots(station_code) if wanted.accepts(s.date, s.start)), None
    )
    if match is None:
        dispatcher.utter_message(response="utter_no_free_slot", when=shown(value))
        return {"booking_slot": None}
    return {"booking_slot": slot_value(match.date, match.start)}


async def ask_slot(
    dispatcher: CollectingDispatcher, domain: DomainDict, station_code: str, station_name: str
) -> bool:
    """Offer the next free slots as buttons; False when the station is fully booked."""
    slots = (await free_slots(station_code))[:SLOT_CHOICES]
    if not slots:
        dispatcher.utter_message(response="utter_no_slots_at_all")
        return False
    buttons = [
        {
            "title": slot_text(domain, s.date, s.start, s.end),
            "payload": f'/inform{{"booking_slot": "{slot_value(s.date, s.start)}"}}',
        }
        for s in slots
    ]
    dispatcher.utter_message(
        response="utter_ask_booking_slot", station=station_name, buttons=buttons
    )
    return True


class ActionAskBookingSlot(BackendAction):
    """Asks for `booking_slot` in BOTH forms that require it.

    Rasa runs `action_ask_<slot>` whichever form asks, so this one action serves
    `booking_form` (the slots of the station the customer chose) and `reschedule_form` (the
    slots of the station the work order is booked at). Its retry button is the booking's in
    both cases, as it has always been.
    """

    retry = "/book_repair"

    def name(self) -> str:
        return "action_ask_booking_slot"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.active_loop_name == "reschedule_form":
            return await self._for_reschedule(dispatcher, tracker, domain)
        return await self._for_booking(dispatcher, tracker, domain)

    @staticmethod
    async def _for_booking(
        dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        station = await client().station(str(tracker.get_slot("station_code")))
        if not await ask_slot(dispatcher, domain, station.code, station.name):
            # Fully booked: choose another station.
            return [SlotSet("station_code", None), SlotSet("requested_slot", "station_code")]
        return []

    @staticmethod
    async def _for_reschedule(
        dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = await client().work_order(str(tracker.get_slot("work_order_id")))
        if not await ask_slot(dispatcher, domain, order.station.code, order.station.name):
            # Fully booked: the order cannot move to another station, so ask nothing more.
            return [SlotSet("requested_slot", None)]
        return []
