"""Booking a repair: the booking form's checks, its custom questions, and the booking itself."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cards import booking_card
from actions.common import (
    BackendAction,
    BackendFormValidation,
    check_serial,
    client,
    joined,
    label,
    read_phone,
    shown,
    text,
)
from actions.conversation import entity, idempotency_key, latest_intent, latest_text
from actions.stations import city_from_words
from actions.workorders.choice import choose_station
from actions.workorders.corrections import correction, kind_from_words
from actions.workorders.freetext import fault_problem, looks_like_address
from actions.workorders.slots import choose_slot, slot_text, split_slot
from actions.workorders.status import contact_line
from bot.client import Conflict
from bot.contracts.errors import SLOT_FULL
from bot.contracts.rules import SLOT_ENDS
from bot.contracts.spelling import resolve_city
from bot.contracts.stations import Station

# What the customer is told when the fault cannot be stored, by `fault_problem`'s reason.
FAULT_REFUSALS = {"empty": "utter_fault_empty", "question": "utter_fault_question"}
BOOKING_SLOTS = ("repair_kind", "station_code", "booking_slot", "address", "booking_confirmed")


async def _stations(tracker: Tracker, city: str) -> list[Station]:
    category = tracker.get_slot("device_category")
    return await client().stations(
        city=city,
        kind="service",
        service=tracker.get_slot("repair_kind") or None,
        category=category or None,
        limit=5,
    )


async def _served_cities(domain: DomainDict) -> str:
    return joined(domain, (c.city for c in await client().cities() if c.service_stations))


class ValidateBookingForm(BackendFormValidation):
    retry = "/book_repair"

    def name(self) -> str:
        return "validate_booking_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("repair_kind") != "on_site":
            return [s for s in domain_slots if s != "address"]
        return domain_slots

    async def validate_repair_kind(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # "不用上门了 我自己送过去" holds the entity 上门; the words say a drop-off.
        kind = kind_from_words(latest_text(tracker)) or value
        kind = kind if kind in ("on_site", "drop_off", "remote") else None
        # Another kind of service may need another station.
        return {"repair_kind": kind, "station_code": None, "booking_slot": None}

    async def validate_serial_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await check_serial(value, dispatcher, allow_none=True)

    async def validate_fault(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        fault = str(value or "").strip()
        problem = fault_problem(fault, latest_intent(tracker))
        if problem is not None:
            # Asked again with an example; a question is answered by its own journey after.
            dispatcher.utter_message(response=FAULT_REFUSALS[problem], value=shown(fault))
            return {"fault": None}
        return {"fault": fault[:2000]}

    async def extract_city(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await city_from_words(tracker)

    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # 上海市, 沪, 深证: the catalogue's name of the city the customer means.
        known = [c.city for c in await client().cities()]
        value = resolve_city(str(value or ""), known) or value
        stations = await _stations(tracker, str(value))
        if not stations:
            kind = label(domain, f"kind_{tracker.get_slot('repair_kind') or 'drop_off'}")
            dispatcher.utter_message(
                response="utter_no_station_in_city",
                city=value,
                kind=kind,
                cities=await _served_cities(domain),
            )
            return {"city": None}
        only = stations[0].code if len(stations) == 1 else None
        return {"city": stations[0].city, "station_code": only, "booking_slot": None}

    async def extract_station_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # A station typed instead of pressed: "浦东那个", "第二个", "离我近的".
        said = latest_text(tracker)
        city = tracker.get_slot("city")
        if (
            tracker.get_slot("requested_slot") != "station_code"
            or not city
            or not said
            or said.startswith("/")
            or entity(tracker, "station_code")
        ):
            return {}
        chosen = choose_station(said, await _stations(tracker, str(city)))
        if chosen.station is not None:
            return {"station_code": chosen.station.code}
        if chosen.nearest:
            dispatcher.utter_message(response="utter_station_nearest_unknown")
        return {}

    async def validate_station_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        city = tracker.get_slot("city")
        offered = {s.code for s in await _stations(tracker, str(city))} if city else set()
        code = str(value or "").upper()
        return {"station_code": code if code in offered else None, "booking_slot": None}

    async def validate_booking_slot(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await choose_slot(value, tracker.get_slot("station_code"), dispatcher, tracker)

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return read_phone(value, dispatcher)

    async def validate_booking_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        changed = await correction(tracker, dispatcher)
        if changed is not None:
            return changed
        if isinstance(value, bool):
            return {"booking_confirmed": value}
        # Words that are neither yes, no nor a correction: say what can be changed.
        dispatcher.utter_message(response="utter_booking_what_to_change")
        return {"booking_confirmed": None}

    async def validate_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        address = str(value or "").strip()
        if not looks_like_address(address):
            dispatcher.utter_message(response="utter_address_invalid", value=shown(address))
            return {"address": None}
        return {"address": address[:300]}


class ActionAskStationCode(BackendAction):
    retry = "/book_repair"

    def name(self) -> str:
        return "action_ask_station_code"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        city = str(tracker.get_slot("city"))
        stations = await _stations(tracker, city)
        if not stations:
            kind = label(domain, f"kind_{tracker.get_slot('repair_kind') or 'drop_off'}")
            dispatcher.utter_message(
                response="utter_no_station_in_city",
                city=city,
                kind=kind,
                cities=await _served_cities(domain),
            )
            return [SlotSet("city", None), SlotSet("requested_slot", "city")]
        buttons = [
            {
                "title": label(domain, "station_option", name=s.name, district=s.district),
                "payload": f'/inform{{"station_code": "{s.code}"}}',
            }
            for s in stations
        ]
        dispatcher.utter_message(response="utter_ask_station_code", city=city, buttons=buttons)
        return []


async def booking_summary(tracker: Tracker, domain: DomainDict) -> dict[str, str]:
    """What the customer is about to submit, to check before it is sent.

    The phone and address are shown in full, unlike everywhere else: the customer typed them
    in this conversation a moment ago and nothing is stored yet, and a masked number would
    hide exactly the typo this question is there to catch. Once booked, they are masked.
    """
    station = await client().station(str(tracker.get_slot("station_code")))
    day, start = split_slot(str(tracker.get_slot("booking_slot")))
    serial = tracker.get_slot("serial_number")
    device = (
        f"{tracker.get_slot('device_model')} {serial}"
        if serial and serial != "none"
        else text(domain, "utter_booking_no_device")
    )
    address = tracker.get_slot("address")
    return {
        "kind": label(domain, f"kind_{tracker.get_slot('repair_kind')}"),
        "station": station.name,
        "station_address": station.address,
        "station_phone": station.phone,
        "slot": slot_text(domain, day, start, SLOT_ENDS.get(start, "")),
        "device": device,
        "fault": str(tracker.get_slot("fault") or ""),
        "phone": str(tracker.get_slot("phone") or ""),
        "address": text(domain, "utter_booking_address_line", address=address)
        if tracker.get_slot("repair_kind") == "on_site" and address
        else "",
    }


class ActionAskBookingConfirmed(BackendAction):
    retry = "/book_repair"

    def name(self) -> str:
        return "action_ask_booking_confirmed"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_ask_booking_confirmed", **await booking_summary(tracker, domain)
        )
        return []


class ActionBookRepair(BackendAction):
    retry = "/book_repair"

    def name(self) -> str:
        return "action_book_repair"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        confirmed = tracker.get_slot("booking_confirmed")
        reset = [SlotSet(s, None) for s in BOOKING_SLOTS]
        if confirmed is False:
            dispatcher.utter_message(response="utter_booking_dropped")
            return reset
        if confirmed is not True:
            return []  # the form stopped early; it said why
        serial = tracker.get_slot("serial_number")
        day, start = split_slot(str(tracker.get_slot("booking_slot")))
        try:
            order = await client().book(
                key=idempotency_key(tracker, "booking"),
                kind=tracker.get_slot("repair_kind"),
                serial=serial if serial and serial != "none" else None,
                model_code=tracker.get_slot("device_model") or None,
                fault=str(tracker.get_slot("fault") or "")[:2000] or "-",
                error_code=(tracker.get_slot("error_code") or None),
                steps_tried=[str(s)[:500] for s in tracker.get_slot("steps_tried") or []][:30],
                station_code=tracker.get_slot("station_code"),
                slot_date=day,
                slot_start=start,
                phone=tracker.get_slot("phone"),
                address=tracker.get_slot("address")
                if tracker.get_slot("repair_kind") == "on_site"
                else None,
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel(),
            )
        except Conflict as exc:
            if exc.code == SLOT_FULL:
                dispatcher.utter_message(response="utter_slot_taken")
                return [
                    SlotSet("booking_slot", None),
                    SlotSet("booking_confirmed", None),
                    FollowupAction("booking_form"),
                ]
            dispatcher.utter_message(
                response="utter_booking_refused", reason=text(domain, "utter_reason_generic")
            )
            return reset
        kind = label(domain, f"kind_{order.kind}")
        slot = slot_text(domain, order.slot_date, order.slot_start, order.slot_end)
        dispatcher.utter_message(
            response="utter_booking_done",
            work_order_id=order.id,
            kind=kind,
            station=order.station.name,
            address=order.station.address,
            phone=order.station.phone,
            slot=slot,
            contact=contact_line(domain, order),
            json_message=booking_card(domain, order, kind=kind, slot=slot),
        )
        return [*reset, SlotSet("work_order_id", order.id)]
