"""Handoff to a person, and the fallbacks that lead there.

The handoff registers a package in the backend (so the agent never asks again for the serial
number or the steps already tried) and pauses the conversation with Rasa's own event: while
paused the bot answers nothing, and the desk takes over.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import (
    ConversationPaused,
    EventType,
    FollowupAction,
    SlotSet,
    UserUtteranceReverted,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import TurnAction, client, label, read_phone
from actions.conversation import (
    channel,
    history,
    idempotency_key,
    last_intent_among,
    latest_intent,
)
from bot.client import ServiceError
from bot.contracts.masking import mask_phone
from bot.contracts.transcript import AGENT_JOINED, DESK_AGENT, DESK_EVENT

REASONS = {"request_human": "requested", "complain": "complaint", "nlu_fallback": "fallback"}


def last_customer_message(tracker: Tracker) -> str | None:
    """The last words the customer typed (buttons pressed since do not count)."""
    words = next((said.typed for said in history(tracker) if said.typed), None)
    return words[:10_000] if words else None


def customer_name(tracker: Tracker) -> str | None:
    """The name the customer's channel knows them by (Telegram's first name), if any."""
    known = (tracker.latest_message.get("metadata") or {}).get("telegram") or {}
    name = known.get("first_name") or known.get("username")
    return str(name)[:40] if name else None


def package(tracker: Tracker) -> dict[str, Any]:
    serial = tracker.get_slot("serial_number")
    return {
        "customer_name": customer_name(tracker),
        "contact": tracker.get_slot("phone"),
        "model_code": tracker.get_slot("device_model") or tracker.get_slot("model"),
        "serial": serial if serial and serial != "none" else None,
        "warranty": tracker.get_slot("warranty_summary"),
        "fault": tracker.get_slot("fault"),
        "steps_tried": [str(s) for s in tracker.get_slot("steps_tried") or []],
        "work_order_id": tracker.get_slot("work_order_id"),
        "last_message": last_customer_message(tracker),
    }


class ActionHandoff(TurnAction):
    def name(self) -> str:
        return "action_handoff"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        asked = latest_intent(tracker)
        if tracker.get_slot("complaint_id") and last_intent_among(tracker, ("complain",)):
            reason = "complaint"
        else:
            reason = REASONS.get(asked or "", "other")
        try:
            handoff = await client().hand_off(
                conversation_id=tracker.sender_id,
                channel=channel(tracker),
                reason=reason,
                package=package(tracker),
                complaint_id=tracker.get_slot("complaint_id"),
                key=idempotency_key(tracker, "handoff"),
            )
        except ServiceError:
            # Pausing without a record would leave the customer waiting for nobody.
            dispatcher.utter_message(response="utter_handoff_failed")
            return []
        if handoff.desk_open is False:
            # Nobody will answer before the desk opens: say so at once, with the choices, and
            # leave the conversation running so those buttons reach the bot. The backend has
            # recorded that the customer was told, so the desk does not say it a second time.
            dispatcher.utter_message(response="utter_desk_after_hours")
            return [SlotSet("handoff_id", handoff.id)]
        dispatcher.utter_message(
            response="utter_handoff",
            handoff_id=handoff.id,
            queue_position=handoff.queue_position or 1,
        )
        return [SlotSet("handoff_id", handoff.id), ConversationPaused()]


class ActionDeskAgentJoined(TurnAction):
    """The agent's greeting when they claim (the desk runs it): sent with the agent's name in
    its metadata, so every channel and the desk show it as the agent's, and marked as the
    joining notice so the web chat can say plainly that a person took over."""

    def name(self) -> str:
        return "action_desk_agent_joined"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        agent = tracker.get_slot(DESK_AGENT)
        metadata = {DESK_AGENT: agent, DESK_EVENT: AGENT_JOINED} if agent else {}
        dispatcher.utter_message(response="utter_desk_agent_joined", **metadata)
        return []
        metadata = {DESK_AGENT: agent, DESK_EVENT: AGENT_JOINED}
        dispatcher.utter_message(response="utter_desk_agent_joined", **metadata)
        return []


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_callback_form"

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return read_phone(value, dispatcher)


class ActionRequestCallback(TurnAction):
    """Record that the customer wants a call: on their open handoff, or on a new one."""

    def name(self) -> str:
        return "action_request_callback"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        phone = str(tracker.get_slot("phone") or "")
        try:
            handoff = await client().hand_off(
                conversation_id=tracker.sender_id,
                channel=channel(tracker),
                reason="requested",
                package=package(tracker),
                key=idempotency_key(tracker, "callback"),
            )
            # hand_off answers with the open handoff when there is one, so the desk sees
            # one customer with one request, now with a number to call.
            await client().request_callback(handoff.id, phone)
        except ServiceError:
            dispatcher.utter_message(response="utter_callback_failed")
            return []
        dispatcher.utter_message(response="utter_callback_booked", phone=mask_phone(phone))
        return [SlotSet("handoff_id", handoff.id)]


# Intents the fallback may suggest, as readable choices.
SUGGESTABLE_RANK = 3


class ActionDefaultAskAffirmation(TurnAction):
    """First stage of the two-stage fallback: "did you mean …?" with readable buttons."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        known = domain.get("responses", {})
        choices = [
            r["name"]
            for r in ranking
            if r.get("name") not in ("nlu_fallback", None) and f"utter_label_{r['name']}" in known
        ][:SUGGESTABLE_RANK]
        if not choices:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        buttons = [{"title": label(domain, name), "payload": f"/{name}"} for name in choices]
        buttons.append({"title": label(domain, "none_of_these"), "payload": "/out_of_scope"})
        dispatcher.utter_message(
            response="utter_ask_affirm_intent",
            intent_label=label(domain, choices[0]),
            buttons=buttons,
        )
        return []


FALLBACKS = ("action_default_fallback", "action_two_stage_fallback")


def failed_just_before(tracker: Tracker) -> bool:
    """Was the previous customer message also not understood (answered last by a fallback)?"""
    previous = next(islice(history(tracker), 1, None), None)
    return bool(previous and previous.answered_by and previous.answered_by[-1] in FALLBACKS)


class ActionDefaultFallback(TurnAction):
    """Not understood: the first time, ask again with a menu; the second time, offer a person."""

    def name(self) -> str:
        return "action_default_fallback"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        second = (
            failed_just_before(tracker) or tracker.active_loop_name == "action_two_stage_fallback"
        )
        form = tracker.active_loop_name
        if form and form.endswith("_form") and not second:
            # Inside a form the customer is in the middle of something: say so and ask the
            # form's question again instead of offering a menu of other journeys.
            dispatcher.utter_message(response="utter_fallback_in_form")
            return [FollowupAction(form)]
        dispatcher.utter_message(response="utter_default" if second else "utter_fallback_first")
        # Forget the message we could not understand, as Rasa's own fallback does, so it
        # does not steer the next prediction.
        return [UserUtteranceReverted()]
