"""Complaints: recorded with a severity, acknowledged, and handed to a person."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, client
from actions.conversation import channel, idempotency_key, latest_text
from bot.contracts.complaints import Complaint

# Escalation words raise the severity: a customer threatening regulators or the press, or
# reporting harm, needs a supervisor today, not a queue slot tomorrow.
CRITICAL = re.compile(
    r"12315|消协|消费者协会|媒体|曝光|记者|律师|起诉|法院|市场监管|工商|受伤|起火|冒烟|爆炸"
)
HIGH = re.compile(
    r"骗|垃圾|欺诈|退钱|退款|赔偿|第[二三四五2-5]次|又坏|还是坏|几次|多少次|气死|太差|恶心"
)


def due_values(complaint: Complaint) -> dict[str, Any]:
    """When the customer hears back, as the responses name it (the backend's local time)."""
    due = complaint.due_at
    if due is None:
        return {"due_month": "", "due_day": "", "due_time": ""}
    return {"due_month": due.month, "due_day": due.day, "due_time": due.strftime("%H:%M")}


def severity(message: str) -> str:
    if CRITICAL.search(message):
        return "critical"
    if HIGH.search(message):
        return "high"
    return "medium"


class ActionRecordComplaint(BackendAction):
    retry = "/complain"

    def name(self) -> str:
        return "action_record_complaint"

    async def unavailable(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        # Whatever happens to the record, the customer is handed to a person.
        dispatcher.utter_message(response="utter_complaint_not_recorded")
        return [FollowupAction("action_handoff")]

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        message = latest_text(tracker) or "-"
        serial = tracker.get_slot("serial_number")
        complaint = await client().complain(
            key=idempotency_key(tracker, "complaint"),
            text=message[:10_000],
            severity=severity(message),
            conversation_id=tracker.sender_id,
            channel=channel(tracker),
            serial=serial if serial and serial != "none" else None,
            work_order_id=tracker.get_slot("work_order_id"),
            contact=tracker.get_slot("phone"),
        )
        dispatcher.utter_message(
            response="utter_complaint_recorded", complaint_id=complaint.id, **due_values(complaint)
        )
        return [SlotSet("complaint_id", complaint.id), FollowupAction("action_handoff")]
