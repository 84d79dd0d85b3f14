"""Changing a booking: reschedule it (`reschedule_form`) or cancel it (`cancel_form`)."""

from __future__ import annotations

from itertools import islice
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, BackendFormValidation, client, clock, label, text
from actions.conversation import history, latest_text
from actions.dates import parse_when
from actions.days import day_text
from actions.workorders.lookup import OrderLookup
from actions.workorders.proof import OWN, PASSED, PROOF, ProofValidation, may_see
from actions.workorders.slots import choose_slot, slot_text, split_slot
from actions.workorders.status import load_order
from bot.client import Conflict
from bot.contracts.errors import NOT_CHANGEABLE, SLOT_FULL, TOO_LATE, TOO_MANY_RESCHEDULES
from bot.contracts.rules import MAX_RESCHEDULES
from bot.contracts.workorders import WorkOrder

# Why a booking cannot be moved: the backend's refusal codes, and the reason we give.
REFUSAL_REASONS = {
    TOO_LATE: "utter_reason_too_late",
    TOO_MANY_RESCHEDULES: "utter_reason_too_many",
    NOT_CHANGEABLE: "utter_reason_not_changeable",
}


def refusal(order: WorkOrder) -> str:
    """The code the backend refuses to reschedule this order with (it cannot be rescheduled)."""
    if not order.can_cancel:
        return NOT_CHANGEABLE
    if order.reschedule_count >= MAX_RESCHEDULES:
        return TOO_MANY_RESCHEDULES
    return TOO_LATE


def refusal_reason(domain: DomainDict, code: str) -> str:
    return text(domain, REFUSAL_REASONS.get(code, "utter_reason_generic"))


class ValidateRescheduleForm(OrderLookup, ProofValidation, BackendFormValidation):
    retry = "/reschedule_booking"
    purpose = "reschedule"

    def fits(self, order: WorkOrder) -> bool:
        return order.can_reschedule

    def name(self) -> str:
        return "validate_reschedule_form"

    async def validate_work_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order = await load_order(value, dispatcher)
        if order is None:
            return {"work_order_id": None}
        return await self.access(order, dispatcher, tracker, domain)

    async def on_access(
        self, order: WorkOrder, dispatcher: CollectingDispatcher, domain: DomainDict
    ) -> dict[str, Any]:
        if not order.can_reschedule:
            dispatcher.utter_message(
                response="utter_reschedule_refused",
                work_order_id=order.id,
                reason=refusal_reason(domain, refusal(order)),
            )
            return {"requested_slot": None}
        return {}

    async def extract_booking_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # "改到下周一上午" in the request itself: the new time was said, so it is not asked
        # again. Once the form asks for the time, the answer is read by the slot's mappings.
        if tracker.get_slot("booking_slot") or tracker.get_slot("requested_slot") == "booking_slot":
            return {}
        words = time_in_request(tracker)
        return {"booking_slot": words} if words else {}

    async def validate_booking_slot(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order_id = tracker.get_slot("work_order_id")
        if not order_id or tracker.get_slot(PROOF) not in (OWN, PASSED):
            # A time said before the order is named or proven: read again once it is. Said
            # back now, so that the customer knows it was heard and is not asked it again.
            wanted = parse_when(str(value), clock().today())
            if wanted is not None and wanted.days and value == latest_text(tracker):
                day = wanted.days[0]
                dispatcher.utter_message(
                    response="utter_reschedule_time_noted",
                    day=day_text(domain, day),
                    half=label(domain, f"half_{wanted.half}") if wanted.half else "",
                )
            return {"booking_slot": None}
        order = await client().work_order(str(order_id))
        return await choose_slot(value, order.station.code, dispatcher, tracker)


# How many messages back the request to reschedule may lie ("改约", the order id, the proof).
REQUEST_MESSAGES = 5


def time_in_request(tracker: Tracker) -> str | None:
    """The customer's words for the new time in this reschedule request, if they gave one."""
    today = clock().today()
    for said in islice(history(tracker), REQUEST_MESSAGES):
        wanted = parse_when(said.typed, today) if said.typed else None
        if (
            wanted is not None
            and wanted.days
            and (wanted.half or wanted.at or wanted.earliest or wanted.latest)
        ):
            return said.typed
        if wanted is not None and wanted.days:
            # A day without a time of day ("挪到后天"): the time is asked, the day is kept.
            return None
        if said.intent == "reschedule_booking":
            return None
    return None


class ActionReschedule(BackendAction):
    retry = "/reschedule_booking"

    def name(self) -> str:
        return "action_reschedule"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id, wanted = tracker.get_slot("work_order_id"), tracker.get_slot("booking_slot")
        done: list[EventType] = [SlotSet("booking_slot", None), SlotSet(PROOF, None)]
        if not order_id or not wanted:
            return done
        if not may_see(await client().work_order(str(order_id)), tracker):
            dispatcher.utter_message(response="utter_proof_needed", work_order_id=order_id)
            return done
        day, start = split_slot(str(wanted))
        try:
            order = await client().reschedule(str(order_id), day, start)
        except Conflict as exc:
            if exc.code == SLOT_FULL:
                dispatcher.utter_message(response="utter_slot_taken")
                return [SlotSet("booking_slot", None), FollowupAction("reschedule_form")]
            dispatcher.utter_message(
                response="utter_reschedule_refused",
                work_order_id=order_id,
                reason=refusal_reason(domain, exc.code),
            )
            return done
        dispatcher.utter_message(
            response="utter_reschedule_done",
            work_order_id=order.id,
            station=order.station.name,
            slot=slot_text(domain, order.slot_date, order.slot_start, order.slot_end),
        )
        return done


class ValidateCancelForm(OrderLookup, ProofValidation, BackendFormValidation):
    retry = "/cancel_booking"
    purpose = "cancel"

    def fits(self, order: WorkOrder) -> bool:
        return order.can_cancel

    def name(self) -> str:
        return "validate_cancel_form"

    async def validate_work_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order = await load_order(value, dispatcher)
        if order is None:
            return {"work_order_id": None}
        return await self.access(order, dispatcher, tracker, domain)


class ActionAskCancelConfirmed(BackendAction):
    retry = "/cancel_booking"

    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = await client().work_order(str(tracker.get_slot("work_order_id")))
        if not may_see(order, tracker):
            # The form asks for the proof first; this is a second wall, never the first.
            dispatcher.utter_message(response="utter_proof_needed", work_order_id=order.id)
            return [SlotSet("requested_slot", None), SlotSet("work_order_id", None)]
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
        done: list[EventType] = [SlotSet("cancel_confirmed", None), SlotSet(PROOF, None)]
        if not order_id or confirmed is None:
            return done
        if confirmed is False:
            dispatcher.utter_message(response="utter_cancel_kept", work_order_id=order_id)
            return done
        if not may_see(await client().work_order(str(order_id)), tracker):
            dispatcher.utter_message(response="utter_proof_needed", work_order_id=order_id)
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
    """The words of the customer's latest message with this intent (their own reason)."""
    said = next((said for said in history(tracker) if said.intent == intent), None)
    return said.typed if said else None
