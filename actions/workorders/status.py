"""Looking up a work order: its status (`status_form`), and rating the service (`rate_form`)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, BackendFormValidation, client, label, shown, text
from actions.complaints import due_values
from actions.conversation import entity, latest_text
from actions.workorders.lookup import OrderLookup
from actions.workorders.proof import (
    BY_PHONE,
    OWN,
    PROOF,
    REFUSED,
    ProofValidation,
    asks_by_phone,
    hidden_orders,
    may_see,
    names_an_order,
    prove,
    prove_by_phone,
    proven,
    read_proof,
)
from actions.workorders.slots import slot_text
from bot.client import Conflict, NotFound
from bot.contracts.ids import normalize_serial, normalize_work_order_id
from bot.contracts.masking import mask_address, mask_phone
from bot.contracts.workorders import WorkOrder
from bot.normalize import normalize_text


async def load_order(value: Any, dispatcher: CollectingDispatcher) -> WorkOrder | None:
    """The work order the customer names, or None after saying what is wrong with the id."""
    order_id = normalize_work_order_id(str(value or ""))
    if order_id is None:
        dispatcher.utter_message(response="utter_work_order_invalid", value=shown(value))
        return None
    try:
        return await client().work_order(order_id)
    except NotFound:
        dispatcher.utter_message(response="utter_work_order_not_found", work_order_id=order_id)
        return None


class ValidateStatusForm(BackendFormValidation):
    """Status by work-order id, by serial number, or by the customer's phone number.

    Orders not made in this conversation need the proof (`actions.workorders.proof`): the
    form asks `phone_proof` for them, and `action_check_status` shows only what is proven.
    """

    retry = "/check_repair_status"

    def name(self) -> str:
        return "validate_status_form"

    async def extract_status_lookup(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # When the form starts, a work order or serial already given in this conversation is
        # enough; "用手机号查" (or a phone number) asks by phone, then or when asked.
        requested = tracker.get_slot("requested_slot")
        if tracker.get_slot("status_lookup") or requested not in (None, "status_lookup"):
            return {}
        if entity(tracker, "phone") or (
            not entity(tracker, "work_order_id")
            and not entity(tracker, "serial_number")
            and asks_by_phone(latest_text(tracker))
        ):
            return {"status_lookup": BY_PHONE}
        if requested:
            return {}
        serial = tracker.get_slot("serial_number")
        known = tracker.get_slot("work_order_id") or (serial if serial != "none" else None)
        return {"status_lookup": known} if known else {}

    async def validate_status_lookup(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        said = str(value or "")
        order_id = normalize_work_order_id(said)
        if order_id:
            order = await load_order(order_id, dispatcher)
            if order is None:
                return {"status_lookup": None}
            return {"status_lookup": order.id, PROOF: OWN if may_see(order, tracker) else None}
        serial = normalize_serial(said)
        if serial:
            _, hidden = await hidden_orders(serial, tracker)
            return {"status_lookup": serial, PROOF: None if hidden else OWN}
        digits = read_proof(said)
        whole = digits if digits and len(digits) >= 7 else None
        if said == BY_PHONE or asks_by_phone(said) or whole:
            # "用手机号查": the whole number is the proof; ask for it unless it was given.
            given = entity(tracker, "phone") or whole
            if given is None:
                return {"status_lookup": BY_PHONE, PROOF: None}
            outcome = await prove_by_phone(given, dispatcher, tracker)
            return {"status_lookup": BY_PHONE, **outcome.slots}
        dispatcher.utter_message(response="utter_work_order_invalid", value=shown(value))
        return {"status_lookup": None}

    async def validate_phone_proof(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        lookup = str(tracker.get_slot("status_lookup") or "")
        if tracker.get_slot("requested_slot") != PROOF or not lookup:
            return {}
        if names_an_order(value, tracker):
            return {}  # the new order is validated as status_lookup
        if lookup == BY_PHONE:
            return (await prove_by_phone(value, dispatcher, tracker)).slots
        order_id = normalize_work_order_id(lookup)
        if order_id:
            order = await client().work_order(order_id)
            return (await prove(value, [order], dispatcher, tracker)).slots
        _, hidden = await hidden_orders(lookup, tracker)
        return (await prove(value, hidden, dispatcher, tracker, optional=True)).slots


class ActionCheckStatus(BackendAction):
    """The status of what the customer may see; what they may not is named, never shown.

    Runs after `status_form`, and on its own when a booking is interrupted by a status
    question (then nothing can be proven, and the customer is told how to do it later).
    """

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
        done: list[EventType] = [SlotSet("status_lookup", None), SlotSet(PROOF, None)]
        if not lookup or lookup == "none" or tracker.get_slot(PROOF) == REFUSED:
            return done
        if lookup == BY_PHONE:
            await self._proven(dispatcher, tracker, domain)
            return done
        order_id = normalize_work_order_id(str(lookup))
        if order_id:
            try:
                order = await client().work_order(order_id)
            except NotFound:
                dispatcher.utter_message(
                    response="utter_work_order_not_found", work_order_id=order_id
                )
                return done
            if may_see(order, tracker):
                self._status(dispatcher, domain, order)
            else:
                dispatcher.utter_message(response="utter_proof_needed", work_order_id=order.id)
            return done
        visible, hidden = await hidden_orders(str(lookup), tracker)
        if not visible and not hidden:
            dispatcher.utter_message(response="utter_no_orders_for_serial", serial=lookup)
            return done
        if visible:
            dispatcher.utter_message(
                response="utter_orders_for_serial", serial=lookup, count=len(visible)
            )
            for order in visible[:5]:
                self._status(dispatcher, domain, order)
        if hidden:
            dispatcher.utter_message(
                response="utter_orders_hidden" if visible else "utter_orders_hidden_all",
                serial=lookup,
                count=len(hidden),
            )
        return done

    async def _proven(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> None:
        """After a lookup by phone: the orders proven in this conversation (the latest five)."""
        orders = [await client().work_order(i) for i in proven(tracker)[-5:]]
        dispatcher.utter_message(response="utter_orders_for_phone", count=len(orders))
        for order in orders:
            self._status(dispatcher, domain, order)

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
            contact_line=contact_line(domain, order),
            last_event=last_event,
        )


def contact_line(domain: DomainDict, order: WorkOrder) -> str:
    """The customer's phone and address on the order, masked (they are personal data)."""
    if not order.phone:
        return ""
    address = (
        label(domain, "contact_address", address=mask_address(order.address))
        if order.kind == "on_site" and order.address
        else ""
    )
    return label(domain, "contact", phone=mask_phone(order.phone), address=address)


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


