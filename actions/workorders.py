"""Work orders: book a repair, reschedule, cancel, check status, rate the service."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import (
    BackendAction,
    BackendFormValidation,
    channel,
    client,
    clock,
    idempotency_key,
    joined,
    label,
    shown,
    text,
)
from actions.dates import parse_when
from actions.warranty import check_serial
from bot.client import Conflict, NotFound
from bot.ids import normalize_serial, normalize_work_order_id
from bot.normalize import normalize_text
from bot.stations import SLOT_ENDS, Slot, Station
from bot.workorders import WorkOrder

PHONE = re.compile(r"(?:\+?86)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8}")
SLOT_CHOICES = 6
BOOKING_SLOTS = ("repair_kind", "station_code", "booking_slot", "address", "booking_confirmed")


def slot_text(domain: DomainDict, day: Any, start: str | None, end: str | None = None) -> str:
    return label(domain, "slot", date=str(day), start=start or "", end=end or "")


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


async def free_slots(station_code: str) -> list[Slot]:
    slots = await client().slots(station_code, start=clock().today(), days=14)
    return [s for s in slots if s.free > 0]


async def choose_slot(
    value: Any, station_code: str | None, dispatcher: CollectingDispatcher
) -> dict[str, Any]:
    """A free slot matching the customer's words ("明天下午") or button ("2026-11-21T09:00")."""
    if not station_code:
        return {"booking_slot": None}
    wanted = parse_when(str(value or ""), clock().today())
    if wanted is None:
        dispatcher.utter_message(response="utter_slot_not_understood", value=shown(value))
        return {"booking_slot": None}
    match = next(
        (s for s in await free_slots(station_code) if wanted.accepts(s.date, s.start)), None
    )
    if match is None:
        dispatcher.utter_message(response="utter_no_free_slot", when=shown(value))
        return {"booking_slot": None}
    return {"booking_slot": f"{match.date.isoformat()}T{match.start}"}


def split_slot(value: str) -> tuple[date, str]:
    day, _, start = value.partition("T")
    return date.fromisoformat(day), start


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
            "payload": f'/inform{{"booking_slot": "{s.date.isoformat()}T{s.start}"}}',
        }
        for s in slots
    ]
    dispatcher.utter_message(
        response="utter_ask_booking_slot", station=station_name, buttons=buttons
    )
    return True


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
        kind = value if value in ("on_site", "drop_off", "remote") else None
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
        return {"fault": fault[:2000] or None}

    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
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
        return await choose_slot(value, tracker.get_slot("station_code"), dispatcher)

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return read_phone(value, dispatcher)

    async def validate_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        address = str(value or "").strip()
        return {"address": address[:300] if len(address) >= 4 else None}


