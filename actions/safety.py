"""A hazard reported at any point: the safety instruction at once, then a repair or a person.

`report_hazard` is forced by the NLU's word list (`bot.contracts.safety`), so this runs whatever
the classifier thought and whatever was running: a diagnosis stops (no troubleshooting step for
a swollen battery), a form other than the booking is left, and a booking carries on with the
hazard as (part of) its fault description, since booking a repair is what the instruction asks.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import TurnAction
from actions.conversation import latest_text
from bot.contracts.safety import Hazard, hazard
from bot.normalize import normalize_text

BOOKING = "booking_form"
INSTRUCTIONS: dict[Hazard, str] = {
    "swelling": "utter_hazard_swelling",
    "smoke": "utter_hazard_smoke",
    "burning": "utter_hazard_burning",
    "sparks": "utter_hazard_sparks",
    "liquid": "utter_hazard_liquid",
    "overheat": "utter_hazard_overheat",
}
# When the words name no hazard after all (a button, a hand-written /report_hazard).
DEFAULT_HAZARD: Hazard = "smoke"
NEXT = "utter_hazard_next"  # a booking or a person, as buttons
NEXT_IN_BOOKING = "utter_hazard_booking_goes_on"


class ActionSafety(TurnAction):
    def name(self) -> str:
        return "action_safety"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        words = latest_text(tracker)
        kind = hazard(normalize_text(words)) or DEFAULT_HAZARD
        booking = tracker.active_loop_name == BOOKING
        dispatcher.utter_message(response=INSTRUCTIONS[kind])
        dispatcher.utter_message(response=NEXT_IN_BOOKING if booking else NEXT)
        # The diagnosis ends here: the next "还是不行" must not bring a troubleshooting step.
        events: list[EventType] = [SlotSet("kb_case", None), SlotSet("kb_step", None)]
        described = words if words and not words.startswith("/") else None
        if booking:
            earlier = tracker.get_slot("fault")
            fault = f"{earlier}；{described}" if earlier and described else (described or earlier)
            # A value set since the customer's message is what the form validates, so the form
            # goes on to its next question instead of rejecting the hazard message again.
            return [*events, SlotSet("fault", fault), FollowupAction(BOOKING)]
        if described:
            events.append(SlotSet("fault", described))
        if tracker.active_loop_name:
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events
