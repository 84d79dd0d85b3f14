"""Proving a work order is yours before the bot shows or changes it (issue 11).

A work order made in this conversation (the same conversation id on the same channel: a web
chat session, a Telegram chat) is the customer's own. Any other one, typed by id or found by
serial number, is shown or changed only once the customer gives the last four digits of the
phone on it, or the whole number; the backend checks them (`verify-phone`) and never sends the
phone here. A conversation has `PHONE_TRIES` tries per order, counted by the backend; after
them, or when the customer does not remember, the bot refuses and offers a person. Orders
proven are remembered in the `proven_orders` slot for the rest of the conversation. A lookup
by phone number is for the owner of that number: the whole number is the proof, and a
conversation may try `PHONE_TRIES` numbers that have no order.

The `phone_proof` slot is the forms' state of the check: None (ask), "own" (no check needed),
"passed", "skipped" (status by serial: the customer only wants their own) or "refused" (the
form ends and its closing action says nothing more). It is never trusted as proof by itself:
the closing actions ask `may_see` again.

Domain entries: the slots `phone_proof`, `proven_orders`, `phone_lookup_failures`; responses
`utter_ask_phone_proof`, `utter_ask_phone_proof_serial`, `utter_ask_phone_full`,
`utter_proof_*`, `utter_phone_lookup_*`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, client, shown
from actions.conversation import channel, entity, latest_intent
from bot.client import Conflict
from bot.contracts.errors import PHONE_CHECK_LOCKED
from bot.contracts.ids import normalize_serial, normalize_work_order_id
from bot.contracts.masking import CN_DIGITS, mask_phone, phone_digits
from bot.contracts.rules import PHONE_TRIES
from bot.contracts.workorders import WorkOrder

PROOF = "phone_proof"
PROVEN = "proven_orders"
LOOKUP_FAILURES = "phone_lookup_failures"
OWN, PASSED, SKIPPED, REFUSED = "own", "passed", "skipped", "refused"
# The status form's lookup value for "用手机号查".
BY_PHONE = "by_phone"

_SEPARATORS = re.compile(r"(?<=\d)[\s\-.()（）]+(?=\d)")
_RUNS = re.compile(r"\d+")
_FORGOT = re.compile(r"不记得|忘了|忘记|记不[得清住]|想不起|不知道|不清楚|换号|不是我的号")
_ASKS_BY_PHONE = re.compile(r"手机|电话|号码")


def is_own(order: WorkOrder, tracker: Tracker) -> bool:
    """Made in this conversation, on this channel."""
    return order.conversation_id == tracker.sender_id and order.channel in (
        None,
        tracker.get_latest_input_channel(),
        channel(tracker),
    )


def proven(tracker: Tracker) -> list[str]:
    return [str(i) for i in tracker.get_slot(PROVEN) or []]


def may_see(order: WorkOrder, tracker: Tracker) -> bool:
    return is_own(order, tracker) or order.id in proven(tracker)


def read_proof(value: Any) -> str | None:
    """The digits a customer gives: "尾号8000", "后四位是 8000", "138 0013 8000", "八零零零".

    A run of seven digits or more is a whole number (its country code dropped); otherwise a
    run of exactly four is the last four digits. None when neither is there.
    """
    text = unicodedata.normalize("NFKC", str(value or "")).translate(CN_DIGITS)
    runs = _RUNS.findall(_SEPARATORS.sub("", text))
    whole = next((r for r in runs if len(r) >= 7), None)
    if whole is not None:
        return phone_digits(whole)[-15:]
    return next((r for r in runs if len(r) == 4), None)


def gave_up(value: Any, tracker: Tracker) -> bool:
    """ "不记得了", "忘了", "不用了", a "不记得了" button: no digits are coming."""
    return latest_intent(tracker) == "deny" or bool(_FORGOT.search(str(value or "")))


def names_an_order(value: Any, tracker: Tracker) -> bool:
    """The answer names a work order instead ("不是这个，是 WO…"): not a proof, and no try."""
    return bool(entity(tracker, "work_order_id") or normalize_work_order_id(str(value or "")))


def asks_by_phone(text: str) -> bool:
    """The customer wants to look orders up by their phone number ("用手机号查")."""
    return bool(_ASKS_BY_PHONE.search(text)) and normalize_serial(text) is None


@dataclass
class Outcome:
    """What a proof attempt sets, and whether the customer may now see the order(s)."""

    slots: dict[str, Any] = field(default_factory=dict)
    passed: bool = False

    @property
    def refused(self) -> bool:
        return self.slots.get(PROOF) == REFUSED


def refused(dispatcher: CollectingDispatcher, response: str, **values: Any) -> Outcome:
    """Refuse (the response offers a person) and end the form."""
    dispatcher.utter_message(response=response, **values)
    return Outcome({PROOF: REFUSED, "requested_slot": None})


async def prove(
    value: Any,
    orders: list[WorkOrder],
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    optional: bool = False,
) -> Outcome:
    """Check what the customer gave against the phone of each order.

    `optional`: the customer may decline (status by serial, where their own orders are shown
    anyway): "不用了" skips instead of refusing.
    """
    digits = read_proof(value)
    if digits is None:
        if gave_up(value, tracker):
            if optional:
                return Outcome({PROOF: SKIPPED})
            return refused(dispatcher, "utter_proof_given_up")
        dispatcher.utter_message(response="utter_proof_invalid", value=shown(value))
        return Outcome({PROOF: None})
    matched: list[str] = []
    tries_left, codes = 0, []
    for order in orders:
        try:
            check = await client().verify_phone(order.id, digits, tracker.sender_id)
        except Conflict as exc:
            codes.append(exc)
            continue
        tries_left = max(tries_left, check.tries_left)
        if check.matched:
            matched.append(order.id)
    if matched:
        dispatcher.utter_message(response="utter_proof_passed")
        return Outcome({PROOF: PASSED, PROVEN: [*proven(tracker), *matched]}, passed=True)
    if tries_left > 0:
        dispatcher.utter_message(response="utter_proof_wrong", tries_left=tries_left)
        return Outcome({PROOF: None})
    locked = [exc for exc in codes if exc.code == PHONE_CHECK_LOCKED]
    if codes and len(locked) == len(codes):
        minutes = max(1, -(-int(locked[0].detail.get("retry_after", 3600)) // 60))
        return refused(dispatcher, "utter_proof_locked", minutes=minutes)
    return refused(dispatcher, "utter_proof_refused")


async def prove_by_phone(value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Outcome:
    """The whole number finds its orders and proves them; a few numbers without orders, then no."""
    failures = int(tracker.get_slot(LOOKUP_FAILURES) or 0)
    if failures >= PHONE_TRIES:
        return refused(dispatcher, "utter_phone_lookup_refused")
    digits = read_proof(value)
    if digits is None or len(digits) < 7:
        if digits is None and gave_up(value, tracker):
            return refused(dispatcher, "utter_proof_given_up")
        dispatcher.utter_message(response="utter_proof_full_number", value=shown(value))
        return Outcome({PROOF: None})
    orders = await client().work_orders_by_phone(digits)
    if orders:
        ids = [o.id for o in orders if o.id not in proven(tracker)]
        return Outcome({PROOF: PASSED, PROVEN: [*proven(tracker), *ids]}, passed=True)
    failures += 1
    if failures >= PHONE_TRIES:
        outcome = refused(dispatcher, "utter_phone_lookup_refused")
    else:
        dispatcher.utter_message(
            response="utter_phone_lookup_none",
            phone=mask_phone(digits),
            tries_left=PHONE_TRIES - failures,
        )
        outcome = Outcome({PROOF: None})
    outcome.slots[LOOKUP_FAILURES] = float(failures)
    return outcome


class ProofValidation:
    """Mixin of the form validations whose `work_order_id` needs the proof (`phone_proof`).

    `on_access` is the form's own check once the customer may see the order (can it still be
    moved, can it be rated); what it returns is set with the order.
    """

    async def on_access(
        self, order: WorkOrder, dispatcher: CollectingDispatcher, domain: DomainDict
    ) -> dict[str, Any]:
        return {}

    async def access(
        self,
        order: WorkOrder,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """The slots for an order the customer named: checked now if theirs, else ask."""
        if may_see(order, tracker):
            return {
                "work_order_id": order.id,
                PROOF: OWN,
                **await self.on_access(order, dispatcher, domain),
            }
        return {"work_order_id": order.id, PROOF: None}

    async def validate_phone_proof(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Only an answer to our question is a proof; a value left from an earlier form was
        # replaced when the order was named.
        if (
            tracker.get_slot("requested_slot") != PROOF
            or not tracker.get_slot("work_order_id")
            or names_an_order(value, tracker)
        ):
            return {}
        order = await client().work_order(str(tracker.get_slot("work_order_id")))
        outcome = await prove(value, [order], dispatcher, tracker)
        if outcome.passed:
            return {**outcome.slots, **await self.on_access(order, dispatcher, domain)}
        if outcome.refused:
            return {**outcome.slots, "work_order_id": None}
        return outcome.slots


async def hidden_orders(serial: str, tracker: Tracker) -> tuple[list[WorkOrder], list[WorkOrder]]:
    """The orders of a serial the customer may see, and those they may not (yet)."""
    orders = await client().work_orders(serial=serial)
    return [o for o in orders if may_see(o, tracker)], [
        o for o in orders if not may_see(o, tracker)
    ]


class ActionAskPhoneProof(BackendAction):
    """Ask for the proof, in all four forms: for an order, a serial's orders, or by phone."""

    retry = "/check_repair_status"

    def name(self) -> str:
        return "action_ask_phone_proof"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        lookup = str(tracker.get_slot("status_lookup") or "")
        if tracker.active_loop_name == "status_form" and lookup == BY_PHONE:
            dispatcher.utter_message(response="utter_ask_phone_full")
        elif tracker.active_loop_name == "status_form" and not normalize_work_order_id(lookup):
            serial = normalize_serial(lookup) or lookup
            _, hidden = await hidden_orders(serial, tracker)
            dispatcher.utter_message(
                response="utter_ask_phone_proof_serial", serial=serial, count=len(hidden)
            )
        else:
            order_id = (
                lookup
                if tracker.active_loop_name == "status_form"
                else tracker.get_slot("work_order_id")
            )
            dispatcher.utter_message(response="utter_ask_phone_proof", work_order_id=order_id)
        return []