def read_phone(value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """The phone slot from what the customer typed, or a hint of what a number looks like."""
    phone = re.sub(r"[\s()（）]", "", str(value or ""))
    if not PHONE.fullmatch(phone):
        dispatcher.utter_message(response="utter_phone_invalid", value=shown(value))
        return {"phone": None}
    return {"phone": phone}


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


class ActionAskBookingSlot(BackendAction):
    retry = "/book_repair"

    def name(self) -> str:
        return "action_ask_booking_slot"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.active_loop_name == "reschedule_form":
            order = await client().work_order(str(tracker.get_slot("work_order_id")))
            if not await ask_slot(dispatcher, domain, order.station.code, order.station.name):
                return [SlotSet("requested_slot", None)]
            return []
        station = await client().station(str(tracker.get_slot("station_code")))
        if not await ask_slot(dispatcher, domain, station.code, station.name):
            return [SlotSet("station_code", None), SlotSet("requested_slot", "station_code")]
        return []


async def booking_summary(tracker: Tracker, domain: DomainDict) -> dict[str, str]:
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
            if exc.code == "slot_full":
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
        dispatcher.utter_message(
            response="utter_booking_done",
            work_order_id=order.id,
            kind=label(domain, f"kind_{order.kind}"),
            station=order.station.name,
            address=order.station.address,
            phone=order.station.phone,
            slot=slot_text(domain, order.slot_date, order.slot_start, order.slot_end),
        )
        return [*reset, SlotSet("work_order_id", order.id)]


# --- reschedule, cancel, status, rating -----------------------------------------------------


async def load_order(value: Any, dispatcher: CollectingDispatcher) -> WorkOrder | None:
    order_id = normalize_work_order_id(str(value or ""))
    if order_id is None:
        dispatcher.utter_message(response="utter_work_order_invalid", value=shown(value))
        return None
    try:
        return await client().work_order(order_id)
    except NotFound:
        dispatcher.utter_message(response="utter_work_order_not_found", work_order_id=order_id)
        return None


REFUSAL_REASONS = {
    "too_late": "utter_reason_too_late",
    "too_many_reschedules": "utter_reason_too_many",
    "not_changeable": "utter_reason_not_changeable",
}


class ValidateRescheduleForm(BackendFormValidation):
    retry = "/reschedule_booking"

    def name(self) -> str:
        return "validate_reschedule_form"

    async def validate_work_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order = await load_order(value, dispatcher)
        if order is None:
            return {"work_order_id": None}
        if not order.can_reschedule:
            reason = (
                "utter_reason_not_changeable"
                if not order.can_cancel
                else "utter_reason_too_many"
                if order.reschedule_count >= 3
                else "utter_reason_too_late"
            )
            dispatcher.utter_message(
                response="utter_reschedule_refused",
                work_order_id=order.id,
                reason=text(domain, reason),
            )
            return {"work_order_id": order.id, "requested_slot": None}
        return {"work_order_id": order.id}

    async def validate_booking_slot(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order = await client().work_order(str(tracker.get_slot("work_order_id")))
        return await choose_slot(value, order.station.code, dispatcher)


class ActionReschedule(BackendAction):
    retry = "/reschedule_booking"

    def name(self) -> str:
        return "action_reschedule"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id, wanted = tracker.get_slot("work_order_id"), tracker.get_slot("booking_slot")
        if not order_id or not wanted:
            return [SlotSet("booking_slot", None)]
        day, start = split_slot(str(wanted))
        try:
            order = await client().reschedule(str(order_id), day, start)
        except Conflict as exc:
            if exc.code == "slot_full":
                dispatcher.utter_message(response="utter_slot_taken")
                return [SlotSet("booking_slot", None), FollowupAction("reschedule_form")]
            reason = text(domain, REFUSAL_REASONS.get(exc.code, "utter_reason_generic"))
            dispatcher.utter_message(
                response="utter_reschedule_refused", work_order_id=order_id, reason=reason
            )
            return [SlotSet("booking_slot", None)]
        dispatcher.utter_message(
            response="utter_reschedule_done",
            work_order_id=order.id,
            station=order.station.name,
            slot=slot_text(domain, order.slot_date, order.slot_start, order.slot_end),
        )
        return [SlotSet("booking_slot", None)]


class ValidateCancelForm(BackendFormValidation):
    retry = "/cancel_booking"

    def name(self) -> str:
        return "validate_cancel_form"

    async def validate_work_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order = await load_order(value, dispatcher)
        return {"work_order_id": order.id if order else None}


class ActionAskCancelConfirmed(BackendAction):
    retry = "/cancel_booking"

    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = await client().work_order(str(tracker.get_slot("work_order_id")))
        if not order.can_cancel:
            dispatcher.utter_message(
                response="utter_cancel_refused",
                work_order_id=order.id,
                status=label(domain, f"status_{order.status}"),
            )
            return [SlotSet("requested_slot", None)]
        dispatcher.utter_message(
            response="utter_ask_cancel_confirmed",
            work_order_id=order.id,
            station=order.station.name,
            slot=slot_text(domain, order.slot_date, order.slot_start, order.slot_end),
        )
        return []


class ActionCancelBooking(BackendAction):
    retry = "/cancel_booking"

    def name(self) -> str:
        return "action_cancel_booking"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id, confirmed = (
            tracker.get_slot("work_order_id"),
            tracker.get_slot("cancel_confirmed"),
        )
        done: list[EventType] = [SlotSet("cancel_confirmed", None)]
        if not order_id or confirmed is None:
            return done
        if confirmed is False:
            dispatcher.utter_message(response="utter_cancel_kept", work_order_id=order_id)
            return done
        reason = _customer_words(tracker, "cancel_booking") or "cancelled in chat"
        try:
            order = await client().cancel(str(order_id), reason[:500])
        except Conflict:
            order = await client().work_order(str(order_id))
            dispatcher.utter_message(
                response="utter_cancel_refused",
                work_order_id=order.id,
                status=label(domain, f"status_{order.status}"),
            )
            return done
        dispatcher.utter_message(response="utter_cancel_done", work_order_id=order.id)
        return done


def _customer_words(tracker: Tracker, intent: str) -> str | None:
    """The text of the customer's latest message with this intent (their own reason)."""
    for event in reversed(tracker.events):
        if (
            event.get("event") == "user"
            and (event.get("parse_data") or {}).get("intent", {}).get("name") == intent
        ):
            words = str(event.get("text") or "").strip()
            return words if words and not words.startswith("/") else None
    return None


class ValidateStatusForm(BackendFormValidation):
    retry = "/check_repair_status"

    def name(self) -> str:
        return "validate_status_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # A work order or serial already given in this conversation is enough.
        serial = tracker.get_slot("serial_number")
        if tracker.get_slot("work_order_id") or (serial and serial != "none"):
            return []
        return domain_slots

    async def validate_status_lookup(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        lookup = normalize_work_order_id(str(value)) or normalize_serial(str(value))
        if lookup is None:
            dispatcher.utter_message(response="utter_work_order_invalid", value=shown(value))
        return {"status_lookup": lookup}


class ActionCheckStatus(BackendAction):
    retry = "/check_repair_status"

    def name(self) -> str:
        return "action_check_status"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        lookup = (
            tracker.get_slot("status_lookup")
            or tracker.get_slot("work_order_id")
            or tracker.get_slot("serial_number")
        )
        done: list[EventType] = [SlotSet("status_lookup", None)]
        if not lookup or lookup == "none":
            return done
        order_id = normalize_work_order_id(str(lookup))
        if order_id:
            try:
                self._status(dispatcher, domain, await client().work_order(order_id))
            except NotFound:
                dispatcher.utter_message(
                    response="utter_work_order_not_found", work_order_id=order_id
                )
            return done
        orders = await client().work_orders(serial=str(lookup))
        if not orders:
            dispatcher.utter_message(response="utter_no_orders_for_serial", serial=lookup)
            return done
        dispatcher.utter_message(
            response="utter_orders_for_serial", serial=lookup, count=len(orders)
        )
        for order in orders[:5]:
            self._status(dispatcher, domain, order)
        return done

    @staticmethod
    def _status(dispatcher: CollectingDispatcher, domain: DomainDict, order: WorkOrder) -> None:
        slot_line = (
            text(
                domain,
                "utter_status_slot_line",
                slot=slot_text(domain, order.slot_date, order.slot_start, order.slot_end),
            )
            if order.slot_date and order.status in ("created", "scheduled")
            else ""
        )
        last = order.timeline[-1] if order.timeline else None
        # Engineers' notes are for the customer; our own booking notes are not.
        note = last.note if last and not last.actor.startswith("customer") else ""
        last_event = (
            f"{last.at:%Y-%m-%d %H:%M} {label(domain, f'status_{last.status}')} {note}".strip()
            if last
            else ""
        )
        dispatcher.utter_message(
            response="utter_status",
            work_order_id=order.id,
            kind=label(domain, f"kind_{order.kind}"),
            station=order.station.name,
            status=label(domain, f"status_{order.status}"),
            slot_line=slot_line,
            last_event=last_event,
        )


SCORES = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5} | {str(n): n for n in range(1, 6)}
_SCORE_MARK = re.compile(r"([1-5一二两三四五])\s*(?:分|星|颗星)")
# Longest first: "不满意" must not be read as "满意". The NLU's synonyms map the same words.
_SCORE_WORDS = (
    ("非常不满意", 1), ("很不满意", 1), ("很差", 1), ("太差", 1), ("不太满意", 2),
    ("不满意", 2), ("满分", 5), ("非常满意", 5), ("很满意", 5), ("一般", 3), ("还行", 3),
    ("还不错", 4), ("不错", 4), ("满意", 4),
)  # fmt: skip


def read_score(value: Any) -> int | None:
    """1-5 from "5", "五星", "给4分吧", "很满意"; None when the words hold no score."""
    raw = normalize_text(str(value or "")).strip()
    if raw in SCORES:
        return SCORES[raw]
    if mark := _SCORE_MARK.search(raw):
        return SCORES[mark.group(1)]
    return next((score for word, score in _SCORE_WORDS if word in raw), None)


class ValidateRateForm(BackendFormValidation):
    retry = "/rate_service"

    def name(self) -> str:
        return "validate_rate_form"

    async def validate_work_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order = await load_order(value, dispatcher)
        if order is None:
            return {"work_order_id": None}
        if order.status != "closed" or order.rating is not None:
            response = (
                "utter_rating_already" if order.rating is not None else "utter_rating_refused"
            )
            dispatcher.utter_message(
                response=response,
                work_order_id=order.id,
                status=label(domain, f"status_{order.status}"),
            )
            # Perhaps another order is meant (the one in the slot may come from earlier in the
            # conversation): ask again; "算了" leaves.
            return {"work_order_id": None}
        return {"work_order_id": order.id}

    async def validate_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        score = read_score(value)
        if score is None:
            dispatcher.utter_message(response="utter_score_invalid")
            return {"score": None}
        return {"score": str(score)}

    async def validate_rating_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        return {"rating_comment": "" if intent == "deny" else str(value or "")[:2000]}


class ActionRate(BackendAction):
    retry = "/rate_service"

    def name(self) -> str:
        return "action_rate"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id, score = tracker.get_slot("work_order_id"), tracker.get_slot("score")
        done: list[EventType] = [SlotSet("score", None), SlotSet("rating_comment", None)]
        if not order_id or score is None or tracker.get_slot("rating_comment") is None:
            return done
        try:
            await client().rate(str(order_id), int(score), str(tracker.get_slot("rating_comment")))
        except Conflict:
            dispatcher.utter_message(response="utter_rating_already", work_order_id=order_id)
            return done
        dispatcher.utter_message(response="utter_rating_done", score=score)
        if int(score) <= 2:
            # A poor rating is followed up by a person (回访): record it where staff look.
            comment = str(tracker.get_slot("rating_comment") or "")
            await client().complain(
                key=idempotency_key(tracker, "low-rating"),
                text=f"rating {score}/5: {comment}".strip(),
                severity="medium",
                work_order_id=str(order_id),
                conversation_id=tracker.sender_id,
                channel=channel(tracker),
            )
            dispatcher.utter_message(response="utter_rating_low")
        return done
