"""Self-service diagnosis: find the fault case, walk its steps one at a time, remember the tries."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, TurnAction, client
from actions.conversation import latest_intent, latest_text
from bot.contracts.knowledge import Case

STEP_BUTTONS = "utter_diagnosis_step"


async def _category(tracker: Tracker) -> str | None:
    """The category the customer's words or device point at, if any."""
    known = tracker.get_slot("device_category")
    if known:
        return str(known)
    words = " ".join(str(tracker.get_slot(s) or "") for s in ("product", "model")).strip()
    if not words:
        return None
    return (await client().resolve(words)).category


def _step(dispatcher: CollectingDispatcher, case: Case, index: int) -> None:
    dispatcher.utter_message(
        response=STEP_BUTTONS, number=index + 1, total=len(case.steps), step=case.steps[index]
    )


class ActionDiagnose(BackendAction):
    """Start a diagnosis from the customer's description (or ask for one)."""

    retry = "/report_fault"

    def name(self) -> str:
        return "action_diagnose"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # A description, or a bare error code ("E000") sent on its own.
        asked = latest_intent(tracker) in ("report_fault", "inform")
        description = latest_text(tracker) if asked else ""
        if description.startswith("/"):  # a button, not a description
            description = ""
        if not description:
            dispatcher.utter_message(response="utter_ask_fault_detail")
            return []
        category = await _category(tracker)
        model = tracker.get_slot("model")
        hits = await client().search_knowledge(description, category=category, model=model)
        if not hits and category:
            hits = await client().search_knowledge(description, model=model)
        events: list[EventType] = [SlotSet("fault", description)]
        if not hits:
            dispatcher.utter_message(response="utter_no_case_found")
            return [*events, SlotSet("kb_case", None), SlotSet("kb_step", None)]
        case = hits[0].case
        events += [SlotSet("kb_case", case.code), SlotSet("steps_tried", [])]
        if case.safety:
            dispatcher.utter_message(
                response="utter_diagnosis_safety",
                title=case.title,
                first_step=case.steps[0],
                stop_when=case.stop_when,
            )
            return [*events, SlotSet("kb_step", None), SlotSet("steps_tried", case.steps[:1])]
        dispatcher.utter_message(response="utter_diagnosis_intro", title=case.title)
        _step(dispatcher, case, 0)
        return [*events, SlotSet("kb_step", 0.0)]


class ActionDiagnosisStep(BackendAction):
    """The step did not help: remember it and give the next one, or offer a repair."""

    retry = "/deny"

    def name(self) -> str:
        return "action_diagnosis_step"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        code = tracker.get_slot("kb_case")
        step = tracker.get_slot("kb_step")
        if not code or step is None:
            dispatcher.utter_message(response="utter_ask_fault_detail")
            return []
        case = await client().case(str(code))
        index = int(step)
        tried: list[Any] = list(tracker.get_slot("steps_tried") or [])
        if index < len(case.steps) and case.steps[index] not in tried:
            tried.append(case.steps[index])
        if index + 1 < len(case.steps):
            _step(dispatcher, case, index + 1)
            return [SlotSet("steps_tried", tried), SlotSet("kb_step", float(index + 1))]
        dispatcher.utter_message(response="utter_steps_exhausted", stop_when=case.stop_when)
        return [SlotSet("steps_tried", tried), SlotSet("kb_step", None)]


class ActionDiagnosisDone(TurnAction):
    """The customer fixed it: close the case (steps tried stay for the record)."""

    def name(self) -> str:
        return "action_diagnosis_done"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_glad_solved")
        return [SlotSet("kb_case", None), SlotSet("kb_step", None)]
