"""Finding the work order when the customer has no id: by the device's serial or by phone.

"单号忘了 手机号139…" or "上回修的显示器 MNNF1UWBZE 想评价下": the forms that need a work order
(reschedule, cancel, rate) read a serial or a whole phone number where the id was asked for.
A serial finds the device's orders; one that fits is taken (the proof of `proof.py` follows,
as for an id), several are not listed to someone unproven: the phone number is asked, which
is the proof. A whole phone number is its own proof (`prove_by_phone`, with its limit of
tries); the orders on it that fit are taken, or offered as buttons when there are several.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import client, label
from actions.conversation import entity, latest_text
from actions.workorders.proof import LOOKUP_FAILURES, PROVEN, prove_by_phone, read_proof
from actions.workorders.slots import slot_text
from bot.contracts.ids import normalize_serial, normalize_work_order_id
from bot.contracts.workorders import WorkOrder

MAX_CHOICES = 5
_TOKENS = re.compile(r"[A-Za-z0-9][A-Za-z0-9 \-]{6,14}[A-Za-z0-9]")
# A work-order id, spaced or not ("WO 20261120 0018"): never read as a phone number.
_ORDER_ID = re.compile(r"(?i)\bWO\b|WO\s*\d|\d{8}\s*-?\s*\d{4}")


def serial_in(text: str, tracker: Tracker) -> str | None:
    """A serial number the customer typed, alone or inside a sentence."""
    found = entity(tracker, "serial_number")
    if found and normalize_serial(found):
        return normalize_serial(found)
    candidates = [text, *_TOKENS.findall(text), *text.split()]
    return next((s for s in map(normalize_serial, candidates) if s), None)


class OrderLookup:
    """Mixin of the form validations that need a `work_order_id`: `extract_work_order_id`."""

    # What the order is wanted for, in the words of `utter_label_order_for_<purpose>`.
    purpose = "change"

    def fits(self, order: WorkOrder) -> bool:
        """Whether the order can be what the form is for (a finished repair, for a rating)."""
        return True

    async def extract_work_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        said = latest_text(tracker)
        if (
            tracker.get_slot("requested_slot") not in (None, "work_order_id")
            or (tracker.get_slot("work_order_id") and tracker.get_slot("requested_slot") is None)
            or not said
            or said.startswith("/")
            or entity(tracker, "work_order_id")
            or normalize_work_order_id(said)
            or _ORDER_ID.search(said)
        ):
            return {}
        digits = read_proof(said)
        whole = said if digits and len(digits) >= 7 else entity(tracker, "phone")
        if whole:
            return await self._by_phone(whole, dispatcher, domain, tracker)
        serial = serial_in(said, tracker)
        return await self._by_serial(serial, dispatcher, domain) if serial else {}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # rasa_sdk keeps only the form's required slots of what an extraction set; the proof
        # by phone also sets the orders proven, the tries used, or ends the form.
        events = await super().get_validation_events(  # type: ignore[misc]
            dispatcher, tracker, domain
        )
        named = {event.get("name") for event in events}
        extracted = tracker.slots_to_validate()
        return [
            *events,
            *(
                SlotSet(name, extracted[name])
                for name in (PROVEN, LOOKUP_FAILURES, "requested_slot")
                if name in extracted and name not in named
            ),
        ]

    async def _by_serial(
        self, serial: str, dispatcher: CollectingDispatcher, domain: DomainDict
    ) -> dict[str, Any]:
        orders = [o for o in await client().work_orders(serial=serial) if self.fits(o)]
        for_what = label(domain, f"order_for_{self.purpose}")
        if not orders:
            dispatcher.utter_message(
                response="utter_orders_none_serial", serial=serial, what=for_what
            )
            return {}
        if len(orders) == 1:
            return {"work_order_id": orders[0].id}
        dispatcher.utter_message(
            response="utter_orders_serial_many", serial=serial, count=len(orders), what=for_what
        )
        return {}

    async def _by_phone(
        self, said: str, dispatcher: CollectingDispatcher, domain: DomainDict, tracker: Tracker
    ) -> dict[str, Any]:
        outcome = await prove_by_phone(said, dispatcher, tracker)
        if not outcome.passed:
            return outcome.slots
        digits = read_proof(said) or ""
        orders = [o for o in await client().work_orders_by_phone(digits) if self.fits(o)]
        for_what = label(domain, f"order_for_{self.purpose}")
        if not orders:
            dispatcher.utter_message(response="utter_orders_none_phone", what=for_what)
            return outcome.slots
        if len(orders) == 1:
            found = orders[0]
            dispatcher.utter_message(
                response="utter_order_found",
                work_order_id=found.id,
                slot=slot_text(domain, found.slot_date, found.slot_start, found.slot_end),
            )
            return {**outcome.slots, "work_order_id": found.id}
        buttons = [
            {
                "title": label(
                    domain,
                    "order_option",
                    work_order_id=o.id,
                    slot=slot_text(domain, o.slot_date, o.slot_start, o.slot_end),
                    status=label(domain, f"status_{o.status}"),
                ),
                "payload": f'/inform{{"work_order_id": "{o.id}"}}',
            }
            for o in orders[:MAX_CHOICES]
        ]
        dispatcher.utter_message(
            response="utter_orders_choose", count=len(orders), what=for_what, buttons=buttons
        )
        return outcome.slots
