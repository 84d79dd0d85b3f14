"""The customer's answer to a 回访 (follow-up visit): the buttons the backend sent a few days
after the close carry the order and the outcome; a "没解决/又坏了" reopens the order there."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, client
from actions.conversation import entity
from actions.workorders.proof import may_see
from bot.client import Conflict, NotFound
from bot.contracts.ids import normalize_work_order_id

OUTCOMES = ("solved", "recurred")


class ActionFollowupAnswer(BackendAction):
    retry = "/check_repair_status"

    def name(self) -> str:
        return "action_followup_answer"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id = normalize_work_order_id(entity(tracker, "work_order_id") or "")
        outcome = entity(tracker, "followup_outcome")
        if order_id is None or outcome not in OUTCOMES:
            # A hand-typed payload: nothing to record, the customer can say what they need.
            dispatcher.utter_message(response="utter_default")
            return []
        try:
            order = await client().work_order(order_id)
        except NotFound:
            dispatcher.utter_message(response="utter_work_order_not_found", work_order_id=order_id)
            return []
        if not may_see(order, tracker):
            dispatcher.utter_message(response="utter_proof_needed", work_order_id=order_id)
            return []
        try:
            await client().answer_followup(
                order_id, "solved" if outcome == "solved" else "recurred"
            )
        except Conflict:
            dispatcher.utter_message(response="utter_followup_closed", work_order_id=order_id)
            return []
        if outcome == "solved":
            dispatcher.utter_message(response="utter_followup_solved")
        else:
            dispatcher.utter_message(response="utter_followup_reopened", work_order_id=order_id)
        return []