class ValidateRateForm(OrderLookup, ProofValidation, BackendFormValidation):
    retry = "/rate_service"
    purpose = "rate"

    def fits(self, order: WorkOrder) -> bool:
        return order.status == "closed" and order.rating is None

    def name(self) -> str:
        return "validate_rate_form"

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
        return {}

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
        done: list[EventType] = [
            SlotSet("score", None),
            SlotSet("rating_comment", None),
            SlotSet(PROOF, None),
        ]
        if not order_id or score is None or tracker.get_slot("rating_comment") is None:
            return done
        if not may_see(await client().work_order(str(order_id)), tracker):
            dispatcher.utter_message(response="utter_proof_needed", work_order_id=order_id)
            return done
        try:
            await client().rate(str(order_id), int(score), str(tracker.get_slot("rating_comment")))
        except Conflict:
            dispatcher.utter_message(response="utter_rating_already", work_order_id=order_id)
            return done
        dispatcher.utter_message(response="utter_rating_done", score=score)
        if int(score) <= 2:
            # The backend opened a complaint with the rating (bot.workorders.rate), however the
            # rating was given: its number and due time are the customer's to know.
            opened = await client().work_order_complaints(str(order_id))
            if opened:
                latest = max(opened, key=lambda c: c.created_at)
                dispatcher.utter_message(
                    response="utter_rating_low", complaint_id=latest.id, **due_values(latest)
                )
            else:
                dispatcher.utter_message(response="utter_rating_low_unnumbered")
        return done
